import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import type * as pulumi from "@pulumi/pulumi";
import { BUNDLE_FILE } from "../../components/bundle";
import { statementsOf } from "./iam";
import { installMocks, MOCK_ARNS, registrationsSettled, TYPES, valueOf, type RecordedResource, type Recorder } from "./mocks";

const ROOT = path.resolve(__dirname, "..", "..");
/**
 * The consumer project. Its TypeScript sources end in `.fixture` so this repository's own
 * type check (which cannot resolve `qnabot-streaming`, the package under test) skips them;
 * the copy drops the suffix.
 */
const FIXTURE = path.join(__dirname, "fixtures", "consumer");
const FIXTURE_SUFFIX = ".fixture";
const TSC = require.resolve("typescript/bin/tsc");
/** Packages of the CLI and the chat page: a component consumer must not install them. */
const DEV_ONLY = ["tsx", "ws", "marked", "dompurify", "typescript", "mocha"];

const run = promisify(execFile);

async function sh(file: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: failure.stdout ?? "", stderr: failure.stderr ?? "", code: failure.code ?? 1 };
  }
}

/**
 * The consumer's lockfile: the tarball, and for its dependencies the exact versions this
 * repository resolved and tested (its lockfile's production entries), so `npm ci --offline`
 * installs them from the local npm cache by integrity, without the registry.
 */
function consumerLock(tarball: string): unknown {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, Record<string, unknown> & { dev?: boolean; peer?: boolean; link?: boolean }>;
  };
  const own = lock.packages[""];
  const integrity = `sha512-${createHash("sha512").update(fs.readFileSync(tarball)).digest("base64")}`;
  const packages: Record<string, unknown> = {
    "": { name: "streaming-consumer", dependencies: { "qnabot-streaming": `file:${tarball}` } },
    "node_modules/qnabot-streaming": {
      version: own.version,
      resolved: `file:${tarball}`,
      integrity,
      dependencies: own.dependencies,
      peerDependencies: own.peerDependencies,
      bin: own.bin,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key !== "" && !entry.dev && !entry.peer && !entry.link) packages[key] = entry;
  }
  return { name: "streaming-consumer", lockfileVersion: 3, requires: true, packages };
}

interface Consumer {
  dir: string;
  /** `tsc` diagnostics of the program under Pulumi's standard tsconfig, and of the handler under node16 / bundler. */
  diagnostics: { node: string; node16: string; bundler: string };
  /** `npm ls --omit=dev --all --parseable`, as package names. */
  installed: string[];
}

/**
 * Packs the package as `npm publish` would (prepack builds it), installs the tarball with
 * production dependencies only into a fresh project, links the peer dependencies (@pulumi/*)
 * and @types/node from this repository as the consumer's own, and compiles the consumer.
 */
async function prepareConsumer(): Promise<Consumer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qnabot-consumer-"));
  const packed = await sh("npm", ["pack", "--pack-destination", dir, "--json"], ROOT);
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stdout}${packed.stderr}`);
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as { filename: string }[];
  const tarball = path.join(dir, path.basename(filename));

  fs.cpSync(FIXTURE, dir, { recursive: true });
  for (const file of fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(FIXTURE_SUFFIX))) {
    fs.renameSync(path.join(dir, file), path.join(dir, file.slice(0, -FIXTURE_SUFFIX.length)));
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Record<string, Record<string, string>>;
  // @pulumi/* (peers) and the dev dependency @types/node are linked below instead of installed.
  manifest.dependencies = { "qnabot-streaming": `file:${tarball}` };
  delete manifest.devDependencies;
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(dir, "package-lock.json"), JSON.stringify(consumerLock(tarball), null, 1));
  const installed = await sh(
    "npm",
    ["ci", "--omit=dev", "--offline", "--legacy-peer-deps", "--ignore-scripts", "--no-audit", "--no-fund"],
    dir,
  );
  if (installed.code !== 0) throw new Error(`npm ci failed:\n${installed.stdout}${installed.stderr}`);
  const listed = await sh("npm", ["ls", "--omit=dev", "--all", "--parseable"], dir);

  for (const name of ["@pulumi/pulumi", "@pulumi/aws", "@pulumi/aws-native", "@types/node"]) {
    fs.mkdirSync(path.dirname(path.join(dir, "node_modules", name)), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules", name), path.join(dir, "node_modules", name), "dir");
  }

  const [node, node16, bundler] = await Promise.all([
    // Emits bin/ even when it reports errors, so the mocks run still shows what deploys.
    sh(process.execPath, [TSC, "-p", "tsconfig.json", "--pretty", "false"], dir),
    sh(process.execPath, [TSC, "--noEmit", "--strict", "--module", "node16", "--moduleResolution", "node16", "--target", "es2022", "--types", "node", "src/ask.ts"], dir),
    sh(process.execPath, [TSC, "--noEmit", "--strict", "--module", "esnext", "--moduleResolution", "bundler", "--target", "es2022", "--types", "node", "src/ask.ts"], dir),
  ]);
  return {
    dir,
    diagnostics: { node: node.stdout + node.stderr, node16: node16.stdout + node16.stderr, bundler: bundler.stdout + bundler.stderr },
    installed: listed.stdout
      .split("\n")
      .filter((line) => line.includes(`${path.sep}node_modules${path.sep}`))
      .map((line) => line.slice(line.lastIndexOf(`node_modules${path.sep}`) + "node_modules/".length)),
  };
}

async function archiveText(fn: RecordedResource): Promise<string> {
  const assets = (await fn.inputs.code.assets) as Record<string, { text: Promise<string> }>;
  return assets[BUNDLE_FILE].text;
}

describe("a Pulumi program consuming the packed package (npm pack → npm ci --omit=dev → tsc → mocks)", function () {
  // Packs (a full build), installs from the npm cache and type-checks @pulumi/aws: tens of seconds.
  this.timeout(300_000);
  let consumer: Consumer;
  let recorder: Recorder;
  let outputs: {
    endpoint: pulumi.Output<string>;
    managementEndpoint: pulumi.Output<string>;
    askStreamEndpoint: pulumi.Output<string>;
  };

  before(async () => {
    consumer = await prepareConsumer();
    recorder = await installMocks();
    // Pulumi runs a program from its project directory: handler paths are relative to it.
    const cwd = process.cwd();
    process.chdir(consumer.dir);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      outputs = require(path.join(consumer.dir, "bin", "index.js")) as typeof outputs;
      await registrationsSettled();
    } finally {
      process.chdir(cwd);
    }
  });
  after(() => {
    if (!consumer) return;
    for (const id of Object.keys(require.cache).filter((id) => id.startsWith(consumer.dir))) delete require.cache[id];
    fs.rmSync(consumer.dir, { recursive: true, force: true });
  });

  it("installs only the runtime of the components and the functions (no CLI or page packages)", () => {
    expect(consumer.installed).to.include.members([
      "qnabot-streaming",
      "esbuild",
      "@aws-sdk/client-apigatewaymanagementapi",
      "@aws-sdk/client-bedrock-runtime",
      "@aws-lambda-powertools/logger",
    ]);
    for (const name of DEV_ONLY) expect(consumer.installed, name).not.to.include(name);
  });

  it("type-checks with Pulumi's standard tsconfig (strict, moduleResolution node, no skipLibCheck)", () => {
    expect(consumer.diagnostics.node).to.equal("");
  });

  it("type-checks `qnabot-streaming/stream` under moduleResolution node16 and bundler too", () => {
    expect(consumer.diagnostics.node16).to.equal("");
    expect(consumer.diagnostics.bundler).to.equal("");
  });

  it("resolves the compiled entries, and ships the CLI as JavaScript that runs on plain Node", async () => {
    const resolve = createRequire(path.join(consumer.dir, "index.ts")).resolve;
    const pkg = path.join(consumer.dir, "node_modules", "qnabot-streaming");
    expect(resolve("qnabot-streaming")).to.equal(path.join(pkg, "dist", "components", "index.js"));
    expect(resolve("qnabot-streaming/stream")).to.equal(path.join(pkg, "dist", "functions", "stream", "index.js"));
    const help = await sh(process.execPath, [path.join(consumer.dir, "node_modules", ".bin", "qnabot-stream"), "--help"], consumer.dir);
    expect(help.code, help.stderr).to.equal(0);
    expect(help.stdout).to.include("qnabot-stream ask");
  });

  it("builds the handler-file route from the consumer's own file, with the stream library bundled in", async () => {
    const fn = recorder.named("chat-ask-handler");
    expect(fn.type).to.equal(TYPES.function);
    expect(fn.inputs.memorySize).to.equal(256);
    expect(fn.inputs.environment.variables).to.deep.include({
      ANSWER_PREFIX: "echo: ",
      STREAMING_ENDPOINT: "https://chat-api-id.execute-api.eu-west-1.amazonaws.com/live",
      CONNECTIONS_TABLE: "chat-connections",
    });
    const code = await archiveText(fn);
    expect(code).to.include("consumer-echo: ");
    expect(code).to.include("PostToConnection");
    expect(code).not.to.include(consumer.dir);
    expect(recorder.named("chat-route-ask-integration").inputs.integrationUri).to.equal(MOCK_ARNS.invoke("chat-ask-handler"));
    // The package's own connection function, bundled from the installed copy's sources.
    expect(await archiveText(recorder.named("chat-connection"))).to.include("$connect");
  });

  it("serves the custom domain, and keeps @connections calls on execute-api", async () => {
    expect(recorder.named("chat-domain").inputs.domainName).to.equal("chat.example.com");
    expect(recorder.named("chat-domain-record").inputs.zoneId).to.equal("Z0123456789ABC");
    expect(await valueOf(outputs.endpoint)).to.equal("wss://chat.example.com");
    expect(await valueOf(outputs.managementEndpoint)).to.equal("https://chat-api-id.execute-api.eu-west-1.amazonaws.com/live");
  });

  it("grants the consumer's roles connecting and streaming through the component", () => {
    expect(statementsOf(recorder.named("chat-connect-grant-1")).Connect.Resource).to.deep.equal([
      `${MOCK_ARNS.executeApi("chat-api")}/live/$connect`,
    ]);
    const streaming = recorder.named("chat-streaming-grant-1");
    expect(streaming.inputs.role).to.equal("worker");
    expect(statementsOf(streaming).ManageConnections.Resource).to.deep.equal([
      `${MOCK_ARNS.executeApi("chat-api")}/live/POST/@connections/*`,
      `${MOCK_ARNS.executeApi("chat-api")}/live/DELETE/@connections/*`,
    ]);
  });

  it("deploys a QnaBot's streaming HTTP door from the installed copy, and lets the chat clients ask it", async () => {
    expect(await valueOf(outputs.askStreamEndpoint)).to.equal("https://qna-streaming-http-url-id.lambda-url.eu-west-1.on.aws/");
    expect(recorder.named("qna-streaming-http-url").inputs).to.deep.include({
      functionName: "qna-streaming-http",
      authorizationType: "AWS_IAM",
      invokeMode: "RESPONSE_STREAM",
    });
    expect(recorder.named("qna-streaming-http-url").inputs.cors.allowOrigins).to.deep.equal(["https://chat.example.com"]);
    expect(recorder.named("qna-streaming-http").inputs.timeout).to.equal(120);
    // Bundled from the package's shipped sources: the runtime's streamifyResponse wraps the door.
    const code = await archiveText(recorder.named("qna-streaming-http"));
    expect(code).to.include("awslambda");
    expect(code).not.to.include(consumer.dir);
    const ask = recorder.named("qna-ask-grant-1");
    expect(ask.inputs.role).to.equal("chat-clients");
    expect(Object.keys(statementsOf(ask))).to.deep.equal(["InvokeStreamingHttpUrl", "InvokeStreamingHttpThroughUrl"]);
    expect(statementsOf(ask).InvokeStreamingHttpUrl.Resource).to.deep.equal([MOCK_ARNS.function("qna-streaming-http")]);
  });
});
