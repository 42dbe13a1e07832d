/**
 * An answer that outlasts API Gateway's integration timeout: the `ask` route hands the work to
 * an asynchronous invocation and returns at once, so the gateway never times the route out and
 * the whole answer still streams. The gateway's timeout is made small so the test stays short.
 */
import { expect } from "chai";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { QUIET_ENV, connect, deltaText, last } from "./stack-helpers";

const INTEGRATION_TIMEOUT_MS = 1000;

describe("local stack: an answer longer than the gateway's integration timeout", function () {
  let stack: LocalStack;

  before(async function () {
    stack = await startLocalStack({
      page: false,
      bedrockBehavior: { firstTokenDelayMs: 0 },
      gatewayLimits: { integrationTimeoutMs: INTEGRATION_TIMEOUT_MS },
      env: QUIET_ENV,
    });
  });

  after(async function () {
    await stack?.close();
  });

  it("still arrives whole, with no timeout reported to the client or by the gateway", async function () {
    // 30 deltas at 20 a second: the model alone takes about 1.5 times the integration timeout.
    const deltas = Array.from({ length: 30 }, (_, i) => `part${i} `);
    stack.bedrock!.enqueue({ operation: "ConverseStream", deltas, deltasPerSecond: 20 });
    const socket = await connect(stack, "session-long", { format: "json" });
    const errorsBefore = stack.gateway.stats().handlerErrors;

    socket.ask("ask-long", "Tell me the long version");
    const envelopes = await socket.answer("ask-long");
    const end = last(envelopes, "end");
    expect(deltaText(envelopes)).to.equal(deltas.join(""));
    expect(end.final).to.equal(deltas.join("").trim());
    expect(end.metrics.totalMs, "the answer outlasted the integration timeout").to.be.greaterThan(INTEGRATION_TIMEOUT_MS);

    await stack.idle();
    const received = await socket.barrier();
    expect(received.filter((m) => m.text.includes("Endpoint request timed out"))).to.deep.equal([]);
    expect(stack.gateway.stats().handlerErrors).to.equal(errorsBefore);
    await socket.close();
  });
});
