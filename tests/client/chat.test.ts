import { expect } from "chai";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runChatCommand } from "../../client/chat";
import type { ChatServer } from "../../client/chat-server";
import { CliError, EXIT } from "../../client/exit-codes";
import { fetchSignedUrl, type SignedUrl } from "../../client/web/signed-url";

const AWS = "wss://abc123def4.execute-api.eu-west-1.amazonaws.com/Prod";
const credentials = async () => ({ accessKeyId: "AKIDCHAT", secretAccessKey: "chat-secret" });

describe("client: npm run chat", () => {
  let server: ChatServer | undefined;
  let output = "";
  const stdout = { write: (text: string) => (output += text) };

  afterEach(async () => {
    await server?.close();
    server = undefined;
    output = "";
  });

  /** As the page (or the CLI's --local) asks: with the page's cookie, which the server signs for. */
  function signedUrl(): Promise<SignedUrl> {
    return fetchSignedUrl(server!.url, "tab");
  }

  it("serves the page for --endpoint, signing for that endpoint and region", async () => {
    server = await runChatCommand(["--endpoint", AWS, "--port", "0"], { stdout, env: {}, credentials });
    expect(output).to.equal(
      `Chat page: ${server!.url}\nSigning for ${AWS} (eu-west-1) with your default AWS credentials. Ctrl-C stops.\n`,
    );
    const { url, label } = await signedUrl();
    expect(url).to.match(/^wss:\/\/abc123def4\.execute-api\.eu-west-1\.amazonaws\.com\/Prod\?/);
    expect(new URL(url).searchParams.get("X-Amz-Credential")).to.match(/^AKIDCHAT\/\d{8}\/eu-west-1\/execute-api\//);
    expect(label).to.equal("abc123def4.execute-api.eu-west-1.amazonaws.com · eu-west-1");
  });

  it("reads the endpoint of --stack from pulumi", async () => {
    const bin = mkdtempSync(path.join(tmpdir(), "fake-pulumi-"));
    try {
      writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "${AWS}"\n`);
      chmodSync(path.join(bin, "pulumi"), 0o755);
      server = await runChatCommand(["--stack", "dev", "--port", "0"], { stdout, env: { PATH: `${bin}:/usr/bin:/bin` }, credentials });
      expect((await signedUrl()).label).to.equal("stack dev · eu-west-1");
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it("exits 3 without credentials, before serving anything", async () => {
    const none = async () => {
      throw new Error("Could not load credentials from any providers");
    };
    try {
      server = await runChatCommand(["--endpoint", AWS, "--port", "0"], { stdout, env: {}, credentials: none });
      expect.fail("expected a failure");
    } catch (error) {
      expect(error).to.be.instanceOf(CliError);
      expect((error as CliError).exitCode).to.equal(EXIT.auth);
      expect((error as Error).message).to.match(/^no AWS credentials found \(Could not load credentials from any providers\); configure/);
    }
    expect(output).to.equal("");
  });

  it("prints help", async () => {
    expect(await runChatCommand(["--help"], { stdout, env: {} })).to.equal(undefined);
    expect(output).to.match(/^Usage:\n {2}npm run chat -- --stack <name>/);
  });
});
