import { EventEmitter } from "node:events";
import { expect } from "chai";
import { onInterrupt, type KeyInput } from "../../client/interrupt";

class FakeTerminal extends EventEmitter implements KeyInput {
  isTTY = true;
  isRaw = false;
  reading = false;
  setRawMode(raw: boolean): void {
    this.isRaw = raw;
  }
  resume(): void {
    this.reading = true;
  }
  pause(): void {
    this.reading = false;
  }
}

describe("client: Ctrl-C for ask (issue 23)", () => {
  it("in a terminal reads Ctrl-C as a key: the first press stops, the second exits 130; the terminal is restored after", () => {
    const input = new FakeTerminal();
    const signals = new EventEmitter();
    const exits: number[] = [];
    let stops = 0;
    const release = onInterrupt(() => stops++, { input, signals, exit: (code) => exits.push(code) });
    expect(input).to.include({ isRaw: true, reading: true });
    input.emit("data", Buffer.from("typed"));
    expect(stops).to.equal(0);
    input.emit("data", Buffer.from([0x03]));
    expect([stops, exits.length]).to.deep.equal([1, 0]);
    input.emit("data", "\x03");
    expect(exits).to.deep.equal([130]);
    release();
    expect(input).to.include({ isRaw: false, reading: false });
    expect(input.listenerCount("data")).to.equal(0);
    expect(signals.listenerCount("SIGINT")).to.equal(0);
  });

  it("counts a SIGINT as a press, and leaves a non-terminal stdin (a pipe) alone", () => {
    const input = new FakeTerminal();
    input.isTTY = false;
    const signals = new EventEmitter();
    const exits: number[] = [];
    let stops = 0;
    const release = onInterrupt(() => stops++, { input, signals, exit: (code) => exits.push(code) });
    expect(input).to.include({ isRaw: false, reading: false });
    signals.emit("SIGINT");
    signals.emit("SIGINT");
    expect([stops, ...exits]).to.deep.equal([1, 130]);
    release();
    expect(signals.listenerCount("SIGINT")).to.equal(0);
  });
});
