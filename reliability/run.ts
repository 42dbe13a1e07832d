/**
 * `npm run reliability`: runs every reliability and security check with its full counts
 * (1,000 fuzzed events per entry point, the 500-session load run, …) and writes
 * RELIABILITY.md. The same checks run in `npm test` with smaller counts (tests/reliability/).
 *
 *   npx tsx --expose-gc reliability/run.ts [--budget full|test] [--out <file>]
 *
 * Only the full budget writes the committed RELIABILITY.md by default; `--budget test` writes
 * test-output/RELIABILITY.test.md, so a quick run never replaces the report's figures.
 *
 * Exits 1 when a check failed (the report says which, with fast-check's seed and path).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { logger } from "../functions/shared/observability";
import { AWS_WEBSOCKET_LIMITS, localCognitoIdentity, localIamUser } from "../local/gateway";
import { BUDGETS, SEEDS, type Budget } from "../tests/reliability/budget";
import {
  bedrockHttpErrors,
  bedrockStreamFaults,
  connectionsApiFaults,
  dynamoDownAtAsk,
  dynamoDownAtConnect,
  dynamoDownAtDisconnect,
  FAULT_STALL_MS,
  randomDisconnects,
  startFaultEnv,
  timeBudget,
  TIME_BUDGET_TIMEOUT_MS,
  type FaultEnv,
} from "../tests/reliability/faults";
import type { Figure, Section } from "../tests/reliability/figures";
import { burstFigure, startFairnessEnv } from "../tests/reliability/fairness";
import { dynamoStorm, latencyHang, managementApiStorm, pausedReaderHang, refusalStorm, startHangEnv } from "../tests/reliability/hangs";
import { connectionLifetime, duplicateRequestId, memoryRace, resumeAfterDrops, resumeFlood, startAnswersEnv } from "../tests/reliability/answers";
import { bedrockRequestLog, chatPageSideDoor, dynamoSideDoor, httpApiBodies, lambdaSideDoor, startSideDoorStack } from "../tests/reliability/side-doors";
import { DEFAULT_STAGE_THROTTLE, type StageThrottle } from "../local/gateway";
import { fuzzGatewayFrames, gatewayFigure } from "../tests/reliability/fuzz-gateway";
import {
  attackerCredential,
  entryPointFigure,
  expectVictimsUntouched,
  fuzzAskRoute,
  fuzzConnect,
  fuzzDefault,
  fuzzDisconnect,
  fuzzHttpAsk,
  fuzzLex,
  startHandlerFuzz,
  startTrap,
  victimFrames,
  type EntryPointFigure,
  type FuzzRun,
  type HandlerFuzzEnv,
} from "../tests/reliability/fuzz-handlers";
import { captureOutput, startReliabilityStack, victimSnapshot } from "../tests/reliability/harness";
import { loadFigure, loadRun, startLoadStack } from "../tests/reliability/load";
import { captureDeployedPolicies, checkLeastPrivilege, policyFigure } from "../tests/reliability/policies";
import {
  clientSuppliedEndpoint,
  logsWithoutText,
  securityCredentials,
  sessionHijack,
  signatureReplay,
  tamperedQueries,
} from "../tests/reliability/security";
import { renderReport, reportFile, type ReportRow } from "./report";

/** Progress goes to the terminal even while a check's own output is being captured. */
const stderr = process.stderr.write.bind(process.stderr);
const say = (line: string) => void stderr(`[reliability] ${line}\n`);

/** The first lines of an error: enough to find the failing case (fast-check puts its seed and path there). */
function firstLines(error: unknown, lines = 6): string {
  const text = error instanceof Error ? `${error.message}` : String(error);
  return text.split("\n").filter((line) => line.trim() !== "").slice(0, lines).join(" / ");
}

class Run {
  readonly rows: ReportRow[] = [];

  /** Runs one check quietly (its handlers' logs captured) and records its figures, or its failure. */
  async check(section: Section, name: string, run: () => Promise<Figure | Figure[]>, quiet = true): Promise<void> {
    say(`${section}: ${name}…`);
    const started = Date.now();
    try {
      const figures = quiet ? (await captureOutput(run)).result : await run();
      this.rows.push(...(Array.isArray(figures) ? figures : [figures]));
      say(`  held (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
      say(`  FAILED: ${firstLines(error, 12)}`);
      this.rows.push({ section, check: name, tried: "", result: "", failure: firstLines(error) });
    }
  }
}

async function badInput(run: Run, budget: Budget): Promise<void> {
  let env: (HandlerFuzzEnv & { close(): Promise<void> }) | undefined;
  try {
    env = await startHandlerFuzz();
    const fuzzEnv = env;
    const before = await victimSnapshot(fuzzEnv.stack, fuzzEnv.victims);
    const frames = victimFrames(fuzzEnv);
    const fuzz = (fuzzer: (env: HandlerFuzzEnv, run: FuzzRun) => Promise<EntryPointFigure>, offset: number) => async () => {
      const figure = await fuzzer(fuzzEnv, { runs: budget.handlerRuns, seed: SEEDS.handlers + offset });
      await fuzzEnv.stack.idle();
      return entryPointFigure(figure);
    };
    await run.check("Bad input", "$connect (query, headers, identity)", fuzz(fuzzConnect, 0));
    await run.check("Bad input", "$disconnect", fuzz(fuzzDisconnect, 1));
    await run.check("Bad input", "$default", fuzz(fuzzDefault, 2));
    await run.check("Bad input", "WebSocket ask route", fuzz(fuzzAskRoute, 3));
    await run.check("Bad input", "POST /ask", fuzz(fuzzHttpAsk, 4));
    const framesToVictims = victimFrames(fuzzEnv) - frames;
    await run.check("Bad input", "Victim sessions during all of the above", async () => {
      if (framesToVictims !== 0) throw new Error(`${framesToVictims} frames of the WebSocket and HTTP fuzzing reached a victim's socket`);
      await expectVictimsUntouched(fuzzEnv, before);
      return {
        section: "Bad input",
        check: "Victim sessions during all of the above (an IAM and a Cognito owner, 3 open sockets, memory rows)",
        tried: "fuzzed connects and asks naming the victims' sessions, principals, connections; a client-named streaming endpoint",
        result: "victims' claims, connections and memory unchanged; 0 frames to a victim from WebSocket/HTTP fuzzing; 0 requests to the client-named endpoint",
      };
    });
    await run.check("Bad input", "Lex V2 code hook", fuzz(fuzzLex, 5));
    await run.check("Bad input", "Victim sessions during the Lex fuzzing", async () => {
      await expectVictimsUntouched(fuzzEnv, before, { memory: false });
      return {
        section: "Bad input",
        check: "Victim sessions during the Lex fuzzing",
        tried: "fuzzed Lex code hook events naming the victims' sessions and a client-named streaming endpoint",
        result: "victims' claims and connections unchanged; 0 requests to the client-named endpoint (a Lex question naming a session is that session's turn: see Limits)",
      };
    });
  } finally {
    await env?.close();
  }

  const credential = attackerCredential();
  const stack = await startReliabilityStack({ credentials: [credential] });
  try {
    await run.check("Bad input", "Random client frames over real sockets", async () =>
      gatewayFigure(await fuzzGatewayFrames(stack, credential, { runs: budget.gatewayFrames, seed: SEEDS.gatewayFrames }, AWS_WEBSOCKET_LIMITS.maxMessageBytes)),
    );
  } finally {
    await stack.close();
  }
}

async function withFaultEnv(slowModel: boolean, work: (env: FaultEnv) => Promise<void>): Promise<void> {
  const env = await startFaultEnv(slowModel);
  try {
    await work(env);
  } finally {
    await env.close();
  }
}

async function faults(run: Run, budget: Budget): Promise<void> {
  await withFaultEnv(false, async (env) => {
    await run.check("Faults", "DynamoDB down at $connect", () => dynamoDownAtConnect(env));
    await run.check("Faults", "DynamoDB down at ask time", () => dynamoDownAtAsk(env));
    await run.check("Faults", "DynamoDB down at $disconnect", () => dynamoDownAtDisconnect(env));
    await run.check("Faults", "@connections 429 storm", () => connectionsApiFaults(env, "429", { ...budget.storm, burst: 10, seed: SEEDS.disconnects + 1 }));
    await run.check("Faults", "@connections 5xx", () => connectionsApiFaults(env, "5xx", { sessions: budget.storm.sessions, share: 0.2, seed: SEEDS.disconnects + 2 }));
    await run.check("Faults", "Bedrock 5xx before the stream", () => bedrockHttpErrors(env));
    await run.check("Faults", "Bedrock failing mid-stream", () => bedrockStreamFaults(env, FAULT_STALL_MS));
    await run.check("Faults", "Random disconnects", () => randomDisconnects(env, budget.disconnectSessions, SEEDS.disconnects));
  });
  await withFaultEnv(true, (env) => run.check("Faults", "Lambda time budget", () => timeBudget(env, TIME_BUDGET_TIMEOUT_MS)));
}

async function load(run: Run, budget: Budget): Promise<void> {
  const credential = attackerCredential();
  const stack = await startLoadStack(credential);
  try {
    await run.check("Load", `${budget.loadSessions} concurrent sessions`, async () => loadFigure(await loadRun(stack, credential, budget.loadSessions, SEEDS.load), SEEDS.load));
  } finally {
    await stack.close();
  }
}

/** The bystander's answer may take at most this many times its idle time during a burst. */
const BYSTANDER_MAX_SLOWDOWN = 2;

async function fairUse(run: Run, budget: Budget): Promise<void> {
  const burst = async (throttle: StageThrottle | false, tag: string): Promise<void> => {
    const env = await startFairnessEnv(throttle);
    try {
      const name = throttle ? `Burst of ${budget.burstAsks} asks, stage throttled` : `Burst of ${budget.burstAsks} asks from one socket`;
      await run.check("Fair use", name, () => burstFigure(env, budget.burstAsks, tag, throttle, budget.burstTrials, BYSTANDER_MAX_SLOWDOWN));
    } finally {
      await env.close();
    }
  };
  await burst(false, "ledger");
  await burst(DEFAULT_STAGE_THROTTLE, "throttled");
}

async function hangs(run: Run, budget: Budget): Promise<void> {
  const env = await startHangEnv(budget.hangPosts);
  try {
    for (const [i, fault] of (["429", "5xx", "timeout"] as const).entries()) {
      await run.check("No silent hang", `@connections storm (95% of every call: ${fault})`, () => managementApiStorm(env, budget.hangClients, SEEDS.disconnects + 3 + i, fault));
    }
    for (const [i, fault] of (["429", "5xx"] as const).entries()) {
      await run.check("No silent hang", `Refusals under a @connections storm (95% of every call: ${fault})`, () => refusalStorm(env, budget.hangClients, SEEDS.disconnects + 9 + i, fault));
    }
    for (const [i, fault] of (["throttle", "error", "hang"] as const).entries()) {
      await run.check("No silent hang", `DynamoDB storm (95% of every call: ${fault})`, () => dynamoStorm(env, budget.hangClients, SEEDS.disconnects + 6 + i, fault));
    }
    await run.check("No silent hang", `@connections posts taking ${budget.hangPosts.latencyMs / 1000} s`, () => latencyHang(env, budget.hangClients));
    await run.check("No silent hang", "Clients that stop reading", () => pausedReaderHang(env, budget.hangClients, 10_000));
  } finally {
    await env.close();
  }
}

async function answers(run: Run, budget: Budget): Promise<void> {
  const env = await startAnswersEnv();
  try {
    await run.check("Answers", "Resume after a dropped connection", () => resumeAfterDrops(env, budget.resumeDrops, SEEDS.disconnects + 5));
    await run.check("Answers", "Connection lifetime", () => connectionLifetime(env));
    await run.check("Answers", "Concurrent asks in one session (memory)", () => memoryRace(env, [5, 20]));
    await run.check("Answers", "A flood of `resume` frames", () => resumeFlood(env, budget.resumeFloodFrames));
    await run.check("Answers", "A requestId reused while in flight", () => duplicateRequestId(env, budget.duplicatePairs));
  } finally {
    await env.close();
  }
}

async function sideDoors(run: Run, budget: Budget): Promise<void> {
  const stack = await startSideDoorStack();
  try {
    await run.check("Side doors", "DynamoDB", () => dynamoSideDoor(stack));
    await run.check("Side doors", "Lambda Invoke API", () => lambdaSideDoor(stack));
    await run.check("Side doors", "Chat page server", () => chatPageSideDoor(stack));
    await run.check("Side doors", "Unsigned 10 MB bodies", () => httpApiBodies(stack, budget.burstAsks >= 1000 ? 100 : 20));
    await run.check("Side doors", "Bedrock emulator request log", () => bedrockRequestLog(stack, budget.burstAsks >= 1000 ? 5000 : 1100));
  } finally {
    await stack.close();
  }
}

async function security(run: Run): Promise<void> {
  await run.check("Security", "IAM policies, evaluated", async () => policyFigure(checkLeastPrivilege(await captureDeployedPolicies())));
  const principals = {
    owner: localIamUser("owner", { allow: { connect: true, manageConnections: false } }),
    intruder: localIamUser("intruder", { allow: { connect: true, manageConnections: false } }),
    cognito: localCognitoIdentity({ authenticated: true }),
    otherCognito: localCognitoIdentity({ authenticated: false }),
  };
  const trap = await startTrap();
  const stack = await startReliabilityStack({ credentials: securityCredentials(principals) });
  const env = { stack, trap, ...principals };
  try {
    await run.check("Security", "Tampered signed URLs", () => tamperedQueries(env));
    await run.check("Security", "Signature replay after expiry", () => signatureReplay(env));
    await run.check("Security", "Cross-principal session hijack", () => sessionHijack(env));
    await run.check("Security", "Client-supplied streaming endpoint", () => clientSuppliedEndpoint(env));
    await run.check("Security", "No question or answer text in the logs", () => logsWithoutText(env), false);
  } finally {
    await stack.close();
    await trap.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { budget: { type: "string", default: "full" }, out: { type: "string" } },
    strict: true,
  });
  if (values.budget !== "full" && values.budget !== "test") throw new Error('--budget must be "full" or "test"');
  const budget = BUDGETS[values.budget];
  const out = reportFile(join(__dirname, ".."), values.budget, values.out);
  const started = Date.now();
  const loadAtStart = loadavg()[0];
  const run = new Run();
  // The checks call the handlers thousands of times; their own logs are captured per check.
  logger.setLogLevel("ERROR");
  // The load run first, so its memory figures start from a fresh process.
  await load(run, budget);
  await badInput(run, budget);
  await faults(run, budget);
  await fairUse(run, budget);
  await hangs(run, budget);
  await answers(run, budget);
  await security(run);
  await sideDoors(run, budget);
  const report = renderReport(run.rows, {
    command: values.budget === "full" ? "npm run reliability" : "npm run reliability -- --budget test",
    date: new Date().toISOString().slice(0, 10),
    node: process.versions.node,
    cpus: availableParallelism(),
    durationMs: Date.now() - started,
    load: { start: loadAtStart, end: loadavg()[0] },
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, report);
  const failed = run.rows.filter((row) => row.failure !== undefined).length;
  say(`${run.rows.length} checks, ${failed} failed; wrote ${out}`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  say(`crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
