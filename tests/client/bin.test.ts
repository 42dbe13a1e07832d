import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";

const ROOT = path.resolve(__dirname, "..", "..");

describe("client: the qnabot-stream command (client/bin.js)", () => {
  // The README's `npx qnabot-stream …` after `npm install` in a clone: there is no build (dist/)
  // then, so the command must run the TypeScript source; an installed package runs its bundle.
  it("runs from the repository as npx runs it, built or not", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, "client", "bin.js"), "--help"], { cwd: ROOT });
    expect(stdout).to.match(/^Usage:\n {2}qnabot-stream ask/);
  });

  // docs/clients.md "From any directory": outside the clone npx asks the registry (a 404), so
  // the docs install the clone as a global command; here into a throwaway prefix, run from elsewhere.
  it("runs from any directory once the clone is installed globally (npm install --global .)", async function () {
    this.timeout(120_000);
    const prefix = mkdtempSync(path.join(tmpdir(), "qnabot-global-"));
    try {
      await promisify(execFile)("npm", ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "."], { cwd: ROOT });
      const { stdout } = await promisify(execFile)(path.join(prefix, "bin", "qnabot-stream"), ["--help"], { cwd: tmpdir() });
      expect(stdout).to.match(/^Usage:\n {2}qnabot-stream ask/);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });
});
