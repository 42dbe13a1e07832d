/** A stderr spinner until the first token; silent unless the stream is a terminal, so pipes and logs stay clean. */
export interface TerminalStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const CLEAR_LINE = "\r\x1b[2K";

export class Spinner {
  private timer?: ReturnType<typeof setInterval>;
  private frame = 0;

  constructor(
    private readonly stream: TerminalStream,
    private text: string,
  ) {}

  /** Says what is being waited for now (a knowledge base's stage), at once when spinning. */
  relabel(text: string): void {
    this.text = text;
    if (this.timer) this.draw();
  }

  start(): void {
    if (!this.stream.isTTY || this.timer) return;
    this.draw();
    this.timer = setInterval(() => this.draw(), 80);
    this.timer.unref();
  }

  /** Clears the line; safe to call any number of times. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.stream.write(CLEAR_LINE);
  }

  private draw(): void {
    this.stream.write(`${CLEAR_LINE}${FRAMES[this.frame % FRAMES.length]} ${this.text}`);
    this.frame += 1;
  }
}
