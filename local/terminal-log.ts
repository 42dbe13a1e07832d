/**
 * What `npm start` prints while it runs. The handlers log JSON lines, as on Lambda (Powertools
 * logs, EMF metrics); in a terminal they scrolled the banner away. Quiet (the default): each
 * answer is one line (from the fulfillment's "answer finished" / "answer failed" entries), a
 * warning or an error one short line, the rest is dropped. `--verbose`: every line as it is.
 */

/**
 * A line the handlers' Powertools logger or metrics wrote: a JSON object with a level and a
 * service (a log entry) or an `_aws` key (an EMF metrics document).
 */
export function isHandlerLogLine(line: string): boolean {
  return parseHandlerLine(line) !== undefined;
}

function parseHandlerLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return (typeof parsed.level === "string" && "service" in parsed) || "_aws" in parsed ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The terminal's line for a handler log line, or undefined to drop it. */
export function summarizeLogLine(line: string): string | undefined {
  const entry = parseHandlerLine(line);
  if (!entry || typeof entry.level !== "string") return undefined;
  const request = typeof entry.requestId === "string" ? entry.requestId.slice(0, 8) : "?";
  if (entry.message === "answer finished") {
    const tokens = typeof entry.outputTokens === "number" ? `, ${entry.outputTokens} tokens` : "";
    return `answer ${request} (${String(entry.mode)}): ${String(entry.stopReason)} in ${String(entry.durationMs)} ms${tokens}`;
  }
  if (entry.message === "answer failed") {
    return `answer ${request} (${String(entry.mode)}) failed: ${String(entry.code)}${typeof entry.detail === "string" ? ` (${entry.detail})` : ""}`;
  }
  if (entry.level === "WARN" || entry.level === "ERROR" || entry.level === "CRITICAL") return `${entry.level.toLowerCase()}: ${String(entry.message)}`;
  return undefined;
}

/** Folds the handler log lines `stream` is given into summarizeLogLine's; other writes pass as they are. */
export function quietHandlerLogs(stream: NodeJS.WritableStream): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : "";
    const lines = text.split("\n").filter((line) => line.trim() !== "");
    if (lines.length === 0 || !lines.every(isHandlerLogLine)) return write(chunk, ...rest);
    const kept = lines.map(summarizeLogLine).filter((line): line is string => line !== undefined);
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    if (kept.length === 0) {
      callback?.();
      return true;
    }
    return write(`${kept.join("\n")}\n`, ...rest.filter((arg) => typeof arg === "function"));
  }) as typeof stream.write;
}
