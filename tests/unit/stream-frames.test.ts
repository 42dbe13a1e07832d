import { expect } from "chai";
import fc from "fast-check";
import {
  endsWithHighSurrogate,
  fitEnvelope,
  fitPrefix,
  minFrameBytes,
  takeCitationEnvelope,
  takeDeltaEnvelope,
  tailStart,
  takeTextFrame,
} from "../../functions/stream/frames";
import { envelope, type Citation } from "../../functions/shared/protocol";

const bytes = (s: string) => new TextEncoder().encode(s).byteLength;
const EMOJI = "😀"; // U+1F600: a surrogate pair, 4 bytes
const CJK = "漢"; // 3 bytes

/** Characters that stress framing: ASCII, escapes, 2/3/4-byte, lone surrogates, U+2028. */
const trickyChar = fc.oneof(
  fc.constantFrom("a", " ", '"', "\\", "\n", "\t", "\u0000", "\u001f", "\u007f", "é", "\u2028", CJK, "한", EMOJI, "👍🏽"),
  fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x80, max: 0xffff }).map((c) => String.fromCharCode(c)), // includes lone surrogates
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
);
const trickyText = fc.array(trickyChar, { maxLength: 60 }).map((chars) => chars.join(""));

function isHigh(unit: number) {
  return unit >= 0xd800 && unit <= 0xdbff;
}
function isLow(unit: number) {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
/** Whether cutting `text` at `i` separates the halves of a surrogate pair. */
function splitsPair(text: string, i: number) {
  return i > 0 && i < text.length && isHigh(text.charCodeAt(i - 1)) && isLow(text.charCodeAt(i));
}

describe("stream frames", () => {
  describe("fitPrefix", () => {
    it("counts UTF-8 bytes of raw text and never cuts a surrogate pair", () => {
      expect(fitPrefix("abc", 2, "text")).to.equal(2);
      expect(fitPrefix(`${CJK}${CJK}`, 5, "text")).to.equal(1);
      expect(fitPrefix(`a${EMOJI}`, 4, "text")).to.equal(1); // 1 + 4 > 4: the pair stays whole
      expect(fitPrefix(`a${EMOJI}`, 5, "text")).to.equal(3);
    });

    it("counts JSON escapes: quotes and backslashes 2 bytes, control characters up to 6", () => {
      expect(fitPrefix('a"b', 3, "json")).to.equal(2);
      expect(fitPrefix("\n\n", 3, "json")).to.equal(1);
      expect(fitPrefix("\u0001x", 6, "json")).to.equal(1);
      expect(fitPrefix("\u0001x", 5, "json")).to.equal(0);
    });

    it("costs a lone surrogate as U+FFFD raw (3) and as \\udXXX in JSON (6)", () => {
      expect(fitPrefix("\ud83dx", 3, "text")).to.equal(1);
      expect(fitPrefix("\ud83dx", 5, "json")).to.equal(0);
      expect(fitPrefix("\ud83dx", 6, "json")).to.equal(1);
    });

    it("returns the longest prefix that fits, in both encodings (property)", () => {
      fc.assert(
        fc.property(trickyText, fc.integer({ min: 0, max: 120 }), fc.constantFrom("text" as const, "json" as const), (text, budget, encoding) => {
          const size = (s: string) => (encoding === "text" ? bytes(s) : bytes(JSON.stringify(s)) - 2);
          const end = fitPrefix(text, budget, encoding);
          expect(size(text.slice(0, end))).to.be.at.most(budget);
          expect(splitsPair(text, end)).to.equal(false);
          if (end < text.length) {
            const next = splitsPair(text, end + 1) ? end + 2 : end + 1;
            expect(size(text.slice(0, next))).to.be.greaterThan(budget);
          }
        }),
        { numRuns: 300 },
      );
    });
  });

  it("endsWithHighSurrogate spots an emoji cut in two", () => {
    expect(endsWithHighSurrogate(`ab${EMOJI[0]}`)).to.equal(true);
    expect(endsWithHighSurrogate(`ab${EMOJI}`)).to.equal(false);
    expect(endsWithHighSurrogate("")).to.equal(false);
  });

  describe("splitting text into frames", () => {
    it("splits 32 KB of CJK and emoji into frames within the limit that rejoin exactly", () => {
      const text = `${CJK.repeat(20000)}${EMOJI.repeat(10000)}`;
      const frames: string[] = [];
      for (let rest = text; rest; ) {
        const [frame, after] = takeTextFrame(rest, 32 * 1024);
        frames.push(frame);
        rest = after;
      }
      expect(frames.join("")).to.equal(text);
      for (const frame of frames) expect(bytes(frame)).to.be.at.most(32 * 1024);
      expect(frames.length).to.equal(4); // 100000 bytes in frames of at most 32768
      expect(bytes(frames[0])).to.equal(32766); // 10922 whole CJK characters
    });

    it("keeps back the last code points as a small last frame, never half a surrogate pair nor the whole text", () => {
      expect(takeTextFrame(`ab${EMOJI}`, 100, 1)).to.deep.equal(["ab", EMOJI]);
      expect(takeTextFrame(`abc${EMOJI}`, 100, 2)).to.deep.equal(["ab", `c${EMOJI}`]);
      expect(takeTextFrame("abc", 100, 3)).to.deep.equal(["abc", ""]);
      expect(takeTextFrame(EMOJI, 100, 1)).to.deep.equal([EMOJI, ""]);
      // Text that does not fit one frame is split by size first; the tail applies to the last piece.
      expect(takeTextFrame("abcdef", 4, 1)).to.deep.equal(["abcd", "ef"]);
      expect(tailStart(`x${EMOJI}${EMOJI}`, 1)).to.equal(3);
      expect(tailStart("\udc00", 1), "a lone low surrogate is one unit").to.equal(0);
      expect(tailStart("", 2)).to.equal(0);
    });

    it("sizes a delta envelope as a whole, escapes and sequence number included", () => {
      const text = "\u0001".repeat(10000); // 6 bytes each once escaped
      let rest = text;
      let joined = "";
      for (let seq = 1; rest; seq++) {
        const [frame, after] = takeDeltaEnvelope("req-1", seq, rest, 32 * 1024);
        expect(bytes(frame)).to.be.at.most(32 * 1024);
        const parsed = JSON.parse(frame);
        expect(parsed).to.include({ v: 1, type: "delta", requestId: "req-1", seq });
        joined += parsed.text;
        rest = after;
      }
      expect(joined).to.equal(text);
    });

    it("frames random text in both formats within the limit and rejoins it exactly (property)", () => {
      fc.assert(
        fc.property(trickyText, fc.integer({ min: minFrameBytes("r"), max: 160 }), (text, max) => {
          let raw = "";
          for (let rest = text; rest; ) {
            const [frame, after] = takeTextFrame(rest, max);
            expect(frame.length).to.be.greaterThan(0);
            expect(bytes(frame)).to.be.at.most(max);
            expect(splitsPair(rest, frame.length)).to.equal(false);
            raw += frame;
            rest = after;
          }
          expect(raw).to.equal(text);
          let json = "";
          for (let rest = text, seq = 1; rest; seq++) {
            const [frame, after] = takeDeltaEnvelope("r", seq, rest, max);
            expect(bytes(frame)).to.be.at.most(max);
            expect(splitsPair(rest, rest.length - after.length)).to.equal(false);
            json += JSON.parse(frame).text;
            rest = after;
          }
          expect(json).to.equal(text);
        }),
        { numRuns: 300 },
      );
    });

    it("minFrameBytes always leaves room for the costliest code unit, in a delta or a reasoning envelope", () => {
      const max = minFrameBytes("req-1");
      // The longer type name sets the minimum: a reasoning envelope fills it exactly.
      const [frame, rest] = takeDeltaEnvelope("req-1", Number.MAX_SAFE_INTEGER, "\u0001\u0001", max, "reasoning");
      expect(JSON.parse(frame)).to.include({ type: "reasoning", text: "\u0001" });
      expect(rest).to.equal("\u0001");
      expect(bytes(frame)).to.equal(max);
      const [delta] = takeDeltaEnvelope("req-1", Number.MAX_SAFE_INTEGER, "\u0001\u0001", max);
      expect(JSON.parse(delta).text).to.equal("\u0001");
    });
  });

  describe("citations", () => {
    const citation = (text: string): Citation => ({ text, sources: [{ uri: "s3://docs/a.md", title: "A" }] });

    it("packs as many citations as fit and leaves the rest for the next frame", () => {
      const citations = [citation("x".repeat(100)), citation("y".repeat(100)), citation("z".repeat(100))];
      const [first, rest] = takeCitationEnvelope("r", 1, citations, 400);
      expect(bytes(first!)).to.be.at.most(400);
      expect(JSON.parse(first!).citations).to.deep.equal(citations.slice(0, 2));
      expect(rest).to.deep.equal(citations.slice(2));
    });

    it("cuts the text of a citation too big on its own, and skips one that cannot fit at all", () => {
      const [frame, rest] = takeCitationEnvelope("r", 1, [citation(CJK.repeat(500)), citation("b")], 300);
      expect(bytes(frame!)).to.be.at.most(300);
      const cut = JSON.parse(frame!).citations[0];
      expect(CJK.repeat(500).startsWith(cut.text)).to.equal(true);
      expect(cut.text.length).to.be.greaterThan(0);
      expect(rest).to.deep.equal([citation("b")]);

      const huge: Citation = { text: "t", sources: [{ uri: `s3://${"u".repeat(500)}` }] };
      expect(takeCitationEnvelope("r", 1, [huge, citation("b")], 300)).to.deep.equal([undefined, [citation("b")]]);
    });
  });

  it("fitEnvelope cuts an oversized final answer to the limit and leaves small ones alone", () => {
    const metrics = { ttftMs: 1, totalMs: 2, deltas: 3, frames: 4 };
    const small = envelope("end", "r", 5, { final: "done", stopReason: "end_turn", metrics });
    expect(fitEnvelope(small, "final", 1000)).to.deep.equal({ frame: JSON.stringify(small), cut: false });

    const big = envelope("end", "r", 5, { final: EMOJI.repeat(1000), stopReason: "end_turn", metrics });
    const { frame, cut } = fitEnvelope(big, "final", 1000);
    expect(cut).to.equal(true);
    expect(bytes(frame)).to.be.at.most(1000);
    const parsed = JSON.parse(frame);
    expect(parsed.metrics).to.deep.equal(metrics);
    expect(EMOJI.repeat(1000).startsWith(parsed.final)).to.equal(true);
    expect(bytes(frame)).to.be.greaterThan(1000 - 4);
  });
});
