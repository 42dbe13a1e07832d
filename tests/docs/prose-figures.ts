/**
 * Where each figure in the prose of README.md and docs/ comes from (issue 23), read by
 * prose-figures.test.ts. An entry names a phrase of one file, as written there (line breaks
 * read as spaces), and either
 *
 * - `source` and `value`: the figure(s) the phrase must contain, recomputed from a committed
 *   result file (bench/results.json, RELIABILITY.md) with the rounding the sentence uses, or
 *   from the code constant that sets it; or
 * - `why`: a number that is not a measurement of ours: an AWS limit with the page that states
 *   it, a price, a protocol or design number, an example.
 *
 * A sentence with a figure nothing backs is reworded, not listed.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { BenchResults } from "../../bench/report";
import { PRICES } from "../../bench/cost";
import { fmt } from "../../bench/stats";
import type { CurvePoint, StreamingCaseResult } from "../../bench/streaming";
import { ASYNC_ASK_MAX_AGE_SECONDS, MAX_LAMBDA_TIMEOUT_SECONDS, MAX_PROMPT_ENVIRONMENT_BYTES, QNA_DEFAULTS, STREAMING_HTTP_CORS_MAX_AGE, STREAMING_HTTP_DEFAULTS } from "../../components/qna";
import { MAX_SYSTEM_PROMPT_CHARS } from "../../components/config";
import { BOT_IDLE_SESSION_TTL_SECONDS } from "../../components/bot-definition";
import { API_GATEWAY_MAX_CONNECTION_SECONDS, DEFAULT_CHECKPOINT_MS, EXTRA_ROUTE_KEY_PATTERN, STREAMING_DEFAULTS, STREAMING_LIMITS } from "../../components/streaming";
import { DEFAULT_MEMORY_LIMITS } from "../../functions/fulfillment/memory";
import { MAX_HELD } from "../../functions/fulfillment/output-safety";
import { DEFAULT_ROUTE_THROTTLES } from "../../functions/shared/routes";
import { ASK_LEASE_SECONDS, DEFAULT_ASKS_PER_SESSION, RESUMES_PER_CONNECTION } from "../../functions/shared/ask-ledger";
import { DYNAMO_REQUEST_TIMEOUT_MS } from "../../functions/shared/dynamo-timeouts";
import { MAX_QUESTION_CHARS, SESSION_ID_PATTERN } from "../../functions/shared/protocol";
import { CLAIM_GRACE_SECONDS, MAX_CONNECTIONS_PER_SESSION } from "../../functions/shared/session-state";
import { HTTP_API_TIMEOUT_MS } from "../../functions/fulfillment/doors";
import { DEFAULT_LEX_ANSWER_BUDGET_MS, DEFAULT_STALL_MS, LEX_CODE_HOOK_TIMEOUT_MS, TIME_BUDGET_MARGIN_MS } from "../../functions/fulfillment/config";
import { TOKEN_USAGE_TTL_SECONDS } from "../../functions/fulfillment/token-budget";
import { DEFAULT_POST_TIMEOUT_MS } from "../../functions/stream/aws";
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_MESSAGE_BYTES } from "../../functions/stream/frames";
import { MAX_JOURNAL_BYTES, MAX_REPLAYS_PER_ANSWER, RESUME_WINDOW_SECONDS } from "../../functions/stream/journal-store";
import { CLOSE_BUDGET_MS, CLOSE_RETRY_CAP_MS, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_POST_RETRIES } from "../../functions/stream/writer";
import { UNVERIFIED_BODY_BUDGET_BYTES } from "../../local/signed-request";
import { MAX_HTTP_API_BODY_BYTES } from "../../local/http-api";
import { MAX_FUNCTION_URL_BODY_BYTES } from "../../local/function-url";
import { MAX_RECOGNIZE_TEXT_BODY_BYTES } from "../../local/lex-runtime";
import { MAX_FEEDBACK_COMMENT_CHARS } from "../../functions/shared/feedback";
import { MAX_RECORDED_ANSWER_CHARS } from "../../functions/fulfillment/feedback-store";
import { SOURCE_SNIPPET_CHARS } from "../../functions/fulfillment/source-links";
import { PAGE_IDLE_MS } from "../../client/chat-server";
import { backoffDelay } from "../../client/web/backoff";

/** What backed figures are recomputed from. */
export interface Sources {
  bench: BenchResults;
  /** The RELIABILITY.md table row of a check (its "Check" cell), whole. */
  reliability(check: string): string;
  /** RELIABILITY.md, whole. */
  reliabilityText: string;
}

interface Phrase {
  /** README.md or a page of docs/, from the repository root. */
  readonly file: string;
  /** The text as the file has it; line breaks and indentation read as single spaces. */
  readonly phrase: string;
}

/** A figure recomputed from a result file or a code constant. */
export interface Backed extends Phrase {
  /** The result file and field, or the constant. */
  readonly source: string;
  /** The figure(s), formatted as the phrase writes them. */
  readonly value: (sources: Sources) => string | readonly string[];
}

/** A number that is not a measurement of ours, with its source or the reason. */
export interface Listed extends Phrase {
  readonly why: string;
}

export type Entry = Backed | Listed;

// ---- finding figures in prose ----------------------------------------------------------------

/** The markdown with code, link targets, comments and the generated figures block blanked (same offsets). */
export function prose(markdown: string): string {
  const blank = (s: string) => s.replace(/[^\n]/g, " ");
  return markdown
    .replace(/<!-- FIGURES:BEGIN[\s\S]*?<!-- FIGURES:END -->/g, blank)
    .replace(/<!--[\s\S]*?-->/g, blank)
    .replace(/^[ \t]*```[\s\S]*?^[ \t]*```/gm, blank)
    .replace(/`[^`\n]*`/g, blank)
    .replace(/\]\([^)\s]*\)/g, (link) => `]${blank(link.slice(1))}`);
}

const UNIT = String.raw`(?:×|%|ms\b|s\b|min\b|minutes?\b|seconds?\b|hours?\b|days?\b|h\b|[KMG]i?B\b|B\b|bytes?\b|resources?\b|passing\b|checks?\b|tests?\b|characters?\b|answers/s|deltas/s|requests/s|frames/s|/s\b|frames?\b|posts?\b|answers?\b|asks?\b|sessions?\b|runs?\b|clients?\b|writes?\b|identities\b|requests?\b|deltas?\b|connections?\b)`;
const FIGURE = new RegExp(String.raw`(?<![\w.$-])\d[\d,.]*(?:\s?[–-]\s?\d[\d,.]*)?\s?${UNIT}|\$\d[\d,.]*\d(?:–\d[\d,.]*\d)?|\$\d|\b20\d\d-\d\d-\d\d\b`, "g");

/** Numbers with a unit of time, size, rate or ratio, dollar amounts, counts (of checks, posts, answers…) and the dates of runs. */
export function figureTokens(text: string): { text: string; start: number; end: number }[] {
  return [...text.matchAll(FIGURE)].map((m) => ({ text: m[0], start: m.index!, end: m.index! + m[0].length }));
}

/** Where `phrase` occurs in `markdown`, any run of whitespace in either matching any other. */
export function phraseSpans(markdown: string, phrase: string): { start: number; end: number }[] {
  const pattern = new RegExp(
    phrase
      .trim()
      .split(/\s+/)
      .map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(String.raw`\s+`),
    "g",
  );
  return [...markdown.matchAll(pattern)].map((m) => ({ start: m.index!, end: m.index! + m[0].length }));
}

export function sources(root: string): Sources {
  const bench = JSON.parse(readFileSync(path.join(root, "bench/results.json"), "utf8")) as BenchResults;
  const reliabilityText = readFileSync(path.join(root, "RELIABILITY.md"), "utf8");
  const rows = reliabilityText.split("\n").filter((line) => line.startsWith("| "));
  return {
    bench,
    reliabilityText,
    reliability: (check) => {
      const row = rows.find((line) => line.split(" | ")[1] === check);
      if (!row) throw new Error(`RELIABILITY.md has no check "${check}"`);
      return row;
    },
  };
}

// ---- bench figures ---------------------------------------------------------------------------

const streaming = (s: Sources) => s.bench.streaming!;
const at = (s: Sources, name: string, rate: number, latencyMs: number): StreamingCaseResult =>
  streaming(s).cases.find((c) => c.case === name && c.rate === rate && c.latencyMs === latencyMs)!;
const ours = (s: Sources) => streaming(s).cases.filter((c) => c.case === "ours");
const naivePosts = (s: Sources, rate: number) => at(s, "naive", rate, streaming(s).options.latenciesMs[0]).postsPerAnswer!.p50;
const point = (s: Sources, rate: number, format: "text" | "json", intervalMs: number): CurvePoint =>
  streaming(s).curve.find((p) => p.rate === rate && p.format === format && p.intervalMs === intervalMs)!;
/** One decimal without a trailing ".0", as ratios are written in prose. */
const ratio = (value: number) => value.toFixed(1).replace(/\.0$/, "");
/** The range of × fewer posts than QnABot's loop at a format's default frame budget, over the paces measured. */
function postsSaved(s: Sources, format: "text" | "json", digits: (v: number) => string = ratio): string {
  const ratios = streaming(s).options.rates.map((rate) => naivePosts(s, rate) / point(s, rate, format, DEFAULT_FLUSH_INTERVAL_MS[format]).postsPerAnswer.p50);
  return `${digits(Math.min(...ratios))}–${digits(Math.max(...ratios))}×`;
}
const seconds = (ms: number, digits = 2) => `${(ms / 1000).toFixed(digits)} s`;
/** A curve table row of docs/performance.md, the default interval in bold. */
function curveRow(s: Sources, rate: number, format: "text" | "json", intervalMs: number): string {
  const p = point(s, rate, format, intervalMs);
  const interval = intervalMs === DEFAULT_FLUSH_INTERVAL_MS[format] ? `**${intervalMs} ms**` : `${intervalMs} ms`;
  const display = p.display ? `${fmt(p.display.lagP50Ms.p50, 0)} / ${fmt(p.display.lagMaxMs.max, 0)} ms` : "–";
  return `| ${rate}/s | ${format} | ${interval} | ${fmt(p.postsPerAnswer.p50, 0)} | ${(naivePosts(s, rate) / p.postsPerAnswer.p50).toFixed(1)}× | ${fmt(p.lastLagMs.p50)} ms | ${display} |`;
}
/** A cold start table row of docs/performance.md. */
function coldStartRow(s: Sources, name: string): string {
  const b = (variant: string) => s.bench.coldStart!.bundles.find((x) => x.function === name && x.variant === variant)!;
  const [naive, mine] = [b("naive"), b("ours")];
  const cell = (n: number, o: number) => `${fmt(n)} → ${fmt(o)} ms (${fmt(o / n, 2)}×)`;
  return `| ${name} | ${cell(naive.initMs, mine.initMs)} | ${cell(naive.initCpuMs, mine.initCpuMs)} | ${cell(naive.initMs + naive.firstRequestMs, mine.initMs + mine.firstRequestMs)} |`;
}
/** Lex Web UI's display lag p50 with the writer's defaults, lowest–highest over every pace and post latency (s). */
const displayLagRange = (s: Sources) => {
  const lags = ours(s).map((c) => c.display!.lagP50Ms.p50);
  return `${seconds(Math.min(...lags))}–${seconds(Math.max(...lags)).replace(/^0\./, "0.")}`.replace(/ s–/, "–");
};
const displayLagMax = (s: Sources) => seconds(Math.max(...ours(s).map((c) => c.display!.lagMaxMs.max)));
const runDay = (s: Sources, benchmark: string) => (s.bench.meta.runs?.[benchmark]?.date ?? s.bench.meta.date).slice(0, 10);
/** "2026-11-29 10:57 UTC": when a benchmark ran. */
const runTime = (s: Sources, benchmark: string) => {
  const date = s.bench.meta.runs?.[benchmark]?.date ?? s.bench.meta.date;
  return `${date.slice(0, 10)} ${date.slice(11, 16)} UTC`;
};

// ---- the registry ----------------------------------------------------------------------------

const AWS_WEBSOCKET_QUOTAS = "AWS limit: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html";
const AWS_LAMBDA_QUOTAS = "AWS limit: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html";
const AWS_LEX_RECOGNIZE_TEXT = "AWS limit: https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_RecognizeText.html";
const AWS_HTTP_API_QUOTAS = "AWS limit: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html";
const AWS_RESPONSE_STREAMING = "AWS limit: https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html";
const AWS_DYNAMODB_QUOTAS = "AWS limit: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html";
const AWS_THROTTLING = "AWS limit: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html (account-level throttle per Region)";

const L = (file: string, phrase: string, why: string): Listed => ({ file, phrase, why });
const B = (file: string, phrase: string, source: string, value: Backed["value"]): Backed => ({ file, phrase, source, value });
/**
 * Figures a RELIABILITY.md row (or, with no check, the file) must state: each as the doc
 * writes it, or a pair [as RELIABILITY.md writes it, as the doc does].
 */
const fromReliability =
  (check: string | undefined, ...figures: (string | readonly [string, string])[]) =>
  (s: Sources): string[] => {
    const text = check === undefined ? s.reliabilityText : s.reliability(check);
    return figures.map((f) => {
      const [there, here] = typeof f === "string" ? [f, f] : f;
      return text.includes(there) ? here : `${there}, which RELIABILITY.md does not state`;
    });
  };
const ms = (value: number) => `${value} ms`;
const sec = (valueMs: number) => `${valueMs / 1000} s`;
const minutes = (valueMs: number) => `${valueMs / 60_000} minutes`;
const hours = (seconds: number) => `${seconds / 3600} hours`;
const kb = (bytes: number) => `${bytes / 1024} KB`;
const mb = (bytes: number) => `${bytes / 2 ** 20} MB`;
const perSecond = (n: number) => `${n}/s`;
const D = STREAMING_DEFAULTS;
const THROTTLES = "functions/shared/routes.ts DEFAULT_ROUTE_THROTTLES";
/** "10/s, burst 20": a route's default throttle, as the docs write it. */
const throttle = (route: keyof typeof DEFAULT_ROUTE_THROTTLES, separator = ", ") =>
  `${perSecond(DEFAULT_ROUTE_THROTTLES[route].rateLimit)}${separator}burst ${DEFAULT_ROUTE_THROTTLES[route].burstLimit}`;
/** "1–64": the length range of a `{1,64}` pattern. */
const lengths = (pattern: RegExp) => /\{(\d+),(\d+)\}/.exec(pattern.source)!.slice(1, 3).join("–");
const FLUSH = "functions/stream/writer.ts DEFAULT_FLUSH_INTERVAL_MS";
const DISPLAY = "bench/lex-web-ui-display.ts LEX_WEB_UI_DISPLAY_DELAY_MS";
const CURVE = "bench/results.json streaming.curve";
const CASES = "bench/results.json streaming.cases";
const roundTo = (value: number, step: number, how: (x: number) => number = Math.round) => how(value / step) * step;
/** Ours' added time to the first delta with instant posts, over the paces (ms, whole). */
const oursInstant = (s: Sources) => {
  const added = streaming(s).options.rates.map((rate) => at(s, "ours", rate, 0).addedTtftMs!.p50);
  return `${Math.floor(Math.min(...added))}–${Math.ceil(Math.max(...added))} ms`;
};
/** SSE's added first-delta and last-delta times over the floor, every group, to the nearest 10 ms. */
const sseBehind = (s: Sources) => {
  const sse = streaming(s).cases.filter((c) => c.case === "sse");
  const all = sse.flatMap((c) => [c.addedTtftMs!.p50, c.lastLagMs!.p50]);
  return `${roundTo(Math.min(...all), 10)}–${roundTo(Math.max(...all), 10)} ms`;
};
/** How much sooner SSE's last delta arrives than ours once posts take time (ms, whole). */
const sseSooner = (s: Sources) => {
  const gains = streaming(s).cases
    .filter((c) => c.case === "sse" && c.latencyMs > 0)
    .map((c) => at(s, "ours", c.rate, c.latencyMs).lastLagMs!.p50 - c.lastLagMs!.p50);
  return `${Math.floor(Math.min(...gains))}–${Math.round(Math.max(...gains))} ms`;
};
const dollarsRange = (values: number[], digits: number) => `$${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
const totals = (s: Sources, name: string) => streaming(s).cases.filter((c) => c.case === name).map((c) => c.costPerThousand!.total);
const coldStartComponents = (s: Sources) => s.bench.coldStart!.components.filter((c) => /client/i.test(c.name));
const nodeAlone = (s: Sources) => s.bench.coldStart!.components.find((c) => c.name.startsWith("node alone"))!.initMs;

export const FIGURES: readonly Entry[] = [
  // ---- README.md
  B("README.md", "7.1–20× for Lex Web UI's text frames, 5.7–15.4× for the chat page's and CLI's json frames", `${CURVE} at the default frame budgets over ${CASES} naive`, (s) => [
    postsSaved(s, "text"),
    postsSaved(s, "json"),
  ]),

  L("README.md", "cost per 1,000 answers |", "the unit of docs/performance.md's cost table"),

  // ---- docs/architecture.md
  L("docs/architecture.md", "on open and every 9 minutes (API Gateway", "client keep-alive, under API Gateway's 10-minute idle timeout (AWS WebSocket quotas)"),
  B("docs/architecture.md", "Lex waits 30 s for its code", "functions/fulfillment/config.ts LEX_CODE_HOOK_TIMEOUT_MS", () => sec(LEX_CODE_HOOK_TIMEOUT_MS)),
  B("docs/architecture.md", "within `lexAnswerBudgetMs` (25 s), cut", "functions/fulfillment/config.ts DEFAULT_LEX_ANSWER_BUDGET_MS", () => sec(DEFAULT_LEX_ANSWER_BUDGET_MS)),

  // ---- docs/clients.md
  L("docs/clients.md", "on open and every 9 minutes. After about 110 minutes it renews the", "client/web/connection.ts pingIntervalMs and renewAfterMs defaults, under API Gateway's 10-minute idle and 2-hour connection limits"),
  B("docs/clients.md", "backoff with jitter (0.5 s doubling to 30 s), and the new", "client/web/backoff.ts backoffDelay's defaults (its largest delay at the first attempt and at any later one)", () => {
    const most = (attempt: number) => backoffDelay(attempt, () => 1);
    return `(${most(0) / 1000} s doubling to ${most(30) / 1000} s)`;
  }),
  B("docs/clients.md", "longer resume (it ended over 10 minutes ago, or the", "functions/stream/journal-store.ts RESUME_WINDOW_SECONDS", () => minutes(RESUME_WINDOW_SECONDS * 1000)),
  B("docs/clients.md", "confirms (within about 1 s: the next", "components/streaming.ts DEFAULT_CHECKPOINT_MS", () => sec(DEFAULT_CHECKPOINT_MS)),
  L("docs/clients.md", "ever gets a short-lived (120 s)", "client/aws-signer.ts expiresInSeconds default"),
  L("docs/clients.md", "to 5 attempts, backoff from 0.25 s capped at 4 s) for the same", "client/cli-answer.ts reconnectAttempts and reconnect backoff defaults"),
  L("docs/clients.md", "does not confirm within 10 s, the CLI ends", "client/cli-answer.ts stopWaitMs default"),
  B("docs/clients.md", "leaves. A question over 4,000 characters is not sent,", "functions/shared/protocol.ts MAX_QUESTION_CHARS", () => `${MAX_QUESTION_CHARS.toLocaleString("en-US")} characters`),
  L("docs/clients.md", "it dropped or is older than 110 minutes, which is", "client/cli-chat.ts RENEW_AFTER_MS, under API Gateway's 2-hour connection limit"),
  L("docs/clients.md", "A ping on open and every 9 minutes for 2 hours; it never", "Lex Web UI's own keep-alive, read from its source (docs/clients.md, Lex Web UI)"),
  B("docs/clients.md", "shows each text frame about 500 ms after the", DISPLAY, () => ms(500)),
  B("docs/clients.md", "by the text frame budget (150 ms): about 56 frames for a", `${FLUSH}; ${CASES} ours`, (s) => [ms(DEFAULT_FLUSH_INTERVAL_MS.text), `about ${fmt(at(s, "ours", 50, 0).postsPerAnswer!.p50, 0)}`]),
  B("docs/clients.md", "a 1,806-character answer at 50 deltas/s, 20 at 150", `${CASES} ours, streaming.answerChars`, (s) => [
    `${fmt(streaming(s).answerChars, 0)}-character`,
    `, ${fmt(at(s, "ours", 150, 0).postsPerAnswer!.p50, 0)} at 150`,
  ]),
  B(
    "docs/clients.md",
    "the text appears 0.72–0.76 s (p50) behind the model, at most 0.89 s, at every pace (50 and 150 deltas/s) and post latency (0, 15, 40 ms) of the bench run of 2026-11-29",
    `${CASES} ours display`,
    (s) => [displayLagRange(s), `at most ${displayLagMax(s)}`, `(${streaming(s).options.rates.join(" and ")} deltas/s)`, `(${streaming(s).options.latenciesMs.join(", ")} ms)`, runDay(s, "streaming")],
  ),
  B("docs/clients.md", "QnABot's loop shows text ~0.2 s sooner while", `${CASES} display, naive against ours with instant posts`, (s) => {
    const sooner = streaming(s).options.rates.map((rate) => at(s, "ours", rate, 0).display!.lagP50Ms.p50 - at(s, "naive", rate, 0).display!.lagP50Ms.p50);
    return `~${seconds(Math.min(...sooner), 1)}`;
  }),
  B(
    "docs/clients.md",
    "seconds behind (up to 15 s at 150 deltas/s and 40 ms per post) when they do not. About 0.5 s of the lag",
    `${CASES} naive display; ${DISPLAY}`,
    (s) => [`up to ${Math.round(at(s, "naive", 150, 40).display!.lagMaxMs.max / 1000)} s at 150 deltas/s and 40 ms`, "About 0.5 s"],
  ),
  B("docs/clients.md", "as a frame of its own: 1 character (0.1 %) is left", `${CASES} ours display`, (s) => `${fmt(at(s, "ours", 50, 0).display!.unshownChars.p50, 0)} character (${fmt(at(s, "ours", 50, 0).display!.unshownPercent.p50, 1)} %)`),
  B("docs/clients.md", "against QnABot's last delta (5 characters here).", `${CASES} naive display`, (s) => `${fmt(at(s, "naive", 50, 0).display!.unshownChars.p50, 0)} characters`),
  B("docs/clients.md", "fresh signature before 2 hours.", "components/streaming.ts API_GATEWAY_MAX_CONNECTION_SECONDS", () => hours(API_GATEWAY_MAX_CONNECTION_SECONDS)),

  // ---- docs/component.md
  B("docs/component.md", "Route keys are 1–64 characters of", "components/streaming.ts EXTRA_ROUTE_KEY_PATTERN", () => `${lengths(EXTRA_ROUTE_KEY_PATTERN)} characters`),
  B("docs/component.md", "ledger) with `timeout` (300 s, 1–900)", "components/qna.ts STREAMING_HTTP_DEFAULTS.timeout, MAX_LAMBDA_TIMEOUT_SECONDS", () => `(${STREAMING_HTTP_DEFAULTS.timeout} s, 1–${MAX_LAMBDA_TIMEOUT_SECONDS})`),

  // ---- docs/deploy-and-configuration.md
  B("docs/deploy-and-configuration.md", "over 3,000 bytes together (Lambda allows 4 KB of", `components/qna.ts MAX_PROMPT_ENVIRONMENT_BYTES; ${AWS_LAMBDA_QUOTAS}`, () => `${MAX_PROMPT_ENVIRONMENT_BYTES.toLocaleString("en-US")} bytes`),
  L("docs/deploy-and-configuration.md", "| Bedrock knowledge base id (10 characters); empty =", "the format of a Bedrock knowledge base id, validated in components/config.ts"),
  B("docs/deploy-and-configuration.md", "for LLM answers, at most 2000 characters; empty = the", "components/config.ts MAX_SYSTEM_PROMPT_CHARS", () => `${MAX_SYSTEM_PROMPT_CHARS} characters`),
  L("docs/deploy-and-configuration.md", "memory after its last turn (60 s–30 days) | |", "the memory TTL bounds validated in components/config.ts"),
  B("docs/deploy-and-configuration.md", "Lex V2 gives the hook 30 s, so a longer", "functions/fulfillment/config.ts LEX_CODE_HOOK_TIMEOUT_MS", () => sec(LEX_CODE_HOOK_TIMEOUT_MS)),
  B("docs/deploy-and-configuration.md", "back, without API Gateway's 30 s cut", `functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS; ${AWS_HTTP_API_QUOTAS}`, () => sec(HTTP_API_TIMEOUT_MS)),
  B("docs/deploy-and-configuration.md", "preflight cached 300 s. Browsers", "components/qna.ts STREAMING_HTTP_CORS_MAX_AGE", () => `${STREAMING_HTTP_CORS_MAX_AGE} s`),
  B("docs/deploy-and-configuration.md", "retried by Lambda until its 120 s maximum age,", "components/qna.ts ASYNC_ASK_MAX_AGE_SECONDS", () => `${ASYNC_ASK_MAX_AGE_SECONDS} s`),
  L("docs/deploy-and-configuration.md", "AWS also caps requests at 10 × the", "AWS limit: https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html (function URL requests per second)"),
  B(
    "docs/deploy-and-configuration.md",
    "`qnabot-fulfillment` (512 MB, 120 s), `qnabot-streaming-http` (512 MB, 300 s), `streaming-connection` (128 MB, 10 s); all",
    "components/qna.ts QNA_DEFAULTS, STREAMING_HTTP_DEFAULTS; components/streaming.ts STREAMING_DEFAULTS",
    () => [
      `(${QNA_DEFAULTS.memorySize} MB, ${QNA_DEFAULTS.timeout} s)`,
      `(${QNA_DEFAULTS.memorySize} MB, ${STREAMING_HTTP_DEFAULTS.timeout} s)`,
      `(${D.memorySize} MB, ${D.timeout} s)`,
    ],
  ),
  B("docs/deploy-and-configuration.md", "no retries, 120 s maximum age,", "components/qna.ts ASYNC_ASK_MAX_AGE_SECONDS", () => `${ASYNC_ASK_MAX_AGE_SECONDS} s`),
  L("docs/deploy-and-configuration.md", "adds the HTTP door (6 resources;", "resource counts per shape: tests/infra/lex-bot.test.ts (60 with the door, 54 without)"),

  // ---- docs/hooks.md
  B("docs/hooks.md", "within the HTTP API's 30 s integration", "functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS", () => sec(HTTP_API_TIMEOUT_MS)),
  L("docs/hooks.md", "longer than API Gateway's 29 s integration", AWS_WEBSOCKET_QUOTAS),
  B("docs/hooks.md", "of `POST /ask` without its 30 s cut.", "functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS", () => sec(HTTP_API_TIMEOUT_MS)),
  B("docs/hooks.md", "budget**: generation stops 5 s before the", "functions/fulfillment/config.ts TIME_BUDGET_MARGIN_MS", () => sec(TIME_BUDGET_MARGIN_MS)),
  B("docs/hooks.md", "(for `POST /ask`, before 30 s).", "functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS", () => sec(HTTP_API_TIMEOUT_MS)),
  B("docs/hooks.md", "**Lex's 30 s**: Lex V2 waits 30 s for a", `functions/fulfillment/config.ts LEX_CODE_HOOK_TIMEOUT_MS; ${AWS_LEX_RECOGNIZE_TEXT}`, () => sec(LEX_CODE_HOOK_TIMEOUT_MS)),
  B("docs/hooks.md", "its generation stops 5 s before that", "functions/fulfillment/config.ts TIME_BUDGET_MARGIN_MS", () => sec(TIME_BUDGET_MARGIN_MS)),
  B("docs/hooks.md", "Lex runtime applies the same 30 s cut", "functions/fulfillment/config.ts LEX_CODE_HOOK_TIMEOUT_MS", () => sec(LEX_CODE_HOOK_TIMEOUT_MS)),
  B("docs/hooks.md", "and answer is cut to 8 KB (UTF-8, never mid-character), the item to 64 KB (oldest turns", "functions/fulfillment/memory.ts DEFAULT_MEMORY_LIMITS", () => [
    kb(DEFAULT_MEMORY_LIMITS.maxTextBytes),
    kb(DEFAULT_MEMORY_LIMITS.maxItemBytes),
  ]),

  // ---- docs/local-stack.md (its limits table cites each AWS source in its own row)
  L("docs/local-stack.md", "two-way `$default`, 128 KB message limit (close 1009), 10 min idle and 2 h limits, and", AWS_WEBSOCKET_QUOTAS),
  B("docs/local-stack.md", "service `lambda`, Lambda's 6 MB request", "local/function-url.ts MAX_FUNCTION_URL_BODY_BYTES", () => mb(MAX_FUNCTION_URL_BODY_BYTES)),
  B("docs/local-stack.md", "code hook answered within 30 s, else Lex's", `functions/fulfillment/config.ts LEX_CODE_HOOK_TIMEOUT_MS; ${AWS_LEX_RECOGNIZE_TEXT}`, () => sec(LEX_CODE_HOOK_TIMEOUT_MS)),
  B("docs/local-stack.md", "(424) at 30 s, the hook", "functions/fulfillment/config.ts LEX_CODE_HOOK_TIMEOUT_MS", () => sec(LEX_CODE_HOOK_TIMEOUT_MS)),
  L("docs/local-stack.md", "(a 60 s answer", "the scripted answer of tests/local/lex-web-ui-stock.test.ts"),
  L("docs/local-stack.md", "| Lex V2 | `text` 1 to 1024 characters |", AWS_LEX_RECOGNIZE_TEXT),
  B("docs/local-stack.md", "timeout (QnABot's bot: 300 s) |", "components/bot-definition.ts BOT_IDLE_SESSION_TTL_SECONDS", () => `${BOT_IDLE_SESSION_TTL_SECONDS} s`),
  L("docs/local-stack.md", "Lex V1 documents 12 KB in, 25 KB out of which 12 KB session", "AWS limit: https://docs.aws.amazon.com/lex/latest/dg/gl-limits.html"),
  B("docs/local-stack.md", "WebSocket | message payload 128 KB (close 1009;", `functions/stream/frames.ts DEFAULT_MAX_MESSAGE_BYTES; ${AWS_WEBSOCKET_QUOTAS}`, () => kb(DEFAULT_MAX_MESSAGE_BYTES)),
  B("docs/local-stack.md", "WebSocket | frame size 32 KB |", `functions/stream/frames.ts DEFAULT_MAX_FRAME_BYTES; ${AWS_WEBSOCKET_QUOTAS}`, () => kb(DEFAULT_MAX_FRAME_BYTES)),
  B("docs/local-stack.md", "(a question is at most 4,000 characters)", "functions/shared/protocol.ts MAX_QUESTION_CHARS", () => `${MAX_QUESTION_CHARS.toLocaleString("en-US")} characters`),
  L("docs/local-stack.md", "API Gateway WebSocket | idle 10 min, connection 2 h |", AWS_WEBSOCKET_QUOTAS),
  L("docs/local-stack.md", "| integration timeout 29 s |", AWS_WEBSOCKET_QUOTAS),
  B("docs/local-stack.md", "HTTP API | request body 10 MB |", `local/http-api.ts MAX_HTTP_API_BODY_BYTES; ${AWS_HTTP_API_QUOTAS}`, () => mb(MAX_HTTP_API_BODY_BYTES)),
  B("docs/local-stack.md", "API | integration timeout 30 s |", `functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS; ${AWS_HTTP_API_QUOTAS}`, () => sec(HTTP_API_TIMEOUT_MS)),
  B("docs/local-stack.md", "the door stops generating 5 s before 30 s", "functions/fulfillment/config.ts TIME_BUDGET_MARGIN_MS, functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS", () => [
    sec(TIME_BUDGET_MARGIN_MS),
    sec(HTTP_API_TIMEOUT_MS),
  ]),
  L("docs/local-stack.md", "| invocation payload 6 MB synchronous, 1 MB asynchronous |", "AWS limit: https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html"),
  L("docs/local-stack.md", "| response streaming: first 6 MB uncapped, then 2 MB/s |", AWS_RESPONSE_STREAMING),
  L("docs/local-stack.md", "an answer is far below 6 MB", AWS_RESPONSE_STREAMING),
  L("docs/local-stack.md", "| environment variables 4 KB |", AWS_LAMBDA_QUOTAS),
  L("docs/local-stack.md", "| DynamoDB | item 400 KB |", AWS_DYNAMODB_QUOTAS),
  B("docs/local-stack.md", "the journal keeps at most 300 KB and memory at most 64 KB", "functions/stream/journal-store.ts MAX_JOURNAL_BYTES; functions/fulfillment/memory.ts DEFAULT_MEMORY_LIMITS", () => kb(MAX_JOURNAL_BYTES)),
  L("docs/local-stack.md", "| DynamoDB | request 16 MB |", AWS_DYNAMODB_QUOTAS),
  B("docs/local-stack.md", "our own attempt timeout: 10 s of silence, 3", "functions/shared/dynamo-timeouts.ts DYNAMO_REQUEST_TIMEOUT_MS", () => sec(DYNAMO_REQUEST_TIMEOUT_MS)),
  L("docs/local-stack.md", "`npm start` sets 60 s, since", "local/stack.ts: the local stack's DynamoDB attempt timeout"),
  B("docs/local-stack.md", "the deployed 10 s)", "functions/shared/dynamo-timeouts.ts DYNAMO_REQUEST_TIMEOUT_MS", () => sec(DYNAMO_REQUEST_TIMEOUT_MS)),
  B("docs/local-stack.md", "forgotten after 300 s idle", "components/bot-definition.ts BOT_IDLE_SESSION_TTL_SECONDS", () => `${BOT_IDLE_SESSION_TTL_SECONDS} s`),
  L("docs/local-stack.md", "(400; text over 1,024 characters),", AWS_LEX_RECOGNIZE_TEXT),

  // ---- docs/protocol.md
  B("docs/protocol.md", "1–128 characters of", "functions/shared/protocol.ts SESSION_ID_PATTERN", () => `${lengths(SESSION_ID_PATTERN)} characters`),
  L("docs/protocol.md", "on open and every 9 minutes (API Gateway closes idle sockets after 10 minutes)", AWS_WEBSOCKET_QUOTAS),
  B("docs/protocol.md", "default 1000 ms). After the", "components/streaming.ts DEFAULT_CHECKPOINT_MS", () => ms(DEFAULT_CHECKPOINT_MS)),
  B("docs/protocol.md", "from its journal, for **10 minutes**.", "functions/stream/journal-store.ts RESUME_WINDOW_SECONDS", () => minutes(RESUME_WINDOW_SECONDS * 1000)),
  B("docs/protocol.md", "too long to keep (over 300 KB).", "functions/stream/journal-store.ts MAX_JOURNAL_BYTES", () => kb(MAX_JOURNAL_BYTES)),
  B("docs/protocol.md", "at most **4** times in its 10 minutes", "functions/stream/journal-store.ts MAX_REPLAYS_PER_ANSWER, RESUME_WINDOW_SECONDS", () => [`**${MAX_REPLAYS_PER_ANSWER}**`, minutes(RESUME_WINDOW_SECONDS * 1000)]),
  B("docs/protocol.md", "A replay is at most the 300 KB journal", "functions/stream/journal-store.ts MAX_JOURNAL_BYTES", () => kb(MAX_JOURNAL_BYTES)),
  B("docs/protocol.md", "at most 8 × 300 KB and one answer 4 × 300 KB", "functions/stream/journal-store.ts MAX_REPLAYS_PER_ANSWER, MAX_JOURNAL_BYTES", () => `${MAX_REPLAYS_PER_ANSWER} × ${kb(MAX_JOURNAL_BYTES)}`),
  B("docs/protocol.md", "resume frames used to replay 78.7 MB to one", "RELIABILITY.md, the before-and-after notes", fromReliability(undefined, "78.7 MB")),
  L("docs/protocol.md", "(a 10 s, 4 KB answer ≈ 12 writes ≈ 50 WCU ≈ $0.00006 at $1.25 per million)", "a worked example at DynamoDB's on-demand write price"),
  L("docs/protocol.md", "`812 tokens in · 96 out · ~$0.0039`", "an example footer"),
  B("docs/protocol.md", "(1 s by default)", "components/streaming.ts DEFAULT_CHECKPOINT_MS", () => sec(DEFAULT_CHECKPOINT_MS)),
  B("docs/protocol.md", "A question is at most 4,000 characters", "functions/shared/protocol.ts MAX_QUESTION_CHARS", () => `${MAX_QUESTION_CHARS.toLocaleString("en-US")} characters`),
  L("docs/protocol.md", "32 KB per frame, 128 KB per message", AWS_WEBSOCKET_QUOTAS),
  L("docs/protocol.md", "1009), 10 minutes idle, 2 hours per", AWS_WEBSOCKET_QUOTAS),
  B("docs/protocol.md", "No message exceeds 32 KB", "functions/stream/frames.ts DEFAULT_MAX_FRAME_BYTES", () => kb(DEFAULT_MAX_FRAME_BYTES)),
  B("docs/protocol.md", "envelope may be up to 128 KB", "functions/stream/frames.ts DEFAULT_MAX_MESSAGE_BYTES", () => kb(DEFAULT_MAX_MESSAGE_BYTES)),
  B("docs/protocol.md", "(10 retries, 25 ms base, 1 s cap", "functions/stream/writer.ts DEFAULT_POST_RETRIES and the writer's backoff", () => `${DEFAULT_POST_RETRIES} retries`),
  B("docs/protocol.md", "(3 s timeout,", "functions/stream/aws.ts DEFAULT_POST_TIMEOUT_MS", () => sec(DEFAULT_POST_TIMEOUT_MS)),
  B("docs/protocol.md", "**8** `resume` frames in its lifetime (twice the 4 answers a", "functions/shared/ask-ledger.ts RESUMES_PER_CONNECTION, DEFAULT_ASKS_PER_SESSION", () => [
    `**${RESUMES_PER_CONNECTION}**`,
    `the ${DEFAULT_ASKS_PER_SESSION} answers`,
  ]),
  B("docs/protocol.md", "(default 150 ms) for", FLUSH, () => ms(DEFAULT_FLUSH_INTERVAL_MS.text)),
  B("docs/protocol.md", "(default 120 ms) for", FLUSH, () => ms(DEFAULT_FLUSH_INTERVAL_MS.json)),
  B("docs/protocol.md", "`STREAM_STALL_MS` (20 s)", "functions/fulfillment/config.ts DEFAULT_STALL_MS", () => sec(DEFAULT_STALL_MS)),
  B(
    "docs/protocol.md",
    "within about 43 s in the worst case (11 attempts × the 3 s post timeout + ≤ 5.6 s of retry",
    "functions/stream/writer.ts DEFAULT_POST_RETRIES, functions/stream/aws.ts DEFAULT_POST_TIMEOUT_MS",
    () => [`${DEFAULT_POST_RETRIES + 1} attempts × the ${sec(DEFAULT_POST_TIMEOUT_MS)}`],
  ),
  B("docs/protocol.md", ", without API Gateway's 30 s cut", "functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS", () => sec(HTTP_API_TIMEOUT_MS)),
  B("docs/protocol.md", "default 300 s, bounds", "components/qna.ts STREAMING_HTTP_DEFAULTS.timeout", () => `${STREAMING_HTTP_DEFAULTS.timeout} s`),
  B("docs/protocol.md", "`STREAM_CHECKPOINT_MS` (1 s by default)", "components/streaming.ts DEFAULT_CHECKPOINT_MS", () => sec(DEFAULT_CHECKPOINT_MS)),
  B("docs/protocol.md", "answers may run past 30 s", "functions/fulfillment/doors.ts HTTP_API_TIMEOUT_MS", () => sec(HTTP_API_TIMEOUT_MS)),

  // ---- docs/performance.md (outside its generated block)
  L("docs/performance.md", "(deltas of 3–6 characters:", "the bench's scripted answer (bench/streaming.ts)"),
  B("docs/performance.md", "delta interval (20 ms at 50 deltas/s, 6.7 ms at 150/s)", "bench/results.json streaming.options.rates", (s) => streaming(s).options.rates.map((r) => `${ratio(1000 / r)} ms at ${r}`)),
  B("docs/performance.md", "handler and are about 3× smaller", "bench/results.json coldStart.bundles bytes", (s) => {
    const b = s.bench.coldStart!.bundles;
    const ratios = b.filter((x) => x.variant === "ours").map((o) => b.find((n) => n.function === o.function && n.variant === "naive")!.bytes / o.bytes);
    return `about ${Math.round(Math.min(...ratios))}× smaller`;
  }),
  B("docs/performance.md", "(`STREAM_TEXT_FLUSH_MS` 150 ms, `STREAM_JSON_FLUSH_MS` 120 ms by default)", FLUSH, () => [ms(DEFAULT_FLUSH_INTERVAL_MS.text), ms(DEFAULT_FLUSH_INTERVAL_MS.json)]),
  B("docs/performance.md", "(split only at 32 KB, on UTF-8", "functions/stream/frames.ts DEFAULT_MAX_FRAME_BYTES", () => kb(DEFAULT_MAX_FRAME_BYTES)),
  B("docs/performance.md", "| `150` | 0–60000 ms; 0 = as fast", "components/streaming.ts STREAMING_LIMITS.textFlushMs", () => `0–${STREAMING_LIMITS.textFlushMs.max} ms`),
  B("docs/performance.md", "| `120` | 0–60000 ms |", "components/streaming.ts STREAMING_LIMITS.jsonFlushMs", () => `0–${STREAMING_LIMITS.jsonFlushMs.max} ms`),
  L("docs/performance.md", "counts it against the account's 10,000 requests/s)", AWS_THROTTLING),
  B("docs/performance.md", "the slower pace (50 deltas/s), so an account streams at least 5× as many", `${CURVE} at the default frame budgets`, (s) => {
    const rate = Math.min(...streaming(s).options.rates);
    const least = Math.min(...(["text", "json"] as const).map((f) => naivePosts(s, rate) / point(s, rate, f, DEFAULT_FLUSH_INTERVAL_MS[f]).postsPerAnswer.p50));
    return [`(${rate} deltas/s)`, `at least ${Math.min(5, Math.floor(least))}×`];
  }),
  B("docs/performance.md", "For text, 150 ms also keeps", FLUSH, () => ms(DEFAULT_FLUSH_INTERVAL_MS.text)),
  B("docs/performance.md", "100 ms would buy ~70 ms of display lag for 1.5× the posts, 300 ms halves the", `${CURVE} text at 50/s`, (s) => {
    const [p100, p150] = [point(s, 50, "text", 100), point(s, 50, "text", 150)];
    return [`~${roundTo(p150.display!.lagP50Ms.p50 - p100.display!.lagP50Ms.p50, 10)} ms`, `${ratio(p100.postsPerAnswer.p50 / p150.postsPerAnswer.p50)}× the posts`];
  }),
  B("docs/performance.md", "so 120 ms (about 8 frames/s)", FLUSH, () => [ms(DEFAULT_FLUSH_INTERVAL_MS.json), `about ${Math.floor(1000 / DEFAULT_FLUSH_INTERVAL_MS.json)} frames/s`]),
  B("docs/performance.md", "\"× naive\" = QnABot's 400 posts over ours", CASES, (s) => `${fmt(naivePosts(s, 50), 0)} posts`),
  B("docs/performance.md", "The curve (the bench run of 2026-11-29 10:57 UTC,", "bench/results.json meta.runs.streaming", (s) => runTime(s, "streaming")),
  B("docs/performance.md", "(run of 2026-11-29 10:57 UTC):", "bench/results.json meta.runs.coldstart", (s) => runTime(s, "coldstart")),
  B("docs/performance.md", "ours alone, 15 ms per post, 4 runs per point", "bench/results.json streaming.options.curve", (s) => `${streaming(s).options.curve.latencyMs} ms per post, ${streaming(s).options.curve.runs} runs`),
  B("docs/performance.md", "| 50/s | text | 0 ms | 398 | 1.0× | 14.0 ms | 536 / 591 ms |", CURVE, (s) => curveRow(s, 50, "text", 0)),
  B("docs/performance.md", "| 50/s | text | 100 ms | 83 | 4.8× | 42.4 ms | 668 / 717 ms |", CURVE, (s) => curveRow(s, 50, "text", 100)),
  B("docs/performance.md", "| 50/s | text | **150 ms** | 56 | 7.1× | 34.9 ms | 740 / 821 ms |", CURVE, (s) => curveRow(s, 50, "text", 150)),
  B("docs/performance.md", "| 50/s | text | 300 ms | 29 | 13.8× | 33.1 ms | 958 / 1,206 ms |", CURVE, (s) => curveRow(s, 50, "text", 300)),
  B("docs/performance.md", "| 50/s | json | 50 ms | 164 | 2.4× | 17.2 ms | – |", CURVE, (s) => curveRow(s, 50, "json", 50)),
  B("docs/performance.md", "| 50/s | json | **120 ms** | 70 | 5.7× | 17.5 ms | – |", CURVE, (s) => curveRow(s, 50, "json", 120)),
  B("docs/performance.md", "| 150/s | text | **150 ms** | 20 | 20.0× | 38.5 ms | 735 / 820 ms |", CURVE, (s) => curveRow(s, 150, "text", 150)),
  B("docs/performance.md", "| 150/s | json | **120 ms** | 26 | 15.4× | 15.7 ms | – |", CURVE, (s) => curveRow(s, 150, "json", 120)),
  B("docs/performance.md", "the second on schedules, 500 ms later, the", DISPLAY, () => ms(500)),
  B("docs/performance.md", "the text appears 0.72–0.76 s (p50) behind", `${CASES} ours display`, (s) => displayLagRange(s)),
  B("docs/performance.md", "at most 0.89 s in any run, and 1 character (0.1 %) is left", `${CASES} ours display`, (s) => [
    `at most ${displayLagMax(s)}`,
    `${fmt(at(s, "ours", 50, 0).display!.unshownChars.p50, 0)} character (${fmt(at(s, "ours", 50, 0).display!.unshownPercent.p50, 1)} %)`,
  ]),
  B("docs/performance.md", "QnABot's loop shows text ~0.2 s sooner while", `${CASES} display, naive against ours with instant posts`, (s) => {
    const sooner = streaming(s).options.rates.map((rate) => at(s, "ours", rate, 0).display!.lagP50Ms.p50 - at(s, "naive", rate, 0).display!.lagP50Ms.p50);
    return `~${seconds(Math.min(...sooner), 1)}`;
  }),
  B("docs/performance.md", "No frame budget can beat ~500 ms plus one", DISPLAY, () => ms(500)),
  B("docs/performance.md", "`node` process (15 runs, p50)", "bench/results.json coldStart.options.runs", (s) => `(${s.bench.coldStart!.options.runs} runs`),
  L("docs/performance.md", "(posts per answer + 1 ask message)", "the capacity formula: each answer is one ask message plus its posts"),
  L("docs/performance.md", "with a reservation of 100 a function streams at most 100 answers at once", "an example reservation"),
  L("docs/performance.md", "sustains 4,000 writes/s and 12,000 reads/s", "AWS limit: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html (a new on-demand table's initial throughput)"),
  L("docs/performance.md", "Cost per 1,000 answers", "the unit of the cost table (a heading and its name)"),
  B("docs/performance.md", "invocation time + 2 requests (the `ask` route", "bench/cost.ts PRICES.lambdaRequestsPerAnswer", () => `${PRICES.lambdaRequestsPerAnswer} requests`),
  B("docs/performance.md", "what a 128 MB function,", "components/streaming.ts STREAMING_DEFAULTS.memorySize (the connection function)", () => `${D.memorySize} MB`),
  B("docs/performance.md", "| connection | 49.7 → 20.9 ms (0.42×) | 51.1 → 20.7 ms (0.41×) | 68.3 → 58.4 ms (0.86×) |", "bench/results.json coldStart.bundles", (s) => coldStartRow(s, "connection")),
  B("docs/performance.md", "| fulfillment | 81.3 → 33.4 ms (0.41×) | 87.4 → 33.2 ms (0.38×) | 114 → 92.9 ms (0.81×) |", "bench/results.json coldStart.bundles", (s) => coldStartRow(s, "fulfillment")),
  B("docs/performance.md", "Each SDK client costs 28–35 ms of init alone", "bench/results.json coldStart.components, over node alone", (s) => {
    const over = coldStartComponents(s).map((c) => c.initMs - nodeAlone(s));
    return `${Math.round(Math.min(...over))}–${Math.round(Math.max(...over))} ms`;
  }),
  B("docs/performance.md", "(20 runs, first token after 100 ms;", "bench/results.json firstToken.options", (s) => `(${s.bench.firstToken!.options.runs} runs, first token after ${s.bench.firstToken!.options.firstTokenDelayMs} ms`),
  B("docs/performance.md", "hook 13.3 / 21.6 ms, the WebSocket `ask` 16.0 / 23.9 ms (two", "bench/results.json firstToken.cases addedTtftMs", (s) =>
    (["lex", "ask"] as const).map((door) => {
      const added = s.bench.firstToken!.cases.find((c) => c.door === door)!.addedTtftMs!;
      return `${fmt(added.p50)} / ${fmt(added.p95)} ms`;
    }),
  ),
  B("docs/performance.md", "door (SSE) 20.5 / 25.8 ms.", "bench/results.json firstToken.cases addedTtftMs", (s) => {
    const added = s.bench.firstToken!.cases.find((c) => c.door === "sse")!.addedTtftMs!;
    return `${fmt(added.p50)} / ${fmt(added.p95)} ms`;
  }),
  B("docs/performance.md", "the SSE answer sits 20–40 ms behind the", `${CASES} sse`, (s) => sseBehind(s)),
  B("docs/performance.md", "it sits closer to the floor (1–5 ms); once a post takes 15–40 ms, as", `${CASES} ours; streaming.options.latenciesMs`, (s) => [
    oursInstant(s),
    `${streaming(s).options.latenciesMs.filter((l) => l > 0).join("–")} ms`,
  ]),
  B("docs/performance.md", "and its last delta arrives 16–65 ms sooner.", `${CASES} sse and ours`, (s) => sseSooner(s)),
  B("docs/performance.md", "the answer streams 52.2 KB for 1,975 bytes of text, far below the 6 MB per", `${CASES} sse responseBytes; streaming.answerBytes; ${AWS_RESPONSE_STREAMING}`, (s) => [
    `${fmt(at(s, "sse", 50, 0).responseBytes!.p50 / 1024)} KB`,
    `${fmt(streaming(s).answerBytes, 0)} bytes`,
  ]),
  B("docs/performance.md", "of `throttlingRateLimit` 50 requests/s and", "components/streaming.ts STREAMING_DEFAULTS.throttlingRateLimit", () => `${D.throttlingRateLimit} requests/s`),
  L("docs/performance.md", "the account throttle of 10,000 requests/s**", AWS_THROTTLING),
  B("docs/performance.md", "**The stack reserves nothing by default**", "components/qna.ts QNA_DEFAULTS.reservedConcurrency, STREAMING_HTTP_DEFAULTS.reservedConcurrency", () =>
    QNA_DEFAULTS.reservedConcurrency === -1 && STREAMING_HTTP_DEFAULTS.reservedConcurrency === -1 ? "reserves nothing" : "reserves a default",
  ),
  B("docs/performance.md", "(about 12 at 50 deltas/s, 36 at 150/s).", `${CASES} ours invocationMs; the reserved concurrency of 100`, (s) =>
    streaming(s).options.rates.map((rate) => `${Math.round(100 / (at(s, "ours", rate, 0).invocationMs!.p50 / 1000))} at ${rate}`),
  ),
  B(
    "docs/performance.md",
    "about 7 @connections requests per second whatever the model's pace, so one account carries about 1,300–1,450 answers streaming at once before the 10,000 requests/s limit, against about 66 with QnABot's one post per delta at 150 deltas/s (bench run of 2026-11-29)",
    `${CASES} capacity`,
    (s) => {
      const mine = ours(s).map((c) => c.capacity!);
      const perSecondMean = mine.reduce((sum, c) => sum + c.requestsPerSecondPerAnswer, 0) / mine.length;
      const atOnce = mine.map((c) => c.concurrentAnswers);
      return [
        `about ${Math.round(perSecondMean)} @connections`,
        `about ${fmt(roundTo(Math.min(...atOnce), 50, Math.floor), 0)}–${fmt(roundTo(Math.max(...atOnce), 50, Math.ceil), 0)} answers`,
        `about ${fmt(at(s, "naive", 150, 0).capacity!.concurrentAnswers, 0)} with`,
        `(bench run of ${runDay(s, "streaming")})`,
      ];
    },
  ),
  L("docs/performance.md", "metered in 32 KB units; every post here is under 32 KB", "AWS pricing: https://aws.amazon.com/api-gateway/pricing/ (WebSocket messages metered in 32 KB increments)"),
  B("docs/performance.md", "and the HTTP door have 512 MB.", "components/qna.ts QNA_DEFAULTS.memorySize (both functions)", () => `${QNA_DEFAULTS.memorySize} MB`),
  L("docs/performance.md", "streamed beyond the first 6 MB of each", "AWS pricing: https://aws.amazon.com/lambda/pricing/ (response streaming)"),
  B("docs/performance.md", "$0 at 52 KB per answer.", `${CASES} sse responseBytes`, (s) => `${Math.round(at(s, "sse", 50, 0).responseBytes!.p50 / 1024)} KB`),
  L("docs/performance.md", "Lambda = 0.5 GB × invocation", "the functions' 512 MB, as a price formula"),
  B("docs/performance.md", "the frame budget cuts them 7–20× (text frames,", `${CURVE} at the text default over ${CASES} naive`, (s) => postsSaved(s, "text", (v) => String(Math.round(v)))),
  B("docs/performance.md", "1,000 answers cost $0.05–0.12 instead of $0.43–0.52", `${CASES} costPerThousand`, (s) => [`${dollarsRange(totals(s, "ours"), 2)} instead of ${dollarsRange(totals(s, "naive"), 2)}`]),
  B("docs/performance.md", "($0.025–0.061 against $0.046–0.118 per 1,000 answers)", `${CASES} costPerThousand`, (s) => [`${dollarsRange(totals(s, "sse"), 3)} against ${dollarsRange(totals(s, "ours"), 3)}`]),
  L("docs/performance.md", "**$1.00 per million messages**", "a price assumed (bench/cost.ts PRICES), stated as such in the section"),
  L("docs/performance.md", "**$0.25 per million connection minutes**", "a price assumed (bench/cost.ts PRICES)"),
  L("docs/performance.md", "**$0.0000133334 per GB-second** and **$0.20 per million requests**", "prices assumed (bench/cost.ts PRICES)"),
  L("docs/performance.md", "**$0.008 per GB**", "a price assumed (bench/cost.ts PRICES)"),
  L("docs/performance.md", "$0 at 52 KB", "no charge below the free 6 MB per response"),
  L("docs/performance.md", "**$0.125 per million read request units** and **$0.625 per million write request units**", "prices assumed (bench/cost.ts PRICES)"),
  L("docs/performance.md", "60 × $0.25 / 1,000,000 = $0.000015.", "a worked price example"),
  B("docs/performance.md", "as the messages at 50 deltas/s.", "bench/results.json streaming.options.rates", (s) => `${Math.min(...streaming(s).options.rates)} deltas/s`),

  // ---- docs/reliability-and-security.md
  B("docs/reliability-and-security.md", "(`connectionTtlSeconds`, 2 hours by default) plus 2 hours, because", "components/streaming.ts STREAMING_DEFAULTS.connectionTtlSeconds; functions/shared/session-state.ts CLAIM_GRACE_SECONDS", () => [
    `${hours(D.connectionTtlSeconds)} by default) plus ${hours(CLAIM_GRACE_SECONDS)}`,
  ]),
  B("docs/reliability-and-security.md", "already has 50 connections still", "functions/shared/session-state.ts MAX_CONNECTIONS_PER_SESSION", () => `${MAX_CONNECTIONS_PER_SESSION} connections`),
  L("docs/reliability-and-security.md", "limited to 25 requests per second per account and Region", "AWS limit: https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html"),
  B("docs/reliability-and-security.md", "(throttled by the stage, 50/s by default)", "components/streaming.ts STREAMING_DEFAULTS.throttlingRateLimit", () => perSecond(D.throttlingRateLimit)),
  B("docs/reliability-and-security.md", "page still asking more than ~4 hours after its", "the connection TTL plus CLAIM_GRACE_SECONDS", () => `~${hours(D.connectionTtlSeconds + CLAIM_GRACE_SECONDS)}`),
  B("docs/reliability-and-security.md", "guest identities, about 5.5 minutes of the", "65,536 ids ÷ 8 per identity at Cognito's default GetId quota of 25/s (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html)", () => `about ${(65_536 / 8 / 25 / 60).toFixed(1)} minutes`),
  B("docs/reliability-and-security.md", "plus a connect per id every 4 hours", "the connection TTL plus CLAIM_GRACE_SECONDS", () => hours(D.connectionTtlSeconds + CLAIM_GRACE_SECONDS)),
  B("docs/reliability-and-security.md", "17-minute lease (Lambda's 15 minutes plus 2 of", "functions/shared/ask-ledger.ts ASK_LEASE_SECONDS; Lambda's 15-minute maximum timeout", () => [`${ASK_LEASE_SECONDS / 60}-minute`, "15 minutes"]),
  B("docs/reliability-and-security.md", "**Stage throttling** (50/s, burst 100 by", "components/streaming.ts STREAMING_DEFAULTS", () => `(${perSecond(D.throttlingRateLimit)}, burst ${D.throttlingBurstLimit}`),
  B("docs/reliability-and-security.md", "(`routeThrottling`: 10/s burst 20, 5/s burst 10;", THROTTLES, () => `${throttle("ping", " ")}, ${throttle("$default", " ")}`),
  L("docs/reliability-and-security.md", "(before: posted once, so under a 95% storm", "the storms the hang checks inject (tests/reliability/hangs.ts)"),
  B("docs/reliability-and-security.md", "(at most 5.6 s + 30 s, past API Gateway's 29 s integration timeout", "functions/stream/writer.ts CLOSE_BUDGET_MS; the retry budget of DEFAULT_POST_RETRIES waits; API Gateway's 29 s integration timeout (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html)", () => sec(CLOSE_BUDGET_MS)),
  B("docs/reliability-and-security.md", "for a refusal, one frame: 5.6 s + 30 s + 5 s", "functions/stream/writer.ts CLOSE_BUDGET_MS; the hang checks' bound (tests/reliability/hangs.ts)", () => sec(CLOSE_BUDGET_MS)),
  L("docs/reliability-and-security.md", "refused asks under 95% 429 and 5xx", "the refusal storms the hang checks inject (tests/reliability/hangs.ts)"),
  L("docs/reliability-and-security.md", "declared body over API Gateway's 128 KB message payload quota", AWS_WEBSOCKET_QUOTAS),
  B("docs/reliability-and-security.md", "the Lex runtime one over 1 MB (AWS documents no RecognizeText body size, only `text` of at most 1,024 characters, so 1 MB is a local bound", `local/lex-runtime.ts MAX_RECOGNIZE_TEXT_BODY_BYTES; ${AWS_LEX_RECOGNIZE_TEXT}`, () => mb(MAX_RECOGNIZE_TEXT_BODY_BYTES)),
  B("docs/reliability-and-security.md", "from the same 32 MB budget", "local/signed-request.ts UNVERIFIED_BODY_BUDGET_BYTES", () => mb(UNVERIFIED_BODY_BUDGET_BYTES)),
  B("docs/reliability-and-security.md", "before: the Lex runtime read up to 1 MB before any check", "local/lex-runtime.ts MAX_RECOGNIZE_TEXT_BODY_BYTES", () => mb(MAX_RECOGNIZE_TEXT_BODY_BYTES)),
  L("docs/reliability-and-security.md", "and another principal asking 1 s later.", "the scenario of tests/reliability/fairness.ts"),
  B("docs/reliability-and-security.md", "In the run of 2026-12-07 (load average 1.4 → 0.4 on 2 shared CPUs)", "RELIABILITY.md, its first line", fromReliability(undefined, ["on 2026-12-07", "2026-12-07"], ["1.4 at the start, 0.4 at the end", "1.4 → 0.4"], ["2 CPUs", "2 shared CPUs"])),
  B("docs/reliability-and-security.md", "stage throttled as deployed (50/s, burst", "components/streaming.ts STREAMING_DEFAULTS.throttlingRateLimit", () => perSecond(D.throttlingRateLimit)),
  B("docs/reliability-and-security.md", "bystander's answer was whole in 0.98–1.16× its idle time over 3 trials", "RELIABILITY.md, the throttled burst check", fromReliability("Burst of 1000 asks from one socket, stage throttled (50/s, burst 100)", "0.98–1.16×", "3 trials")),
  B("docs/reliability-and-security.md", "Without the stage throttle the bystander's answer was whole in 1.02–1.16× its idle time, and the burst got 998 `busy` and 2 answers in 10.2 s.", "RELIABILITY.md, the unthrottled burst check", fromReliability("Burst of 1000 asks from one socket (fair use)", "1.02–1.16×", ["busy×998", "998 `busy`"], ["answer×2", "2 answers"], "10.2 s")),
  L("docs/reliability-and-security.md", "runs the same bursts with 200 asks", "the npm test budget of tests/reliability/fairness.test.ts (BUDGETS.test.burstAsks)"),
  B(
    "docs/reliability-and-security.md",
    "the burst got 892 `Too Many Requests` from the gateway, 106 `busy` and 2 answers, all accounted for in 3.7 s.",
    "RELIABILITY.md, the throttled burst check",
    fromReliability("Burst of 1000 asks from one socket, stage throttled (50/s, burst 100)", ["Too Many Requests×892", "892 `Too Many Requests`"], ["busy×106", "106 `busy`"], ["answer×2", "2 answers"], "3.7 s"),
  ),
  B("docs/reliability-and-security.md", "1,000 asks at once from one socket", "RELIABILITY.md, the throttled burst check", fromReliability("Burst of 1000 asks from one socket, stage throttled (50/s, burst 100)", ["1000 asks", "1,000 asks"])),
  L("docs/reliability-and-security.md", "1,000 pages, 100 sessions each", "client/chat-server.ts MAX_PAGE_SECRETS, MAX_SESSIONS_PER_PAGE"),
  B("docs/reliability-and-security.md", "keeps its last 1,000 requests only", "RELIABILITY.md", fromReliability("Bedrock emulator request log", ["1000 kept", "1,000 requests"])),
  B("docs/reliability-and-security.md", "50 answers dropped at random points", "RELIABILITY.md", fromReliability("Resume after a dropped connection", ["50 json answers", "50 answers"])),
  B("docs/reliability-and-security.md", "all connections | 4, each ≤ 300 KB |", "functions/stream/journal-store.ts MAX_JOURNAL_BYTES", () => kb(MAX_JOURNAL_BYTES)),
  B("docs/reliability-and-security.md", "| Resume window | answer | 10 minutes after it ended; journal ≤ 300 KB |", "functions/stream/journal-store.ts", () => [minutes(RESUME_WINDOW_SECONDS * 1000), kb(MAX_JOURNAL_BYTES)]),
  B("docs/reliability-and-security.md", "| stage, all callers | 50/s, burst 100", "components/streaming.ts STREAMING_DEFAULTS", () => `${perSecond(D.throttlingRateLimit)}, burst ${D.throttlingBurstLimit}`),
  B("docs/reliability-and-security.md", "| stage route, all callers | 10/s, burst 20", THROTTLES, () => throttle("ping")),
  B("docs/reliability-and-security.md", "| stage route, all callers | 5/s, burst 10", THROTTLES, () => throttle("$default")),
  B("docs/reliability-and-security.md", "| Question | message | 4,000 characters |", "functions/shared/protocol.ts MAX_QUESTION_CHARS", () => `${MAX_QUESTION_CHARS.toLocaleString("en-US")} characters`),
  B("docs/reliability-and-security.md", "| connection | 32 KB / 128 KB (API Gateway)", "functions/stream/frames.ts", () => `${kb(DEFAULT_MAX_FRAME_BYTES)} / ${kb(DEFAULT_MAX_MESSAGE_BYTES)}`),
  B("docs/reliability-and-security.md", "| connection | 2 h (API Gateway); row TTL ≥ 7200 s", "components/streaming.ts API_GATEWAY_MAX_CONNECTION_SECONDS, STREAMING_LIMITS.connectionTtlSeconds", () => `≥ ${STREAMING_LIMITS.connectionTtlSeconds.min} s`),
  B("docs/reliability-and-security.md", "| 10, waits ≤ 1 s, 3 s timeout", "functions/stream/writer.ts DEFAULT_POST_RETRIES, functions/stream/aws.ts DEFAULT_POST_TIMEOUT_MS", () => [`${DEFAULT_POST_RETRIES}, waits`, `${sec(DEFAULT_POST_TIMEOUT_MS)} timeout`]),
  B("docs/reliability-and-security.md", "| connection | tried for 30 s, waits ≤ 250 ms |", "functions/stream/writer.ts CLOSE_BUDGET_MS, CLOSE_RETRY_CAP_MS", () => [sec(CLOSE_BUDGET_MS), ms(CLOSE_RETRY_CAP_MS)]),
  B("docs/reliability-and-security.md", "DynamoDB call | every call | 10 s of silence", "functions/shared/dynamo-timeouts.ts DYNAMO_REQUEST_TIMEOUT_MS", () => sec(DYNAMO_REQUEST_TIMEOUT_MS)),
  B("docs/reliability-and-security.md", "while used in the last 2 h |", "client/chat-server.ts PAGE_IDLE_MS", () => `${PAGE_IDLE_MS / 3_600_000} h`),
  B("docs/reliability-and-security.md", "@connections) | 32 MB held at once", "local/signed-request.ts UNVERIFIED_BODY_BUDGET_BYTES", () => mb(UNVERIFIED_BODY_BUDGET_BYTES)),
  B("docs/reliability-and-security.md", "kept 2 days by TTL", "functions/fulfillment/token-budget.ts TOKEN_USAGE_TTL_SECONDS", () => `${TOKEN_USAGE_TTL_SECONDS / 86_400} days`),
  B("docs/reliability-and-security.md", "keeps trying that close for 30 s with waits of at most 250 ms", "functions/stream/writer.ts CLOSE_BUDGET_MS, CLOSE_RETRY_CAP_MS", () => [sec(CLOSE_BUDGET_MS), ms(CLOSE_RETRY_CAP_MS)]),
  B("docs/reliability-and-security.md", "attempt times out after 10 s of a silent", "functions/shared/dynamo-timeouts.ts DYNAMO_REQUEST_TIMEOUT_MS", () => sec(DYNAMO_REQUEST_TIMEOUT_MS)),
  B("docs/reliability-and-security.md", "frames × the 5.6 s retry budget + the 30 s close budget + 5 s;", "functions/stream/writer.ts CLOSE_BUDGET_MS; the hang checks' bound (tests/reliability/hangs.ts)", () => sec(CLOSE_BUDGET_MS)),
  L("docs/reliability-and-security.md", "waits + the close budget + 5 s;", "the hang checks' margin (tests/reliability/hangs.ts)"),
  B("docs/reliability-and-security.md", "× (3 attempts × 10 s + backoff) + 5 s.", "functions/shared/dynamo-timeouts.ts DYNAMO_REQUEST_TIMEOUT_MS", () => sec(DYNAMO_REQUEST_TIMEOUT_MS)),
  L("docs/reliability-and-security.md", "with 3 retries and a 1 s timeout.", "the test budget of tests/reliability/hangs.ts"),
  B("docs/reliability-and-security.md", "| 95% of every @connections call answers 429 | 10 of 15 clients never told | 11.3 s / 101.9 s (17 closed, 3 whole answers)", "RELIABILITY.md", fromReliability("@connections storm: 95% of every call answers 429", "11.3 s", "101.9 s", ["closed 1000×17", "17 closed"], ["end (whole)×3", "3 whole answers"])),
  B("docs/reliability-and-security.md", "| 95% of every @connections call answers 500 | — | 11.2 s / 101.9 s (20 closed)", "RELIABILITY.md", fromReliability("@connections storm: 95% of every call answers 5xx", "11.2 s", "101.9 s", ["closed 1000×20", "20 closed"])),
  B("docs/reliability-and-security.md", "| 95% of every @connections call times out | — | 63.3 s / 101.9 s (19 closed, 1 whole answer)", "RELIABILITY.md", fromReliability("@connections storm: 95% of every call times out", "63.3 s", "101.9 s", ["closed 1000×19", "19 closed"], ["end (whole)×1", "1 whole answer"])),
  B("docs/reliability-and-security.md", "| 95% of DynamoDB calls throttled | — | 2.9 s / 229 s (19 `busy`, 1 whole answer)", "RELIABILITY.md", fromReliability("DynamoDB storm: 95% of every call throttled", "2.9 s", "229", ["busy×19", "19 `busy`"], ["end (whole)×1", "1 whole answer"])),
  B("docs/reliability-and-security.md", "| 95% of DynamoDB calls answer 500 | — | 0.3 s / 229 s (18 `internal`, 2 whole answers)", "RELIABILITY.md", fromReliability("DynamoDB storm: 95% of every call answers 5xx", "0.3 s", "229", ["internal×18", "18 `internal`"], ["end (whole)×2", "2 whole answers"])),
  B("docs/reliability-and-security.md", "| 95% of DynamoDB calls never answer | held until the Lambda timeout | 40.2 s / 229 s (17 `busy`, 3 whole answers)", "RELIABILITY.md", fromReliability("DynamoDB storm: 95% of every call times out", "40.2 s", "229", ["busy×17", "17 `busy`"], ["end (whole)×3", "3 whole answers"])),
  B("docs/reliability-and-security.md", "| every post takes 3.5 s | — | 37.1 s / 73.6 s (20 closed)", "RELIABILITY.md", fromReliability("@connections posts taking 3.5 s", "3.5 s", "37.1 s", "73.6 s")),
  B("docs/reliability-and-security.md", "| clients stop reading for 10 s | 15 of 20 answers never ended | 10.0 s after the ask", "RELIABILITY.md", fromReliability("Clients that stop reading for a while", "10 s", "10.0 s")),
  B("docs/reliability-and-security.md", "`streamingHttpTimeout` (300 s)", "components/qna.ts STREAMING_HTTP_DEFAULTS.timeout", () => `(${STREAMING_HTTP_DEFAULTS.timeout} s)`),
  B("docs/reliability-and-security.md", "the answer streams or for 10 minutes after it", "functions/stream/journal-store.ts RESUME_WINDOW_SECONDS", () => minutes(RESUME_WINDOW_SECONDS * 1000)),
  B("docs/reliability-and-security.md", "(`streamCheckpointMs`, 1 s): a 10 s, 4 KB answer costs ≈ 50 WCU ≈ $0.00006.", "components/streaming.ts DEFAULT_CHECKPOINT_MS; then a worked example", () => `, ${sec(DEFAULT_CHECKPOINT_MS)})`),
  B("docs/reliability-and-security.md", "(at most 4 × 300 KB), where 300", "functions/stream/journal-store.ts", () => `${MAX_REPLAYS_PER_ANSWER} × ${kb(MAX_JOURNAL_BYTES)}`),
  B("docs/reliability-and-security.md", "resume frames used to replay 78.7 MB to one", "RELIABILITY.md, the before-and-after notes", fromReliability(undefined, "78.7 MB")),
  B("docs/reliability-and-security.md", "are the deployed stage's (50/s, burst 100);", "components/streaming.ts STREAMING_DEFAULTS", () => `(${perSecond(D.throttlingRateLimit)}, burst ${D.throttlingBurstLimit})`),
  B("docs/reliability-and-security.md", "(10/s, burst 20) and `$default` (5/s, burst 10)", THROTTLES, () => [`(${throttle("ping")})`, `(${throttle("$default")})`]),
  L("docs/reliability-and-security.md", "and 429 once more than 1 MiB waits for it", "the local gateway's slow-reader buffer (local/gateway.ts); AWS documents no size"),
  B("docs/reliability-and-security.md", "one unused for 2 hours, else", "client/chat-server.ts PAGE_IDLE_MS", () => `${PAGE_IDLE_MS / 3_600_000} hours`),
  L("docs/reliability-and-security.md", "(HTTP API 10 MB, Lambda 6 MB, DynamoDB 16 MB, @connections 128 KB)", "AWS limits, each cited in docs/local-stack.md's limits table"),
  B("docs/reliability-and-security.md", "from one shared 32 MB", "local/signed-request.ts UNVERIFIED_BODY_BUDGET_BYTES", () => mb(UNVERIFIED_BODY_BUDGET_BYTES)),
  B("docs/reliability-and-security.md", "12 concurrent 6 MB bad-signature bodies are all refused and never more than 32 MB is held", "local/function-url.ts, local/signed-request.ts", () => [mb(MAX_FUNCTION_URL_BODY_BYTES), mb(UNVERIFIED_BODY_BUDGET_BYTES)]),
  B("docs/reliability-and-security.md", "100 concurrent unsigned 10 MB bodies", "RELIABILITY.md", fromReliability("Unsigned 10 MB bodies to POST /ask", "10 MB")),
  B("docs/reliability-and-security.md", "(before: RSS 132 → 910 MB); 5,000 8 KB requests", "RELIABILITY.md", (s) => [
    ...fromReliability("Unsigned 10 MB bodies to POST /ask", "RSS 132 → 910 MB")(s),
    ...fromReliability("Bedrock emulator request log", "8 KB")(s),
  ]),
  B("docs/reliability-and-security.md", "heap 11.4 MB larger (before: ~8.6 KB kept per answer", "RELIABILITY.md", fromReliability("Bedrock emulator request log", "11.4 MB", "8.6 KB")),
  B("docs/reliability-and-security.md", "at most 2,048 characters for an", "functions/fulfillment/output-safety.ts MAX_HELD", () => `${MAX_HELD.toLocaleString("en-US")} characters`),
  L("docs/reliability-and-security.md", "storms failing 95% of every", "the storms the hang checks inject (tests/reliability/hangs.ts)"),
  L("docs/reliability-and-security.md", "and 95% of every DynamoDB call", "the storms the hang checks inject (tests/reliability/hangs.ts)"),
  L("docs/reliability-and-security.md", "3.5 s posts, paused", "the slow-post scenario of tests/reliability/hangs.ts"),
  L("docs/reliability-and-security.md", "1.5 s posts) so", "the test budget's slow posts (tests/reliability/hangs.ts)"),
  B("docs/deploy-and-configuration.md", "(`ping` 10/s burst 20, `$default` 5/s burst 10)", THROTTLES, () => [throttle("ping", " "), throttle("$default", " ")]),
  B("docs/local-stack.md", "a local bound of 1 MB, refused", "local/lex-runtime.ts MAX_RECOGNIZE_TEXT_BODY_BYTES", () => mb(MAX_RECOGNIZE_TEXT_BODY_BYTES)),
  B("docs/local-stack.md", "badly signed body read from the 32 MB budget", "local/signed-request.ts UNVERIFIED_BODY_BUDGET_BYTES", () => mb(UNVERIFIED_BODY_BUDGET_BYTES)),
  B("docs/local-stack.md", "body declared over 128 KB is refused unread", "functions/stream/frames.ts DEFAULT_MAX_MESSAGE_BYTES", () => kb(DEFAULT_MAX_MESSAGE_BYTES)),
  B("docs/local-stack.md", "badly signed body is read from the 32 MB budget", "local/signed-request.ts UNVERIFIED_BODY_BUDGET_BYTES", () => mb(UNVERIFIED_BODY_BUDGET_BYTES)),
  B("docs/clients.md", "comment box (at most 1,000 characters)", "functions/shared/feedback.ts MAX_FEEDBACK_COMMENT_CHARS", () => `${MAX_FEEDBACK_COMMENT_CHARS.toLocaleString("en-US")} characters`),
  B("docs/protocol.md", "optional comment of at most 1,000 characters (`MAX_FEEDBACK_COMMENT_CHARS`", "functions/shared/feedback.ts MAX_FEEDBACK_COMMENT_CHARS", () => `${MAX_FEEDBACK_COMMENT_CHARS.toLocaleString("en-US")} characters`),
  B("docs/reliability-and-security.md", "the answer cut at 60,000 characters", "functions/fulfillment/feedback-store.ts MAX_RECORDED_ANSWER_CHARS", () => `${MAX_RECORDED_ANSWER_CHARS.toLocaleString("en-US")} characters`),
  B("docs/reliability-and-security.md", "the comment (at most 1,000 characters)", "functions/shared/feedback.ts MAX_FEEDBACK_COMMENT_CHARS", () => `${MAX_FEEDBACK_COMMENT_CHARS.toLocaleString("en-US")} characters`),
  L("docs/deploy-and-configuration.md", "must fit Lambda's 4 KB environment", AWS_LAMBDA_QUOTAS),
  L("docs/local-stack.md", "with 500 answers at once a `ConverseStream`", "the 500-session load check of `npm run reliability` (tests/reliability/load.ts, the full budget), where the queueing was measured"),
  B("docs/protocol.md", "on one line, at most 240 characters", "functions/fulfillment/source-links.ts SOURCE_SNIPPET_CHARS", () => `${SOURCE_SNIPPET_CHARS} characters`),
  B("docs/reliability-and-security.md", "| a refused ask while 95% of @connections calls answer 429 | never told: the refusal was posted once | 16.1 s / 40.6 s (10 closed, 10 told `bad_request`)", "RELIABILITY.md", fromReliability("Refusals under a @connections storm: 95% of every call answers 429", "16.1 s", "40.6 s", ["closed 1000×10", "10 closed"], ["bad_request×10", "10 told `bad_request`"])),
  B("docs/reliability-and-security.md", "| a refused ask while 95% of @connections calls answer 500 | never told: the refusal was posted once | 8.8 s / 40.6 s (12 closed, 8 told `bad_request`)", "RELIABILITY.md", fromReliability("Refusals under a @connections storm: 95% of every call answers 5xx", "8.8 s", "40.6 s", ["closed 1000×12", "12 closed"], ["bad_request×8", "8 told `bad_request`"])),
  B("docs/reliability-and-security.md", "under the deployed 20 s stall bound", "functions/fulfillment/config.ts DEFAULT_STALL_MS; RELIABILITY.md, the load check", fromReliability("Concurrent sessions through the local stack, random disconnects", ["the deployed stall bound, 20 s", "20 s"])),
  B("docs/reliability-and-security.md", "(Issue 21: 500 sessions ended", "RELIABILITY.md, the load check", fromReliability("Concurrent sessions through the local stack, random disconnects", ["500 sessions", "500 sessions"])),
  B("docs/reliability-and-security.md", "20 json clients each, load average 1.4 → 0.4", "RELIABILITY.md, its first line", fromReliability(undefined, ["1.4 at the start, 0.4 at the end", "1.4 → 0.4"])),
];
