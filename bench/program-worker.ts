/**
 * Runs the Pulumi program (components/stack.ts) under the infrastructure tests' mocks in a
 * fresh process, so the first run pays what `pulumi preview` pays: loading the program and
 * bundling its functions.
 */
import { parseStackConfig } from "../components/config";
import { createStack } from "../components/stack";
import { installMocks, registrationsSettled } from "../tests/infra/mocks";
import { serveWorker } from "./ipc";
import { countRegistered } from "./program";

export interface ProgramRun {
  /** Registered resources, component resources included. */
  resources: number;
  /** AWS resources only. */
  awsResources: number;
  components: number;
  /** From createStack() to every registration settled, ms. */
  wallMs: number;
}

export const methods = {
  async run({ streaming }: { streaming: boolean }): Promise<ProgramRun> {
    const recorder = await installMocks();
    const started = performance.now();
    createStack(parseStackConfig((key) => (key === "enableStreaming" ? String(streaming) : undefined)), {});
    await registrationsSettled();
    const wallMs = performance.now() - started;
    return {
      ...countRegistered(recorder.resources),
      wallMs,
    };
  },
};

serveWorker(methods);
