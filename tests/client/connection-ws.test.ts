import { expect } from "chai";
import { WebSocket as WsWebSocket } from "ws";
import { ConnectionManager, type ConnectionEvent } from "../../client/web/connection";
import { emptyConversation, reduceConversation, type Conversation } from "../../client/web/conversation";
import { webSocketFactory } from "../../client/web/socket";
import { fakeSigner, startFakeGateway, streamAnswer, type FakeGateway } from "./helpers/fake-gateway";

/** Resolves when the manager emits an event matching `predicate`. */
function until(manager: ConnectionManager, predicate: (event: ConnectionEvent) => boolean): Promise<ConnectionEvent> {
  return new Promise((resolve) => {
    const unsubscribe = manager.subscribe((event) => {
      if (predicate(event)) {
        unsubscribe();
        resolve(event);
      }
    });
  });
}

const isReady = (event: ConnectionEvent) => event.type === "state" && event.state.status === "ready";

describe("client: connection manager over a real WebSocket (ws)", () => {
  let gateway: FakeGateway;
  let manager: ConnectionManager | undefined;

  afterEach(async () => {
    manager?.stop();
    await gateway?.close();
  });

  it("streams an answer through the page's socket adapter, then reconnects with a fresh URL after a drop", async () => {
    gateway = await startFakeGateway({ onAsk: streamAnswer("Ünïcode ✓ and **markdown** 🎉", { chunks: 4 }) });
    const sign = fakeSigner(gateway);
    manager = new ConnectionManager({
      getSignedUrl: async () => ({ url: await sign("tab-1"), sessionId: "tab-1" }),
      // ws implements the WHATWG WebSocket API the page uses.
      createSocket: webSocketFactory(WsWebSocket as unknown as typeof WebSocket),
      backoff: { baseMs: 5, maxMs: 20 },
    });
    let conversation: Conversation = emptyConversation;
    manager.subscribe((event) => {
      if (event.type === "envelope") conversation = reduceConversation(conversation, { type: "envelope", envelope: event.envelope, at: Date.now() });
    });

    const ready = until(manager, isReady);
    manager.start();
    await ready;
    const first = await gateway.connection(0);
    expect(first.url.searchParams.get("sessionId")).to.equal("tab-1");
    expect(first.url.searchParams.get("format")).to.equal("json");

    const requestId = manager.ask("Tell me", "llm");
    conversation = reduceConversation(conversation, { type: "asked", requestId, question: "Tell me", mode: "llm", at: Date.now() });
    await until(manager, (event) => event.type === "envelope" && event.envelope.type === "end");
    expect(conversation.answers[requestId]).to.include({ status: "done", text: "Ünïcode ✓ and **markdown** 🎉", deltas: 4 });
    expect(first.pings()).to.equal(1);

    const reconnected = until(manager, isReady);
    first.drop();
    await reconnected;
    const second = await gateway.connection(1);
    expect(second.url.searchParams.get("X-Amz-Signature")).to.equal("sig2");
    expect(manager.state.opened).to.equal(2);
    expect(gateway.openCount()).to.equal(1);
  });
});
