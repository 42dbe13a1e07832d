import { expect } from "chai";
import { displayLag, lexWebUiDisplay, LEX_WEB_UI_DISPLAY_DELAY_MS } from "../../bench/lex-web-ui-display";

// The behaviour modelled is Lex Web UI's as docs/clients.md ("What a stock Lex Web UI user sees", "Frames") records it: text
// frames other than `/stop/` are listed; each arrival from the second on shows, 500 ms later,
// the oldest frame not yet shown; the last frame is never shown by the streaming path.
describe("Lex Web UI display model (clients.md, Frames)", () => {
  it("shows each frame 500 ms after the next one arrives, and never the last", () => {
    const shown = lexWebUiDisplay([
      { at: 0, text: "a" },
      { at: 100, text: "b" },
      { at: 130, text: "c" },
    ]);
    expect(shown.map((f) => f.shownAt)).to.deep.equal([600, 630, undefined]);
    expect(LEX_WEB_UI_DISPLAY_DELAY_MS).to.equal(500);
  });

  it("drops the literal /stop/ frame from the list, so it neither shows nor triggers a display", () => {
    const shown = lexWebUiDisplay([
      { at: 0, text: "a" },
      { at: 50, text: "/stop/" },
      { at: 100, text: "b" },
    ]);
    expect(shown).to.deep.equal([
      { at: 0, text: "a", shownAt: 600 },
      { at: 100, text: "b" },
    ]);
  });

  it("a single frame is never shown by the streaming path", () => {
    expect(lexWebUiDisplay([{ at: 5, text: "whole answer" }])).to.deep.equal([{ at: 5, text: "whole answer" }]);
  });

  it("measures each character's lag from its generation to its display, and the unshown tail", () => {
    // Generated: "ab" at 0, "cd" at 100, "e😀" at 200. Frames: "abc" at 10, "d" at 120, "e😀" at 220.
    const report = displayLag(
      [
        { at: 0, text: "ab" },
        { at: 100, text: "cd" },
        { at: 200, text: "e😀" },
      ],
      [
        { at: 10, text: "abc" },
        { at: 120, text: "d" },
        { at: 220, text: "e😀" },
      ],
    );
    // "abc" shown at 620: lags 620, 620, 520; "d" shown at 720: lag 620.
    expect(report.shownChars).to.equal(4);
    expect(report.lagMs.max).to.equal(620);
    expect(report.lagMs.p50).to.equal(620);
    expect(report).to.include({ unshownChars: 2, unshownBytes: 5 });
    expect(report.unshownShare).to.be.closeTo(2 / 6, 1e-9);
  });

  it("late frames (a serial loop falling behind) show late", () => {
    const generated = Array.from({ length: 10 }, (_, i) => ({ at: i * 10, text: "x" }));
    // One post per delta at 40 ms each: frame i arrives at 40 (i + 1).
    const frames = generated.map((d, i) => ({ at: 40 * (i + 1), text: d.text }));
    const report = displayLag(generated, frames);
    // Delta 8 (generated at 80) is shown when frame 9 arrives (400) + 500.
    expect(report.lagMs.max).to.equal(400 + 500 - 80);
    expect(report.unshownChars).to.equal(1);
  });

  it("never puts a character's generation after its arrival: an estimated schedule running ahead of a slowed run keeps the lag at least the display's delay", () => {
    // The estimate says "b" was generated at 300, but its frame arrived at 200 (seen: a bench
    // run under load measured 476 ms against the 500 ms display delay).
    const report = displayLag(
      [
        { at: 0, text: "a" },
        { at: 300, text: "b" },
        { at: 400, text: "c" },
      ],
      [
        { at: 10, text: "a" },
        { at: 200, text: "b" },
        { at: 450, text: "c" },
      ],
    );
    // "a" shown at 700 (lag 700), "b" shown at 950 (lag 950 - 200 = 750, not 650).
    expect(report.lagMs.max).to.equal(750);
  });

  it("refuses frames that do not carry the generated text", () => {
    expect(() => displayLag([{ at: 0, text: "abc" }], [{ at: 1, text: "abd" }])).to.throw(/differ/);
  });
});
