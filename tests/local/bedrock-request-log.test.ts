/**
 * The Bedrock emulator's request log is bounded: the issue measured ~8.6 KB of heap kept per
 * answer forever, since every request body was recorded. Over the wire, plain HTTP/1.1 Converse.
 * It is an internal endpoint: loopback only, no CORS.
 */
import { expect } from "chai";
import { REQUEST_LOG_LIMIT, startBedrockEmulator, type BedrockEmulator } from "../../local/bedrock/emulator";

describe("Bedrock emulator request log", () => {
  let emulator: BedrockEmulator;
  before(async () => {
    emulator = await startBedrockEmulator({ firstTokenDelayMs: 0, deltasPerSecond: 0 });
  });
  after(() => emulator.close());

  it(`keeps the last ${REQUEST_LOG_LIMIT} requests, not every request since the start`, async () => {
    const total = REQUEST_LOG_LIMIT + 25;
    const converse = (i: number) =>
      fetch(`${emulator.endpoint}/model/local-model/converse`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: [{ text: `question ${i}` }] }] }),
      }).then((response) => response.arrayBuffer());
    for (let next = 0; next < total; next += 25) {
      await Promise.all(Array.from({ length: Math.min(25, total - next) }, (_, k) => converse(next + k)));
    }
    expect(emulator.requests.length).to.equal(REQUEST_LOG_LIMIT);
    const last = emulator.requests[emulator.requests.length - 1].body as { messages: { content: { text: string }[] }[] };
    const first = emulator.requests[0].body as { messages: { content: { text: string }[] }[] };
    expect(first.messages[0].content[0].text).to.match(/^question (\d+)$/);
    expect(Number(/\d+/.exec(first.messages[0].content[0].text)![0])).to.be.at.least(25);
    expect(last.messages[0].content[0].text).to.match(/^question \d+$/);
  });

  it("is internal: bound to loopback, and no CORS header for a web page's preflight or request", async () => {
    expect(new URL(emulator.endpoint).hostname).to.equal("127.0.0.1");
    const url = `${emulator.endpoint}/model/local-model/converse`;
    const preflight = await fetch(url, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.headers.get("access-control-allow-origin")).to.equal(null);
    const simple = await fetch(url, { method: "POST", headers: { origin: "https://evil.example", "content-type": "application/json" }, body: "{}" });
    await simple.arrayBuffer();
    expect(simple.headers.get("access-control-allow-origin")).to.equal(null);
  });
});
