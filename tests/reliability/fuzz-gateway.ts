/**
 * Random client frames over real sockets on the local stack: text of any kind, JSON of any
 * shape, asks with random fields, binary bytes, invalid UTF-8, frames over the message limit.
 * Each must end in what API Gateway and the handlers promise (an error envelope, an answer,
 * or a close with the right code), the socket must stay usable when it is not closed, and no
 * handler may fail.
 */
import { expect } from "chai";
import fc from "fast-check";
import { REQUEST_ID_PATTERN } from "../../functions/shared/protocol";
import type { LocalCredential } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import { anyValue, mostly, nastyString, withoutUndefined } from "./arbitraries";
import { countsText, tally, type Figure } from "./figures";
import { FUZZ_DELTAS, type FuzzRun } from "./fuzz-handlers";
import { Client, rowsAfterIdle } from "./harness";
import { journalPositions } from "../unit/stream-fakes";

export interface GatewayFuzzFigure {
  readonly runs: number;
  readonly seed: number;
  /** What the sockets got, by kind of frame sent. */
  readonly outcomes: Record<string, number>;
  readonly handlerErrors: number;
  readonly rowsLeft: number;
}

type Frame =
  | { kind: "text"; text: string }
  | { kind: "binary"; bytes: Uint8Array }
  | { kind: "invalid-utf8"; bytes: Uint8Array }
  | { kind: "oversize"; bytes: number };

const QUESTIONS = ["What is the WebSocket frame limit?", "Wie funktioniert das? 🙂"];

function frameArb(maxMessageBytes: number): fc.Arbitrary<Frame> {
  const strings = nastyString({ hugeChars: 100_000 });
  const fields = nastyString({ hugeChars: 6_000 });
  const ask = fc
    .record({
      action: mostly(fc.constant("ask"), anyValue(fc.oneof(fc.constantFrom("ping", "Ask", "$connect", "$default"), fields)), 5),
      requestId: mostly(fc.stringMatching(/^[A-Za-z0-9:._-]{1,64}$/), anyValue(fields), 2),
      question: mostly(fc.constantFrom(...QUESTIONS), anyValue(fields), 2),
      mode: mostly(fc.constantFrom("llm", "kb", undefined), anyValue(fields), 3),
      sessionId: fc.option(fc.constant("victim-session-1"), { nil: undefined }),
    })
    .map((fields) => JSON.stringify(withoutUndefined(fields)));
  return fc.oneof(
    { weight: 3, arbitrary: strings.map((text): Frame => ({ kind: "text", text })) },
    { weight: 2, arbitrary: fc.json().map((text): Frame => ({ kind: "text", text })) },
    { weight: 8, arbitrary: ask.map((text): Frame => ({ kind: "text", text })) },
    { weight: 1, arbitrary: fc.constant<Frame>({ kind: "text", text: JSON.stringify({ action: "ping" }) }) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((bytes): Frame => ({ kind: "binary", bytes })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(0xff, 0xc0, 0xed, 0xf8))
        .map(([bytes, bad]): Frame => ({ kind: "invalid-utf8", bytes: Buffer.concat([Buffer.from(bytes).filter((b) => b < 0x80), Buffer.from([bad])]) })),
    },
    { weight: 1, arbitrary: fc.integer({ min: maxMessageBytes + 1, max: maxMessageBytes * 2 }).map((bytes): Frame => ({ kind: "oversize", bytes })) },
  );
}

/** The route API Gateway selects for a text frame (`$request.body.action`). */
function routeOf(text: string): string {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, "action")) {
      const action = (value as { action?: unknown }).action;
      if (action === "ask" || action === "ping") return action;
    }
  } catch {
    // Not JSON: $default.
  }
  return "$default";
}

function requestIdOf(text: string): string {
  try {
    const id = (JSON.parse(text) as { requestId?: unknown }).requestId;
    return typeof id === "string" && REQUEST_ID_PATTERN.test(id) ? id : "unknown";
  } catch {
    return "unknown";
  }
}

interface Parsed {
  type?: unknown;
  code?: unknown;
  requestId?: unknown;
}

function parse(text: string): Parsed | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null ? (value as Parsed) : undefined;
  } catch {
    return undefined;
  }
}

const PROBE = JSON.stringify({ action: "probe", requestId: "probe" });
const isProbeReply = (text: string) => {
  const reply = parse(text);
  return reply?.type === "error" && reply.requestId === "probe";
};

/**
 * Sends `run.runs` random frames, each on a fresh connection of its own session (json or
 * text format), and checks what comes back; then that nothing failed and no row is left.
 */
export async function fuzzGatewayFrames(stack: LocalStack, credential: LocalCredential, run: FuzzRun, maxMessageBytes: number): Promise<GatewayFuzzFigure> {
  const outcomes: Record<string, number> = {};
  const errorsBefore = stack.gateway.stats().handlerErrors;
  let index = 0;
  stack.bedrock?.setBehavior({ deltas: FUZZ_DELTAS });
  await fc.assert(
    fc.asyncProperty(frameArb(maxMessageBytes), fc.constantFrom("json", "text"), async (frame, format) => {
      const client = await Client.open(await stack.presign(`frames-${index++}`, { format: format as "json" | "text", credential }));
      try {
        await exchange(client, frame, format, outcomes, maxMessageBytes);
      } finally {
        await client.close();
      }
    }),
    { numRuns: run.runs, seed: run.seed },
  );
  // Claims, journals and freed ledgers stay by design; what must be gone is in rowsAfterIdle.
  const rows = (await rowsAfterIdle(stack)).length;
  const handlerErrors = stack.gateway.stats().handlerErrors - errorsBefore;
  expect(handlerErrors, "handler invocations that threw or timed out").to.equal(0);
  expect(rows, "rows left after every socket closed").to.equal(0);
  return { runs: run.runs, seed: run.seed, outcomes, handlerErrors, rowsLeft: rows };
}

async function exchange(client: Client, frame: Frame, format: string, outcomes: Record<string, number>, maxMessageBytes: number): Promise<void> {
  switch (frame.kind) {
    case "oversize":
      await client.send(Buffer.alloc(frame.bytes, 0x61));
      await client.until(() => false, "close for an oversize message");
      expect(client.closeStatus?.code, "oversize message").to.equal(1009);
      tally(outcomes, "oversize → close 1009");
      return;
    case "invalid-utf8":
      await client.send(Buffer.from(frame.bytes), false);
      await client.until(() => false, "close for invalid UTF-8");
      expect(client.closeStatus?.code, "invalid UTF-8 text").to.equal(1007);
      tally(outcomes, "invalid UTF-8 → close 1007");
      return;
    case "binary":
      await client.send(Buffer.from(frame.bytes), true);
      await expectDefaultReply(client);
      tally(outcomes, "binary → error envelope");
      await expectProbe(client);
      return;
    case "text":
      break;
  }
  // What the client's string becomes on the wire (lone surrogates turn into U+FFFD).
  const wire = Buffer.from(frame.text, "utf8");
  await client.send(frame.text);
  const route = routeOf(wire.toString("utf8"));
  if (wire.length > maxMessageBytes) {
    await client.until(() => false, "close for an oversize message");
    expect(client.closeStatus?.code).to.equal(1009);
    tally(outcomes, "oversize → close 1009");
    return;
  }
  if (route === "ping") {
    // A MOCK route answers nothing: the next thing the socket gets is the probe's reply.
    await client.send(PROBE);
    await client.until(() => client.messages.length > 0, "reply to the probe after a ping");
    expect(isProbeReply(client.messages[0].text), "nothing answers a ping").to.equal(true);
    tally(outcomes, "ping → nothing");
    return;
  }
  if (route === "$default") {
    await expectDefaultReply(client);
    tally(outcomes, "unrouted → error envelope");
    await expectProbe(client);
    return;
  }
  const requestId = requestIdOf(wire.toString("utf8"));
  if (format === "json") {
    await client.until(() => client.terminal(requestId) !== undefined, `end or error envelope for ask ${requestId}`);
    const terminal = client.terminal(requestId);
    expect(terminal, "the ask's end or error envelope").to.not.equal(undefined);
    if (terminal!.type === "end") {
      const envelopes = client.of(requestId);
      expect(envelopes.map((e) => e.seq), "seq: the answer's position").to.deep.equal(journalPositions(envelopes));
      const text = envelopes.flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
      expect(text, "the streamed answer").to.equal(FUZZ_DELTAS.join(""));
      expect((terminal as { final?: unknown }).final).to.equal(FUZZ_DELTAS.join("").trim());
    }
    tally(outcomes, `ask → ${terminal!.type === "end" ? "answer" : `error ${(terminal as { code: string }).code}`}`);
  } else {
    await client.until(() => client.messages.length > 0, `an answer or an error for ask ${requestId}`);
    tally(outcomes, "ask (text) → text frame");
  }
  expect(client.closed, "an ask never closes the socket").to.equal(false);
}

async function expectDefaultReply(client: Client): Promise<void> {
  await client.until(() => client.messages.length > 0, "the $default error envelope");
  const reply = parse(client.messages[0].text);
  expect(reply, "reply").to.include({ type: "error", code: "bad_request" });
}

async function expectProbe(client: Client): Promise<void> {
  const seen = client.messages.length;
  await client.send(PROBE);
  await client.until(() => client.messages.slice(seen).some((m) => isProbeReply(m.text)), "the probe's reply");
  expect(client.closed, "the socket stays open").to.equal(false);
}

export function gatewayFigure(figure: GatewayFuzzFigure): Figure {
  return {
    section: "Bad input",
    check: "Random client frames over real sockets (gateway + handlers)",
    tried: `${figure.runs} frames (fast-check, seed ${figure.seed}), each on a fresh json or text connection: text, JSON, asks with random fields, binary, invalid UTF-8, over 128 KB`,
    result: `${countsText(figure.outcomes)}; every socket answered or closed with the right code; handler failures ${figure.handlerErrors}; rows leaked ${figure.rowsLeft}`,
  };
}
