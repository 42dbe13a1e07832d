/**
 * Property: whatever the model's deltas (emoji and CJK cut anywhere, even between the halves
 * of a surrogate pair) and whatever each connection's post latencies and failures, every
 * connection that survives receives exactly the generated text, in order, in frames within
 * the limit (a text connection: as prose, plain-text.ts); one that is dropped received a prefix
 * of it and nothing after its drop.
 */
import { expect } from "chai";
import fc from "fast-check";
import { PostError, type PostFailureKind, type StreamReport } from "../../functions/stream/types";
import { plainText } from "../../functions/stream/plain-text";
import { createStreamOpener } from "../../functions/stream/writer";
import { drain, FakeClock, FakeTransport, journalPositions, MemoryConnectionsStore, RecordingLogger, type PostCall } from "./stream-fakes";

const SESSION = "session-1";
const OWNER = "iam:arn:aws:iam::123456789012:user/alice";
const MAX_RETRIES = 4;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const piece = fc.oneof(
  fc.constantFrom("Hello", " ", "world", "\n", '"', "\\", "\t", "é", "ß"),
  fc.constantFrom("漢", "字", "한", "国", "語", "です"),
  fc.constantFrom("😀", "👍🏽", "🇯🇵", "𝒳", "🧑‍💻"),
  fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
);
// Sized up from fast-check's small default so coalesced frames often hit the size limit.
const answerText = fc.array(piece, { minLength: 1, maxLength: 200, size: "large" }).map((parts) => parts.join(""));

type Outcome = "ok" | Exclude<PostFailureKind, "forbidden" | "too_large">;
const step = fc.record({
  outcome: fc.constantFrom<Outcome>("ok", "ok", "ok", "ok", "throttled", "other", "gone"),
  latency: fc.nat(3),
});
/** A connection's scripted posts; only a mortal one ever answers Gone, so survivors are common. */
const connection = fc
  .record({
    format: fc.constantFrom("text" as const, "json" as const),
    mortal: fc.boolean(),
    script: fc.array(step, { minLength: 1, maxLength: 12 }),
  })
  .map(({ format, mortal, script }) => ({
    format,
    script: mortal ? script : script.map((s) => (s.outcome === "gone" ? { ...s, outcome: "throttled" as const } : s)),
  }));
/** What the model does between posts: a delta of `size` code units, or a citation/guardrail event. */
const event = fc.record({
  kind: fc.constantFrom("delta", "delta", "delta", "delta", "citation", "guardrail"),
  size: fc.integer({ min: 1, max: 40 }),
  ticks: fc.nat(2),
});

const scenario = fc.record({
  text: answerText,
  events: fc.array(event, { minLength: 1, maxLength: 40, size: "medium" }),
  connections: fc.array(connection, { minLength: 1, maxLength: 4 }),
  // Small frames split text often; 128 bytes still hold one scripted citation envelope.
  maxFrameBytes: fc.integer({ min: 128, max: 300 }),
});

const failure = (kind: Outcome) => new PostError(kind as PostFailureKind, kind, kind === "gone" ? 410 : kind === "throttled" ? 429 : 500);

describe("stream writer (property)", () => {
  it("delivers exactly the generated text to every surviving connection", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ text, events, connections, maxFrameBytes }) => {
        const store = new MemoryConnectionsStore();
        const ids = await store.seed(SESSION, OWNER, connections.map((c) => c.format));
        const scriptOf = new Map(ids.map((id, i) => [id, connections[i].script]));
        const attempts = new Map<string, number>();
        /** Posts in flight, each settled at its tick with its scripted outcome. */
        let held: { call: PostCall; at: number; outcome: Outcome }[] = [];
        /** Every post with its outcome, in the order it was made. */
        const log: { call: PostCall; outcome: Outcome }[] = [];
        let tick = 0;
        const transport = new FakeTransport((call) => {
          const n = attempts.get(call.connectionId) ?? 0;
          attempts.set(call.connectionId, n + 1);
          const script = scriptOf.get(call.connectionId)!;
          const { outcome, latency } = script[n % script.length];
          held.push({ call, at: tick + latency, outcome });
          log.push({ call, outcome });
          return "hold";
        });
        const advance = async () => {
          tick++;
          const due = held.filter((h) => h.at <= tick);
          held = held.filter((h) => h.at > tick);
          for (const h of due) (h.outcome === "ok" ? h.call.resolve() : h.call.reject(failure(h.outcome)));
          await drain();
        };

        const opener = createStreamOpener({
          store,
          transport,
          clock: new FakeClock(),
          random: () => 0.5,
          logger: new RecordingLogger(),
          options: { maxFrameBytes, maxRetries: MAX_RETRIES, report: () => undefined },
        });
        const stream = await opener({ sessionId: SESSION, principal: OWNER, requestId: "req-1" });

        /** Text handed to delta() before each citation/guardrail, in order. */
        const markers: { type: string; before: string }[] = [];
        let offset = 0;
        for (const e of events) {
          if (e.kind === "delta") {
            stream.delta(text.slice(offset, offset + e.size));
            offset = Math.min(text.length, offset + e.size);
          } else if (e.kind === "citation") {
            stream.citation([{ text: `c${markers.length}`, sources: [{ uri: "s3://docs/a.md" }] }]);
            markers.push({ type: "citation", before: text.slice(0, offset) });
          } else {
            stream.guardrail(`g${markers.length}`);
            markers.push({ type: "guardrail", before: text.slice(0, offset) });
          }
          for (let t = 0; t < e.ticks; t++) await advance();
        }
        stream.delta(text.slice(offset));
        let report: StreamReport | undefined;
        const ending = stream.end({ final: text, stopReason: "end_turn" }).then((r) => (report = r));
        for (let guard = 0; report === undefined; guard++) {
          expect(guard, "the stream never settled").to.be.below(10_000);
          await advance();
        }
        await ending;

        expect(transport.overlaps, "posts to one connection overlapped").to.equal(0);
        let gone = 0;
        for (const [i, id] of ids.entries()) {
          // Oracle: a connection is dropped by its first Gone, or by a frame failing MAX_RETRIES + 1 times.
          let failures = 0;
          let droppedAt = -1;
          const mine = log.filter((l) => l.call.connectionId === id);
          for (const [n, { outcome }] of mine.entries()) {
            failures = outcome === "ok" ? 0 : failures + 1;
            if (outcome === "gone" || failures > MAX_RETRIES) {
              droppedAt = n;
              break;
            }
          }
          const dropped = droppedAt >= 0;
          if (dropped) expect(mine.length, "posted after the drop").to.equal(droppedAt + 1);
          if (dropped && mine[droppedAt].outcome === "gone") gone++;

          for (const { call } of mine) {
            if (!call.text.includes('"type":"end"')) expect(call.data.byteLength).to.be.at.most(maxFrameBytes);
          }

          let delivered: string;
          if (connections[i].format === "text") {
            delivered = transport.framesOf(id).join("");
          } else {
            const envelopes = transport.envelopesOf(id);
            expect(envelopes.map((e) => e.seq), "seq: the answer's position").to.deep.equal(journalPositions(envelopes));
            delivered = "";
            const seen: { type: string; before: string }[] = [];
            for (const e of envelopes) {
              if (e.type === "delta") {
                expect(LONE_SURROGATE.test(e.text as string), "a delta split a character").to.equal(false);
                delivered += e.text as string;
              } else if (e.type === "citation" || e.type === "guardrail") {
                seen.push({ type: e.type, before: delivered });
              }
            }
            expect(envelopes[0]?.type ?? "start").to.equal("start");
            expect(seen.map((s) => s.type)).to.deep.equal(markers.slice(0, seen.length).map((m) => m.type));
            // Events keep their place in the text, give or take the half of a pair still awaiting its partner.
            seen.forEach((s, n) => {
              const before = markers[n].before;
              const heldBack = /[\ud800-\udbff]$/.test(before) ? before.slice(0, -1) : before;
              expect([before, heldBack]).to.include(s.before);
            });
            if (!dropped) {
              expect(seen).to.have.length(markers.length);
              expect(envelopes.at(-1)).to.deep.include({ type: "end", final: text });
            }
          }
          // A text connection (Lex Web UI) gets the text as prose (plain-text.ts), exact across cuts too.
          const expected = connections[i].format === "text" ? plainText(text) : text;
          if (dropped) expect(expected.startsWith(delivered), "a dropped connection got a non-prefix").to.equal(true);
          else expect(delivered).to.equal(expected);
        }
        expect(report).to.include({ connections: ids.length, gone });
        expect(store.removed).to.have.length(gone);
      }),
      { numRuns: 250 },
    );
  });
});
