/**
 * Ctrl-C before the first token, in a terminal, through `npx qnabot-stream` as the README runs
 * it (issue 23). npm runs the command through `sh -c`; a terminal's Ctrl-C signals the whole
 * foreground process group, and that shell died of it at once, so npm re-raised SIGINT on itself
 * (@npmcli/run-script's run-script-pkg.js) and the calling shell dropped the rest of its `;`
 * list while the CLI was still stopping. Run here under a real pseudo-terminal (util-linux
 * `script`), with bash as the user's shell.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import { startLocalStack, type LocalStack } from "../../local/stack";

const ROOT = path.resolve(__dirname, "..", "..");
const SPINNER_FRAMES = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;

/** Runs `command` in bash under a pseudo-terminal; `onOutput` sees everything written so far. */
function inTerminal(command: string, onOutput: (output: string, type: (keys: string) => void) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    // The command travels in the environment, so no shell on the way reinterprets it.
    const child = spawn("script", ["-qfec", 'bash --norc --noprofile -c "$PTY_COMMAND"', "/dev/null"], {
      cwd: ROOT,
      // A user's environment: none of the npm_* variables of an npm script this suite may run under.
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))), TERM: "xterm", npm_config_update_notifier: "false", PTY_COMMAND: command },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    const type = (keys: string) => child.stdin.write(keys);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      onOutput(output, type);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.on("error", reject);
    child.on("close", () => resolve(output));
  });
}

describe("client: Ctrl-C under npx in a terminal (issue 23)", function () {
  this.timeout(120_000);
  let stack: LocalStack;

  before(async () => {
    // No first token for a minute: the key is pressed while the spinner waits.
    stack = await startLocalStack({ bedrockBehavior: { firstTokenDelayMs: 60_000 }, env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" } });
  });

  after(async () => {
    await stack?.close();
  });

  it("stops cleanly before the first token: the stopping line, no spinner frame left, exit 130, and the shell runs the rest of the list", async () => {
    let pressed = false;
    const output = await inTerminal(`npx qnabot-stream ask --local ${stack.pageUrl} 'What is streaming?'; echo "after: $?"`, (so_far, type) => {
      if (!pressed && so_far.includes("waiting for the first token…")) {
        pressed = true;
        type("\x03");
      }
    });
    expect(pressed, output).to.equal(true);
    expect(output).to.include("stopping the answer…");
    expect(output, JSON.stringify(output)).to.match(/after: 130\r?\n/);
    // Every spinner frame drawn (the CLI's, and npm's own) was cleared from its line before anything else was written.
    const frames = [...output.matchAll(new RegExp(SPINNER_FRAMES.source, "g"))];
    expect(frames.length).to.be.above(0);
    for (const frame of frames) {
      const rest = output.slice(frame.index + 1);
      expect(rest, JSON.stringify(rest.slice(0, 80))).to.match(/^[^\r\n\x1b]*(\r\x1b\[2K|\x1b\[1G\x1b\[0K)/);
    }
    expect(output.indexOf("stopping the answer…")).to.be.below(output.indexOf("after: 130"));
  });
});
