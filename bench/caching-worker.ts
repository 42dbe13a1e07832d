/** The process benchmark 7 (bench/caching.ts) runs in: its local stacks' handlers log quietly from their first import. */
import { measureCaching, type CachingOptions } from "./caching";
import { serveWorker } from "./ipc";

export const methods = {
  measure: (options: CachingOptions) => measureCaching(options),
};

serveWorker(methods);
