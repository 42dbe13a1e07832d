/**
 * The handlers exactly as they deploy: the esbuild bundles the component uploads
 * (components/bundle.ts `bundleArchive`, the same archive Pulumi ships), each written to its
 * own directory as the `index.js` of a Lambda code package and required from there, as the
 * Lambda Node.js runtime loads `index.handler`. So a bundling mistake (a module esbuild cannot
 * resolve, a lazy `require` left dangling, code that only works from the TypeScript sources)
 * fails locally instead of on AWS. The response-streaming bundle reads the runtime's
 * `awslambda` global, which local/response-streaming.ts stands in for.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { BUNDLE_FILE, bundleArchive, functionEntry, type FunctionName, type ResponseStreamingFunctionName } from "../components/bundle";
import { installResponseStreaming, isStreamingHandler, type StreamingHandler } from "./response-streaming";

export type BundledFunction = FunctionName | ResponseStreamingFunctionName;

export interface DeployedBundles {
  /** The directory holding one code package per function (`{name}/index.js`). */
  readonly dir: string;
  /** The `handler` export of a function's bundle, required on first use (after the stack's environment is set). */
  handler(name: BundledFunction): unknown;
  /**
   * A response-streaming function's handler, for a function URL that needs one at once: the
   * bundle itself is required on the first invocation, and must have wrapped its handler with
   * the runtime's `awslambda.streamifyResponse`.
   */
  streamingHandler(name: ResponseStreamingFunctionName): StreamingHandler;
  /** Removes the code packages. */
  remove(): void;
}

/** The text of the archive's BUNDLE_FILE: what the function's code package holds. */
async function bundleText(name: BundledFunction): Promise<string> {
  const archive = await bundleArchive(functionEntry(name));
  const asset = (await archive.assets)[BUNDLE_FILE] as pulumi.asset.StringAsset;
  const text = await asset.text;
  if (typeof text !== "string") throw new Error(`the ${name} archive has no ${BUNDLE_FILE} text`);
  return text;
}

/** Builds (once per process, as bundleArchive caches) and writes the code packages of `names`. */
export async function writeDeployedBundles(names: readonly BundledFunction[]): Promise<DeployedBundles> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qnabot-bundles-"));
  const files = new Map<BundledFunction, string>();
  try {
    for (const name of names) {
      const file = path.join(dir, name, BUNDLE_FILE);
      fs.mkdirSync(path.dirname(file));
      fs.writeFileSync(file, await bundleText(name));
      files.set(name, file);
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const handler = (name: BundledFunction): unknown => {
    const file = files.get(name);
    if (!file) throw new Error(`no bundle was written for ${name}`);
    // The streaming bundle wraps its handler with the runtime's global when it loads.
    installResponseStreaming();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(file) as { handler?: unknown }).handler;
  };
  return {
    dir,
    handler,
    streamingHandler(name) {
      installResponseStreaming();
      const runtime = (globalThis as unknown as { awslambda: { streamifyResponse(handler: StreamingHandler): StreamingHandler } }).awslambda;
      let loaded: StreamingHandler | undefined;
      return runtime.streamifyResponse((event, responseStream, context) => {
        if (!loaded) {
          const exported = handler(name);
          if (!isStreamingHandler(exported)) throw new Error(`the ${name} bundle's handler is not wrapped by awslambda.streamifyResponse`);
          loaded = exported;
        }
        return loaded(event, responseStream, context);
      });
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
