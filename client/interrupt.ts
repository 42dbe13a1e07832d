/**
 * Ctrl-C for `ask`: the first press is the handler's (stop the answer cleanly), a second one
 * leaves at once with exit 130.
 *
 * From a terminal, Ctrl-C is read as a key (the terminal in raw mode) rather than left to the
 * terminal, which would signal the whole foreground process group. Under `npx`, npm runs the
 * command through `sh -c`: that shell dies at once on the group's SIGINT, npm re-raises the
 * signal on itself (@npmcli/run-script, npm/cli#7511) and the user's shell gets its prompt back
 * while the CLI is still stopping: a spinner frame left on screen, no exit code 130, the rest
 * of a `;` list dropped. Read as a key, Ctrl-C reaches this process only, so the clean stop and
 * the exit code are the same with `npx` as with `node client/bin.js`. A SIGINT sent some other
 * way (`kill -INT`, a terminal not in raw mode) counts as a press too.
 */
import { EXIT } from "./exit-codes";

const CTRL_C = 0x03;

/** The part of process.stdin used here. */
export interface KeyInput {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  isRaw?: boolean;
  on(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  off(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface InterruptOptions {
  /** @default process.stdin */
  readonly input?: KeyInput;
  /** @default process */
  readonly signals?: Pick<NodeJS.EventEmitter, "on" | "off">;
  /** @default process.exit */
  readonly exit?: (code: number) => void;
}

/** Calls `handler` on the first Ctrl-C and exits 130 on the second, until the returned function is called. */
export function onInterrupt(handler: () => void, options: InterruptOptions = {}): () => void {
  const input = options.input ?? process.stdin;
  const signals = options.signals ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let presses = 0;
  const press = () => {
    presses += 1;
    if (presses === 1) handler();
    else exit(EXIT.cancelled);
  };
  const onKeys = (chunk: Buffer | string) => {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    for (const byte of bytes) if (byte === CTRL_C) press();
  };
  signals.on("SIGINT", press);
  const raw = Boolean(input.isTTY && input.setRawMode && !input.isRaw);
  if (raw) {
    input.setRawMode!(true);
    input.on("data", onKeys);
    input.resume();
  }
  return () => {
    signals.off("SIGINT", press);
    if (raw) {
      input.off("data", onKeys);
      input.setRawMode!(false);
      input.pause();
    }
  };
}
