import { expect } from "chai";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { isHandlerLogLine, isOnlyHandlerLogs } from "./setup";

const ROOT = path.join(__dirname, "..");
const FIXTURE = "tests/setup-fixture/noisy.fixture.ts";

/** Runs mocha on the fixture in a child, with the environment a developer's shell has. */
function mocha(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; output: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  // This process already carries what the setup file sets; a fresh shell does not.
  delete childEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  if (!("DEBUG" in env)) delete childEnv.DEBUG;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "node_modules/mocha/bin/mocha.js"), ...args, FIXTURE], {
      cwd: ROOT,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (code) => resolve({ code, output }));
  });
}

const lastLine = (output: string) => output.trimEnd().split("\n").pop()?.trim();

describe("a quiet test run (tests/setup.ts, issue 12)", function () {
  this.timeout(60_000);

  it("tells the handlers' log and EMF lines from other output", () => {
    expect(isHandlerLogLine('{"level":"INFO","message":"route handled","timestamp":"2026-01-01T00:00:00.000Z","service":"qnabot-streaming"}')).to.equal(true);
    expect(isHandlerLogLine('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"StreamPosts":3}')).to.equal(true);
    expect(isHandlerLogLine('{"v":1,"type":"delta","requestId":"r","seq":1,"text":"level"}')).to.equal(false);
    expect(isHandlerLogLine("  ✔ a test")).to.equal(false);
    expect(isOnlyHandlerLogs('{"level":"WARN","service":"s"}\n{"level":"INFO","service":"s"}\n')).to.equal(true);
    expect(isOnlyHandlerLogs('{"level":"WARN","service":"s"}\nsomething else\n')).to.equal(false);
    expect(isOnlyHandlerLogs("\n")).to.equal(false);
  });

  it("without the setup file, the same test prints handler logs and the SDK's Node version warning", async () => {
    const { code, output } = await mocha(["--no-config", "--require", "tsx/cjs"]);
    expect(code).to.equal(0);
    expect(output).to.include('"message":"route handled"');
    expect(output).to.include("NodeVersionSupportWarning");
  });

  it("with it, prints no handler log and no SDK warning, keeps other output, and ends with mocha's summary", async () => {
    const { code, output } = await mocha([]);
    expect(code).to.equal(0);
    expect(output).not.to.include('"level"');
    expect(output).not.to.include("NodeVersionSupportWarning");
    expect(output).to.include('"text":"not a log"');
    expect(lastLine(output)).to.match(/^1 passing \(\d+m?s\)$/);
  });

  it("with DEBUG set, shows the handler logs", async () => {
    const { output } = await mocha([], { DEBUG: "1" });
    expect(output).to.include('"message":"route handled"');
    expect(output).to.include('"message":"could not register the connection"');
  });
});
