import * as fs from "node:fs";
import Module, { isBuiltin } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import {
  BUNDLE_FILE,
  FUNCTION_ENTRIES,
  buildBundle,
  bundleArchive,
  functionEntry,
  packageRoot,
  type FunctionName,
} from "../../components/bundle";

const FIXTURE_ENTRY = path.join(__dirname, "fixtures", "handler.ts");
const ROOT = path.resolve(__dirname, "..", "..");

type ModuleLoad = (request: string, ...rest: unknown[]) => unknown;
const moduleInternals = Module as unknown as { _load: ModuleLoad };

/**
 * Writes a bundle to its own directory (outside any node_modules tree) and loads it the way
 * the Lambda runtime does; returns its exports and every module it required while loading.
 */
function load(dir: string, code: string): { exports: Record<string, unknown>; required: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, BUNDLE_FILE);
  fs.writeFileSync(file, code);
  const required: string[] = [];
  const original = moduleInternals._load;
  moduleInternals._load = function (this: unknown, request, ...rest) {
    if (request !== file) required.push(request);
    return original.call(this, request, ...rest);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { exports: require(file) as Record<string, unknown>, required };
  } finally {
    moduleInternals._load = original;
  }
}

describe("inline bundling (components/bundle.ts)", function () {
  // esbuild takes a fraction of a second per entry; a loaded 2-core machine needs headroom.
  this.timeout(60_000);
  let tmp: string;
  let fixtureCode: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "qnabot-bundle-"));
    fixtureCode = await buildBundle(FIXTURE_ENTRY);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("produces CommonJS that Node loads, exporting the entry's handler and needing only Node's built-ins", () => {
    const loaded = load(path.join(tmp, "fixture"), fixtureCode);
    expect(loaded.exports.handler).to.be.a("function");
    // The AWS SDK is inside the bundle: nothing is left for the runtime's own copy to provide.
    expect(loaded.required.filter((request) => !isBuiltin(request))).to.deep.equal([]);
  });

  it("tree-shakes the AWS SDK to the commands the entry uses", () => {
    expect(fixtureCode).to.include("GetItemCommand");
    // Every other DynamoDB command is dropped: the SDK's ES modules were used.
    for (const unused of ["BatchWriteItemCommand", "CreateTableCommand", "ScanCommand", "TransactWriteItemsCommand"]) {
      expect(fixtureCode, unused).not.to.include(unused);
    }
    // Minified: no comments naming source files, one line per few hundred KB.
    expect(fixtureCode).not.to.match(/\/\/ (node_modules|tests)\//);
  });

  it("is byte-identical across runs and working directories, and names no path of this machine", async () => {
    const original = process.cwd();
    const elsewhere = fs.mkdtempSync(path.join(tmp, "cwd-"));
    let fromElsewhere: string;
    let fromRoot: string;
    try {
      process.chdir(elsewhere);
      fromElsewhere = await buildBundle(FIXTURE_ENTRY);
      process.chdir(os.homedir());
      fromRoot = await buildBundle(FIXTURE_ENTRY);
    } finally {
      process.chdir(original);
    }
    expect(fromElsewhere === fixtureCode, "same bytes from another working directory").to.equal(true);
    expect(fromRoot === fixtureCode, "same bytes from the home directory").to.equal(true);
    for (const machinePath of new Set([ROOT, original, elsewhere, os.homedir(), os.tmpdir()])) {
      expect(fixtureCode.includes(machinePath), `bundle mentions ${machinePath}`).to.equal(false);
    }
  });

  it("bundles an entry once per process, however many functions use it", async () => {
    const first = bundleArchive(FIXTURE_ENTRY);
    expect(bundleArchive(path.relative(process.cwd(), FIXTURE_ENTRY))).to.equal(first);
    const archive = await first;
    const assets = (await archive.assets) as Record<string, { text: Promise<string> }>;
    expect(Object.keys(assets)).to.deep.equal([BUNDLE_FILE]);
    expect(await assets[BUNDLE_FILE].text).to.equal(fixtureCode);
  });

  it("rejects a missing entry, naming it", async () => {
    const missing = path.join(tmp, "nope", "handler.ts");
    let error: unknown;
    try {
      await buildBundle(missing);
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.include(missing);
  });

  it("finds the package's own entries from the package root, and the root from any file below it", () => {
    for (const name of Object.keys(FUNCTION_ENTRIES) as FunctionName[]) {
      expect(functionEntry(name)).to.equal(path.join(ROOT, FUNCTION_ENTRIES[name]));
    }
    expect(functionEntry("streamingHttp")).to.equal(path.join(ROOT, "functions", "fulfillment", "url-handler.ts"));
    expect(packageRoot(path.join(ROOT, "components"))).to.equal(ROOT);
    expect(packageRoot(path.join(ROOT, "dist", "components"))).to.equal(ROOT);
  });

  for (const name of Object.keys(FUNCTION_ENTRIES) as FunctionName[]) {
    it(`bundles the real ${name} function into a loadable handler`, async () => {
      const loaded = load(path.join(tmp, name), await buildBundle(functionEntry(name)));
      expect(loaded.exports.handler).to.be.a("function");
      expect(loaded.required.filter((request) => !isBuiltin(request))).to.deep.equal([]);
    });
  }

  describe("the streaming HTTP door's response-streaming function", () => {
    const STREAMIFIED = Symbol("streamified by the runtime");
    let code: string;
    let fulfillmentCode: string;
    let saved: PropertyDescriptor | undefined;
    before(async () => {
      [code, fulfillmentCode] = await Promise.all([buildBundle(functionEntry("streamingHttp")), buildBundle(functionEntry("fulfillment"))]);
      saved = Object.getOwnPropertyDescriptor(globalThis, "awslambda");
    });
    afterEach(() => {
      if (saved) Object.defineProperty(globalThis, "awslambda", saved);
      else delete (globalThis as { awslambda?: unknown }).awslambda;
    });

    it("reads `awslambda` as the runtime's global: the exported handler is what the runtime's streamifyResponse returned", () => {
      // The Lambda Node.js runtime defines awslambda.streamifyResponse and
      // awslambda.HttpResponseStream before it loads a handler ("Writing response streaming
      // Lambda functions"); nothing in the bundle may define or replace them.
      const wrapped: unknown[] = [];
      (globalThis as { awslambda?: unknown }).awslambda = {
        streamifyResponse(handler: object) {
          wrapped.push(handler);
          return Object.assign(handler, { [STREAMIFIED]: true });
        },
        HttpResponseStream: { from: (stream: unknown) => stream },
      };
      const loaded = load(path.join(tmp, "streaming-http"), code);
      expect(wrapped).to.have.length(1);
      expect(loaded.exports.handler).to.equal(wrapped[0]);
      expect((loaded.exports.handler as Record<symbol, unknown>)[STREAMIFIED]).to.equal(true);
      expect(loaded.required.filter((request) => !isBuiltin(request))).to.deep.equal([]);
    });

    it("fails to load, saying why, where there is no runtime to stream through", () => {
      delete (globalThis as { awslambda?: unknown }).awslambda;
      expect(() => load(path.join(tmp, "streaming-http-bare"), code)).to.throw(
        "response streaming needs the Lambda Node.js runtime's awslambda global",
      );
    });

    it("leaves out the doors it does not serve (Lex code hook, WebSocket routes)", () => {
      // keepNames keeps function names in the bundle, so a module's presence shows.
      for (const marker of ["DialogCodeHook", "lexAudience", "dispatch"]) {
        expect(fulfillmentCode, `fulfillment has ${marker}`).to.include(marker);
        expect(code, `door has ${marker}`).not.to.include(marker);
      }
      expect(code).to.include("text/event-stream");
      expect(fulfillmentCode).not.to.include("text/event-stream");
    });
  });
});
