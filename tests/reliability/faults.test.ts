import { logger } from "../../functions/shared/observability";
import { BUDGETS, SEEDS } from "./budget";
import {
  bedrockHttpErrors,
  bedrockStreamFaults,
  connectionsApiFaults,
  dynamoDownAtAsk,
  dynamoDownAtConnect,
  dynamoDownAtDisconnect,
  FAULT_STALL_MS,
  randomDisconnects,
  startFaultEnv,
  timeBudget,
  TIME_BUDGET_TIMEOUT_MS,
  type FaultEnv,
} from "./faults";
import { captureOutput } from "./harness";

/** Runs a scenario with the handlers' expected warnings and errors kept out of the report. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  return (await captureOutput(run)).result;
}

describe("reliability: faults injected over the wire on the local stack", function () {
  this.timeout(90_000);
  const { storm, disconnectSessions } = BUDGETS.test;
  let level: string;
  before(() => {
    level = logger.getLevelName();
    logger.setLogLevel("ERROR");
  });
  after(() => logger.setLogLevel(level as Parameters<typeof logger.setLogLevel>[0]));

  describe("with DynamoDB, @connections and Bedrock failing", () => {
    let env: FaultEnv & { close(): Promise<void> };
    before(async () => {
      env = await startFaultEnv();
    });
    after(async () => {
      await env?.close();
    });

    it("DynamoDB down at $connect: the upgrade is refused with 500, nothing is written, the next connect works", () => quietly(() => dynamoDownAtConnect(env)));
    it("DynamoDB down at ask time: a retryable error, or the answer delivered anyway", () => quietly(() => dynamoDownAtAsk(env)));
    it("DynamoDB down at $disconnect: the orphan row goes at the next answer's 410", () => quietly(() => dynamoDownAtDisconnect(env)));
    it(`@connections 429 storm (${storm.sessions} sessions sharing ${storm.ratePerSecond} posts/s): every answer arrives whole`, () =>
      quietly(() => connectionsApiFaults(env, "429", { ...storm, burst: 10, seed: SEEDS.disconnects + 1 })));
    it(`@connections 5xx on 20% of posts (${storm.sessions} sessions): every answer arrives whole`, () =>
      quietly(() => connectionsApiFaults(env, "5xx", { sessions: storm.sessions, share: 0.2, seed: SEEDS.disconnects + 2 })));
    it("Bedrock 5xx before the stream: retried once, a clear error when it lasts", () => quietly(() => bedrockHttpErrors(env)));
    it("Bedrock failing mid-stream (exception, reset, stall): the text so far, then an error envelope", () => quietly(() => bedrockStreamFaults(env, FAULT_STALL_MS)));
    it(`clients disconnecting at random points (${disconnectSessions} sessions): no orphan rows, whole answers for the rest`, () =>
      quietly(() => randomDisconnects(env, disconnectSessions, SEEDS.disconnects)));
  });

  describe("with a fulfillment timeout shorter than the answer", () => {
    let env: FaultEnv & { close(): Promise<void> };
    before(async () => {
      env = await startFaultEnv(true);
    });
    after(async () => {
      await env?.close();
    });

    it("ends the stream with the text so far and a final message before the function is killed", () => quietly(() => timeBudget(env, TIME_BUDGET_TIMEOUT_MS)));
  });
});
