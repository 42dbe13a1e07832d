import { expect } from "chai";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ENDPOINT_OUTPUT, readStackEndpoint } from "../../client/stack-output";
import { UsageError } from "../../client/exit-codes";

const AWS = "wss://abc123def4.execute-api.us-east-1.amazonaws.com/Prod";

describe("client: reading the endpoint from a Pulumi stack", () => {
  let bin: string;

  before(() => {
    bin = mkdtempSync(path.join(tmpdir(), "fake-pulumi-"));
  });
  after(() => rmSync(bin, { recursive: true, force: true }));

  /** A stand-in `pulumi` on PATH that records its arguments and answers like the real one. */
  function fakePulumi(script: string): NodeJS.ProcessEnv {
    const file = path.join(bin, "pulumi");
    writeFileSync(file, `#!/bin/sh\necho "$@" > "${bin}/args"\n${script}\n`);
    chmodSync(file, 0o755);
    return { PATH: `${bin}:/usr/bin:/bin` };
  }

  it("runs pulumi stack output StreamingWebSocketEndpoint --stack <name>", async () => {
    const env = fakePulumi(`echo "${AWS}"`);
    expect(await readStackEndpoint("dev", { env })).to.equal(AWS);
    expect(readFileSync(path.join(bin, "args"), "utf8").trim()).to.equal(`stack output ${ENDPOINT_OUTPUT} --stack dev`);
  });

  it("says clearly when the pulumi CLI is missing", async () => {
    const missing = readStackEndpoint("dev", { env: { PATH: path.join(bin, "nowhere") } });
    await expectRejection(missing, /pulumi CLI was not found on PATH.*--endpoint/);
  });

  it("passes on pulumi's own complaint, and refuses an empty or foreign output", async () => {
    await expectRejection(
      readStackEndpoint("prod", { env: fakePulumi('echo "error: no stack named \'prod\' found" >&2; exit 255') }),
      /--stack prod failed: error: no stack named 'prod' found/,
    );
    await expectRejection(readStackEndpoint("dev", { env: fakePulumi("true") }), /has no StreamingWebSocketEndpoint output/);
    await expectRejection(readStackEndpoint("dev", { env: fakePulumi('echo "https://x.example/"') }), /must start with wss:\/\//);
  });
});

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(UsageError);
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail("expected a rejection");
}
