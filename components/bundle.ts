/**
 * Inline bundling of Lambda entries at program run time: esbuild turns an entry and its whole
 * dependency graph (the AWS SDK included, so the code never depends on the runtime's copy)
 * into one minified CommonJS file, shipped as an AssetArchive of StringAssets. The output
 * depends only on the sources, never on the machine or the working directory, so
 * `pulumi preview` shows no spurious code diffs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as esbuild from "esbuild";
import * as pulumi from "@pulumi/pulumi";

/** The file name inside the archive; the handler setting is `index.handler`. */
export const BUNDLE_FILE = "index.js";
/** The Lambda `handler` setting matching BUNDLE_FILE and an entry exporting `handler`. */
export const BUNDLE_HANDLER = "index.handler";

/** Entries of this package's own functions, relative to the package root. */
export const FUNCTION_ENTRIES = {
  connection: "functions/connection/handler.ts",
  fulfillment: "functions/fulfillment/handler.ts",
} as const;

export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/**
 * Entries of response-streaming functions. They load only where the Lambda Node.js runtime
 * (or a stand-in) defines the `awslambda` global, which the bundle reads as a global: nothing
 * bundles or replaces it.
 */
export const RESPONSE_STREAMING_ENTRIES = {
  streamingHttp: "functions/fulfillment/url-handler.ts",
} as const;

export type ResponseStreamingFunctionName = keyof typeof RESPONSE_STREAMING_ENTRIES;

export interface BundleOptions {
  /**
   * Directory paths inside the bundle are made relative to (and node_modules resolved from).
   * @default the nearest directory above the entry that holds a package.json
   */
  readonly rootDir?: string;
}

/** The nearest directory at or above `start` that holds a package.json. */
export function packageRoot(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json at or above ${start}`);
    dir = parent;
  }
}

/**
 * Absolute path of one of this package's function entries. Resolved from this module's own
 * location, so it works from the TypeScript sources, from compiled `dist/`, and from an
 * installed copy under a consumer's node_modules (the package ships `functions/`).
 */
export function functionEntry(name: FunctionName | ResponseStreamingFunctionName): string {
  const entries: Record<FunctionName | ResponseStreamingFunctionName, string> = { ...FUNCTION_ENTRIES, ...RESPONSE_STREAMING_ENTRIES };
  return path.join(packageRoot(__dirname), entries[name]);
}

/** Bundles `entry` (uncached): the JavaScript of BUNDLE_FILE. */
export async function buildBundle(entry: string, options: BundleOptions = {}): Promise<string> {
  const entryPath = path.resolve(entry);
  if (!fs.existsSync(entryPath)) throw new Error(`Lambda entry not found: ${entryPath}`);
  const rootDir = path.resolve(options.rootDir ?? packageRoot(path.dirname(entryPath)));
  const result = await esbuild.build({
    entryPoints: [entryPath],
    absWorkingDir: rootDir,
    bundle: true,
    write: false,
    platform: "node",
    target: "node22",
    format: "cjs",
    // ES module builds of the AWS SDK are what makes tree-shaking effective.
    mainFields: ["module", "main"],
    minify: true,
    treeShaking: true,
    // Error and class names survive minification, so logs and `name` checks stay readable.
    keepNames: true,
    legalComments: "none",
    sourcemap: false,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild produced no output for ${entryPath}`);
  return output.text;
}

const archives = new Map<string, Promise<pulumi.asset.AssetArchive>>();

/**
 * The deployable archive of `entry`, bundled once per process however many functions or
 * component instances use it.
 */
export function bundleArchive(entry: string, options: BundleOptions = {}): Promise<pulumi.asset.AssetArchive> {
  const entryPath = path.resolve(entry);
  const key = `${options.rootDir ? path.resolve(options.rootDir) : ""}\0${entryPath}`;
  let archive = archives.get(key);
  if (!archive) {
    archive = buildBundle(entryPath, options).then(
      (code) => new pulumi.asset.AssetArchive({ [BUNDLE_FILE]: new pulumi.asset.StringAsset(code) }),
    );
    // A failed build is not cached, so a later call (after the entry is fixed) tries again.
    archive.catch(() => archives.delete(key));
    archives.set(key, archive);
  }
  return archive;
}
