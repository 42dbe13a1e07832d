/** Exit codes of the command-line clients, and the error that carries one to `main`. */
export const EXIT = {
  ok: 0,
  /** Bad arguments, or a missing tool the arguments depend on. */
  usage: 2,
  /** The gateway or the signer refused the caller (401/403), or no credentials were found. */
  auth: 3,
  /** Refused, unresolvable, timed out, or dropped before the answer finished. */
  network: 4,
  /** An `error` envelope, a malformed frame, or an unexpected server response. */
  protocol: 5,
  /** `ask` stopped with Ctrl-C: the text generated until then was printed (128 + SIGINT, as shells report it). */
  cancelled: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with a one-line message for stderr and the exit code it maps to. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(EXIT.usage, message);
    this.name = "UsageError";
  }
}

/**
 * node:util parseArgs explains a refusal over several lines, with advice about `--` that
 * does not fit these commands; the user gets one line: the problem, and for a value that
 * starts with a dash, how to write it.
 */
export function usageErrorFromParseArgs(error: unknown): UsageError {
  const message = (error as Error).message;
  const [first] = message.split("\n");
  const problem = first
    .split(". ")
    .filter((sentence) => !sentence.startsWith("To specify"))
    .join(". ")
    .replace(/\.$/, "");
  const dashed = /use '(--[^=']+)=-XYZ'/.exec(message);
  return new UsageError(dashed ? `${problem}: to give a value that starts with a dash, write ${dashed[1]}=<value>` : problem);
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

/** The errno-style code of an error or of its cause (fetch wraps the socket error). */
export function networkErrorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
