/**
 * Loaded by mocha before any test file (.mocharc.json "require"), so a test run is quiet
 * and mocha's summary is the last thing it prints. It changes the test process (and what
 * the processes it spawns inherit), never the product.
 */

import { isHandlerLogLine } from "../local/terminal-log";

export { isHandlerLogLine };

/** True when every line of a write is a handler log line: such writes are dropped. */
export function isOnlyHandlerLogs(chunk: string): boolean {
  const lines = chunk.split("\n").filter((line) => line.trim() !== "");
  return lines.length > 0 && lines.every(isHandlerLogLine);
}

// Handler logs are dropped where they would reach the terminal. A test that asserts on
// them replaces process.stdout.write (or injects a logger) and so still sees every line;
// DEBUG=1 shows them all.
if (process.env.DEBUG === undefined) {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : "";
      if (isOnlyHandlerLogs(text)) {
        const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
        callback?.();
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}

// @aws-sdk/core's emitWarningIfUnsupportedVersion warns once per process that SDK releases
// after January 2027 need Node 22; Lambda runs nodejs22.x, the tests run on Node 20 on
// purpose. The SDK skips the warning when this variable is "true"; spawned processes
// inherit it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
