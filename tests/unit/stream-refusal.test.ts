/**
 * postRefusal: a refusal of the ask, resume or cancel route goes out under the stream
 * writer's policy (issue 21 residue), not as one post: retried on 429, 5xx and, for json,
 * on a post that may or may not have arrived; a json connection it cannot reach is closed
 * (DeleteConnection, retried for CLOSE_BUDGET_MS); a text one is left open, as the writer
 * leaves Lex Web UI's. The over-the-wire check is tests/reliability/hangs.test.ts.
 */
import { expect } from "chai";
import { PostError } from "../../functions/stream/types";
import { CLOSE_BUDGET_MS, postRefusal } from "../../functions/stream/writer";
import { FakeClock, FakeTransport, RecordingLogger } from "./stream-fakes";

const FRAME = new TextEncoder().encode('{"type":"error"}');

function setup(respond: ConstructorParameters<typeof FakeTransport>[0], maxRetries = 3) {
  const transport = new FakeTransport(respond);
  const clock = new FakeClock();
  const deps = { transport, clock, random: () => 1, logger: new RecordingLogger(), options: { maxRetries } };
  return { transport, clock, deps };
}

describe("stream writer: postRefusal (a route's refusal, under the writer's retry and close policy)", () => {
  it("retries a throttled refusal and delivers it, closing nothing", async () => {
    let n = 0;
    const { transport, deps } = setup(() => (n++ < 2 ? new PostError("throttled", "429", 429) : "ok"));
    expect(await postRefusal(deps, { connectionId: "c1", format: "json" }, "r1", FRAME)).to.equal(true);
    expect(transport.callsTo("c1")).to.have.length(3);
    expect(transport.framesOf("c1")).to.deep.equal(['{"type":"error"}']);
    expect(transport.closed).to.deep.equal([]);
  });

  it("gives up after maxRetries + 1 attempts and closes a json connection, so its client is not left waiting", async () => {
    const { transport, deps } = setup(() => new PostError("other", "500", 500), 3);
    expect(await postRefusal(deps, { connectionId: "c1", format: "json" }, "r1", FRAME)).to.equal(false);
    expect(transport.callsTo("c1")).to.have.length(4);
    expect(transport.closed).to.deep.equal(["c1"]);
  });

  it("keeps trying the close for CLOSE_BUDGET_MS under a storm that fails it too", async () => {
    const { transport, clock, deps } = setup(() => new PostError("throttled", "429", 429), 0);
    transport.failClose = new PostError("throttled", "429", 429);
    await postRefusal(deps, { connectionId: "c1", format: "json" }, "r1", FRAME);
    expect(transport.closed.length).to.be.greaterThan(100);
    expect(clock.now()).to.be.at.least(CLOSE_BUDGET_MS);
  });

  it("leaves a text connection open, sends a text frame that may have arrived only once, and never closes a gone connection", async () => {
    const text = setup(() => new PostError("unknown", "timeout"));
    expect(await postRefusal(text.deps, { connectionId: "t1", format: "text" }, "r1", FRAME)).to.equal(false);
    expect(text.transport.callsTo("t1")).to.have.length(1);
    expect(text.transport.closed).to.deep.equal([]);

    const gone = setup(() => new PostError("gone", "410", 410));
    await postRefusal(gone.deps, { connectionId: "g1", format: "json" }, "r1", FRAME);
    expect(gone.transport.callsTo("g1")).to.have.length(1);
    expect(gone.transport.closed).to.deep.equal([]);
  });
});
