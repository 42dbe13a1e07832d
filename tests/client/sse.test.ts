/**
 * The CLI's Server-Sent Events parser, checked against the event-stream format of the WHATWG
 * HTML standard ("9.2.6 Interpreting an event stream"): CRLF/LF/CR line ends, `data` lines
 * joined with LF, comments, one leading space stripped, dispatch at a blank line only with
 * data, and the last event id carried over; chunks may cut anywhere, even inside a CRLF.
 */
import { expect } from "chai";
import fc from "fast-check";
import { SseParser, type SseEvent } from "../../client/sse";
import { regionFromFunctionUrl } from "../../client/function-url-signer";

function parseAll(chunks: readonly string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

/** What the function URL sends (stack-function-url.test.ts): `event:`, `id:`, `data:` per envelope. */
const STREAM =
  'event: start\nid: 0\ndata: {"v":1,"type":"start","requestId":"r","seq":0}\n\n' +
  ': a comment line\n' +
  'event: delta\nid: 12\ndata: {"v":1,"type":"delta","requestId":"r","seq":12,"text":"héllo 😀 wörld"}\n\n' +
  'event: end\r\nid: 13\r\ndata: {"v":1,"type":"end","requestId":"r","seq":13,"final":"x","stopReason":"end_turn"}\r\n\r\n';

describe("client: Server-Sent Events parser", () => {
  it("parses the function URL's events with their type, id and data", () => {
    const events = parseAll([STREAM]);
    expect(events.map((e) => [e.event, e.id])).to.deep.equal([
      ["start", "0"],
      ["delta", "12"],
      ["end", "13"],
    ]);
    expect(JSON.parse(events[1].data).text).to.equal("héllo 😀 wörld");
  });

  it("gives the same events however the stream is cut into chunks, even between CR and LF (fast-check)", () => {
    const whole = parseAll([STREAM]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: STREAM.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set([0, ...cuts, STREAM.length])].sort((a, b) => a - b);
        const chunks = points.slice(1).map((end, i) => STREAM.slice(points[i], end));
        expect(parseAll(chunks)).to.deep.equal(whole);
      }),
      { numRuns: 200 },
    );
  });

  it("joins data lines with LF, strips one leading space, names unnamed events message, and skips events without data", () => {
    const events = parseAll(["data:  two spaces\ndata:next\n\nevent: empty\n\nid: 7\nevent: x\ndata\n\ndata: after\n\n"]);
    expect(events).to.deep.equal([
      { event: "message", data: " two spaces\nnext" },
      { event: "x", data: "", id: "7" },
      { event: "message", data: "after", id: "7" },
    ]);
  });

  it("takes the region from a function URL's host name (https://{id}.lambda-url.{region}.on.aws/)", () => {
    expect(regionFromFunctionUrl("https://abcdefghij1234567890.lambda-url.eu-west-1.on.aws/")).to.equal("eu-west-1");
    expect(regionFromFunctionUrl("https://example.com/")).to.equal(undefined);
    expect(regionFromFunctionUrl("not a url")).to.equal(undefined);
  });
});
