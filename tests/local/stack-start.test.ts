/**
 * `npm start` as a user runs it: the local stack in its own process on an OS-assigned port,
 * the chat page served, one question asked with the CLI, and a clean stop on Ctrl-C with a tab still open.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import { expect } from "chai";
import { plainText } from "../../functions/stream/plain-text";
import { formatAnswer } from "../../functions/fulfillment/format";
import type { Envelope } from "../../functions/shared/protocol";
import { fetchSignedUrl } from "../../client/web/signed-url";
import { openSocket } from "./stack-helpers";
import { LexWebUiClient, type LexWebUiConfig } from "./lex-web-ui-client";

/** Reads the Lex Web UI settings from the banner, as a user copies them into its config. */
function lexWebUiConfig(banner: string): LexWebUiConfig {
  const value = (label: string): string => {
    const m = new RegExp(`^\\s+${label}\\s+(\\S+)$`, "m").exec(banner);
    if (!m) throw new Error(`the banner has no "${label}": ${banner}`);
    return m[1];
  };
  return {
    region: value("Region"),
    webSocketUrl: value("Streaming WebSocket URL"),
    cognito: { identityPoolId: value("Cognito identity pool id"), endpoint: value("Cognito Identity endpoint") },
    lex: { endpoint: value("Lex Runtime V2 endpoint"), bot: { id: value("Lex V2 bot id"), aliasId: value("Lex V2 bot alias id"), localeId: value("Lex V2 locale id") } },
  };
}

const ROOT = resolve(__dirname, "../..");

/** `tsx` as a loader in the same process, so a signal reaches the script itself. */
function runTs(script: string, args: readonly string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: "0" } });
}

function collect(child: ChildProcessWithoutNullStreams): { stdout: () => string; stderr: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once("exit", (code, signal) => done({ code, signal })));
  return { stdout: () => stdout, stderr: () => stderr, exit };
}

describe("local stack: npm start", function () {
  let server: ChildProcessWithoutNullStreams | undefined;

  after(function () {
    // Only when the test failed before its own Ctrl-C.
    if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  });

  it("starts on --port 0, serves the page, answers the CLI, streams to a Lex Web UI guest configured from the printed endpoints with --unbound-session-streaming, throttles ping as --route-throttling says, and stops cleanly on SIGINT with a tab still open", async function () {
    // ping's bucket: 1/s, burst 2 (the default is 10/s, burst 20); $default keeps its own default.
    server = runTs("local/start.ts", ["--port", "0", "--unbound-session-streaming", "--route-throttling", "ping=1:2"]);
    const output = collect(server);
    const pageUrl = await new Promise<string>((resolveUrl, reject) => {
      const check = (): void => {
        const page = /Chat page\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output.stdout());
        if (/local stack ready in/.test(output.stdout()) && page) resolveUrl(page[1]);
      };
      server!.stdout.on("data", check);
      output.exit.then(({ code }) => reject(new Error(`npm start exited with ${code} before it was ready: ${output.stderr()}`)));
    });
    expect(pageUrl).to.not.match(/:0\//);

    const page = await fetch(pageUrl);
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-type")).to.match(/^text\/html/);
    expect(await page.text()).to.match(/<html/i);

    const cli = runTs("client/cli.ts", ["ask", "How does streaming work?", "--local", pageUrl, "--json"]);
    const cliOutput = collect(cli);
    const cliExit = await cliOutput.exit;
    expect(cliExit.code, cliOutput.stderr()).to.equal(0);
    const envelopes = cliOutput
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Envelope);
    expect(envelopes[0].type).to.equal("start");
    const end = envelopes[envelopes.length - 1];
    if (end.type !== "end") throw new Error(`the answer did not end: ${cliOutput.stdout()}`);
    const streamed = envelopes.map((e) => (e.type === "delta" ? e.text : "")).join("");
    expect(streamed).to.not.equal("");
    expect(end.final).to.equal(formatAnswer(streamed, []).markdown);

    // Stock Lex Web UI configured with nothing but what the banner printed: a guest streams (the flag is on), and Lex answers.
    expect(output.stdout()).to.include("Guests (lex-web-ui-XXXX ids) stream: --unbound-session-streaming is on");
    const ui = await LexWebUiClient.start(lexWebUiConfig(output.stdout()));
    expect(ui.userId).to.match(/^lex-web-ui-[0-9a-f]{4}$/);
    const { response, frames } = await ui.ask("How does streaming work?");
    // The offline model answers a question the same way each time: its frames are that markdown as prose (issue 23).
    expect(frames.join("")).to.equal(plainText(streamed));
    expect(response.messages?.[0].content).to.equal(formatAnswer(streamed, []).plainText);

    await ui.close();

    // A tab still open at Ctrl-C: it is dropped, and its $disconnect still finds the table.
    // As the page does: the signed-URL endpoint signs only for a page it served (its cookie).
    const signed = await fetchSignedUrl(pageUrl, "session-open-at-exit");
    const tab = await openSocket(signed.url);
    // ping is a MOCK route that answers nothing: only the throttled ones get a frame, "Too Many Requests".
    for (let i = 0; i < 5; i++) tab.send({ action: "ping" });
    await tab.until((messages) => (messages.length >= 3 ? true : undefined));
    await new Promise((settle) => setTimeout(settle, 200));
    expect(tab.messages.map((m) => JSON.parse(m.text).message)).to.deep.equal(["Too Many Requests", "Too Many Requests", "Too Many Requests"]);

    server.kill("SIGINT");
    const stopped = await output.exit;
    expect(stopped, output.stderr()).to.deep.equal({ code: 0, signal: null });
    expect(output.stdout()).to.match(/stopping/);
    await tab.closed;
    expect(output.stdout() + output.stderr(), "no handler failed during the shutdown").not.to.match(/"level":"ERROR"/);

    // Quiet by default (issue 23): the banner stays; each answer is one line, no JSON log line.
    const lines = output.stdout().split("\n");
    expect(lines.filter((line) => line.startsWith("{"))).to.deep.equal([]);
    expect(lines.filter((line) => /^answer [0-9a-f]{8} \(llm\): end_turn in \d+ ms(, \d+ tokens)?$/.test(line)), output.stdout()).to.have.length(2);
  });
});
