/**
 * RELIABILITY.md from the figures of a run: one table of what was tried and what came out,
 * a line per check, failures marked; and where a run writes it. Pure.
 */
import { join } from "node:path";
import type { Figure, Section } from "../tests/reliability/figures";

export interface ReportRow extends Figure {
  /** Set when the check failed: its error, first lines. */
  readonly failure?: string;
}

export interface ReportContext {
  /** The command that regenerates the report. */
  readonly command: string;
  /** ISO date of the run. */
  readonly date: string;
  readonly node: string;
  readonly cpus: number;
  readonly durationMs: number;
  /** The machine's 1-minute load average (os.loadavg) at the start and the end of the run. */
  readonly load?: { readonly start: number; readonly end: number };
}

const SECTIONS: readonly Section[] = ["Bad input", "Faults", "Fair use", "No silent hang", "Answers", "Load", "Security", "Side doors"];

/** What the checks show to be out of reach, so nobody reads more into the table than it says. */
export const LIMITS: readonly string[] = [
  "Retries are bounded: a throttling storm much heavier than the ones above still makes the writer drop a connection; a json client is then closed with `DELETE @connections` (and resumes), retried for 30 s; a storm that fails every call for longer than that leaves the client waiting until the gateway's idle timeout (10 min). Under the storms above (95% of every call failing, independently), a client stays untold after the close budget with a probability of about 0.95^150.",
  "The slow-reader model is the documented one (PostToConnection answers 429 LimitExceededException when \"the WebSocket client side buffer is full\"), but AWS documents no size for that buffer: the local gateway allows 1 MiB queued beyond what the sockets themselves hold.",
  "The Lex door streams to the sole claimant of the session Lex names: Lex passes no caller identity, so whoever can call the bot with a session id can put an answer on that session's sockets (never read from them), and the question and its answer become turns of that session's Lex conversation memory (kept apart from the memory of the owner's signed asks). This is QnABot's own model, and Lex's: any caller who knows a session id can continue its Lex conversation.",
  "IAM conditions are reported, not evaluated (the KMS key statements, usable only through DynamoDB).",
];

/** What these checks found when they were first run, and where it was fixed. */
export const FINDINGS: readonly string[] = [
  "`$connect` / `$disconnect` / `$default` with no or a non-object `requestContext` threw a TypeError out of the connection handler (Lambda error, API Gateway 500): now a 400 (functions/connection/handler.ts).",
  "`$connect` / `$disconnect` with a missing or malformed connection id reached DynamoDB and came back as a 500: now refused with 400 before any table call, as is a malformed id on the `ask` route (functions/shared/events.ts, functions/connection/handler.ts, functions/fulfillment/events.ts).",
  "`$default` with a non-string body flagged base64 threw inside Buffer.from (500): now the usual bad_request envelope (functions/connection/default.ts).",
  "DynamoDB failing between the `ask` route and its job (the session query) left the asker waiting forever: the answer streamed to nobody. The writer now streams to the asking connection when the session cannot be listed (the `asker` of functions/stream/types.ts, passed by the ask job).",
  "A @connections throttling storm (posts over the account rate) made the writer give up on connections after about 0.2 s of retries, leaving those clients without the rest of their answer or its end: the writer now retries up to 10 times with waits capped at 1 s by default (functions/stream/writer.ts).",
  "Local side doors (an independent attack run): dynalite answered any `Authorization` with `Access-Control-Allow-Origin: *`, the Lambda Invoke API ran unsigned calls, the chat page server signed any session for any caller, POST /ask buffered unsigned 10 MB bodies before checking signatures (100 concurrent: RSS 132 → 910 MB), the Bedrock emulator kept every request body. Now: a SigV4-verifying proxy in front of dynalite (local/dynamo.ts), SigV4 on the Lambda API (local/lambda-api.ts), a per-page cookie that owns its sessions (client/chat-server.ts), signature headers and Content-Length judged before any body is read (local/signed-request.ts), the last 1,000 requests kept (local/bedrock/emulator.ts).",
  "The local gateway's PostToConnection answered only once the frame had been handed to the client's socket, so once a client that stopped reading had filled its socket buffers, posts hung until the writer's timeout and were sent again: a post is now answered once queued, and 429 once the client's buffer is full, as API Gateway documents (local/gateway/connections-api.ts).",
  "A second independent attack run (issue 21): when 95% of every @connections call failed (GET and DELETE too), 10 of 15 json clients were never told, because the writer gave up closing a connection after 10 attempts, and a DynamoDB call that never answered held an answer until the Lambda timeout. Now the close is tried for 30 s with short waits and every DynamoDB call times out after 10 s of silence; the storms above fail every operation with 429, 5xx and timeouts (functions/stream/writer.ts, functions/shared/dynamo-client.ts).",
  "The same run: 300 tiny `resume` frames replayed 78.7 MB to one socket (now 8 resumes per connection, 4 replays per answer); 400 pings/s from one socket spent the stage budget of another principal's `$connect`s (now `ping` and `$default` have route-level throttles); a reused requestId's refusal carried the live answer's id and seq (now `refusedRequestId`, no `requestId` or `seq`); two first asks of a session could refuse one as busy below the limit (now only a read counting the limit refuses).",
  "The same run: 500 concurrent local sessions ended json answers `stalled` under the deployed 20 s bound (the load check had worked around it with 120 s). Measured: their `ConverseStream` requests were still waiting for the Bedrock emulator to accept their connection (it shares the stack's one event loop, and libuv accepts one connection per loop turn), yet the stall clock had started at send. The stall bound now starts with Bedrock's response, the wait for it bounded by the time budget (functions/fulfillment/converse.ts, knowledge-base.ts); the load check uses the deployed bound. And an ask whose connection lookup or hand-off was throttled or timed out was refused `internal`: now `busy`, retryable (functions/shared/overload.ts).",
];

/**
 * Where a run writes its report: `--out` when given; otherwise the committed RELIABILITY.md
 * only for the full budget, and test-output/ for a smaller one, so a quick run never
 * replaces the figures the committed report stands for.
 */
export function reportFile(root: string, budget: "full" | "test", out?: string): string {
  if (out !== undefined) return out;
  return budget === "full" ? join(root, "RELIABILITY.md") : join(root, "test-output", "RELIABILITY.test.md");
}

/** Keeps a cell on one table row. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

export function renderReport(rows: readonly ReportRow[], context: ReportContext): string {
  const failed = rows.filter((row) => row.failure !== undefined);
  const lines = [
    "# Reliability and security: what was tried, and what came out",
    "",
    `Generated by \`${context.command}\` on ${context.date} (Node ${context.node}, ${context.cpus} CPUs, ${(context.durationMs / 1000).toFixed(0)} s` +
      (context.load
        ? `; machine load, 1-minute average: ${context.load.start.toFixed(1)} at the start, ${context.load.end.toFixed(1)} at the end, on ${context.cpus} CPUs shared with other work, so timings carry that load). `
        : "). ") +
      "Every check runs the real handlers against the local stack (dynalite, the Bedrock emulator, the WebSocket gateway, the Lambda API) " +
      "or the real Pulumi program under mocks; seeds are fixed, so a run replays the same cases. " +
      "`npm test` runs the same checks with smaller counts (tests/reliability/).",
    "",
    failed.length === 0 ? `**All ${rows.length} checks held.**` : `**${failed.length} of ${rows.length} checks FAILED** (marked below).`,
    "",
    "| Area | Check | What was tried | Result |",
    "| --- | --- | --- | --- |",
  ];
  for (const section of SECTIONS) {
    for (const row of rows.filter((r) => r.section === section)) {
      const result = row.failure === undefined ? row.result : `**FAILED**: ${row.failure}`;
      lines.push(`| ${section} | ${cell(row.check)} | ${cell(row.tried)} | ${cell(result)} |`);
    }
  }
  lines.push("", "## What these checks found (each fixed in the code, not in the test)", "", ...FINDINGS.map((finding) => `- ${finding}`));
  lines.push("", "## Limits", "", ...LIMITS.map((limit) => `- ${limit}`), "");
  return lines.join("\n");
}
