import { DEPLOYED_POST_BUDGET, type PostBudget } from "./hangs";
/**
 * How much each check does: `test` fits `npm test`'s time budget on a 2-core machine,
 * `full` is what `npm run reliability` runs and RELIABILITY.md reports. Seeds are fixed, so
 * every run replays the same cases; fast-check prints the seed and path of a failing one.
 */
export const SEEDS = {
  /** The six in-process entry points use handlers + 0…5. */
  handlers: 20_260_710,
  gatewayFrames: 20_260_720,
  /** Storms use disconnects + 1 and + 2. */
  disconnects: 20_260_730,
  load: 20_260_740,
} as const;

export interface Budget {
  /** Cases per in-process entry point. */
  readonly handlerRuns: number;
  /** Random client frames over real sockets. */
  readonly gatewayFrames: number;
  /** Sessions in the random-disconnect fault scenario. */
  readonly disconnectSessions: number;
  /** Concurrent sessions of the @connections throttling storm, and the post rate they share. */
  readonly storm: { readonly sessions: number; readonly ratePerSecond: number };
  /** Concurrent sessions of the load run. */
  readonly loadSessions: number;
  /** Asks one socket sends at once in the fair-use burst. */
  readonly burstAsks: number;
  /** Times each burst is repeated, for the spread of the bystander's time. */
  readonly burstTrials: number;
  /** json clients of each hang scenario (429 storm, post latency, paused reader). */
  readonly hangClients: number;
  /** The writer's post budget in the hang scenarios (hangs.ts). */
  readonly hangPosts: PostBudget;
  /** Answers dropped at a random point and resumed (answers.ts). */
  readonly resumeDrops: number;
  /** `resume` frames one socket sends for one ended answer (answers.ts; the attack sent 300). */
  readonly resumeFloodFrames: number;
  /** Sockets asking twice with one requestId (answers.ts). */
  readonly duplicatePairs: number;
}

export const BUDGETS: Readonly<Record<"test" | "full", Budget>> = {
  test: { handlerRuns: 500, gatewayFrames: 100, disconnectSessions: 20, storm: { sessions: 20, ratePerSecond: 35 }, loadSessions: 50, burstAsks: 200, burstTrials: 1, hangClients: 5, hangPosts: { retries: 3, timeoutMs: 1000, latencyMs: 1500, dynamoTimeoutMs: 1000 }, resumeDrops: 6, duplicatePairs: 2, resumeFloodFrames: 40 },
  full: { handlerRuns: 1000, gatewayFrames: 300, disconnectSessions: 100, storm: { sessions: 60, ratePerSecond: 100 }, loadSessions: 500, burstAsks: 1000, burstTrials: 3, hangClients: 20, hangPosts: DEPLOYED_POST_BUDGET, resumeDrops: 50, duplicatePairs: 10, resumeFloodFrames: 300 },
};
