/**
 * `npm start`: the local stack on loopback, until Ctrl-C. See USAGE; every port can be pinned.
 */
import { parseArgs } from "node:util";
import { DEFAULT_LOCAL_MODEL_ID, DEFAULT_LOCAL_REASONING_MODEL_ID, LocalStackSetupError, PortInUseError, startLocalStack, type LocalStack, type LocalStackPorts } from "./stack";
import { checkBedrockModel } from "./model-check";
import { quietHandlerLogs } from "./terminal-log";

// The AWS SDK warns (8 lines, at the first client) that its releases after January 2027 need
// Node 22; Node 20.19+ runs this stack, so the banner comes first. The SDK reads this variable
// when it would warn; a user's own setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { DEFAULT_STAGE_THROTTLE, type StageThrottle } from "./gateway";
import { parseImageHosts, parseLinkSchemes } from "../functions/fulfillment/output-safety";
import { MAX_FEEDBACK_TTL_DAYS } from "../functions/shared/feedback";
import { MAX_TOKEN_BUDGET_PER_DAY, parseTokenPrices, type TokenPrices } from "../functions/fulfillment/token-budget";
import { parseRouteThrottling, type RouteThrottle, type ThrottledRouteKey } from "../functions/shared/routes";
import { checkReasoningBudget, DEFAULT_REASONING_BUDGET_TOKENS, MAX_REASONING_BUDGET_TOKENS, MIN_REASONING_BUDGET_TOKENS } from "../functions/fulfillment/reasoning";
import { MAX_SOURCE_LINK_EXPIRY_SECONDS, parseSourceLinkBuckets } from "../functions/fulfillment/source-links";
import {
  BEDROCK_LATENCIES,
  BEDROCK_SERVICE_TIERS,
  PROMPT_CACHING_MODES,
  type BedrockLatency,
  type BedrockServiceTier,
  type PromptCachingMode,
} from "../functions/fulfillment/prompt-caching";

/** The flag that pins each service's port. */
export const PORT_FLAGS: Readonly<Record<keyof LocalStackPorts, string>> = {
  page: "port",
  gateway: "gateway-port",
  httpApi: "http-api-port",
  lambda: "lambda-port",
  dynamo: "dynamo-port",
  bedrock: "bedrock-port",
  cognito: "cognito-port",
  lex: "lex-port",
  functionUrl: "function-url-port",
};

/** What each service is called in messages. */
const SERVICE_NAMES: Readonly<Record<keyof LocalStackPorts, string>> = {
  page: "the chat page",
  gateway: "the WebSocket gateway",
  httpApi: "the HTTP API",
  lambda: "the Lambda API",
  dynamo: "DynamoDB (dynalite)",
  bedrock: "the Bedrock emulator",
  cognito: "the Cognito identity pool",
  lex: "the Lex V2 runtime",
  functionUrl: "the streaming function URL",
};

export const USAGE =
  "usage: npm start -- [--bedrock emulator|aws] [--port 3000] [--region <region>] [--model <model id>] [--knowledge-base <id>] " +
  "[--gateway-port N] [--http-api-port N] [--lambda-port N] [--dynamo-port N] [--bedrock-port N] [--cognito-port N] [--lex-port N] [--function-url-port N] " +
  "[--throttle-rate N] [--throttle-burst N] [--no-throttle] [--route-throttling 'ping=R:B,$default=R:B'] [--output-link-schemes a,b] [--output-image-hosts host,host] " +
  "[--unbound-session-streaming] [--token-budget-per-day N] [--token-prices input,output] [--reasoning] [--reasoning-budget-tokens N] [--feedback-ttl-days N] " +
  "[--source-link-buckets bucket,bucket] [--source-link-expiry-seconds N] " +
  "[--prompt-caching auto|on|off] [--bedrock-latency standard|optimized] [--bedrock-service-tier default|flex|priority|reserved] [--verbose]";

/** Flags that only mean something with real Bedrock. */
const AWS_ONLY_FLAGS = ["region", "model", "knowledge-base"] as const;

export interface StartOptions {
  bedrock: "emulator" | "aws";
  ports: LocalStackPorts;
  region?: string;
  model?: string;
  knowledgeBase?: string;
  /** The WebSocket stage's throttling, or false for none. */
  throttle: StageThrottle | false;
  /** Route-level throttles over the defaults (Pulumi config routeThrottling); undefined: the defaults. */
  routeThrottles?: Partial<Record<ThrottledRouteKey, RouteThrottle>>;
  /** Output safety: link schemes an answer keeps (Pulumi config outputLinkSchemes). */
  outputLinkSchemes?: string[];
  /** Output safety: hosts an answer's image may load from (Pulumi config outputImageHosts). */
  outputImageHosts?: string[];
  /** Print the handlers' JSON log lines as they are, not one line per answer (terminal-log.ts). */
  verbose: boolean;
  /** `--unbound-session-streaming`: Lex answers stream to guests' unbound session ids (the deployed setting unboundSessionStreaming). */
  unboundSessionStreaming: boolean;
  /** Cost control: tokens one asker may spend per UTC day (Pulumi config tokenBudgetPerDay); undefined: off. */
  tokenBudgetPerDay?: number;
  /** Token prices in US dollars per million tokens (Pulumi config tokenPricesUsdPerMillion); undefined: no estimate. */
  tokenPrices?: TokenPrices;
  /** `--reasoning` [`--reasoning-budget-tokens N`]: asks may stream the model's reasoning (Pulumi config reasoning, reasoningBudgetTokens); undefined: off. */
  reasoningBudgetTokens?: number;
  /** Feedback: days an answer's record and its rating are kept (Pulumi config feedbackTtlDays); undefined: no feedback kept. */
  feedbackTtlDays?: number;
  /** Buckets whose cited objects become presigned links (Pulumi config sourceLinkBuckets); undefined: none. */
  sourceLinkBuckets?: string[];
  /** Seconds a presigned source link works (Pulumi config sourceLinkExpirySeconds); undefined: 900. */
  sourceLinkExpirySeconds?: number;
  /** Bedrock prompt caching (Pulumi config promptCaching); undefined: the function's default, auto. */
  promptCaching?: PromptCachingMode;
  /** performanceConfig.latency of LLM and knowledge-base answers (Pulumi config bedrockLatency); undefined: none sent. */
  bedrockLatency?: BedrockLatency;
  /** ConverseStream serviceTier (Pulumi config bedrockServiceTier); undefined: none sent. */
  bedrockServiceTier?: BedrockServiceTier;
}

/** A command line the parser refuses: one line saying what is wrong, then the usage line. */
export class UsageError extends Error {
  constructor(problem: string) {
    super(`${problem}\n${USAGE}`);
    this.name = "UsageError";
  }
}

function portNumber(flag: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new UsageError(`--${flag} must be a port number from 0 to 65535, not "${value}"`);
  return port;
}

/** An output-safety allowlist flag, parsed as the functions parse it; undefined when not given. */
function allowlistFlag(flag: string, values: Record<string, string | boolean | undefined>, parse: (raw: string) => string[]): string[] | undefined {
  const value = values[flag];
  if (typeof value !== "string") return undefined;
  try {
    return parse(value);
  } catch (error) {
    throw new UsageError(`--${flag}: ${(error as Error).message}`);
  }
}

/** `--token-budget-per-day`: a whole number of tokens, as Pulumi config tokenBudgetPerDay takes it (0: off). */
function tokenBudgetFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const budget = Number(value);
  if (!/^\d+$/.test(value) || budget > MAX_TOKEN_BUDGET_PER_DAY) {
    throw new UsageError(`--token-budget-per-day must be a whole number of tokens from 0 to ${MAX_TOKEN_BUDGET_PER_DAY}, not "${value}"`);
  }
  return budget === 0 ? undefined : budget;
}

/** `--reasoning` and `--reasoning-budget-tokens N`: the thinking budget, as Pulumi config reasoning / reasoningBudgetTokens take it. */
function reasoningFlags(values: Record<string, string | boolean | undefined>): number | undefined {
  const raw = values["reasoning-budget-tokens"] as string | undefined;
  if (values.reasoning !== true) {
    if (raw !== undefined) throw new UsageError("--reasoning-budget-tokens needs --reasoning");
    return undefined;
  }
  if (raw === undefined) return DEFAULT_REASONING_BUDGET_TOKENS;
  try {
    if (!/^\d+$/.test(raw)) throw new RangeError(`not "${raw}"`);
    return checkReasoningBudget(Number(raw));
  } catch {
    throw new UsageError(`--reasoning-budget-tokens must be a whole number of tokens from ${MIN_REASONING_BUDGET_TOKENS} to ${MAX_REASONING_BUDGET_TOKENS}, not "${raw}"`);
  }
}

/** `--feedback-ttl-days`: whole days, as Pulumi config feedbackTtlDays takes them (0: no feedback kept). */
function feedbackTtlFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!/^\d+$/.test(value) || days > MAX_FEEDBACK_TTL_DAYS) {
    throw new UsageError(`--feedback-ttl-days must be a whole number of days from 0 to ${MAX_FEEDBACK_TTL_DAYS}, not "${value}"`);
  }
  return days === 0 ? undefined : days;
}

/** A flag taking one of `allowed`, as the functions check the variable it sets. */
function choiceFlag<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${allowed.join(", ")}, not "${value}"`);
  return value as T;
}

/** `--token-prices input,output`, parsed as the functions parse TOKEN_PRICES_USD_PER_MILLION. */
function tokenPricesFlag(value: string | undefined): TokenPrices | undefined {
  try {
    return parseTokenPrices(value);
  } catch (error) {
    throw new UsageError(`--token-prices: ${(error as Error).message}`);
  }
}

/** `--source-link-expiry-seconds`: 1 to 604800, as Pulumi config sourceLinkExpirySeconds takes it. */
function sourceLinkExpiryFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds < 1 || seconds > MAX_SOURCE_LINK_EXPIRY_SECONDS) {
    throw new UsageError(`--source-link-expiry-seconds must be a whole number of seconds from 1 to ${MAX_SOURCE_LINK_EXPIRY_SECONDS}, not "${value}"`);
  }
  return seconds;
}

/** `--throttle-rate` / `--throttle-burst` over the stack's defaults, or `--no-throttle`. */
function throttleOf(values: Record<string, string | boolean | undefined>): StageThrottle | false {
  const rate = values["throttle-rate"] as string | undefined;
  const burst = values["throttle-burst"] as string | undefined;
  if (values["no-throttle"]) {
    if (rate !== undefined || burst !== undefined) throw new UsageError("--no-throttle cannot be combined with --throttle-rate or --throttle-burst");
    return false;
  }
  const rateLimit = rate === undefined ? DEFAULT_STAGE_THROTTLE.rateLimit : Number(rate);
  if (!/^\d+(\.\d+)?$/.test(rate ?? "1") || !(rateLimit > 0)) throw new UsageError(`--throttle-rate must be a positive number of messages per second, not "${rate}"`);
  const burstLimit = burst === undefined ? DEFAULT_STAGE_THROTTLE.burstLimit : Number(burst);
  if (!/^\d+$/.test(burst ?? "1") || burstLimit < 1) throw new UsageError(`--throttle-burst must be a whole number of at least 1, not "${burst}"`);
  return { rateLimit, burstLimit };
}

/** `--route-throttling route=rate:burst,…`, parsed as Pulumi config routeThrottling is. */
function routeThrottlingFlag(value: string | undefined, throttle: StageThrottle | false): Partial<Record<ThrottledRouteKey, RouteThrottle>> | undefined {
  if (value === undefined) return undefined;
  // As on API Gateway, a route's bucket is part of the stage's throttling: the local gateway applies none without it.
  if (throttle === false) throw new UsageError("--route-throttling cannot be combined with --no-throttle");
  try {
    return parseRouteThrottling(value);
  } catch (error) {
    throw new UsageError(`--route-throttling: ${(error as Error).message}`);
  }
}

/** Parses the command line; throws a UsageError on anything it does not accept. */
export function parseStartArgs(argv: readonly string[]): StartOptions {
  const portOptions = Object.fromEntries(
    Object.entries(PORT_FLAGS)
      .filter(([service]) => service !== "page")
      .map(([, flag]) => [flag, { type: "string" as const }]),
  );
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        bedrock: { type: "string", default: "emulator" },
        port: { type: "string", default: "3000" },
        region: { type: "string" },
        model: { type: "string" },
        "knowledge-base": { type: "string" },
        "throttle-rate": { type: "string" },
        "throttle-burst": { type: "string" },
        "no-throttle": { type: "boolean" },
        "route-throttling": { type: "string" },
        "output-link-schemes": { type: "string" },
        "output-image-hosts": { type: "string" },
        verbose: { type: "boolean" },
        "unbound-session-streaming": { type: "boolean" },
        "token-budget-per-day": { type: "string" },
        "token-prices": { type: "string" },
        reasoning: { type: "boolean" },
        "reasoning-budget-tokens": { type: "string" },
        "feedback-ttl-days": { type: "string" },
        "source-link-buckets": { type: "string" },
        "source-link-expiry-seconds": { type: "string" },
        "prompt-caching": { type: "string" },
        "bedrock-latency": { type: "string" },
        "bedrock-service-tier": { type: "string" },
        ...portOptions,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // node's messages run on with advice about `--`; the first sentence is the problem.
    const message = (error as Error).message.split("\n")[0].split(". ")[0].replace(/\.$/, "");
    throw new UsageError(message);
  }
  const bedrock = values.bedrock;
  if (bedrock !== "emulator" && bedrock !== "aws") throw new UsageError(`--bedrock must be "emulator" or "aws", not "${String(bedrock)}"`);
  if (bedrock !== "aws") {
    const misplaced = AWS_ONLY_FLAGS.filter((flag) => values[flag] !== undefined);
    if (misplaced.length > 0) {
      throw new UsageError(`${misplaced.map((flag) => `--${flag}`).join(" and ")} only ${misplaced.length > 1 ? "apply" : "applies"} to real Bedrock: add --bedrock aws`);
    }
  }
  const ports = {} as Record<keyof LocalStackPorts, number>;
  for (const [service, flag] of Object.entries(PORT_FLAGS) as [keyof LocalStackPorts, string][]) {
    const value = values[flag];
    ports[service] = typeof value === "string" ? portNumber(flag, value) : 0;
  }
  const throttle = throttleOf(values);
  return {
    bedrock,
    ports,
    throttle,
    routeThrottles: routeThrottlingFlag(values["route-throttling"] as string | undefined, throttle),
    region: values.region as string | undefined,
    model: values.model as string | undefined,
    knowledgeBase: values["knowledge-base"] as string | undefined,
    outputLinkSchemes: allowlistFlag("output-link-schemes", values, parseLinkSchemes),
    outputImageHosts: allowlistFlag("output-image-hosts", values, parseImageHosts),
    verbose: values.verbose === true,
    unboundSessionStreaming: values["unbound-session-streaming"] === true,
    tokenBudgetPerDay: tokenBudgetFlag(values["token-budget-per-day"] as string | undefined),
    tokenPrices: tokenPricesFlag(values["token-prices"] as string | undefined),
    reasoningBudgetTokens: reasoningFlags(values),
    feedbackTtlDays: feedbackTtlFlag(values["feedback-ttl-days"] as string | undefined),
    sourceLinkBuckets: allowlistFlag("source-link-buckets", values, parseSourceLinkBuckets),
    sourceLinkExpirySeconds: sourceLinkExpiryFlag(values["source-link-expiry-seconds"] as string | undefined),
    promptCaching: choiceFlag("prompt-caching", values["prompt-caching"] as string | undefined, PROMPT_CACHING_MODES),
    bedrockLatency: choiceFlag("bedrock-latency", values["bedrock-latency"] as string | undefined, BEDROCK_LATENCIES),
    bedrockServiceTier: choiceFlag("bedrock-service-tier", values["bedrock-service-tier"] as string | undefined, BEDROCK_SERVICE_TIERS),
  };
}

/** The one line a user mistake at start-up gets (busy port, no credentials); undefined for a real failure. */
export function setupErrorLine(error: unknown): string | undefined {
  if (error instanceof PortInUseError) {
    const flag = PORT_FLAGS[error.service];
    return `port ${error.port} is in use (${SERVICE_NAMES[error.service]}): pick a free one with --${flag} <port>, or --${flag} 0 to let the OS choose`;
  }
  if (error instanceof LocalStackSetupError) return error.message;
  return undefined;
}

/** What `npm start` prints once ready: every endpoint a client needs. */
export function readyBanner(stack: LocalStack, startedInMs: number): string {
  return [
    `qnabot-streaming local stack ready in ${startedInMs} ms (answers from: ${stack.label})`,
    ``,
    `  Chat page            ${stack.pageUrl}`,
    `  WebSocket (signed)   ${stack.webSocketUrl}`,
    `  @connections API     ${stack.managementEndpoint}`,
    `  POST /ask (SigV4)    ${stack.askUrl}`,
    `  SSE ask (SigV4)      ${stack.functionUrl}`,
    `  DynamoDB (dynalite)  ${stack.dynamo.endpoint}`,
    ...(stack.bedrock ? [`  Bedrock emulator     ${stack.bedrock.endpoint}`] : []),
    `  Lambda API           ${stack.lambda.endpoint}`,
    ``,
    `  For Lex Web UI (stock 0.22+; it may sign the host without the port, the gateway accepts that):`,
    `    Region                      ${stack.region}`,
    `    Streaming WebSocket URL     ${stack.webSocketUrl}`,
    `    Cognito identity pool id    ${stack.cognito.identityPoolId}`,
    `    Cognito Identity endpoint   ${stack.cognito.endpoint}`,
    `    Cognito user pool (Logins)  ${stack.userPool.providerName} (ID tokens issued in-process by LocalStack.userPool; no hosted sign-in page)`,
    `    Lex V2 bot id               ${stack.lex.bot.id}`,
    `    Lex V2 bot alias id         ${stack.lex.bot.aliasId}`,
    `    Lex V2 locale id            ${stack.lex.bot.localeId}`,
    `    Lex Runtime V2 endpoint     ${stack.lex.endpoint}`,
    `    (Node SDK clients: AWS_ENDPOINT_URL_COGNITO_IDENTITY=${stack.cognito.endpoint} AWS_ENDPOINT_URL_LEX_RUNTIME_V2=${stack.lex.endpoint})`,
    stack.unboundSessionStreaming
      ? `    Guests (lex-web-ui-XXXX ids) stream: --unbound-session-streaming is on; whoever alone holds such an id receives what is asked under it`
      : `    Guests (lex-web-ui-XXXX ids) get final answers only; logged-in users stream. --unbound-session-streaming streams to guests too`,
    ``,
    `  From a terminal:     npx qnabot-stream ask "How does streaming work?" --local ${stack.pageUrl}`,
    ``,
    `Ctrl-C stops it.`,
    ``,
  ].join("\n");
}

async function main(): Promise<void> {
  let options: StartOptions;
  try {
    options = parseStartArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  const started = Date.now();
  if (!options.verbose) quietHandlerLogs(process.stdout);
  if (options.bedrock === "aws") {
    // The model first: a wrong id says so now, in one line, not in every answer later.
    const check = await checkBedrockModel({ region: options.region ?? process.env.AWS_REGION ?? "us-east-1", modelId: options.model ?? (options.reasoningBudgetTokens ? DEFAULT_LOCAL_REASONING_MODEL_ID : DEFAULT_LOCAL_MODEL_ID) });
    if (!check.ok) {
      process.stderr.write(`${check.problem}\n`);
      process.exitCode = 1;
      return;
    }
    if (check.note) process.stderr.write(`note: ${check.note}\n`);
  }
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      bedrock: options.bedrock,
      ports: options.ports,
      region: options.region,
      modelId: options.model,
      knowledgeBaseId: options.knowledgeBase,
      throttle: options.throttle,
      routeThrottles: options.routeThrottles,
      outputLinkSchemes: options.outputLinkSchemes,
      outputImageHosts: options.outputImageHosts,
      unboundSessionStreaming: options.unboundSessionStreaming,
      tokenBudgetPerDay: options.tokenBudgetPerDay,
      tokenPrices: options.tokenPrices,
      reasoningBudgetTokens: options.reasoningBudgetTokens,
      feedbackTtlDays: options.feedbackTtlDays,
      sourceLinkBuckets: options.sourceLinkBuckets,
      sourceLinkExpirySeconds: options.sourceLinkExpirySeconds,
      promptCaching: options.promptCaching,
      bedrockLatency: options.bedrockLatency,
      bedrockServiceTier: options.bedrockServiceTier,
      // INFO: the quiet terminal's line per answer is the fulfillment's "answer finished" entry.
      env: { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "INFO", POWERTOOLS_METRICS_DISABLED: "true" },
    });
  } catch (error) {
    const line = setupErrorLine(error);
    process.stderr.write(line ? `${line}\n` : `could not start the local stack: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(readyBanner(stack, Date.now() - started));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping…\n");
    stack.close().then(
      () => process.exit(0),
      (error: Error) => {
        process.stderr.write(`error while stopping: ${error.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`could not start the local stack: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}
