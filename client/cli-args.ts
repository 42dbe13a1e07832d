/** Argument parsing of `qnabot-stream` (node:util parseArgs). Pure: argv and env in, a command out. */
import { parseArgs } from "node:util";
import { parseMode, validateQuestion, validateSessionId, type AnswerMode } from "../functions/shared/protocol";
import { resolveRegion, validateEndpoint } from "./endpoint";
import { regionFromFunctionUrl } from "./function-url-signer";
import { UsageError, usageErrorFromParseArgs } from "./exit-codes";

/** Where `npm start` serves its page by default: a bare `--local` means it. */
export const DEFAULT_LOCAL_URL = "http://127.0.0.1:3000/";

export const CLI_USAGE = `Usage:
  qnabot-stream ask "question" (--endpoint wss://… [--region r] | --local http://127.0.0.1:PORT) [options]
  qnabot-stream ask "question" (--http https://….lambda-url.REGION.on.aws/ [--region r] | --local http://127.0.0.1:PORT --http) [options]
  qnabot-stream chat          (--endpoint wss://… [--region r] | --local http://127.0.0.1:PORT) [options]

Targets:
  --endpoint <wss-url>   a deployed stack's StreamingWebSocketEndpoint; URLs are signed with
                         your default AWS credential chain
  --region <region>      the endpoint's region (default: from the endpoint's host name,
                         then AWS_REGION / AWS_DEFAULT_REGION)
  --local [<http-url>]   the local stack (npm start) or npm run chat: asks its /api/signed-url
                         (default: ${DEFAULT_LOCAL_URL}, where npm start serves it)
  --http [<url>]         ask over HTTP (Server-Sent Events) instead of the WebSocket: the
                         stack's StreamingHttpEndpoint (a function URL, signed with your
                         default AWS credential chain, service lambda), or with --local the
                         local stack's, signed by it

Options:
  -m, --mode llm|kb      answer with the LLM (default) or the knowledge base
      --json             print the raw envelopes, one JSON object per line
      --reasoning        ask for the model's reasoning too, shown dimmed on stderr before
                         the answer (when the stack allows it; otherwise nothing comes)
      --session-id <id>  session to ask in (default: a new one per run)
      --timeout <sec>    give up when no frame arrives for this long (default 90)
  -h, --help             show this help

Ctrl-C during an answer stops it (the server stops generating); ask prints what was
generated and exits 130. A dropped WebSocket reconnects and resumes the answer.

Exit codes: 0 answered, 2 usage, 3 auth refused, 4 network, 5 server or protocol error,
130 stopped with Ctrl-C.`;

/** The streaming function URL (SSE): signed here with AWS credentials, or by the local stack's page server. */
export type HttpTarget = { kind: "http"; url: string; region: string } | { kind: "http-local"; baseUrl: string };

export type Target = { kind: "aws"; endpoint: string; region: string } | { kind: "local"; baseUrl: string } | HttpTarget;

export interface SessionOptions {
  target: Target;
  mode: AnswerMode;
  json: boolean;
  /** Asks for the model's reasoning (`"reasoning": true`), printed dimmed on stderr. */
  reasoning: boolean;
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
  reasoning: { type: "boolean" },
  // `--http` takes an optional value, which parseArgs cannot express: see httpFlags.
  "http-url": { type: "string" },
  "http-on": { type: "boolean" },
  "session-id": { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** What `--local` takes as its value (then checked): a URL of any scheme, or host:port. */
const LOOKS_LIKE_ADDRESS = /^[a-z][a-z0-9+.-]*:\/\/|^[\w.-]+:\d+/i;

/**
 * `--http <url>` and `--http=<url>` carry the function URL; a bare `--http` (with --local) none.
 * A bare `--local` (no address after it) is the local stack at its default address.
 */
function httpFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (arg === "--local" && !LOOKS_LIKE_ADDRESS.test(argv[i + 1] ?? "")) out.push(`--local=${DEFAULT_LOCAL_URL}`);
    else if (arg.startsWith("--http=")) out.push(`--http-url=${arg.slice("--http=".length)}`);
    else if (arg === "--http" && /^https?:\/\//i.test(argv[i + 1] ?? "")) out.push("--http-url", argv[++i]);
    else if (arg === "--http") out.push("--http-on");
    else out.push(arg);
  }
  return out;
}

function localBase(value: string): string {
  let base: URL;
  try {
    base = new URL(value);
  } catch {
    throw new UsageError(`--local ${JSON.stringify(value)} is not a URL (expected http://127.0.0.1:PORT)`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError("--local must be an http:// or https:// URL");
  return base.href.endsWith("/") ? base.href : `${base.href}/`;
}

function httpTarget(values: { endpoint?: string; region?: string; local?: string; "http-url"?: string }, env: Readonly<Record<string, string | undefined>>): Target {
  if (values.endpoint !== undefined) throw new UsageError("--http asks the function URL, not the WebSocket --endpoint: give one of them");
  if (values.local !== undefined) {
    if (values["http-url"] !== undefined) throw new UsageError("with --local, --http takes no URL: the local stack signs for its own function URL");
    if (values.region !== undefined) throw new UsageError("--region goes with --http <url>; --local needs none");
    return { kind: "http-local", baseUrl: localBase(values.local) };
  }
  const raw = values["http-url"];
  if (raw === undefined) {
    throw new UsageError("--http needs the function URL (--http https://{id}.lambda-url.{region}.on.aws/, the StreamingHttpEndpoint output) or --local http://127.0.0.1:PORT");
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--http ${JSON.stringify(raw)} is not a URL (expected https://{id}.lambda-url.{region}.on.aws/)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UsageError("--http must be an https:// URL");
  const region = values.region || regionFromFunctionUrl(url.href) || env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError("--region is required: the function URL's host name does not say it and AWS_REGION is not set");
  return { kind: "http", url: url.href, region };
}

function target(
  values: { endpoint?: string; region?: string; local?: string; "http-url"?: string; "http-on"?: boolean },
  env: Readonly<Record<string, string | undefined>>,
): Target {
  if (values["http-url"] !== undefined || values["http-on"]) return httpTarget(values, env);
  if (values.endpoint !== undefined && values.local !== undefined) throw new UsageError("give either --endpoint or --local, not both");
  if (values.local !== undefined) {
    if (values.region !== undefined) throw new UsageError("--region goes with --endpoint; --local needs none");
    return { kind: "local", baseUrl: localBase(values.local) };
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
    parsed = parseArgs({ args: httpFlags(argv), options: OPTIONS, allowPositionals: true, strict: true });
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
    reasoning: values.reasoning ?? false,
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
    if (options.target.kind === "http" || options.target.kind === "http-local") {
      throw new UsageError("chat talks over the WebSocket: --http is for ask (use --endpoint or --local)");
    }
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
