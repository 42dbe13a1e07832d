/**
 * Benchmark 3, cold start: each Lambda bundle as the stack deploys it (components/bundle.ts:
 * ES module builds of the dependencies, tree-shaken, minified) beside a naive bundle of the
 * same handler (esbuild's defaults with CommonJS entry points, `mainFields: ["main"]`, no
 * minification). Sizes raw and gzipped; module init = the time a fresh `node` process takes
 * to `require` the bundle, as Lambda's init phase does, and the CPU time (user + system) it
 * burns, which is what a 128 MB function pays for at its fraction of a vCPU; then the first
 * request = the handler's first call on its heaviest path (`$connect`; a Lex fulfillment),
 * every AWS endpoint refusing at once, so it times what loads, builds clients, resolves
 * credentials and signs before the network, which lazily loaded modules move out of init.
 * Median over runs interleaved so both variants see the same machine. A second table prices
 * the pieces: each dependency alone, bundled the same way, required and its client built.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { buildBundle, FUNCTION_ENTRIES, functionEntry, packageRoot, type FunctionName } from "../components/bundle";
import { fmt, fmtBytes, median, percentile, round, table } from "./stats";

const run = promisify(execFile);

export interface ColdStartOptions {
  readonly functions: readonly FunctionName[];
  /** Fresh processes per bundle. */
  readonly runs: number;
}

export const COLD_START_DEFAULTS: ColdStartOptions = { functions: Object.keys(FUNCTION_ENTRIES) as FunctionName[], runs: 15 };
export const COLD_START_QUICK: ColdStartOptions = { functions: ["connection"], runs: 1 };

export type BundleVariant = "ours" | "naive";

export interface BundleResult {
  function: FunctionName;
  variant: BundleVariant;
  bytes: number;
  gzipBytes: number;
  /** Median ms to require the bundle in a fresh process. */
  initMs: number;
  initP95Ms: number;
  /** Median CPU ms (user + system) of the require. */
  initCpuMs: number;
  /** Median ms of the handler's first call (the first request's share of the cold start). */
  firstRequestMs: number;
  /** Median CPU ms (user + system) of the first call. */
  firstRequestCpuMs: number;
  /** Median ms of the whole process (node start, require, first call, exit). */
  processMs: number;
  runs: number;
}

/** One dependency alone: what requiring it and building its client costs. */
export interface ComponentResult {
  name: string;
  bytes: number;
  initMs: number;
  initCpuMs: number;
}

export interface ColdStartResult {
  options: ColdStartOptions;
  bundles: BundleResult[];
  components: ComponentResult[];
}

/**
 * The pieces a handler's init can load, each bundled alone as the stack bundles (and its
 * client built, which is where the SDK resolves its configuration). Node alone is the base.
 */
export const COMPONENTS: Readonly<Record<string, string>> = {
  "node alone (empty bundle)": ``,
  "Powertools Logger": `import { Logger } from "@aws-lambda-powertools/logger"; (globalThis as any).x = new Logger({ serviceName: "s" });`,
  "Powertools Metrics": `import { Metrics } from "@aws-lambda-powertools/metrics"; (globalThis as any).x = new Metrics({ namespace: "n", serviceName: "s" });`,
  "DynamoDB document client": `import { DynamoDBClient } from "@aws-sdk/client-dynamodb"; import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb"; (globalThis as any).x = [DynamoDBDocumentClient.from(new DynamoDBClient({})), GetCommand];`,
  "API Gateway Management client": `import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi"; (globalThis as any).x = [new ApiGatewayManagementApiClient({ endpoint: "https://a.execute-api.us-east-1.amazonaws.com/p" }), PostToConnectionCommand];`,
  "Bedrock runtime client": `import { BedrockRuntimeClient, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime"; (globalThis as any).x = [new BedrockRuntimeClient({}), ConverseStreamCommand];`,
  "Bedrock agent runtime client (knowledge base)": `import { BedrockAgentRuntimeClient, RetrieveAndGenerateStreamCommand } from "@aws-sdk/client-bedrock-agent-runtime"; (globalThis as any).x = [new BedrockAgentRuntimeClient({}), RetrieveAndGenerateStreamCommand];`,
  "Lambda client": `import { LambdaClient, InvokeCommand } from "@aws-sdk/client-lambda"; (globalThis as any).x = [new LambdaClient({}), InvokeCommand];`,
};

/**
 * Modules each handler loads only on the request paths that call them (dynamic `import()`,
 * a `require` on first use). The naive bundle imports them up front, as a handler without
 * lazy loading does (QnABot's functions import their clients at the top), so it stays the
 * baseline the issue measured: the same code, loaded eagerly, bundled with esbuild's defaults.
 */
export const LAZY_MODULES: Readonly<Record<FunctionName, readonly string[]>> = {
  connection: ["functions/shared/dynamo-connections.ts", "functions/shared/dynamo-client.ts"],
  fulfillment: [
    "functions/fulfillment/wiring.ts",
    "functions/fulfillment/converse.ts",
    "functions/fulfillment/knowledge-base.ts",
    "functions/fulfillment/hook.ts",
    "functions/fulfillment/handoff.ts",
    "functions/fulfillment/clients/bedrock-runtime.ts",
    "functions/fulfillment/clients/bedrock-agent-runtime.ts",
    "functions/shared/dynamo-client.ts",
    "functions/shared/lambda-client.ts",
  ],
};

/** The naive bundle: the handler with LAZY_MODULES imported up front; esbuild's defaults for a Node bundle, CommonJS entry points, nothing minified. */
export async function naiveBundle(fn: FunctionName): Promise<string> {
  const root = packageRoot(__dirname);
  const imports = [FUNCTION_ENTRIES[fn], ...LAZY_MODULES[fn]].map((file) => `./${file.replace(/\.ts$/, "")}`);
  const result = await esbuild.build({
    stdin: {
      contents: [`export * from ${JSON.stringify(imports[0])};`, ...imports.slice(1).map((file) => `import ${JSON.stringify(file)};`)].join("\n"),
      resolveDir: root,
      sourcefile: `naive-${fn}.ts`,
      loader: "ts",
    },
    absWorkingDir: root,
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    mainFields: ["main"],
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

/** Where every AWS call of the first request goes: a closed loopback port, refused at once. */
const REFUSING_ENDPOINT = "http://127.0.0.1:9";

/** A Lambda-like environment: what the runtime and the stack set, nothing from this shell. */
function lambdaEnv(name: FunctionName): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_REGION: "us-east-1",
    // Lambda hands the function its role's credentials in the environment.
    AWS_ACCESS_KEY_ID: "ASIABENCHCOLDSTART00",
    AWS_SECRET_ACCESS_KEY: "bench-cold-start-secret-key-not-a-real-one",
    AWS_SESSION_TOKEN: "bench-cold-start-session-token",
    AWS_ENDPOINT_URL: REFUSING_ENDPOINT,
    AWS_MAX_ATTEMPTS: "1",
    POWERTOOLS_LOG_LEVEL: "CRITICAL",
    POWERTOOLS_METRICS_DISABLED: "true",
    AWS_LAMBDA_FUNCTION_NAME: `qnabot-streaming-${name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
    CONNECTIONS_TABLE: "connections",
    STREAMING_ENDPOINT: "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
    MEMORY_TABLE: "memory",
    LLM_MODEL_ID: "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}

/** The first request of each function: its heaviest path, as API Gateway and Lex send it. */
export function firstEvent(name: FunctionName): unknown {
  if (name === "connection") {
    return {
      requestContext: {
        routeKey: "$connect",
        eventType: "CONNECT",
        connectionId: "bench-cold-AAA=",
        requestId: "bench",
        apiId: "abc123",
        stage: "Prod",
        identity: { userArn: "arn:aws:iam::123456789012:user/bench", sourceIp: "127.0.0.1" },
      },
      queryStringParameters: { sessionId: "lex-web-ui-beef" },
      isBase64Encoded: false,
    };
  }
  return {
    messageVersion: "1.0",
    invocationSource: "FulfillmentCodeHook",
    inputMode: "Text",
    responseContentType: "text/plain; charset=utf-8",
    sessionId: "lex-web-ui-beef",
    inputTranscript: "How do answers stream?",
    bot: { id: "BOTID12345", name: "QnABot", aliasId: "TSTALIASID", aliasName: "TestBotAlias", localeId: "en_US", version: "DRAFT" },
    interpretations: [],
    sessionState: { sessionAttributes: {}, intent: { name: "QnaIntent", slots: {}, state: "ReadyForFulfillment", confirmationState: "None" } },
  };
}

/** Requires the bundle, then (given an event) calls its handler once; prints the timings as JSON. */
const PROBE = `
const cpu = (c) => (c.user + c.system) / 1000;
const t0 = process.hrtime.bigint(); const c0 = process.cpuUsage();
const mod = require(process.argv[1]);
const initMs = Number(process.hrtime.bigint() - t0) / 1e6; const initCpuMs = cpu(process.cpuUsage(c0));
const event = process.argv[2] ? JSON.parse(process.argv[2]) : undefined;
const done = (first) => { process.stdout.write(JSON.stringify({ initMs, initCpuMs, ...first })); process.exit(0); };
if (!event) done({});
const t1 = process.hrtime.bigint(); const c1 = process.cpuUsage();
const context = { awsRequestId: "bench", getRemainingTimeInMillis: () => 60000 };
setTimeout(() => done({ firstRequestMs: NaN, firstRequestCpuMs: NaN }), 10000).unref();
Promise.resolve(mod.handler(event, context)).catch(() => undefined).then(() =>
  done({ firstRequestMs: Number(process.hrtime.bigint() - t1) / 1e6, firstRequestCpuMs: cpu(process.cpuUsage(c1)) }));
`;

interface ProbeResult {
  initMs: number;
  initCpuMs: number;
  firstRequestMs?: number;
  firstRequestCpuMs?: number;
  processMs: number;
}

async function probe(file: string, env: NodeJS.ProcessEnv, event?: unknown): Promise<ProbeResult> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, ["-e", PROBE, file, ...(event === undefined ? [] : [JSON.stringify(event)])], { env });
  return { ...(JSON.parse(stdout) as Omit<ProbeResult, "processMs">), processMs: performance.now() - started };
}

/** Bundles each piece of COMPONENTS alone (in bench/tmp, inside the package for module resolution). */
async function componentBundles(dir: string): Promise<{ name: string; file: string; bytes: number }[]> {
  const sources = path.join(__dirname, "tmp", `components-${process.pid}`);
  fs.mkdirSync(sources, { recursive: true });
  try {
    const bundles = [];
    for (const [k, [name, code]] of Object.entries(COMPONENTS).entries()) {
      const entry = path.join(sources, `c${k}.ts`);
      fs.writeFileSync(entry, `${code}\nexport {};\n`);
      const bundle = await buildBundle(entry, { rootDir: packageRoot(__dirname) });
      const file = path.join(dir, `component-${k}.js`);
      fs.writeFileSync(file, bundle);
      bundles.push({ name, file, bytes: Buffer.byteLength(bundle) });
    }
    return bundles;
  } finally {
    fs.rmSync(sources, { recursive: true, force: true });
  }
}

export async function runColdStart(options: ColdStartOptions = COLD_START_DEFAULTS, log: (line: string) => void = () => undefined): Promise<ColdStartResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qnabot-bench-bundles-"));
  try {
    const variants: { fn: FunctionName; variant: BundleVariant; file: string; bytes: number; gzipBytes: number }[] = [];
    for (const fn of options.functions) {
      const entry = functionEntry(fn);
      for (const [variant, code] of [
        ["ours", await buildBundle(entry)],
        ["naive", await naiveBundle(fn)],
      ] as const) {
        const file = path.join(dir, `${fn}-${variant}`, "index.js");
        fs.mkdirSync(path.dirname(file));
        fs.writeFileSync(file, code);
        variants.push({ fn, variant, file, bytes: Buffer.byteLength(code), gzipBytes: gzipSync(code).length });
      }
    }
    const components = await componentBundles(dir);
    log(`cold start: ${variants.length} bundles and ${components.length} components, ${options.runs} fresh processes each`);
    const samples = variants.map(() => [] as ProbeResult[]);
    const componentSamples = components.map(() => [] as ProbeResult[]);
    for (let i = 0; i < options.runs; i++) {
      for (const [k, v] of variants.entries()) samples[k].push(await probe(v.file, lambdaEnv(v.fn), firstEvent(v.fn)));
      for (const [k, c] of components.entries()) componentSamples[k].push(await probe(c.file, lambdaEnv("connection")));
    }
    const med = (list: ProbeResult[], pick: (p: ProbeResult) => number | undefined) => round(median(list.map((p) => pick(p) ?? Number.NaN)));
    return {
      options,
      bundles: variants.map((v, k) => ({
        function: v.fn,
        variant: v.variant,
        bytes: v.bytes,
        gzipBytes: v.gzipBytes,
        initMs: med(samples[k], (p) => p.initMs),
        initP95Ms: round(percentile(samples[k].map((p) => p.initMs), 95)),
        initCpuMs: med(samples[k], (p) => p.initCpuMs),
        firstRequestMs: med(samples[k], (p) => p.firstRequestMs),
        firstRequestCpuMs: med(samples[k], (p) => p.firstRequestCpuMs),
        processMs: med(samples[k], (p) => p.processMs),
        runs: samples[k].length,
      })),
      components: components.map((c, k) => ({
        name: c.name,
        bytes: c.bytes,
        initMs: med(componentSamples[k], (p) => p.initMs),
        initCpuMs: med(componentSamples[k], (p) => p.initCpuMs),
      })),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Ours over naive for one function: init, init CPU and init + first request, each a ratio (lower is better). */
export function coldStartRatios(result: ColdStartResult, fn: FunctionName): { init: number; initCpu: number; cold: number } | undefined {
  const ours = result.bundles.find((b) => b.function === fn && b.variant === "ours");
  const naive = result.bundles.find((b) => b.function === fn && b.variant === "naive");
  if (!ours || !naive) return undefined;
  return {
    init: round(ours.initMs / naive.initMs, 2),
    initCpu: round(ours.initCpuMs / naive.initCpuMs, 2),
    cold: round((ours.initMs + ours.firstRequestMs) / (naive.initMs + naive.firstRequestMs), 2),
  };
}

export function renderColdStart(result: ColdStartResult): string {
  const rows = result.bundles.map((b) => {
    const naive = result.bundles.find((o) => o.function === b.function && o.variant === "naive")!;
    const ratios = b.variant === "ours" ? coldStartRatios(result, b.function) : undefined;
    return [
      b.function,
      b.variant,
      fmtBytes(b.bytes),
      fmtBytes(b.gzipBytes),
      `${fmt(b.initMs)} / ${fmt(b.initP95Ms)}`,
      fmt(b.initCpuMs),
      `${fmt(b.firstRequestMs)} (${fmt(b.firstRequestCpuMs)})`,
      fmt(b.initMs + b.firstRequestMs),
      fmt(b.processMs),
      ratios ? `init ${fmt(ratios.init, 2)}×, CPU ${fmt(ratios.initCpu, 2)}×, init + first ${fmt(ratios.cold, 2)}×; ${fmt(naive.bytes / b.bytes, 1)}× smaller` : "",
    ];
  });
  const base = result.components[0];
  const componentRows = result.components.map((c) => [
    c.name,
    fmtBytes(c.bytes),
    fmt(c.initMs),
    fmt(c.initCpuMs),
    c === base ? "" : fmt(c.initMs - base.initMs),
  ]);
  return [
    `### 3. Cold start`,
    ``,
    `Module init = \`require()\` of the bundle in a fresh \`node\` ${process.version} process (p50 / p95 of ${result.options.runs} runs, ms), and its CPU time (user + system, p50 ms: what a 128 MB function, with a fraction of a vCPU, pays in wall time). ` +
      `First request = the handler's first call on its heaviest path (connection: \`$connect\`; fulfillment: a Lex fulfillment), with every AWS endpoint refusing at once: what loading, building clients, resolving credentials and signing cost before the network (p50 ms, CPU in parentheses). ` +
      `Process = spawn to exit (p50, ms). Naive = the same handler with every module it loads lazily imported up front (as QnABot's functions import their clients), bundled with esbuild's defaults for Node with CommonJS entry points (\`mainFields: ["main"]\`), not minified. vs naive = ours over naive (lower is better). Lambda's own runtime (nodejs22.x, arm64) is not measured here.`,
    ``,
    table(["function", "bundle", "size", "gzip", "init p50/p95", "init CPU", "first request (CPU)", "init + first", "process", "vs naive"], rows),
    ``,
    `What init costs, piece by piece: each dependency alone, bundled as the stack bundles it, required and its client built (p50 ms of ${result.options.runs} runs; over node alone = minus the empty bundle).`,
    ``,
    table(["piece", "size", "init", "init CPU", "over node alone"], componentRows),
  ].join("\n");
}
