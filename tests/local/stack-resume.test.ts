/**
 * Resumable answers over the wire (issue 11): a `format=json` client whose socket drops at any
 * point of an answer reconnects, sends `resume` with the last `seq` it saw, and receives the
 * rest exactly once, whether the answer is still streaming (its writer attaches the new
 * socket at a checkpoint) or has ended (the journal is replayed).
 */
import { expect } from "chai";
import fc from "fast-check";
import { localIamUser } from "../../local/gateway";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { QUIET_ENV, connect, deltaText } from "./stack-helpers";

const DELTAS = Array.from({ length: 40 }, (_, i) => `word${i} ${i % 7 === 0 ? "😀 " : ""}`);
const ANSWER = DELTAS.join("");

describe("local stack: resuming an answer after the connection drops", () => {
  let stack: LocalStack;
  const stranger = localIamUser("stranger", { allow: { connect: true, manageConnections: false } });

  before(async () => {
    stack = await startLocalStack({
      page: false,
      credentials: [stranger],
      bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 400, deltas: DELTAS },
      env: { ...QUIET_ENV, STREAM_CHECKPOINT_MS: "50", STREAM_JSON_FLUSH_MS: "10" },
    });
  });
  after(() => stack?.close());

  it("gets the rest exactly once, from any drop point, during or after the answer (fast-check)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), async (dropAfter) => {
        const sessionId = `resume-${++run}`;
        const requestId = `r-${run}`;
        const first = await connect(stack, sessionId, { format: "json" });
        first.ask(requestId, "Stream me a long answer.");
        // Drop after some envelopes; an answer that ends first is dropped after its end is seen
        // minus the end, as if the socket died just before it.
        const seen = await first.until((messages) => {
          const envelopes = first.envelopes(requestId, messages);
          const terminal = envelopes.findIndex((e) => e.type === "end" || e.type === "error");
          if (terminal >= 0) return envelopes.slice(0, Math.min(dropAfter, terminal));
          return envelopes.length >= dropAfter ? envelopes.slice(0, dropAfter) : undefined;
        });
        first.ws.terminate();
        const afterSeq = seen[seen.length - 1].seq;

        const second = await connect(stack, sessionId, { format: "json" });
        second.send({ action: "resume", requestId, afterSeq });
        const rest = await second.answer(requestId);
        await second.close();

        expect(rest.every((e) => e.seq > afterSeq), "nothing at or before afterSeq again").to.equal(true);
        expect(rest.some((e) => e.type === "start"), "no second start").to.equal(false);
        expect(deltaText(seen) + deltaText(rest)).to.equal(ANSWER);
        expect(rest[rest.length - 1]).to.deep.include({ type: "end" });
      }),
      { numRuns: 6, seed: 11 },
    );
  });

  it("answers a resume of another caller's answer, or an unknown one, with not_found", async () => {
    const owner = await connect(stack, "resume-owner", { format: "json" });
    owner.ask("mine", "Answer me.");
    await owner.answer("mine");
    // Another principal on the same session id (a collision) cannot read the owner's answer.
    const other = await connect(stack, "resume-owner", { format: "json", credential: stranger });
    other.send({ action: "resume", requestId: "mine", afterSeq: 0 });
    const [refusal] = await other.answer("mine");
    expect(refusal).to.include({ type: "error", code: "not_found" });
    other.send({ action: "resume", requestId: "never-asked", afterSeq: 0 });
    expect((await other.answer("never-asked"))[0]).to.include({ type: "error", code: "not_found" });
    await Promise.all([owner.close(), other.close()]);
  });
});
