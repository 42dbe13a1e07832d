import { expect } from "chai";
import { envelope } from "../../functions/shared/protocol";
import { ConnectionManager, NotConnectedError, type ConnectionEvent, type ConnectionOptions } from "../../client/web/connection";
import { SignedUrlError, type SignedUrl } from "../../client/web/signed-url";
import type { SocketEvents, SocketFactory } from "../../client/web/socket";
import { FakeClock, settle } from "./helpers/fake-clock";

const MINUTE = 60_000;
const PING = JSON.stringify({ action: "ping" });

/** A socket the test opens, feeds and closes by hand. */
class ScriptedSocket {
  readonly sent: string[] = [];
  closeRequested?: { code?: number; reason?: string };
  closed = false;

  constructor(
    readonly url: string,
    private readonly events: SocketEvents,
  ) {}

  open(): void {
    this.events.open();
  }

  receive(frame: unknown): void {
    this.events.message(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The peer or the network ends the connection. */
  drop(code = 1006, reason = ""): void {
    this.closed = true;
    this.events.close(code, reason);
  }

  pings(): number {
    return this.sent.filter((frame) => frame === PING).length;
  }
}

class Sockets {
  readonly all: ScriptedSocket[] = [];
  /** Whether a closing socket completes its close handshake when asked. */
  closeCompletes = true;
  maxAlive = 0;

  readonly factory: SocketFactory = (url, events) => {
    const socket = new ScriptedSocket(url, events);
    this.all.push(socket);
    this.maxAlive = Math.max(this.maxAlive, this.all.filter((s) => !s.closed).length);
    return {
      send: (data) => socket.sent.push(data),
      close: (code, reason) => {
        socket.closeRequested = { code, reason };
        if (this.closeCompletes) queueMicrotask(() => socket.drop(code ?? 1005, reason ?? ""));
      },
    };
  };

  get last(): ScriptedSocket {
    return this.all[this.all.length - 1];
  }
}

interface Harness {
  manager: ConnectionManager;
  clock: FakeClock;
  sockets: Sockets;
  events: ConnectionEvent[];
  urls: number;
}

function harness(options: Partial<ConnectionOptions> = {}): Harness {
  const clock = new FakeClock();
  const sockets = new Sockets();
  const events: ConnectionEvent[] = [];
  const h: Harness = { manager: undefined as never, clock, sockets, events, urls: 0 };
  let ids = 0;
  h.manager = new ConnectionManager({
    getSignedUrl: async (): Promise<SignedUrl> => {
      h.urls += 1;
      return { url: `wss://gw.example/Prod?sessionId=s1&format=json&X-Amz-Signature=sig${h.urls}`, sessionId: "s1", label: "test" };
    },
    createSocket: sockets.factory,
    clock,
    random: () => 0.5,
    newRequestId: () => `req${++ids}`,
    ...options,
  });
  h.manager.subscribe((event) => events.push(event));
  return h;
}

async function connected(h: Harness): Promise<void> {
  h.manager.start();
  await settle();
  h.sockets.last.open();
}

describe("client: connection manager", () => {
  it("opens one socket with a signed URL and pings on open and every 9 minutes", async () => {
    const h = harness();
    await connected(h);
    expect(h.manager.state).to.include({ status: "ready", sessionId: "s1", label: "test", opened: 1 });
    const socket = h.sockets.last;
    expect(socket.url).to.match(/X-Amz-Signature=sig1$/);
    expect(socket.pings()).to.equal(1);
    h.clock.advance(9 * MINUTE - 1);
    expect(socket.pings()).to.equal(1);
    h.clock.advance(1);
    expect(socket.pings()).to.equal(2);
    h.clock.advance(27 * MINUTE);
    expect(socket.pings()).to.equal(5);
    expect(h.sockets.all).to.have.length(1);
  });

  it("sends asks with fresh requestIds and refuses them while not connected", async () => {
    const h = harness();
    expect(() => h.manager.ask("q", "llm")).to.throw(NotConnectedError);
    await connected(h);
    expect(h.manager.ask("What is QnABot?", "kb")).to.equal("req1");
    expect(JSON.parse(h.sockets.last.sent[1])).to.deep.equal({ action: "ask", requestId: "req1", question: "What is QnABot?", mode: "kb" });
    expect(h.manager.inFlight).to.deep.equal(["req1"]);
    h.sockets.last.receive(envelope("end", "req1", 1, { final: "x", stopReason: "end_turn", metrics: { ttftMs: 0, totalMs: 0, deltas: 0, frames: 0 } }));
    expect(h.manager.inFlight).to.deep.equal([]);
  });

  it("passes envelopes on and reports malformed frames without dropping the socket", async () => {
    const h = harness();
    await connected(h);
    h.sockets.last.receive(envelope("delta", "x", 1, { text: "hi" }));
    h.sockets.last.receive("not json");
    expect(h.events.filter((e) => e.type === "envelope")).to.have.length(1);
    expect(h.events.find((e) => e.type === "bad-frame")).to.have.property("message").that.matches(/not JSON/);
    expect(h.manager.state.status).to.equal("ready");
  });

  it("after a drop, keeps the answers in flight and reconnects with a fresh URL after a jittered backoff", async () => {
    const h = harness({ backoff: { baseMs: 1000, maxMs: 8000 } });
    await connected(h);
    h.manager.ask("q", "llm");
    h.sockets.last.drop(1006);
    expect(h.events.some((e) => e.type === "lost")).to.equal(false);
    expect(h.manager.inFlight).to.deep.equal(["req1"]);
    // random 0.5 → 3/4 of the step: 750 ms for the first retry
    expect(h.manager.state).to.include({ status: "waiting", retryAt: 750, failures: 1 });
    h.clock.advance(749);
    await settle();
    expect(h.urls).to.equal(1);
    h.clock.advance(1);
    await settle();
    expect(h.urls).to.equal(2);
    expect(h.sockets.last.url).to.match(/sig2$/);

    // The new socket fails before opening: the next delay doubles.
    h.sockets.last.drop(1006);
    expect(h.manager.state).to.include({ status: "waiting", failures: 2, lastError: "Could not connect" });
    expect(h.manager.state.retryAt! - h.clock.now()).to.equal(1500);
    h.clock.advance(1500);
    await settle();
    h.sockets.last.open();
    expect(h.manager.state).to.include({ status: "ready", opened: 2 });
    expect(h.sockets.last.pings()).to.equal(1);
    expect(h.sockets.maxAlive).to.equal(1);
  });

  it("caps the backoff and resets it once a connection has been stable", async () => {
    const h = harness({ backoff: { baseMs: 1000, maxMs: 4000 }, stableAfterMs: 30_000 });
    h.manager.start();
    for (let i = 0; i < 5; i += 1) {
      await settle();
      h.sockets.last.drop();
      h.clock.advance(h.manager.state.retryAt! - h.clock.now());
    }
    expect(h.manager.state.failures).to.equal(5);
    await settle();
    h.sockets.last.open();
    h.clock.advance(30_000);
    h.sockets.last.drop();
    expect(h.manager.state).to.include({ failures: 1, retryAt: h.clock.now() + 750 });
  });

  it("retries when the signed-URL endpoint fails", async () => {
    let fail = true;
    const h = harness({
      getSignedUrl: async () => {
        if (fail) throw new Error("signed-URL endpoint answered 502: no credentials");
        return { url: "wss://gw.example/Prod?sessionId=s1", sessionId: "s1" };
      },
    });
    h.manager.start();
    await settle();
    expect(h.manager.state).to.include({ status: "waiting", lastError: "Could not get a signed URL: signed-URL endpoint answered 502: no credentials" });
    expect(h.sockets.all).to.have.length(0);
    fail = false;
    h.clock.advance(h.manager.state.retryAt!);
    await settle();
    h.sockets.last.open();
    expect(h.manager.state.status).to.equal("ready");
  });

  it("stops retrying when the signed-URL endpoint refuses for good (4xx), and ends the answers in flight with the server's reason (issue 23)", async () => {
    let refuse = false;
    const h = harness({
      getSignedUrl: async () => {
        if (refuse) throw new SignedUrlError(403, "signed-URL endpoint answered 403: load the page first");
        return { url: "wss://gw.example/Prod?sessionId=s1", sessionId: "s1" };
      },
    });
    await connected(h);
    h.manager.ask("q", "llm");
    refuse = true;
    h.sockets.last.drop(1006);
    h.clock.advance(h.manager.state.retryAt!);
    await settle();
    const reason = "The server refused a new connection: signed-URL endpoint answered 403: load the page first";
    expect(h.manager.state).to.include({ status: "failed", lastError: reason, retryAt: undefined });
    expect(h.events.filter((e) => e.type === "lost")).to.deep.equal([{ type: "lost", requestIds: ["req1"], reason }]);
    // No timer left: nothing more is fetched.
    h.clock.advance(60 * MINUTE);
    await settle();
    expect(h.sockets.all).to.have.length(1);
    expect(() => h.manager.ask("q", "llm")).to.throw(NotConnectedError);
  });

  it("keeps retrying on 408, 429 and 5xx, which a later attempt can get past", async () => {
    for (const status of [408, 429, 503]) {
      const h = harness({ getSignedUrl: async () => Promise.reject(new SignedUrlError(status, `answered ${status}`)) });
      h.manager.start();
      await settle();
      expect(h.manager.state.status, String(status)).to.equal("waiting");
    }
  });

  it("adopts an answer asked before a reload: resumes it after the last seq seen, once, and sends a wanted stop after it resumed (issue 23)", async () => {
    const h = harness();
    h.manager.adopt("old1", 41);
    h.manager.adopt("old2", -1, true);
    await connected(h);
    const sent = h.sockets.last.sent.map((f) => JSON.parse(f));
    expect(sent.filter((f) => f.action === "resume")).to.deep.equal([
      { action: "resume", requestId: "old1", afterSeq: 41 },
      { action: "resume", requestId: "old2", afterSeq: 0 },
    ]);
    expect(h.manager.inFlight).to.deep.equal(["old1", "old2"]);
    // The replay continues old2; its stop goes out then, not before.
    expect(sent.filter((f) => f.action === "cancel")).to.deep.equal([]);
    h.sockets.last.receive(envelope("delta", "old2", 5, { text: "hello" }));
    expect(h.sockets.last.sent.map((f) => JSON.parse(f)).filter((f) => f.action === "cancel")).to.deep.equal([{ action: "cancel", requestId: "old2" }]);
    // Adopted while connected: resumed at once; adopting it again sends nothing more.
    h.manager.adopt("old3", 7);
    h.manager.adopt("old3", 7);
    expect(h.sockets.last.sent.filter((f) => f.includes('"old3"'))).to.deep.equal([JSON.stringify({ action: "resume", requestId: "old3", afterSeq: 7 })]);
  });

  it("abandon() forgets an answer in flight: no resume asks for it on the next socket", async () => {
    const h = harness();
    await connected(h);
    h.manager.ask("q", "llm");
    h.sockets.last.drop(1006);
    expect(h.manager.abandon("req1")).to.equal(true);
    expect(h.manager.abandon("req1")).to.equal(false);
    h.clock.advance(h.manager.state.retryAt!);
    await settle();
    h.sockets.last.open();
    expect(h.sockets.last.sent.filter((f) => f.includes("resume"))).to.deep.equal([]);
    expect(h.events.some((e) => e.type === "lost")).to.equal(false);
  });

  it("renews the connection with a fresh signature before the 2 h limit, closing the old socket first", async () => {
    const h = harness();
    await connected(h);
    const first = h.sockets.last;
    h.clock.advance(110 * MINUTE);
    expect(first.closeRequested).to.deep.equal({ code: 1000, reason: "renewing the signature" });
    expect(h.manager.state.status).to.equal("connecting");
    await settle();
    expect(h.sockets.all).to.have.length(2);
    expect(h.sockets.last.url).to.match(/sig2$/);
    h.sockets.last.open();
    expect(h.manager.state).to.include({ status: "ready", opened: 2, failures: 0 });
    expect(h.sockets.maxAlive).to.equal(1);
    // The old socket's timers are gone: only the new one pings.
    const pingsBefore = first.pings();
    h.clock.advance(9 * MINUTE);
    expect(first.pings()).to.equal(pingsBefore);
    expect(h.sockets.last.pings()).to.equal(2);
  });

  it("defers the renewal until the answer in flight has ended", async () => {
    const h = harness();
    await connected(h);
    const first = h.sockets.last;
    h.manager.ask("long question", "llm");
    h.clock.advance(110 * MINUTE);
    expect(first.closeRequested).to.equal(undefined);
    first.receive(envelope("delta", "req1", 1, { text: "still going" }));
    expect(first.closeRequested).to.equal(undefined);
    first.receive(envelope("error", "req1", 2, { code: "timeout", message: "took too long", retryable: true }));
    expect(first.closeRequested).to.deep.include({ code: 1000 });
    await settle();
    expect(h.sockets.all).to.have.length(2);
    expect(h.events.some((e) => e.type === "lost")).to.equal(false);
  });

  it("gives up on a close handshake that never completes before opening the next socket", async () => {
    const h = harness({ closeTimeoutMs: 5000 });
    await connected(h);
    h.sockets.closeCompletes = false;
    h.clock.advance(110 * MINUTE);
    await settle();
    expect(h.sockets.all).to.have.length(1);
    h.clock.advance(5000);
    await settle();
    expect(h.sockets.all).to.have.length(2);
    // A late close event from the abandoned socket changes nothing.
    h.sockets.all[0].drop(1000);
    h.sockets.last.open();
    expect(h.manager.state.status).to.equal("ready");
  });

  it("start() twice still makes one socket; stop() closes it and never reconnects", async () => {
    const h = harness();
    h.manager.start();
    h.manager.start();
    await settle();
    expect(h.sockets.all).to.have.length(1);
    h.sockets.last.open();
    h.manager.ask("q", "llm");
    h.manager.stop();
    expect(h.sockets.last.closeRequested).to.deep.include({ code: 1000 });
    expect(h.events.find((e) => e.type === "lost")).to.deep.include({ requestIds: ["req1"] });
    h.clock.advance(24 * 60 * MINUTE);
    await settle();
    expect(h.sockets.all).to.have.length(1);
    expect(h.manager.state.status).to.equal("stopped");
    expect(h.clock.pending()).to.equal(0);
  });

  it("stop() while a signed URL is being fetched opens no socket", async () => {
    const h = harness();
    h.manager.start();
    h.manager.stop();
    await settle();
    expect(h.sockets.all).to.have.length(0);
  });

  describe("resume after a drop (issue 11) and cancel (issue 12)", () => {
    const sentActions = (socket: ScriptedSocket) => socket.sent.filter((frame) => frame !== PING).map((frame) => JSON.parse(frame) as Record<string, unknown>);

    async function reconnect(h: Harness): Promise<ScriptedSocket> {
      h.clock.advance(60_000);
      await settle();
      h.sockets.last.open();
      return h.sockets.last;
    }

    it("resumes each answer in flight after the last seq received, gaps and all, and passes on only what is new", async () => {
      const h = harness();
      await connected(h);
      const first = h.sockets.last;
      h.manager.ask("a", "llm");
      h.manager.ask("b", "llm");
      first.receive(envelope("start", "req1", 0, {}));
      // seq is the answer's position: it jumps by the characters each delta carries.
      first.receive(envelope("delta", "req1", 6, { text: "Hello " }));
      first.receive(envelope("delta", "req1", 12, { text: "world!" }));
      first.drop(1006);
      const second = await reconnect(h);
      expect(sentActions(second)).to.deep.equal([
        { action: "resume", requestId: "req1", afterSeq: 12 },
        // Never seen to start: `start` carries nothing, so after 0.
        { action: "resume", requestId: "req2", afterSeq: 0 },
      ]);
      second.receive(envelope("delta", "req1", 17, { text: " More" }));
      second.receive(envelope("end", "req1", 18, { final: "Hello world! More", stopReason: "end_turn", metrics: { ttftMs: 1, totalMs: 1, deltas: 3, frames: 3 } }));
      expect(h.manager.inFlight).to.deep.equal(["req2"]);
      const seqs = h.events.flatMap((e) => (e.type === "envelope" ? [`${e.envelope.requestId}:${e.envelope.seq}`] : []));
      expect(seqs).to.deep.equal(["req1:0", "req1:6", "req1:12", "req1:17", "req1:18"]);
    });

    it("reports a refused resume (not_found, seq 0) as resume-failed, not as part of the answer", async () => {
      const h = harness();
      await connected(h);
      h.manager.ask("a", "llm");
      h.sockets.last.receive(envelope("start", "req1", 0, {}));
      h.sockets.last.receive(envelope("delta", "req1", 3, { text: "abc" }));
      h.sockets.last.drop(1006);
      const second = await reconnect(h);
      second.receive(envelope("error", "req1", 0, { code: "not_found", message: "There is no answer to resume.", retryable: false }));
      expect(h.events[h.events.length - 1]).to.deep.equal({ type: "resume-failed", requestId: "req1", message: "There is no answer to resume." });
      expect(h.manager.inFlight).to.deep.equal([]);
    });

    it("reports the answers lost instead when the drop lasted longer than resumeWithinMs", async () => {
      const h = harness({ resumeWithinMs: 30_000 });
      await connected(h);
      h.manager.ask("a", "llm");
      h.sockets.last.drop(1006);
      const second = await reconnect(h);
      expect(sentActions(second)).to.deep.equal([]);
      expect(h.events.find((e) => e.type === "lost")).to.deep.include({ requestIds: ["req1"] });
    });

    it("sends cancel once the answer has started, ignores a late cancel's refusal, and passes on the cancelled end", async () => {
      const h = harness();
      await connected(h);
      const socket = h.sockets.last;
      const requestId = h.manager.ask("a", "llm");
      expect(h.manager.cancel(requestId)).to.equal(true);
      // Before `start` the answer's journal may not exist yet: the cancel waits for it.
      expect(sentActions(socket).filter((a) => a.action === "cancel")).to.have.length(0);
      socket.receive(envelope("start", requestId, 0, {}));
      expect(sentActions(socket).filter((a) => a.action === "cancel")).to.deep.equal([{ action: "cancel", requestId }]);
      socket.receive(envelope("delta", requestId, 2, { text: "hi" }));
      // A cancel refused because the answer just ended: not the answer's error.
      socket.receive(envelope("error", requestId, 0, { code: "not_found", message: "no running answer", retryable: false }));
      expect(h.events.filter((e) => e.type === "envelope" && e.envelope.type === "error")).to.have.length(0);
      socket.receive(envelope("end", requestId, 3, { final: "hi", stopReason: "cancelled", metrics: { ttftMs: 1, totalMs: 1, deltas: 1, frames: 1 } }));
      expect(h.manager.inFlight).to.deep.equal([]);
      expect(h.manager.cancel(requestId)).to.equal(false);
    });

    it("a cancel asked while disconnected goes out after the resume, once the rest has started to arrive", async () => {
      const h = harness();
      await connected(h);
      const requestId = h.manager.ask("a", "llm");
      h.sockets.last.receive(envelope("start", requestId, 0, {}));
      h.sockets.last.drop(1006);
      h.manager.cancel(requestId);
      const second = await reconnect(h);
      expect(sentActions(second)).to.deep.equal([{ action: "resume", requestId, afterSeq: 0 }]);
      second.receive(envelope("delta", requestId, 4, { text: "more" }));
      expect(sentActions(second)).to.deep.equal([{ action: "resume", requestId, afterSeq: 0 }, { action: "cancel", requestId }]);
    });
  });
});
