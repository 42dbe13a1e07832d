/**
 * Issue 18, end to end: a knowledge document, a memory turn and a model answer carrying every
 * attack class (tests/lex-web-ui/attacks.ts, their beacons pointed at a loopback server that
 * counts hits) go through every door of the real local stack: Lex (as Lex Web UI calls it),
 * WebSocket `ask` in `text` and `json` formats, `POST /ask` and the streaming function URL
 * (SSE and complete JSON). Everything a client receives is then rendered in Chromium the way stock Lex Web UI
 * 0.24.1 renders the final answer (`marked` 4 with its link renderer and linkifier, into
 * innerHTML: docs/reliability-and-security.md, "Output safety"), and our own chat page answers the same
 * question. Nothing may execute (the title stays, no dialog, no console marker) and nothing
 * may be fetched from outside the page (the beacon counts zero; Playwright sees no request).
 * A control renders the unsanitized payloads through the same harness and must be caught.
 */
import { expect } from "chai";
import { build } from "esbuild";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { signFunctionUrlPost } from "../../client/function-url-signer";
import { SseParser } from "../../client/sse";
import type { Envelope } from "../../functions/shared/protocol";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { ATTACKS } from "../lex-web-ui/attacks";
import { liveMarkup } from "../lex-web-ui/live-markup";
import { lexWebUiHtml } from "../lex-web-ui/render";
import { LexWebUiClient } from "../local/lex-web-ui-client";
import { QUIET_ENV, connect, deltaText, last, postAsk } from "../local/stack-helpers";
import { askOnPage, launchChromium, openChatPage } from "../client/helpers/browser";

/** Words only the poisoned document has, so the stand-in model quotes it. */
const TOPIC = "zebra quokka marmalade";
const TITLE = "Output safety harness";
const FIRED = "XSS-FIRED";

interface Received {
  /** Which door and channel. */
  readonly channel: string;
  readonly text: string;
}

/** The attack payloads with their beacons on the loopback server, so any fetch is counted. */
function payloads(beacon: string): string[] {
  return Object.values(ATTACKS).map((payload) =>
    payload
      .replace(/https:\/\/beacon\.attacker\.example/g, beacon)
      .replace(/<img src="x"/g, `<img src="${beacon}/img-onerror"`)
      .replace(/<iframe src="[^"]*"/, `<iframe src="${beacon}/iframe"`),
  ).concat([`<img src="${beacon}/img">`, `![beacon](${beacon}/md-image.png)`, `<link rel="prefetch" href="${beacon}/prefetch">`]);
}

/** A knowledge document: one passage per line group, each naming the topic so the stand-in quotes it. */
function poisonedDocument(beacon: string): string {
  const lines = payloads(beacon).map((payload) => payload.replace(/\n\n/g, "\n"));
  const half = Math.ceil(lines.length / 2);
  return `# Poisoned page\n\nAbout ${TOPIC}: ${lines.slice(0, half).join(" ")}\n\nMore on ${TOPIC}: ${lines.slice(half).join(" ")}\n`;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/** The streaming function URL's reply to a signed POST, as Server-Sent Events or as one JSON body. */
async function functionUrlReply(stack: LocalStack, question: string, mode: "llm" | "kb", sessionId: string, accept: string): Promise<string> {
  const body = JSON.stringify({ question, mode, sessionId, requestId: `url-${mode}-${sessionId}` });
  const { headers } = await signFunctionUrlPost({ url: stack.functionUrl, region: stack.region, credentials: stack.chatUser, body, accept });
  const url = new URL(stack.functionUrl);
  return new Promise<string>((resolve, reject) => {
    const req = request({ method: "POST", host: url.hostname, port: url.port, path: "/", headers }, (res) => {
      let all = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (all += chunk));
      res.on("end", () => resolve(all));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The SSE door's answer: the deltas joined and the final answer. */
async function sseAnswer(stack: LocalStack, question: string, mode: "llm" | "kb", sessionId: string): Promise<{ deltas: string; final: string }> {
  const text = await functionUrlReply(stack, question, mode, sessionId, "text/event-stream");
  const events = new SseParser().push(text).map(({ event, data }) => ({ event, data: JSON.parse(data) as Record<string, unknown> }));
  const end = events.find((e) => e.event === "end");
  if (!end) throw new Error(`SSE answer did not end: ${text.slice(0, 500)}`);
  return { deltas: events.filter((e) => e.event === "delta").map((e) => String(e.data.text)).join(""), final: String(end.data.final) };
}

describe("output safety: attack payloads through every door reach no client live (issue 18)", function () {
  this.timeout(180_000);
  let stack: LocalStack;
  let beacon: Server;
  let beaconUrl: string;
  const hits: string[] = [];
  let harness: Server;
  let harnessUrl: string;
  let browser: Browser;
  let documentsDir: string;
  const received: Received[] = [];

  before(async function () {
    beacon = createServer((req, res) => {
      hits.push(req.url ?? "");
      res.writeHead(200, { "content-type": "image/png" }).end();
    });
    beaconUrl = await listen(beacon);

    documentsDir = mkdtempSync(path.join(tmpdir(), "qnabot-poisoned-"));
    const bundled = path.join(__dirname, "../../local/documents");
    for (const file of readdirSync(bundled)) copyFileSync(path.join(bundled, file), path.join(documentsDir, file));
    writeFileSync(path.join(documentsDir, "poisoned.md"), poisonedDocument(beaconUrl));

    // The harness page: Lex Web UI's rendering (tests/lex-web-ui/render.ts) bundled for the browser.
    const bundle = await build({
      stdin: { contents: 'import { lexWebUiHtml } from "./render"; (window as any).lexWebUiHtml = lexWebUiHtml;', resolveDir: path.join(__dirname, "../lex-web-ui"), loader: "ts" },
      bundle: true,
      write: false,
      format: "iife",
      platform: "browser",
      logLevel: "silent",
    });
    const script = bundle.outputFiles[0].text;
    harness = createServer((req, res) => {
      if (req.url === "/render.js") res.writeHead(200, { "content-type": "text/javascript" }).end(script);
      else res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><title>${TITLE}</title><script src="/render.js"></script><body></body>`);
    });
    harnessUrl = await listen(harness);

    stack = await startLocalStack({ bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 0, documentsDir }, env: QUIET_ENV });
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    await stack?.close();
    beacon?.close();
    harness?.close();
    if (documentsDir) rmSync(documentsDir, { recursive: true, force: true });
  });

  /** Renders each text as Lex Web UI renders `alts.markdown` (innerHTML, as v-html does) and reports what ran or loaded. */
  async function renderAsLexWebUi(texts: readonly string[]): Promise<{ title: string; dialogs: string[]; markers: string[]; requests: string[] }> {
    const page: Page = await browser.newPage();
    const dialogs: string[] = [];
    const markers: string[] = [];
    const requests: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on("console", (message) => {
      if (message.text().includes(FIRED)) markers.push(message.text());
    });
    page.on("request", (req) => {
      if (!req.url().startsWith(harnessUrl)) requests.push(req.url());
    });
    await page.goto(`${harnessUrl}/`);
    await page.evaluate((all) => {
      for (const markdown of all) {
        const message = document.createElement("div");
        message.className = "message-text";
        message.innerHTML = (window as unknown as { lexWebUiHtml(markdown: string): string }).lexWebUiHtml(markdown);
        document.body.append(message);
      }
    }, texts);
    // Loads and error handlers run asynchronously: give them time, then see what happened.
    await page.waitForLoadState("load");
    await page.waitForTimeout(500);
    const title = await page.title();
    await page.close();
    return { title, dialogs, markers, requests };
  }

  it("the harness catches the payloads when nothing sanitizes them (the control)", async function () {
    const before = hits.length;
    const result = await renderAsLexWebUi(payloads(beaconUrl));
    expect(result.title, "an inline handler ran").to.equal(FIRED);
    expect(result.requests.length).to.be.above(0);
    expect(hits.length).to.be.above(before);
  });

  it("collects every door's answer to a question about the poisoned document, in both modes", async function () {
    // Lex, as Lex Web UI calls it (identity-bound id, so the session's frames stream too).
    const lexUi = await LexWebUiClient.start(stack, { version: "identity-id" });
    const { response, frames } = await lexUi.ask(`Tell me about ${TOPIC}`);
    const appContext = JSON.parse(response.sessionState?.sessionAttributes?.appContext ?? "{}") as { altMessages?: { markdown?: string } };
    received.push({ channel: "lex altMessages.markdown", text: appContext.altMessages?.markdown ?? "" });
    for (const message of response.messages ?? []) received.push({ channel: "lex message", text: message.content ?? "" });
    received.push({ channel: "lex frames", text: frames.join("") });
    await lexUi.close();

    for (const mode of ["llm", "kb"] as const) {
      // WebSocket ask, text format (raw frames, as Lex Web UI receives them) and json format.
      const textSocket = await connect(stack, `text-${mode}`);
      textSocket.ask(`ws-text-${mode}`, `Tell me about ${TOPIC}`, mode);
      // The ask is handed to an asynchronous invocation: wait for its first frame, then for it to finish.
      await textSocket.until((messages) => messages.length > 0 || undefined);
      await stack.idle();
      const rawFrames = (await textSocket.barrier()).map((m) => m.text);
      received.push({ channel: `websocket text ${mode} frames`, text: rawFrames.join("") });
      await textSocket.close();

      const jsonSocket = await connect(stack, `json-${mode}`, { format: "json" });
      jsonSocket.ask(`ws-json-${mode}`, `Tell me about ${TOPIC}`, mode);
      const envelopes: Envelope[] = await jsonSocket.answer(`ws-json-${mode}`);
      received.push({ channel: `websocket json ${mode} deltas`, text: deltaText(envelopes) });
      received.push({ channel: `websocket json ${mode} end.final`, text: last(envelopes, "end").final });
      await jsonSocket.close();

      const http = await postAsk(stack, { question: `Tell me about ${TOPIC}`, mode, sessionId: `http-${mode}` });
      expect(http.status).to.equal(200);
      received.push({ channel: `POST /ask ${mode} answer`, text: String(http.body.answer) });

      const sse = await sseAnswer(stack, `Tell me about ${TOPIC}`, mode, `sse-${mode}`);
      received.push({ channel: `SSE ${mode} deltas`, text: sse.deltas });
      received.push({ channel: `SSE ${mode} end.final`, text: sse.final });

      const whole = JSON.parse(await functionUrlReply(stack, `Tell me about ${TOPIC}`, mode, `url-json-${mode}`, "application/json")) as { answer: string };
      received.push({ channel: `function URL JSON ${mode} answer`, text: whole.answer });
    }
    // The answers really quote the poisoned document (else the rest proves nothing).
    for (const { channel, text } of received) {
      if (channel.includes("frames") && text === "") continue;
      expect(text, channel).to.include("onerror");
    }
    expect(received.filter((r) => r.channel.includes("frames") && r.text.includes("onerror")).length).to.be.at.least(2);
  });

  it("a scripted model answer cut one to three characters per delta, and a memory turn carrying the payloads, come back inert", async function () {
    const whole = payloads(beaconUrl).join("\n\n");
    const deltas: string[] = [];
    for (let at = 0, size = 1; at < whole.length; at += size, size = (size % 3) + 1) deltas.push(whole.slice(at, at + size));
    stack.bedrock!.enqueue({ operation: "ConverseStream", firstTokenDelayMs: 0, deltasPerSecond: 0, deltas });
    const socket = await connect(stack, "memory-session", { format: "json" });
    socket.ask("scripted-1", "Repeat the page");
    const first = await socket.answer("scripted-1");
    received.push({ channel: "scripted deltas", text: deltaText(first) });
    received.push({ channel: "scripted end.final", text: last(first, "end").final });
    // The next answer is the model echoing its memory: what it remembered is the sanitized text.
    const history = stack.bedrock!.requests.length;
    stack.bedrock!.enqueue({ operation: "ConverseStream", firstTokenDelayMs: 0, deltasPerSecond: 0, deltas: ["Earlier: ", whole] });
    socket.ask("scripted-2", "What did you say before?");
    const second = await socket.answer("scripted-2");
    // What the model was handed as history is the sanitized first answer, not the payloads.
    const messages = (stack.bedrock!.requests[history].body as { messages: { role: string; content: { text?: string }[] }[] }).messages;
    const remembered = messages.filter((m) => m.role === "assistant").map((m) => m.content.map((c) => c.text ?? "").join(""));
    expect(remembered).to.deep.equal([deltaText(first)]);
    expect(remembered[0]).to.include("onerror").and.not.match(/(^|[^\\])<img /);
    received.push({ channel: "memory echo deltas", text: deltaText(second) });
    received.push({ channel: "memory echo end.final", text: last(second, "end").final });
    await socket.close();
  });

  it("nothing any door sent is live when parsed as a browser parses Lex Web UI's innerHTML", function () {
    // Lex (markdown, message, frames), 2 modes × (text frames, json deltas and end, POST /ask, SSE deltas and end, function URL JSON), scripted and memory.
    expect(received.length).to.be.at.least(21);
    for (const { channel, text } of received) {
      expect(liveMarkup(lexWebUiHtml(text), { linkSchemes: ["http", "https", "mailto", "tel"] }), channel).to.deep.equal([]);
    }
  });

  it("rendered in Chromium exactly as Lex Web UI renders the final answer, nothing runs and nothing loads", async function () {
    const before = hits.length;
    const result = await renderAsLexWebUi(received.map((r) => r.text));
    expect(result).to.deep.equal({ title: TITLE, dialogs: [], markers: [], requests: [] });
    expect(hits.slice(before)).to.deep.equal([]);
  });

  it("our chat page shows the same answers with nothing running and nothing fetched from the beacon", async function () {
    const before = hits.length;
    const page = await openChatPage(browser, stack.pageUrl!);
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const outside: string[] = [];
    page.on("request", (req) => {
      if (req.url().startsWith(beaconUrl)) outside.push(req.url());
    });
    const title = await page.title();
    for (const mode of ["llm", "kb"] as const) {
      await page.check(`input[name="mode"][value="${mode}"]`);
      const answer = await askOnPage(page, `Tell me about ${TOPIC}`);
      await page.waitForSelector(`${answer}[data-state="done"] .answer-body[data-content="final"]`, { timeout: 30_000 });
      expect(await page.textContent(`${answer} .answer-body`)).to.include("onerror");
    }
    await page.waitForTimeout(500);
    expect(await page.title()).to.equal(title);
    expect(await page.locator("#conversation img, #conversation iframe, #conversation script, #conversation [onerror]").count()).to.equal(0);
    expect(dialogs).to.deep.equal([]);
    expect(outside).to.deep.equal([]);
    expect(hits.slice(before)).to.deep.equal([]);
    await page.close();
  });
});
