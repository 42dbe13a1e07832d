import { expect } from "chai";
import type { ConnectionRow } from "../../functions/shared/table";
import { PostError, type StreamReport } from "../../functions/stream/types";
import { createStreamOpener, DEFAULT_FLUSH_INTERVAL_MS, streamReporter, type StreamWriterSettings } from "../../functions/stream/writer";
import { drain, FakeClock, FakeTransport, MemoryConnectionsStore, RecordingLogger, type PostCall } from "./stream-fakes";

const SESSION = "us-east-1:00000000-0000-4000-8000-000000000001";
const ALICE = `cognito:${SESSION}`;
const BOB = "iam:arn:aws:iam::111122223333:user/bob";
const EMOJI = "😀";

interface Setup {
  formats: ConnectionRow["format"][];
  options?: StreamWriterSettings;
  clock?: FakeClock;
  respond?: (call: PostCall) => "ok" | "hold" | PostError;
  random?: () => number;
}

/** Most tests look at coalescing and framing alone: no frame budget, no tail split, unless they set them. */
const UNPACED: StreamWriterSettings = { flushIntervalMs: { text: 0, json: 0 }, textTailCodePoints: 0 };

async function setup({ formats, options, clock = new FakeClock(), respond, random = () => 0.5 }: Setup) {
  const store = new MemoryConnectionsStore();
  const ids = await store.seed(SESSION, ALICE, formats);
  const transport = new FakeTransport(respond);
  const logger = new RecordingLogger();
  const reports: StreamReport[] = [];
  const opener = createStreamOpener({
    store,
    transport,
    clock,
    logger,
    random,
    options: { report: (report) => reports.push(report), ...UNPACED, ...options },
  });
  // null: no principal, as a Lex code hook opens it (undefined would take the default).
  const open = (principal: string | null = ALICE) => opener({ sessionId: SESSION, principal: principal ?? undefined, requestId: "req-1" });
  return { store, ids, transport, clock, logger, reports, open };
}

const hold = () => "hold" as const;
const resolveAll = async (transport: FakeTransport) => {
  for (const call of transport.pending()) call.resolve();
  await drain();
};

describe("stream writer", () => {
  describe("pacing", () => {
    it("posts the first delta at once, before anything else is awaited", async () => {
      const { ids, transport, open } = await setup({ formats: ["text"], respond: hold });
      const stream = await open();
      stream.delta("Hello");
      expect(transport.calls.map((c) => [c.connectionId, c.text])).to.deep.equal([[ids[0], "Hello"]]);
    });

    it("coalesces the deltas that arrive during a slow post into one frame", async () => {
      const { ids, transport, open, reports } = await setup({ formats: ["text"], respond: hold });
      const stream = await open();
      stream.delta("first ");
      const rest = Array.from({ length: 100 }, (_, i) => `d${i} `);
      for (const d of rest) stream.delta(d);
      expect(transport.calls).to.have.length(1);
      await resolveAll(transport);
      expect(transport.calls).to.have.length(2);
      expect(transport.calls[1].text).to.equal(rest.join(""));
      const ending = stream.end({ final: "final", stopReason: "end_turn" });
      await resolveAll(transport);
      const report = await ending;
      expect(transport.framesOf(ids[0])).to.deep.equal(["first ", rest.join("")]);
      expect(report).to.include({ deltas: 101, frames: 2, posts: 2, connections: 1, gone: 0, retries: 0 });
      expect(reports).to.deep.equal([report]);
      expect(transport.overlaps).to.equal(0);
    });

    it("honours the frame budget on the clock, coalescing what arrives while it waits", async () => {
      const clock = new FakeClock(false);
      const { ids, transport, open } = await setup({ formats: ["text"], clock, options: { flushIntervalMs: { text: 100 } } });
      const stream = await open();
      stream.delta("a");
      await drain();
      stream.delta("b");
      stream.delta("c");
      await drain();
      expect(transport.calls).to.have.length(1);
      expect(clock.sleeps).to.deep.equal([100]);
      clock.advance(99);
      await drain();
      expect(transport.calls).to.have.length(1);
      clock.advance(1);
      await drain();
      expect(transport.framesOf(ids[0])).to.deep.equal(["a", "bc"]);
      const ending = stream.end({ final: "abc", stopReason: "end_turn" });
      clock.advance(100);
      await ending;
    });

    it("does not let the json start frame delay the first delta under the frame budget", async () => {
      const clock = new FakeClock(false);
      const { ids, transport, open } = await setup({ formats: ["json"], clock, options: { flushIntervalMs: { json: 100 } } });
      const stream = await open();
      await drain();
      stream.delta("now");
      expect(transport.framesOf(ids[0]).map((f) => JSON.parse(f).type)).to.deep.equal(["start", "delta"]);
      expect(clock.sleeps).to.deep.equal([]);
      const ending = stream.end({ final: "now", stopReason: "end_turn" });
      clock.advance(100);
      await ending;
    });

    it("paces each format to its own frame budget by default", async () => {
      const clock = new FakeClock(false);
      const { ids, transport, open } = await setup({ formats: ["text", "json"], clock, options: { flushIntervalMs: DEFAULT_FLUSH_INTERVAL_MS } });
      const [text, json] = ids;
      const stream = await open();
      await drain();
      stream.delta("a");
      await drain();
      stream.delta("b");
      await drain();
      expect(clock.sleeps.sort((x, y) => x - y)).to.deep.equal([DEFAULT_FLUSH_INTERVAL_MS.json, DEFAULT_FLUSH_INTERVAL_MS.text]);
      clock.advance(DEFAULT_FLUSH_INTERVAL_MS.json);
      await drain();
      expect(transport.envelopesOf(json).map((e) => e.text ?? e.type)).to.deep.equal(["start", "a", "b"]);
      expect(transport.framesOf(text)).to.deep.equal(["a"]);
      clock.advance(DEFAULT_FLUSH_INTERVAL_MS.text - DEFAULT_FLUSH_INTERVAL_MS.json);
      await drain();
      expect(transport.framesOf(text)).to.deep.equal(["a", "b"]);
      const ending = stream.end({ final: "ab", stopReason: "end_turn" });
      await drain();
      await ending;
    });

    it("holds text no longer than one interval plus the post in flight", async () => {
      const clock = new FakeClock(false);
      const { transport, open } = await setup({ formats: ["text"], clock, respond: hold, options: { flushIntervalMs: { text: 100 } } });
      const texts = () => transport.calls.map((c) => c.text);
      const stream = await open();
      stream.delta("a");
      clock.advance(60);
      stream.delta("b");
      // The post of "a" takes 150 ms, longer than the interval: "b" goes the moment it returns.
      clock.advance(90);
      await resolveAll(transport);
      expect(texts()).to.deep.equal(["a", "b"]);
      expect(clock.sleeps).to.deep.equal([]);
      await resolveAll(transport);
      // "c" comes as the post of "b" returns, 0 ms after it started: it waits the whole interval, no more.
      stream.delta("c");
      await drain();
      expect(clock.sleeps).to.deep.equal([100]);
      clock.advance(99);
      await drain();
      expect(texts()).to.deep.equal(["a", "b"]);
      clock.advance(1);
      await drain();
      expect(texts()).to.deep.equal(["a", "b", "c"]);
      const ending = stream.end({ final: "abc", stopReason: "end_turn" });
      await resolveAll(transport);
      await ending;
    });

    it("sends what waits out the frame budget as soon as the answer ends", async () => {
      const clock = new FakeClock(false);
      const { ids, transport, open, reports } = await setup({ formats: ["text", "json"], clock, options: { flushIntervalMs: { text: 1000, json: 1000 } } });
      const [text, json] = ids;
      const stream = await open();
      await drain();
      stream.delta("first ");
      await drain();
      stream.delta("second");
      await drain();
      expect(transport.framesOf(text)).to.deep.equal(["first "]);
      const report = await stream.end({ final: "first second", stopReason: "end_turn" });
      expect(clock.t, "no time passed").to.equal(0);
      expect(transport.framesOf(text)).to.deep.equal(["first ", "second"]);
      expect(transport.envelopesOf(json).map((e) => e.type)).to.deep.equal(["start", "delta", "delta", "end"]);
      expect(reports).to.deep.equal([report]);
    });

    it("splits the last text frame down to textTailCodePoints, whole characters only; json is never split", async () => {
      const clock = new FakeClock(false);
      const { ids, transport, open } = await setup({
        formats: ["text", "text", "json"],
        clock,
        options: { flushIntervalMs: { text: 1000, json: 1000 }, textTailCodePoints: 1 },
      });
      const stream = await open();
      await drain();
      stream.delta("Hi");
      await drain();
      stream.delta(` there ${EMOJI}`);
      await drain();
      await stream.end({ final: `Hi there ${EMOJI}`, stopReason: "end_turn" });
      const [a, b, json] = ids;
      for (const id of [a, b]) expect(transport.framesOf(id)).to.deep.equal(["Hi", " there ", EMOJI]);
      expect(transport.envelopesOf(json).filter((e) => e.type === "delta").map((e) => e.text)).to.deep.equal(["Hi", ` there ${EMOJI}`]);
    });

    it("sends a last text no longer than the tail whole, never as an empty frame", async () => {
      const { ids, transport, open } = await setup({ formats: ["text"], respond: hold, options: { textTailCodePoints: 3 } });
      const stream = await open();
      stream.delta("Hello");
      stream.delta("abc");
      const ending = stream.end({ final: "Helloabc", stopReason: "end_turn" });
      await resolveAll(transport);
      await resolveAll(transport);
      await ending;
      expect(transport.framesOf(ids[0])).to.deep.equal(["Hello", "abc"]);
    });

    it("keeps a slow connection from holding up the others", async () => {
      const { ids, transport, open } = await setup({
        formats: ["text", "text", "text"],
        respond: (call) => (call.connectionId.endsWith("c0") ? "hold" : call.connectionId.endsWith("c1") ? new PostError("gone", "gone", 410) : "ok"),
      });
      const [slow, gone, fast] = ids;
      const stream = await open();
      for (const d of ["one ", "two ", "three"]) {
        stream.delta(d);
        await drain();
      }
      expect(transport.framesOf(fast)).to.deep.equal(["one ", "two ", "three"]);
      expect(transport.callsTo(slow).map((c) => c.text)).to.deep.equal(["one "]);
      expect(transport.callsTo(gone)).to.have.length(1);
      expect(stream.liveConnections).to.equal(2);
      const ending = stream.end({ final: "x", stopReason: "end_turn" });
      transport.respond = () => "ok";
      await resolveAll(transport);
      const report = await ending;
      expect(transport.framesOf(slow)).to.deep.equal(["one ", "two three"]);
      expect(report).to.include({ connections: 3, gone: 1, frames: 5 });
      expect(transport.overlaps).to.equal(0);
    });
  });

  describe("framing", () => {
    it("sends text connections raw text only, and json connections v1 envelopes in seq order", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "json"], respond: hold });
      const [text, json] = ids;
      const stream = await open();
      // The json start frame is in flight, so everything below queues behind it.
      stream.delta("a");
      stream.delta("b");
      stream.citation([{ text: "cited", sources: [{ uri: "s3://docs/a.md", title: "A" }] }]);
      stream.delta("c");
      stream.guardrail("INTERVENED");
      stream.delta("d");
      transport.respond = () => "ok";
      await resolveAll(transport);
      const report = await stream.end({
        final: "abcd [1]",
        stopReason: "end_turn",
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      });

      expect(transport.framesOf(text).join("")).to.equal("abcd");
      const envelopes = transport.envelopesOf(json);
      // seq is the answer's position (journal.ts): one per text unit, citation or event.
      expect(envelopes.map((e) => [e.type, e.seq])).to.deep.equal([
        ["start", 0],
        ["delta", 2],
        ["citation", 3],
        ["delta", 4],
        ["guardrail", 5],
        ["delta", 6],
        ["end", 7],
      ]);
      for (const e of envelopes) expect(e).to.include({ v: 1, requestId: "req-1" });
      expect(envelopes.filter((e) => e.type === "delta").map((e) => e.text)).to.deep.equal(["ab", "c", "d"]);
      expect(envelopes[2].citations).to.deep.equal([{ text: "cited", sources: [{ uri: "s3://docs/a.md", title: "A" }] }]);
      expect(envelopes[4].action).to.equal("INTERVENED");
      expect(envelopes[6]).to.deep.include({
        final: "abcd [1]",
        stopReason: "end_turn",
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      });
      expect(envelopes[6].metrics).to.deep.equal({ ttftMs: report.ttftMs, totalMs: report.totalMs, deltas: 4, frames: 7 });
    });

    it("splits a 32 KB+ delta of CJK and emoji with no frame over the limit, in both formats", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "json"] });
      const [text, json] = ids;
      const answer = `${"漢字".repeat(9000)}${EMOJI.repeat(9000)}\n"quoted"\u0001`;
      const stream = await open();
      stream.delta(answer);
      const report = await stream.end({ final: answer, stopReason: "end_turn" });
      for (const call of transport.calls.filter((c) => !c.text.includes('"type":"end"'))) {
        expect(call.data.byteLength).to.be.at.most(32 * 1024);
      }
      expect(transport.framesOf(text).join("")).to.equal(answer);
      expect(transport.framesOf(text).length).to.be.greaterThan(2);
      const deltas = transport.envelopesOf(json).filter((e) => e.type === "delta");
      expect(deltas.map((e) => e.text).join("")).to.equal(answer);
      expect(report.bytes).to.equal(transport.calls.reduce((sum, c) => sum + c.data.byteLength, 0));
    });

    it("cuts an end envelope's final answer to maxMessageBytes", async () => {
      const { ids, transport, open, logger } = await setup({
        formats: ["json"],
        options: { maxFrameBytes: 200, maxMessageBytes: 400 },
      });
      const stream = await open();
      await stream.end({ final: "f".repeat(1000), stopReason: "max_tokens" });
      const [, end] = transport.framesOf(ids[0]);
      expect(Buffer.byteLength(end)).to.be.at.most(400);
      expect(JSON.parse(end).final).to.match(/^f+$/);
      expect(logger.entries.map((e) => e.message)).to.include("the final answer was cut to fit one message");
    });

    it("never splits a surrogate pair that arrives in two deltas, and flushes a lone half at the end", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "json"] });
      const [text, json] = ids;
      const stream = await open();
      stream.delta(`a${EMOJI[0]}`);
      await drain();
      stream.delta(`${EMOJI[1]}b`);
      await drain();
      stream.delta(`c${EMOJI[0]}`);
      await stream.end({ final: "x", stopReason: "end_turn" });
      // The fake transport decodes frames with a fatal decoder: a split pair in a frame would throw.
      expect(transport.framesOf(text)).to.deep.equal(["a", `${EMOJI}b`, "c", "\ufffd"]);
      const deltas = transport.envelopesOf(json).filter((e) => e.type === "delta");
      expect(deltas.map((e) => e.text)).to.deep.equal(["a", `${EMOJI}b`, "c", EMOJI[0]]);
    });

    it("sends text connections the answer as readable prose (markdown markers dropped, across deltas); json connections keep the markdown (issue 23)", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "json"] });
      const [text, json] = ids;
      const stream = await open();
      // Cut where the markers are undecided: a lone "*", a line that starts with "-", an open "`".
      for (const delta of ["_Offline_ **Bedrock Conv", "erseStream*", "* streams via `Conver", "seStream`:\n-", " one\n- two"]) {
        stream.delta(delta);
        await drain();
      }
      await stream.end({ final: "final", stopReason: "end_turn" });
      expect(transport.framesOf(text).join("")).to.equal("Offline Bedrock ConverseStream streams via ConverseStream:\n• one\n• two");
      const deltas = transport.envelopesOf(json).filter((e) => e.type === "delta").map((e) => e.text);
      expect(deltas.join("")).to.equal("_Offline_ **Bedrock ConverseStream** streams via `ConverseStream`:\n- one\n- two");
    });

    it("fail() sends json connections an error envelope and text connections a readable line", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "json", "text"] });
      const [text, json, silent] = ids;
      const stream = await open();
      stream.delta("partial");
      const report = await stream.fail({ code: "throttled", message: "The model is busy; try again.", retryable: true });
      expect(transport.framesOf(text).join("")).to.equal("partial\n\nError: The model is busy; try again.");
      expect(transport.framesOf(silent).join("")).to.equal("partial\n\nError: The model is busy; try again.");
      const last = transport.envelopesOf(json).at(-1);
      expect(last).to.deep.equal({
        v: 1,
        type: "error",
        requestId: "req-1",
        seq: 8,
        code: "throttled",
        message: "The model is busy; try again.",
        retryable: true,
      });
      expect(report.connections).to.equal(3);
    });

    it("ends once: a second end()/fail() returns the same report and later calls are ignored", async () => {
      const { ids, transport, open, reports } = await setup({ formats: ["json"] });
      const stream = await open();
      stream.delta("x");
      const first = stream.end({ final: "x", stopReason: "end_turn" });
      stream.delta("late");
      stream.citation([{ text: "late", sources: [] }]);
      const second = stream.fail({ code: "internal", message: "late", retryable: false });
      expect(await second).to.equal(await first);
      expect(transport.envelopesOf(ids[0]).map((e) => e.type)).to.deep.equal(["start", "delta", "end"]);
      expect(reports).to.have.length(1);
    });
  });

  describe("failures", () => {
    it("drops a Gone (410) and a Forbidden (403) connection and removes their rows", async () => {
      const { ids, transport, open, store } = await setup({ formats: ["text", "json", "text"] });
      const [gone, forbidden, kept] = ids;
      transport.respond = (call) =>
        call.connectionId === gone
          ? new PostError("gone", "GoneException", 410)
          : call.connectionId === forbidden
            ? new PostError("forbidden", "ForbiddenException", 403)
            : "ok";
      const stream = await open();
      stream.delta("a");
      await drain();
      expect(stream.liveConnections).to.equal(1);
      stream.delta("b");
      const report = await stream.end({ final: "ab", stopReason: "end_turn" });
      expect(transport.callsTo(gone)).to.have.length(1);
      expect(transport.callsTo(forbidden)).to.have.length(1);
      expect(transport.framesOf(kept)).to.deep.equal(["a", "b"]);
      expect(store.removed).to.have.deep.members([
        { sessionId: SESSION, connectionId: gone },
        { sessionId: SESSION, connectionId: forbidden },
      ]);
      expect((await store.listSession(SESSION)).connections.map((r) => r.connectionId)).to.deep.equal([kept]);
      expect(report).to.include({ gone: 2, connections: 3, retries: 0 });
    });

    it("logs a failed row removal and still completes the answer", async () => {
      const { transport, open, store, logger } = await setup({ formats: ["text"] });
      store.failRemove = new Error("DynamoDB is down");
      transport.respond = () => new PostError("gone", "GoneException", 410);
      const stream = await open();
      stream.delta("a");
      const report = await stream.end({ final: "a", stopReason: "end_turn" });
      expect(report.gone).to.equal(1);
      expect(logger.entries.find((e) => e.message === "removing a gone connection's row failed")).to.not.equal(undefined);
    });

    it("retries a throttled (429) post with jittered backoff, then delivers it in order", async () => {
      const { ids, transport, open, clock } = await setup({ formats: ["text"] });
      let throttles = 2;
      transport.respond = () => (throttles-- > 0 ? new PostError("throttled", "LimitExceededException", 429) : "ok");
      const stream = await open();
      stream.delta("a");
      stream.delta("b");
      const report = await stream.end({ final: "ab", stopReason: "end_turn" });
      expect(clock.sleeps).to.deep.equal([12.5, 25]); // random() = 0.5 of 25 * 2^n
      expect(transport.framesOf(ids[0])).to.deep.equal(["a", "b"]);
      expect(report).to.include({ retries: 2, posts: 4, frames: 2, gone: 0 });
    });

    it("drops a connection throttled past the retry budget but keeps its row; backoff stays under the cap", async () => {
      const { ids, transport, open, clock, store } = await setup({
        formats: ["text"],
        random: () => 0.999,
        options: { maxRetries: 7 },
      });
      transport.respond = () => new PostError("throttled", "LimitExceededException", 429);
      const stream = await open();
      stream.delta("a");
      stream.delta("b");
      const report = await stream.end({ final: "ab", stopReason: "end_turn" });
      expect(transport.callsTo(ids[0])).to.have.length(8);
      // Doubling from 25 ms, capped at the default 1 s (random() = 0.999 scales each wait).
      expect(clock.sleeps.map(Math.round)).to.deep.equal([25, 50, 100, 200, 400, 799, 999]);
      expect(stream.liveConnections).to.equal(0);
      expect(store.removed).to.deep.equal([]);
      expect((await store.listSession(SESSION)).connections).to.have.length(1);
      expect(report).to.include({ retries: 7, posts: 8, frames: 0, gone: 0 });
    });

    it("drops a connection on 413 without retrying, and retries other failures", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "text"] });
      const [large, flaky] = ids;
      let flakes = 1;
      transport.respond = (call) =>
        call.connectionId === large
          ? new PostError("too_large", "PayloadTooLargeException", 413)
          : flakes-- > 0
            ? new PostError("other", "InternalServerError", 500)
            : "ok";
      const stream = await open();
      stream.delta("a");
      const report = await stream.end({ final: "a", stopReason: "end_turn" });
      expect(transport.callsTo(large)).to.have.length(1);
      expect(transport.framesOf(flaky)).to.deep.equal(["a"]);
      expect(report).to.include({ retries: 1, gone: 0 });
      expect(stream.liveConnections).to.equal(1);
    });

    it("resends a frame that may have arrived only to json connections, whose seq exposes the copy", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "json"] });
      const [text, json] = ids;
      const failedOnce = new Set<string>();
      transport.respond = (call) => {
        if (failedOnce.has(call.connectionId)) return "ok";
        failedOnce.add(call.connectionId);
        return new PostError("unknown", "TimeoutError: Connection timed out after 3000 ms");
      };
      const stream = await open();
      stream.delta("a");
      const report = await stream.end({ final: "a", stopReason: "end_turn" });
      // The text connection could now show "a" twice: it leaves the stream, keeping its row.
      expect(transport.callsTo(text)).to.have.length(1);
      expect(transport.framesOf(json).map((frame) => JSON.parse(frame).type)).to.deep.equal(["start", "delta", "end"]);
      expect(transport.callsTo(json)).to.have.length(4);
      expect(report).to.include({ retries: 1, gone: 0 });
      expect(stream.liveConnections).to.equal(1);
    });

    it("stops posting when no connection is left, while delta() and end() keep working", async () => {
      const { transport, open, reports } = await setup({ formats: ["text", "json"] });
      transport.respond = () => new PostError("gone", "GoneException", 410);
      const stream = await open();
      stream.delta("a");
      await drain();
      expect(stream.liveConnections).to.equal(0);
      const posts = transport.calls.length;
      for (let i = 0; i < 50; i++) stream.delta("more");
      stream.citation([{ text: "c", sources: [] }]);
      stream.guardrail("NONE");
      const report = await stream.end({ final: "done", stopReason: "end_turn" });
      expect(transport.calls).to.have.length(posts);
      expect(report).to.include({ deltas: 51, connections: 2, gone: 2, frames: 0 });
      expect(reports).to.deep.equal([report]);
    });

    it("streams to nobody when listing the session fails, and the answer still completes", async () => {
      const logger = new RecordingLogger();
      const transport = new FakeTransport();
      const opener = createStreamOpener({
        store: {
          listSession: () => Promise.reject(new Error("ResourceNotFoundException")),
          remove: () => Promise.resolve(true),
        },
        transport,
        logger,
        options: { report: () => undefined },
      });
      const stream = await opener({ sessionId: SESSION, requestId: "req-1" });
      stream.delta("a");
      const report = await stream.end({ final: "a", stopReason: "end_turn" });
      expect(transport.calls).to.deep.equal([]);
      expect(report).to.include({ connections: 0, deltas: 1 });
      expect(logger.entries.map((e) => e.level)).to.deep.equal(["error"]);
    });

    it("streams to the asking connection alone when listing the session fails", async () => {
      const transport = new FakeTransport();
      const opener = createStreamOpener({
        store: {
          listSession: () => Promise.reject(new Error("ProvisionedThroughputExceededException")),
          remove: () => Promise.resolve(true),
        },
        transport,
        logger: new RecordingLogger(),
        options: { report: () => undefined },
      });
      const stream = await opener({ sessionId: SESSION, requestId: "req-1", asker: { connectionId: "asker=", format: "json" } });
      stream.delta("a");
      await stream.end({ final: "a", stopReason: "end_turn" });
      expect(transport.framesOf("asker=").map((frame) => JSON.parse(frame).type)).to.deep.equal(["start", "delta", "end"]);
    });
  });

  describe("who receives the answer", () => {
    it("fans out to every connection of the session concurrently", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "json", "text"], respond: hold });
      const stream = await open();
      stream.delta("hi");
      // One post per connection is in flight at once: text frames and the json start.
      expect(transport.pending().map((c) => c.connectionId)).to.have.members(ids);
      transport.respond = () => "ok";
      await resolveAll(transport);
      await stream.end({ final: "hi", stopReason: "end_turn" });
      expect(transport.framesOf(ids[0])).to.deep.equal(["hi"]);
      expect(transport.framesOf(ids[2])).to.deep.equal(["hi"]);
      expect(transport.envelopesOf(ids[1]).map((e) => e.type)).to.deep.equal(["start", "delta", "end"]);
    });

    it("a known asker receives only its own connections, even in a session another principal also claims", async () => {
      const { store, ids, transport, open, logger } = await setup({ formats: ["text", "json"] });
      const bobs = "bob-tab";
      await store.register({ sessionId: SESSION, connectionId: bobs, principal: BOB, format: "text" });
      const stream = await open(BOB);
      stream.delta("bob's answer");
      await stream.end({ final: "bob's answer", stopReason: "end_turn" });
      expect(transport.framesOf(bobs)).to.deep.equal(["bob's answer"]);
      expect(transport.callsTo(ids[0])).to.deep.equal([]);
      expect(transport.callsTo(ids[1])).to.deep.equal([]);
      expect(JSON.stringify(logger.entries)).to.not.include("bob's answer");
    });

    it("an unknown asker (a Lex code hook) reaches every connection of the session's only claimant", async () => {
      const { ids, transport, open } = await setup({ formats: ["text", "text"] });
      const stream = await open(null);
      stream.delta("a");
      await stream.end({ final: "a", stopReason: "end_turn" });
      expect(transport.framesOf(ids[0])).to.deep.equal(["a"]);
      expect(transport.framesOf(ids[1])).to.deep.equal(["a"]);
    });

    // clients.md: stock Lex Web UI sends `lex-web-ui-` + 4 hex digits, so two users share an id,
    // and a Lex code hook does not say which of them asked.
    it("an unknown asker reaches nobody while two principals claim the session, and says why", async () => {
      const { store, ids, transport, open, logger, reports } = await setup({ formats: ["text", "json"] });
      await store.register({ sessionId: SESSION, connectionId: "bob-tab", principal: BOB, format: "text" });
      const stream = await open(null);
      stream.delta("secret answer");
      const report = await stream.end({ final: "secret answer", stopReason: "end_turn" });
      expect(transport.calls).to.deep.equal([]);
      expect(stream.liveConnections).to.equal(0);
      expect(report.connections).to.equal(0);
      expect(reports).to.have.length(1);
      const warning = logger.entries.find((e) => e.level === "warn");
      expect(warning?.message).to.equal("answer not streamed: the session is claimed by several principals and the asker is unknown");
      expect(JSON.stringify(logger.entries)).to.not.include("secret answer");
      expect(ids).to.have.length(2);
    });

    it("skips rows of another principal even if the store returned them", async () => {
      const transport = new FakeTransport();
      const row = (connectionId: string, principal: string): ConnectionRow => ({
        sessionId: SESSION,
        connectionId,
        principal,
        format: "text",
        connectedAt: 0,
        ttl: 0,
      });
      const opener = createStreamOpener({
        store: {
          listSession: async () => ({
            claimants: [ALICE],
            claimEnds: { [ALICE]: 0 },
            contested: false,
            openToUnknownAsker: true,
            connections: [row("mine", ALICE), row("theirs", BOB)],
          }),
          remove: async () => true,
        },
        transport,
        logger: new RecordingLogger(),
        options: { report: () => undefined },
      });
      const stream = await opener({ sessionId: SESSION, principal: ALICE, requestId: "req-1" });
      stream.delta("a");
      await stream.end({ final: "a", stopReason: "end_turn" });
      expect(transport.calls.map((c) => c.connectionId)).to.deep.equal(["mine"]);
    });
  });

  describe("report", () => {
    it("times the first token from open to the first text delivered", async () => {
      const clock = new FakeClock(false);
      const { transport, open } = await setup({ formats: ["json"], clock, respond: hold });
      const stream = await open();
      clock.advance(10);
      await resolveAll(transport); // start delivered at t=10
      clock.advance(40);
      stream.delta("a"); // t=50
      clock.advance(20);
      await resolveAll(transport); // delivered at t=70
      transport.respond = () => "ok";
      clock.advance(30);
      const report = await stream.end({ final: "a", stopReason: "end_turn" });
      expect(report).to.include({ ttftMs: 70, totalMs: 100, deltas: 1, frames: 3, posts: 3, connections: 1 });
    });

    it("streamReporter emits one EMF publication and one INFO line, without answer text", () => {
      const added: [string, string, number][] = [];
      let published = 0;
      const logger = new RecordingLogger();
      const report = streamReporter({
        metrics: {
          addMetric(name: string, unit: string, value: number) {
            added.push([name, unit, value]);
            return this as never;
          },
          publishStoredMetrics() {
            published++;
            return this as never;
          },
        },
        logger,
      });
      const figures: StreamReport = { ttftMs: 5, totalMs: 90, deltas: 12, frames: 4, posts: 5, bytes: 321, connections: 2, gone: 1, retries: 1 };
      report(figures, { sessionId: SESSION, requestId: "req-1" });
      expect(published).to.equal(1);
      expect(Object.fromEntries(added.map(([name, , value]) => [name, value]))).to.deep.equal({
        StreamTtftMs: 5,
        StreamDurationMs: 90,
        StreamDeltas: 12,
        StreamFrames: 4,
        StreamPosts: 5,
        StreamBytes: 321,
        StreamConnections: 2,
        StreamGoneConnections: 1,
        StreamRetries: 1,
      });
      expect(logger.entries).to.deep.equal([
        { level: "info", message: "answer streamed", attributes: { sessionId: SESSION, requestId: "req-1", ...figures } },
      ]);
    });
  });

  describe("options", () => {
    it("rejects nonsense options with a clear error", () => {
      const deps = { store: new MemoryConnectionsStore(), transport: new FakeTransport() };
      expect(() => createStreamOpener({ ...deps, options: { maxRetries: -1 } })).to.throw(RangeError, /maxRetries/);
      expect(() => createStreamOpener({ ...deps, options: { flushIntervalMs: { json: Number.NaN } } })).to.throw(RangeError, /flushIntervalMs.json/);
      expect(() => createStreamOpener({ ...deps, options: { flushIntervalMs: { text: -1 } } })).to.throw(RangeError, /flushIntervalMs.text/);
      expect(() => createStreamOpener({ ...deps, options: { textTailCodePoints: 1.5 } })).to.throw(RangeError, /textTailCodePoints/);
      expect(() => createStreamOpener({ ...deps, options: { maxFrameBytes: 1000, maxMessageBytes: 10 } })).to.throw(RangeError, /maxMessageBytes/);
    });

    it("refuses a frame size too small to carry a delta of the request", async () => {
      const opener = createStreamOpener({ store: new MemoryConnectionsStore(), transport: new FakeTransport(), options: { maxFrameBytes: 40 } });
      let error: unknown;
      await opener({ sessionId: SESSION, requestId: "req-1" }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(RangeError);
    });
  });
});
