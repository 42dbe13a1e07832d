/**
 * The figures of docs/performance.md, generated from bench/results.json so the document never
 * quotes a run that is not the latest. After `npm run bench`, refresh them with
 *
 *   npx tsx tests/docs/performance-figures.ts
 *
 * which rewrites the block between the FIGURES markers; tests/docs/docs.test.ts fails while
 * the block and results.json disagree.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describeRuns, type BenchResults } from "../../bench/report";
import { PRICES, webSocketCostPerThousand } from "../../bench/cost";
import type { StreamingCaseResult } from "../../bench/streaming";

export const RESULTS_JSON = path.join(__dirname, "../../bench/results.json");
export const PERFORMANCE_DOC = path.join(__dirname, "../../docs/performance.md");
export const BEGIN = "<!-- FIGURES:BEGIN (generated from bench/results.json by tests/docs/performance-figures.ts; do not edit) -->";
export const END = "<!-- FIGURES:END -->";

/** Prices the cost table assumes (US East (N. Virginia), on demand, no free tier); see the document. */
export { PRICES };

/** API Gateway's account throttle shared with @connections calls, and Lambda's default concurrency. */
export const ACCOUNT_REQUESTS_PER_SECOND = 10_000;
export const LAMBDA_CONCURRENCY = 1_000;

function number(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ms(value: number | undefined): string {
  if (value === undefined) return "–";
  return `${number(value, Math.abs(value) < 100 ? 1 : 0)} ms`;
}

function seconds(valueMs: number): string {
  return `${number(valueMs / 1000, 2)} s`;
}

function dollars(value: number): string {
  return `$${value < 0.1 ? value.toFixed(4) : value.toFixed(3)}`;
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

function pairs(results: BenchResults): { rate: number; latencyMs: number; naive: StreamingCaseResult; ours: StreamingCaseResult }[] {
  const streaming = results.streaming;
  if (!streaming) return [];
  const found = [];
  for (const rate of streaming.options.rates) {
    for (const latencyMs of streaming.options.latenciesMs) {
      const at = (name: string) => streaming.cases.find((c) => c.case === name && c.rate === rate && c.latencyMs === latencyMs);
      const naive = at("naive");
      const ours = at("ours");
      if (naive?.postsPerAnswer && ours?.postsPerAnswer && naive.invocationMs && ours.invocationMs) found.push({ rate, latencyMs, naive, ours });
    }
  }
  return found;
}

/** What 1,000 answers cost at PRICES, from one WebSocket case's posts and invocation time (p50). */
export function costPerThousand(c: StreamingCaseResult): { messages: number; lambda: number; dynamo: number; total: number } {
  const { messages, lambda, dynamo, total } = webSocketCostPerThousand(c.postsPerAnswer!.p50, c.invocationMs!.p50);
  return { messages, lambda, dynamo, total };
}

/** The SSE case of each (pace, latency) group, with ours of the same group. */
function ssePairs(results: BenchResults): { sse: StreamingCaseResult; ours?: StreamingCaseResult }[] {
  const cases = results.streaming?.cases ?? [];
  return cases
    .filter((c) => c.case === "sse" && c.addedTtftMs && c.lastLagMs && c.invocationMs && c.responseBytes && c.costPerThousand)
    .map((sse) => ({ sse, ours: cases.find((c) => c.case === "ours" && c.rate === sse.rate && c.latencyMs === sse.latencyMs) }));
}

function streamingSection(results: BenchResults): string[] {
  const streaming = results.streaming;
  const rows = pairs(results);
  if (!streaming || rows.length === 0) return [];
  const o = streaming.options;
  const out = [
    `### Streaming path`,
    ``,
    `${o.deltas} deltas per answer (${number(streaming.answerChars)} characters, ${number(streaming.answerBytes)} UTF-8 bytes), ` +
      `first token after ${o.firstTokenDelayMs} ms, ${o.runs} runs per case; p50 over the runs. "naive" is QnABot's loop, "ours" the stream writer. ` +
      `The gateway counted ${number(streaming.postsCheck.gateway)} posts, the producers ${number(streaming.postsCheck.producers)}.`,
    ``,
    table(
      ["model pace", "post latency", "posts per answer, naive → ours", "last-delta lag, naive → ours", "added time to first delta, naive → ours", "invocation, naive → ours"],
      rows.map(({ rate, latencyMs, naive, ours }) => [
        `${rate}/s`,
        `${latencyMs} ms`,
        `${number(naive.postsPerAnswer!.p50)} → ${number(ours.postsPerAnswer!.p50)}`,
        `${ms(naive.lastLagMs?.p50)} → ${ms(ours.lastLagMs?.p50)}`,
        `${ms(naive.addedTtftMs?.p50)} → ${ms(ours.addedTtftMs?.p50)}`,
        `${seconds(naive.invocationMs!.p50)} → ${seconds(ours.invocationMs!.p50)}`,
      ]),
    ),
  ];
  const displayed = rows.filter((r) => r.naive.display && r.ours.display);
  if (displayed.length > 0) {
    out.push(
      ``,
      `What a stock Lex Web UI shows (its display modelled as in docs/clients.md): lag of the displayed text behind generation (p50 of the runs' p50) and the share of the answer its streaming path never shows.`,
      ``,
      table(
        ["model pace", "post latency", "display lag, naive → ours", "unshown tail, naive → ours"],
        displayed.map(({ rate, latencyMs, naive, ours }) => [
          `${rate}/s`,
          `${latencyMs} ms`,
          `${ms(naive.display!.lagP50Ms.p50)} → ${ms(ours.display!.lagP50Ms.p50)}`,
          `${number(naive.display!.unshownPercent.p50, 1)} % → ${number(ours.display!.unshownPercent.p50, 1)} %`,
        ]),
      ),
    );
  }
  const sse = ssePairs(results);
  if (sse.length > 0) {
    out.push(
      ``,
      `Server-Sent Events through the streaming function URL, in the same runs (the real handler; no frame budget, no PostToConnection, one invocation). ` +
        `SSE has no post latency: each row is SSE under the load of that group, beside the WebSocket writer at that group's post latency.`,
      ``,
      table(
        ["model pace", "group's post latency", "added time to first delta, SSE (WebSocket)", "last-delta lag, SSE (WebSocket)", "PostToConnection, SSE (WebSocket)", "Lambda invocations, SSE (WebSocket ask)", "SSE bytes per answer"],
        sse.map(({ sse: c, ours }) => [
          `${c.rate}/s`,
          `${c.latencyMs} ms`,
          `${ms(c.addedTtftMs!.p50)} (${ms(ours?.addedTtftMs?.p50)})`,
          `${ms(c.lastLagMs!.p50)} (${ms(ours?.lastLagMs?.p50)})`,
          `${number(c.postsPerAnswer?.max ?? 0)} (${ours?.postsPerAnswer ? number(ours.postsPerAnswer.p50) : "–"})`,
          `${number(c.invocationsPerAnswer ?? 1)} (${number(PRICES.lambdaRequestsPerAnswer)})`,
          `${number(c.responseBytes!.p50 / 1024, 1)} KB`,
        ]),
      ),
    );
  }
  return out;
}

function fanoutSection(results: BenchResults): string[] {
  const fanout = results.fanout;
  if (!fanout) return [];
  const counts = [...new Set(fanout.cases.map((c) => c.connections))];
  const at = (connections: number, algorithm: string) => fanout.cases.find((c) => c.connections === connections && c.algorithm === algorithm);
  const o = fanout.options;
  return [
    `### Fan-out`,
    ``,
    `One session open in several tabs, ${o.rate} deltas/s, ${o.latencyMs} ms per post; median completion (the model alone needs about ${number((o.deltas / o.rate) * 1000)} ms).`,
    ``,
    table(
      ["tabs", "completion, naive → ours", "posts, naive → ours"],
      counts.map((n) => {
        const naive = at(n, "naive");
        const ours = at(n, "ours");
        return [String(n), `${ms(naive?.completionMs)} → ${ms(ours?.completionMs)}`, `${number(naive?.postsPerAnswer ?? 0)} → ${number(ours?.postsPerAnswer ?? 0)}`];
      }),
    ),
  ];
}

function coldStartSection(results: BenchResults): string[] {
  const cold = results.coldStart;
  if (!cold) return [];
  const rows = cold.bundles
    .filter((b) => b.variant === "ours")
    .flatMap((ours) => {
      const naive = cold.bundles.find((b) => b.function === ours.function && b.variant === "naive");
      if (!naive) return [];
      return [
        [
          ours.function,
          `${ms(naive.initMs)} → ${ms(ours.initMs)} (${number(naive.initMs / ours.initMs, 2)}×)`,
          `${number(naive.bytes / 1024)} KB → ${number(ours.bytes / 1024)} KB`,
          `${number(naive.gzipBytes / 1024)} KB → ${number(ours.gzipBytes / 1024)} KB`,
        ],
      ];
    });
  return [
    `### Cold start`,
    ``,
    `A fresh \`node\` process \`require\`s the bundle, median of ${cold.options.runs}; "naive" is esbuild's default bundle of the same handler.`,
    ``,
    table(["function", "module init, naive → ours", "size, naive → ours", "gzipped, naive → ours"], rows),
  ];
}

function concurrencySection(results: BenchResults): string[] {
  const concurrency = results.concurrency;
  if (!concurrency) return [];
  const names = { stack: "whole local stack", direct: "gateway and writers" } as Record<string, string>;
  return [
    `### Gateway concurrency`,
    ``,
    `Every client a real WebSocket in \`format=json\`, every envelope checked; ${concurrency.options.deltas}-delta answers at ${concurrency.options.rate} deltas/s.`,
    ``,
    table(
      ["through", "sessions", "frames/s", "delivery p50", "delivery p99", "sessions with a lost frame"],
      concurrency.cases.map((c) => [names[c.mode] ?? c.mode, number(c.sessions), number(c.framesPerSecond), ms(c.deliveryMs.p50), ms(c.deliveryMs.p99), number(c.lostSessions)]),
    ),
  ];
}

function programSection(results: BenchResults): string[] {
  const program = results.program;
  if (!program) return [];
  return [
    `### Pulumi program under mocks`,
    ``,
    table(
      ["streaming", "AWS resources", "first run", "warm run"],
      program.runs.map((r) => [r.streaming ? "on" : "off", number(r.awsResources), ms(r.firstRunMs), ms(r.warmRunMs)]),
    ),
  ];
}

function firstTokenSection(results: BenchResults): string[] {
  const firstToken = results.firstToken;
  if (!firstToken) return [];
  const doors = { floor: "Bedrock alone (floor)", lex: "Lex code hook", ask: "WebSocket ask", sse: "Server-Sent Events (function URL)" } as Record<string, string>;
  const o = firstToken.options;
  return [
    `### First token by front door`,
    ``,
    `Time to the first delta at the client, through the whole local stack, ${o.runs} runs, first token after ${o.firstTokenDelayMs} ms; "added" subtracts the floor of the same run.`,
    ``,
    table(
      ["asked through", "first delta p50", "first delta p95", "added p50"],
      firstToken.cases.map((c) => [doors[c.door] ?? c.door, ms(c.ttftMs.p50), ms(c.ttftMs.p95), ms(c.addedTtftMs?.p50)]),
    ),
  ];
}

function cachingSection(results: BenchResults): string[] {
  const caching = results.caching;
  if (!caching) return [];
  const o = caching.options;
  const count = (c: { cacheReadInputTokens: number; cacheWriteInputTokens: number }) => `${number(c.cacheReadInputTokens)} / ${number(c.cacheWriteInputTokens)}`;
  return [
    `### Cached second question`,
    ``,
    `The second question of a session over a ~2,500-token system prompt, ${o.runs} sessions per case, first token after ${o.firstTokenDelayMs} ms; cache tokens read / written, medians of \`end.usage\`. ` +
      `The emulator models no latency effect of caching: the two rows wait the same first-token delay.`,
    ``,
    table(
      ["promptCaching", "first delta p50", "first delta p95", "1st question read / write", "2nd question read / write"],
      caching.cases.map((c) => [`\`${c.promptCaching}\``, ms(c.ttftMs.p50), ms(c.ttftMs.p95), count(c.first), count(c.second)]),
    ),
  ];
}

function capacityAndCostSection(results: BenchResults): string[] {
  const rows = pairs(results);
  if (rows.length === 0) return [];
  const sse = ssePairs(results);
  const sseAt = (rate: number, latencyMs: number) => sse.find(({ sse: c }) => c.rate === rate && c.latencyMs === latencyMs)?.sse;
  const capacity = rows.flatMap(({ rate, latencyMs, naive, ours }) => {
    const webSocket = [["naive", naive] as const, ["ours", ours] as const].map(([name, c]) => [
      `${rate}/s, ${latencyMs} ms`,
      name,
      number(ACCOUNT_REQUESTS_PER_SECOND / (c.postsPerAnswer!.p50 + 1)),
      number(LAMBDA_CONCURRENCY / (c.invocationMs!.p50 / 1000)),
    ]);
    const c = sseAt(rate, latencyMs);
    return c ? [...webSocket, [`${rate}/s, ${latencyMs} ms`, "SSE", "no @connections calls", number(LAMBDA_CONCURRENCY / (c.invocationMs!.p50 / 1000))]] : webSocket;
  });
  const cost = rows.flatMap(({ rate, latencyMs, naive, ours }) => {
    const webSocket = [["naive", naive] as const, ["ours", ours] as const].map(([name, c]) => {
      const k = costPerThousand(c);
      return [`${rate}/s, ${latencyMs} ms`, name, number(c.postsPerAnswer!.p50), seconds(c.invocationMs!.p50), dollars(k.messages), dollars(k.lambda), dollars(0), dollars(k.dynamo), `**${dollars(k.total)}**`];
    });
    const c = sseAt(rate, latencyMs);
    if (!c) return webSocket;
    const k = c.costPerThousand!;
    return [...webSocket, [`${rate}/s, ${latencyMs} ms`, "SSE", "0", seconds(c.invocationMs!.p50), dollars(k.messages), dollars(k.lambda), dollars(k.streamedBytes), dollars(k.dynamo), `**${dollars(k.total)}**`]];
  });
  const p = PRICES;
  return [
    `### Capacity per design`,
    ``,
    `Answers per second before the @connections account throttle (${number(ACCOUNT_REQUESTS_PER_SECOND)} requests/s ÷ (posts + 1)) and before Lambda's default concurrency (${number(LAMBDA_CONCURRENCY)} ÷ invocation seconds).`,
    ``,
    table(["model pace, post latency", "design", "answers/s, @connections", "answers/s, Lambda concurrency"], capacity),
    ``,
    `### Cost per 1,000 answers`,
    ``,
    ...(sse.length > 0
      ? [
          `SSE: one invocation per answer (no \`ask\` route, no hand-off) from the request to \`end\` at the client, no WebSocket message; Lambda response streaming adds $${p.lambdaStreamedPerGb} per GB streamed beyond the first ${number(p.lambdaStreamedFreeBytesPerResponse / 2 ** 20)} MB of each response (an answer here streams a few tens of KB, so nothing). ` +
            `DynamoDB is assumed the same for every design.`,
          ``,
        ]
      : []),
    table(["model pace, post latency", "design", "posts", "invocation", "messages", "Lambda", "streamed bytes", "DynamoDB", "total"], cost),
  ];
}

/** The generated block, markers included. */
export function renderPerformanceFigures(results: BenchResults): string {
  const m = results.meta;
  const busy = Object.entries(m.cpuBusyBeforePercent ?? {}).filter(([, percent]) => percent >= 20);
  const sections = [
    `Run of ${describeRuns(m, { platform: false })}.` +
      (busy.length > 0 ? ` Other work kept the machine busy before ${busy.map(([name]) => name).join(", ")}: those figures are skewed.` : ""),
    streamingSection(results).join("\n"),
    fanoutSection(results).join("\n"),
    coldStartSection(results).join("\n"),
    concurrencySection(results).join("\n"),
    programSection(results).join("\n"),
    firstTokenSection(results).join("\n"),
    cachingSection(results).join("\n"),
    capacityAndCostSection(results).join("\n"),
  ].filter((section) => section !== "");
  return [BEGIN, "", ...sections.flatMap((section) => [section, ""]), END].join("\n");
}

/** The document with its block replaced by the figures of `results`. */
export function withFigures(document: string, results: BenchResults): string {
  const begin = document.indexOf(BEGIN);
  const end = document.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`docs/performance.md has no ${BEGIN} … ${END} block`);
  return document.slice(0, begin) + renderPerformanceFigures(results) + document.slice(end + END.length);
}

export function readResults(): BenchResults {
  return JSON.parse(readFileSync(RESULTS_JSON, "utf8")) as BenchResults;
}

if (require.main === module) {
  const results = readResults();
  writeFileSync(PERFORMANCE_DOC, withFigures(readFileSync(PERFORMANCE_DOC, "utf8"), results));
  process.stdout.write(`docs/performance.md: figures of the ${results.meta.date} run\n`);
}
