import { expect } from "chai";
import { logger } from "../../functions/shared/observability";
import { BUDGETS, SEEDS } from "./budget";
import {
  expectVictimsUntouched,
  fuzzAskRoute,
  fuzzConnect,
  fuzzDefault,
  fuzzDisconnect,
  fuzzHttpAsk,
  fuzzLex,
  startHandlerFuzz,
  victimFrames,
  type HandlerFuzzEnv,
} from "./fuzz-handlers";
import { captureOutput, victimSnapshot, withLogLevel, type Row } from "./harness";

describe("reliability: fuzzed input at every entry point, in-process against dynalite", function () {
  this.timeout(120_000);
  const runs = BUDGETS.test.handlerRuns;
  let env: HandlerFuzzEnv & { close(): Promise<void> };
  let snapshot: { connections: Row[]; memory: Row[] };
  let framesBefore: number;
  let level: string;

  before(async () => {
    level = logger.getLevelName();
    logger.setLogLevel("SILENT");
    env = await startHandlerFuzz();
    snapshot = await victimSnapshot(env.stack, env.victims);
    framesBefore = victimFrames(env);
  });
  after(async () => {
    await env?.close();
    logger.setLogLevel(level as Parameters<typeof logger.setLogLevel>[0]);
  });

  /** Thousands of handler calls: their logs and metrics would bury the report; background answers finish inside. */
  const quietly = async <T>(run: () => Promise<T>) =>
    (
      await captureOutput(() =>
        withLogLevel("SILENT", async () => {
          const result = await run();
          await env.stack.idle();
          return result;
        }),
      )
    ).result;

  it(`$connect: ${runs} fuzzed queries, headers and identities get 200/400/401/403, never a victim's session`, async () => {
    const figure = await quietly(() => fuzzConnect(env, { runs, seed: SEEDS.handlers }));
    expect(figure.outcomes[403], "claims of a victim's session refused").to.be.greaterThan(0);
    expect(figure.outcomes[200], "connects that went through").to.be.greaterThan(0);
    expect(figure.outcomes[400], "malformed connects refused").to.be.greaterThan(0);
  });

  it(`$disconnect: ${runs} fuzzed connection ids and contexts get 200/400`, async () => {
    const figure = await quietly(() => fuzzDisconnect(env, { runs, seed: SEEDS.handlers + 1 }));
    expect(figure.outcomes[200]).to.be.greaterThan(0);
    expect(figure.outcomes[400]).to.be.greaterThan(0);
  });

  it(`$default: ${runs} fuzzed frames get one bounded bad_request envelope`, async () => {
    const figure = await quietly(() => fuzzDefault(env, { runs, seed: SEEDS.handlers + 2 }));
    expect(figure.outcomes[200]).to.be.greaterThan(0);
  });

  it(`ask route: ${runs} fuzzed frames are handed off, or refused with 4xx and an error envelope on the socket`, async () => {
    const figure = await quietly(() => fuzzAskRoute(env, { runs, seed: SEEDS.handlers + 3 }));
    expect(figure.outcomes[200], "asks handed off").to.be.greaterThan(0);
    expect(figure.outcomes[400], "bad asks refused").to.be.greaterThan(0);
  });

  it(`POST /ask: ${runs} fuzzed requests get an answer or 4xx, never into a victim's session`, async () => {
    const figure = await quietly(() => fuzzHttpAsk(env, { runs, seed: SEEDS.handlers + 4 }));
    expect(figure.outcomes[200], "questions answered").to.be.greaterThan(0);
    expect(figure.outcomes[403], "asks into a victim's session refused").to.be.greaterThan(0);
  });

  it("streamed nothing of the WebSocket and HTTP fuzzing to a victim's socket", async () => {
    await env.stack.idle();
    expect(victimFrames(env)).to.equal(framesBefore);
  });

  it("left the victims' rows and memory exactly as they were, and never called a client-named endpoint", () => expectVictimsUntouched(env, snapshot));

  it(`Lex V2: ${runs} fuzzed code hook events all get a Close with a message (or Delegate for a dialog hook)`, async () => {
    const figure = await quietly(() => fuzzLex(env, { runs, seed: SEEDS.handlers + 5 }));
    expect(figure.outcomes.Close).to.be.greaterThan(0);
  });

  it("left the victims' claims and connections as they were after the Lex fuzzing too (memory: a Lex question is its session's turn)", () =>
    expectVictimsUntouched(env, snapshot, { memory: false }));
});
