/** One local stack of benchmark 7 (bench/caching.ts) in a process of its own, its handlers quiet from their first import. */
import type { LocalStack } from "../local/stack";
import { session, startCachingStack, type CachingOptions } from "./caching";
import { serveWorker } from "./ipc";

let stack: LocalStack | undefined;

export const methods = {
  async start({ options, mode }: { options: CachingOptions; mode: "off" | "auto" }): Promise<void> {
    stack = await startCachingStack(options, mode);
  },
  session() {
    if (!stack) throw new Error("start the stack first");
    return session(stack);
  },
  async close(): Promise<void> {
    await stack?.close();
    stack = undefined;
  },
};

serveWorker(methods);
