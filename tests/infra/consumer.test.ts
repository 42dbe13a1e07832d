import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { BUNDLE_FILE } from "../../components/bundle";
import { statementsOf } from "./iam";
import { installMocks, MOCK_ARNS, registrationsSettled, TYPES, valueOf, type RecordedResource, type Recorder } from "./mocks";

const ROOT = path.resolve(__dirname, "..", "..");
const FIXTURE = path.join(__dirname, "fixtures", "consumer");

async function archiveText(fn: RecordedResource): Promise<string> {
  const assets = (await fn.inputs.code.assets) as Record<string, { text: Promise<string> }>;
  return assets[BUNDLE_FILE].text;
}

/**
 * Lays out what `npm install qnabot-streaming` gives a consumer: the package (package.json,
 * `npm run build` output, the function sources it ships) with its dependencies, next to the
 * consumer's own program.
 */
async function installPackage(into: string): Promise<string> {
  const pkg = path.join(into, "node_modules", "qnabot-streaming");
  try {
    await promisify(execFile)(
      process.execPath,
      [require.resolve("typescript/bin/tsc"), "-p", path.join(ROOT, "tsconfig.build.json"), "--outDir", path.join(pkg, "dist")],
      { cwd: ROOT },
    );
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run build failed:\n${stdout ?? ""}${stderr ?? ""}`);
  }
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(pkg, "package.json"));
  fs.cpSync(path.join(ROOT, "functions"), path.join(pkg, "functions"), {
    recursive: true,
    filter: (source) => !source.endsWith(".test.ts"),
  });
  // The package's dependencies, and the consumer's (the same @pulumi packages, so one runtime).
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(pkg, "node_modules"), "dir");
  fs.mkdirSync(path.join(into, "node_modules", "@pulumi"));
  for (const name of ["pulumi", "aws"]) {
    fs.symlinkSync(path.join(ROOT, "node_modules", "@pulumi", name), path.join(into, "node_modules", "@pulumi", name), "dir");
  }
  fs.cpSync(FIXTURE, path.join(into, "consumer"), { recursive: true });
  return pkg;
}

describe("a second Pulumi program importing the package (tests/infra/fixtures/consumer)", function () {
  // Includes a full `tsc -p tsconfig.build.json`, several seconds on a small machine.
  this.timeout(180_000);
  let tmp: string;
  let pkg: string;
  let recorder: Recorder;
  let outputs: { endpoint: import("@pulumi/pulumi").Output<string> };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "qnabot-consumer-"));
    pkg = await installPackage(tmp);
    recorder = await installMocks();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    outputs = require(path.join(tmp, "consumer", "index.js")) as typeof outputs;
    await registrationsSettled();
  });
  after(() => {
    for (const id of Object.keys(require.cache).filter((id) => id.startsWith(tmp))) delete require.cache[id];
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("resolves `qnabot-streaming` to the compiled entry, with type declarations", () => {
    const entry = createRequire(path.join(tmp, "consumer", "index.js")).resolve("qnabot-streaming");
    expect(entry).to.equal(path.join(pkg, "dist", "components", "index.js"));
    const types = fs.readFileSync(path.join(pkg, "dist", "components", "index.d.ts"), "utf8");
    expect(types).to.include("StreamingComponent");
    expect(fs.readFileSync(path.join(pkg, "dist", "components", "streaming.d.ts"), "utf8")).to.include(
      "export interface StreamingComponentArgs",
    );
  });

  it("deploys the component with the consumer's route, served by the consumer's function", async () => {
    expect(recorder.named("chat").type).to.equal(TYPES.streaming);
    expect(recorder.named("chat-route-echo").inputs).to.deep.include({ routeKey: "echo", apiId: "chat-api-id" });
    expect(recorder.named("chat-route-echo-integration").inputs.integrationUri).to.equal(MOCK_ARNS.invoke("echo"));
    expect(recorder.named("chat-route-echo-permission").inputs).to.deep.include({
      function: MOCK_ARNS.function("echo"),
      sourceArn: `${MOCK_ARNS.executeApi("chat-api")}/live/echo`,
    });
    expect(await valueOf(outputs.endpoint)).to.equal("wss://chat-api-id.execute-api.eu-west-1.amazonaws.com/live");
  });

  it("bundles the package's connection function from the installed copy, and the consumer's own handler", async () => {
    expect(await archiveText(recorder.named("chat-connection"))).to.include("$connect");
    const echo = await archiveText(recorder.named("echo"));
    expect(echo).to.include("statusCode");
    expect(echo).not.to.include(tmp);
  });

  it("grants the consumer's role streaming through the component", () => {
    const grant = recorder.named("chat-streaming-echo-role");
    expect(grant.parent).to.equal("chat");
    expect(statementsOf(grant).PostToConnections.Resource).to.deep.equal([
      `${MOCK_ARNS.executeApi("chat-api")}/live/POST/@connections/*`,
    ]);
  });
});
