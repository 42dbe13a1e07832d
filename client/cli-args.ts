/** Argument parsing of `qnabot-stream` (node:util parseArgs). Pure: argv and env in, a command out. */
import { parseArgs } from "node:util";
import { parseMode, validateQuestion, validateSessionId, type AnswerMode } from "../functions/shared/protocol";
import { resolveRegion, validateEndpoint } from "./endpoint";
import { UsageError, usageErrorFromParseArgs } from "./exit-codes";

export const CLI_USAGE = `Usage:
  qnabot-stream ask "question" (--endpoint wss://… [--region r] | --local http://127.0.0.1:PORT) [options]
  qnabot-stream chat          (--endpoint wss://… [--region r] | --local http://127.0.0.1:PORT) [options]

Targets:
  --endpoint <wss-url>   a deployed stack's StreamingWebSocketEndpoint; URLs are signed with
                         your default AWS credential chain
  --region <region>      the endpoint's region (default: from the endpoint's host name,
                         then AWS_REGION / AWS_DEFAULT_REGION)
  --local <http-url>     the local stack (npm start) or npm run chat: asks its /api/signed-url

Options:
  -m, --mode llm|kb      answer with the LLM (default) or the knowledge base
      --json             print the raw envelopes, one JSON object per line
      --session-id <id>  session to ask in (default: a new one per run)
      --timeout <sec>    give up when no frame arrives for this long (default 90)
  -h, --help             show this help

Exit codes: 0 answered, 2 usage, 3 auth refused, 4 network, 5 server or protocol error.`;

export type Target = { kind: "aws"; endpoint: string; region: string } | { kind: "local"; baseUrl: string };

export interface SessionOptions {
  target: Target;
  mode: AnswerMode;
  json: boolean;
  sessionId?: string;
  timeoutMs: number;
}

export type CliCommand = { kind: "help" } | ({ kind: "ask"; question: string } & SessionOptions) | ({ kind: "chat" } & SessionOptions);

const OPTIONS = {
  endpoint: { type: "string" },
  region: { type: "string" },
  local: { type: "string" },
  mode: { type: "string", short: "m" },
  json: { type: "boolean" },
  "session-id": { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function target(values: { endpoint?: string; region?: string; local?: string }, env: Readonly<Record<string, string | undefined>>): Target {
  if (values.endpoint !== undefined && values.local !== undefined) throw new UsageError("give either --endpoint or --local, not both");
  if (values.local !== undefined) {
    if (values.region !== undefined) throw new UsageError("--region goes with --endpoint; --local needs none");
    let base: URL;
    try {
      base = new URL(values.local);
    } catch {
      throw new UsageError(`--local ${JSON.stringify(values.local)} is not a URL (expected http://127.0.0.1:PORT)`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError("--local must be an http:// or https:// URL");
    return { kind: "local", baseUrl: base.href.endsWith("/") ? base.href : `${base.href}/` };
  }
  if (values.endpoint === undefined) {
    throw new UsageError("say where to connect: --endpoint wss://… (a deployed stack) or --local http://127.0.0.1:PORT (npm start)");
  }
  let endpoint: string;
  try {
    endpoint = validateEndpoint(values.endpoint);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const region = resolveRegion(endpoint, values.region, env);
  if (!region) throw new UsageError("--region is required: the endpoint's host name does not say it and AWS_REGION is not set");
  return { kind: "aws", endpoint, region };
}

function timeoutMs(value: string | undefined): number {
  if (value === undefined) return 90_000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(value)}`);
  return Math.round(seconds * 1000);
}

export function parseCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageErrorFromParseArgs(error);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === "help") return { kind: "help" };
  if (command !== "ask" && command !== "chat") {
    throw new UsageError(command === undefined ? "a command is required: ask or chat" : `unknown command ${JSON.stringify(command)}: use ask or chat`);
  }
  let mode: AnswerMode;
  try {
    mode = parseMode(values.mode);
  } catch (error) {
    throw new UsageError(`--${(error as Error).message}`);
  }
  const options: SessionOptions = {
    target: target(values, env),
    mode,
    json: values.json ?? false,
    timeoutMs: timeoutMs(values.timeout),
  };
  if (values["session-id"] !== undefined) {
    try {
      options.sessionId = validateSessionId(values["session-id"]);
    } catch (error) {
      throw new UsageError(`--session-id: ${(error as Error).message}`);
    }
  }
  if (command === "chat") {
    if (rest.length > 0) throw new UsageError("chat takes no question: type questions at the prompt");
    return { kind: "chat", ...options };
  }
  // Unquoted words are one question, as a user typing `ask what is qnabot` means.
  const question = rest.join(" ").trim();
  if (question === "") throw new UsageError('ask needs a question: qnabot-stream ask "…"');
  try {
    validateQuestion(question);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { kind: "ask", question, ...options };
}
