/**
 * Bench processes. The benchmarks put each side of the system in its own process, as it is
 * deployed (the AWS side, the Lambda handlers, the users' clients), so one side's CPU does
 * not pass for another's latency on this small machine. A worker is a forked Node process
 * running a TypeScript module through tsx that serves named async methods over the IPC
 * channel; times cross processes as `epochNow()`, a sub-millisecond clock every process
 * on the host shares.
 */
import { fork, type ChildProcess } from "node:child_process";

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across processes. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface ProcessUsage {
  /** Peak resident set size of the process so far, in bytes. */
  maxRssBytes: number;
  rssBytes: number;
  /** CPU time used so far (user + system), in ms. */
  cpuMs: number;
}

export function processUsage(): ProcessUsage {
  const cpu = process.cpuUsage();
  return {
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    rssBytes: process.memoryUsage().rss,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

// Method parameters and results are whatever each worker declares; IPC carries them as JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Method = (params: any) => unknown;
export type Methods = Record<string, Method>;

interface Request {
  id: number;
  method: string;
  params: unknown;
}
type Response = { id: number; result: unknown } | { id: number; error: string };

export interface Worker<M extends Methods> {
  readonly pid: number;
  call<K extends keyof M & string>(method: K, ...params: Parameters<M[K]>): Promise<Awaited<ReturnType<M[K]>>>;
  /** Asks the worker to run its `close` method and exit; kills it if it has not exited within `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

/** Environment every bench process runs with: quiet handlers and SDKs, no EMF lines on stdout. */
export const QUIET_ENV: Readonly<Record<string, string>> = {
  POWERTOOLS_LOG_LEVEL: "ERROR",
  POWERTOOLS_METRICS_DISABLED: "true",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

/** Forks `file` (a module that calls `serveWorker`) and resolves once it is ready to serve. */
export async function startWorker<M extends Methods>(file: string, env: Record<string, string> = {}): Promise<Worker<M>> {
  const child: ChildProcess = fork(file, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, ...QUIET_ENV, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => {
    for (const { reject } of pending.values()) reject(new Error(`bench worker ${file} exited`));
    pending.clear();
  });
  child.on("message", (message: Response | "ready") => {
    if (message === "ready") return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if ("error" in message) waiter.reject(new Error(`${file}: ${message.error}`));
    else waiter.resolve(message.result);
  });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (message !== "ready") return;
      child.off("message", onMessage);
      resolve();
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`bench worker ${file} exited with ${code} before it was ready`)));
  });
  return {
    pid: child.pid!,
    call(method, ...params) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, method, params: params[0] } satisfies Request);
      });
    },
    async close(timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send("close");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Serves `methods` to the parent; a `close` method, if any, runs before the process exits. */
export function serveWorker(methods: Methods): void {
  if (!process.send) throw new Error("a bench worker must be started with startWorker()");
  process.on("message", (message: Request | "close") => {
    if (message === "close") {
      Promise.resolve(methods.close?.(undefined))
        .catch((error: unknown) => process.stderr.write(`bench worker close failed: ${String(error)}\n`))
        .finally(() => process.exit(0));
      return;
    }
    const { id, method, params } = message;
    const run = methods[method];
    Promise.resolve()
      .then(() => {
        if (!run) throw new Error(`no method ${method}`);
        return run(params);
      })
      .then(
        (result) => process.send!({ id, result: result ?? null } satisfies Response),
        (error: unknown) => process.send!({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Response),
      );
  });
  process.send("ready");
}
