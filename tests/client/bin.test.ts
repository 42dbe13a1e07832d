import { execFile } from "node:child_process";
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
});
