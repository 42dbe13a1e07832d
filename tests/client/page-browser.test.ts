import { expect } from "chai";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { envelope, type AskMessage } from "../../functions/shared/protocol";
import { startChatServer, type ChatServer } from "../../client/chat-server";
import { launchChromium } from "./helpers/browser";
import { chunksOf, fakeSigner, startFakeGateway, type FakeConnection, type FakeGateway } from "./helpers/fake-gateway";
import { chatPage } from "./helpers/page";

const SCREENSHOTS = path.join(__dirname, "../../test-output/client");
const STREAMED = "## Streaming\n\nThe answer **grows** while it is generated:\n\n1. first\n2. second\n3. third\n";
const FINAL = `${STREAMED}\nFinal formatted answer [1].`;
const HOSTILE = 'Safe text <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> [click](javascript:window.__pwned=3)';

/**
 * Answers in steps the test releases one by one, so "the answer grows over several
 * observations" is checked by event order, not by timing.
 */
class Pacer {
  private readonly waiting: (() => void)[] = [];
  private readonly arrivals: (() => void)[] = [];

  step(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.arrivals.shift()?.();
    });
  }

  /** Releases the next step once the server has reached it. */
  async release(): Promise<void> {
    if (this.waiting.length === 0) await new Promise<void>((resolve) => this.arrivals.push(resolve));
    this.waiting.shift()!();
  }
}

describe("client: chat page in Chromium (fake gateway)", function () {
  this.timeout(60_000);
  let browser: Browser;
  let gateway: FakeGateway;
  let server: ChatServer;
  let page: Page;
  const pacer = new Pacer();

  async function answer(ask: AskMessage, connection: FakeConnection): Promise<void> {
    let seq = 0;
    const send = (env: Parameters<FakeConnection["send"]>[0]) => connection.send(env);
    send(envelope("start", ask.requestId, seq++, {}));
    if (ask.question.includes("fail")) {
      send(envelope("delta", ask.requestId, seq++, { text: "Half an ans" }));
      send(envelope("error", ask.requestId, seq++, { code: "model_error", message: "The model stream broke off.", retryable: true }));
      return;
    }
    if (ask.question.includes("inject")) {
      send(envelope("delta", ask.requestId, seq++, { text: HOSTILE }));
      send(envelope("end", ask.requestId, seq++, { final: HOSTILE, stopReason: "end_turn", metrics: { ttftMs: 1, totalMs: 1, deltas: 1, frames: 1 } }));
      return;
    }
    if (ask.question.includes("partial")) {
      send(envelope("delta", ask.requestId, seq++, { text: "_Offline stand-in model: this answer is put together **from the bun" }));
      await pacer.step();
      send(envelope("delta", ask.requestId, seq++, { text: "dled** documents._\n\nMore." }));
      send(envelope("end", ask.requestId, seq++, { final: "Final.", stopReason: "end_turn", metrics: { ttftMs: 1, totalMs: 1, deltas: 2, frames: 2 } }));
      return;
    }
    if (ask.question.includes("hang")) {
      send(envelope("delta", ask.requestId, seq++, { text: "Cut off mid" }));
      return;
    }
    if (ask.question.includes("long")) {
      send(envelope("delta", ask.requestId, seq++, { text: "line\n\n".repeat(80) }));
      await pacer.step();
      send(envelope("delta", ask.requestId, seq++, { text: "more\n\n".repeat(40) }));
      await pacer.step();
      send(envelope("end", ask.requestId, seq++, { final: "short", stopReason: "end_turn", metrics: { ttftMs: 1, totalMs: 1, deltas: 2, frames: 2 } }));
      return;
    }
    for (const chunk of chunksOf(STREAMED, 4)) {
      await pacer.step();
      send(envelope("delta", ask.requestId, seq++, { text: chunk }));
    }
    send(envelope("citation", ask.requestId, seq++, { citations: [{ text: "c", sources: [{ uri: "https://docs.example/guide", title: "Guide" }] }] }));
    await pacer.step();
    send(
      envelope("end", ask.requestId, seq++, {
        final: FINAL,
        stopReason: "end_turn",
        usage: { inputTokens: 1205, outputTokens: 20, totalTokens: 1225, estimatedCostUsd: 0.00042 },
        metrics: { ttftMs: 1, totalMs: 1, deltas: 4, frames: 4 },
      }),
    );
  }

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    gateway = await startFakeGateway({ onAsk: answer });
    server = await startChatServer({ sign: fakeSigner(gateway), page: await chatPage(), label: "offline stand-in model" });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    await page.goto(server.url);
    await page.waitForSelector('#status[data-state="ready"]');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await gateway?.close();
  });

  async function ask(question: string): Promise<string> {
    const turns = await page.locator(".turn").count();
    await page.fill("#question", question);
    await page.press("#question", "Enter");
    await page.waitForSelector(`.turn:nth-child(${turns + 1}) .answer`);
    return `.turn:nth-child(${turns + 1}) .answer`;
  }

  it("connects with a signed URL, pings, and shows the label", async () => {
    expect(await page.textContent("#label")).to.equal("offline stand-in model");
    const connection = await gateway.connection(0);
    expect(connection.url.searchParams.get("format")).to.equal("json");
    expect(connection.url.searchParams.get("sessionId")).to.match(/^web-[0-9a-f]{32}$/);
    expect(connection.pings()).to.equal(1);
  });

  it("renders markdown while it streams, then replaces it with the final answer and its sources", async () => {
    const answerSelector = await ask("How does streaming work?");
    const body = `${answerSelector} .answer-body`;
    const seen: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      await pacer.release();
      await page.waitForFunction(
        ([selector, length]) => (document.querySelector(selector)?.textContent ?? "").length > length,
        [body, seen.length ? seen[seen.length - 1].length : 0] as const,
      );
      expect(await page.getAttribute(answerSelector, "data-state")).to.equal("streaming");
      expect(await page.getAttribute(body, "data-content")).to.equal("streamed");
      expect(await page.getAttribute(body, "aria-live")).to.equal("polite");
      seen.push((await page.textContent(body)) ?? "");
      if (i === 1) await page.screenshot({ path: path.join(SCREENSHOTS, "streaming.png") });
    }
    expect(new Set(seen).size).to.equal(4);
    expect(await page.textContent("#status")).to.equal("Streaming the answer…");
    expect(await page.locator(`${body} strong`).textContent()).to.equal("grows");

    await pacer.release();
    await page.waitForSelector(`${answerSelector}[data-state="done"]`);
    expect(await page.getAttribute(body, "data-content")).to.equal("final");
    expect(await page.textContent(body)).to.include("Final formatted answer [1].");
    expect(await page.locator(`${body} h2`).textContent()).to.equal("Streaming");
    expect(await page.locator(`${body} ol li`).count()).to.equal(3);
    const link = page.locator(`${answerSelector} .citations a`);
    expect(await link.getAttribute("href")).to.equal("https://docs.example/guide");
    expect(await link.getAttribute("rel")).to.equal("noopener noreferrer");
    expect(await page.getAttribute("#status", "data-state")).to.equal("done");
    // The footer: timing, then the tokens and estimated cost from end.usage (issue 24).
    expect(await page.textContent(`${answerSelector} .answer-stats`)).to.match(/^first token \d+ ms · [\d.]+ tokens\/s · 1,205 tokens in · 20 out · ~\$0\.00042$/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "final.png") });
  });

  it("neutralizes script injection in an answer", async () => {
    const answerSelector = await ask("inject something");
    await page.waitForSelector(`${answerSelector}[data-state="done"]`);
    const body = page.locator(`${answerSelector} .answer-body`);
    expect(await body.textContent()).to.include("Safe text");
    expect(await body.locator("script").count()).to.equal(0);
    expect(await body.locator("[onerror]").count()).to.equal(0);
    expect(await body.locator('a[href^="javascript:"]').count()).to.equal(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).to.equal(undefined);
  });

  it("shows a failed answer's error and the error state", async () => {
    const answerSelector = await ask("please fail");
    await page.waitForSelector(`${answerSelector}[data-state="error"]`);
    expect(await page.textContent(`${answerSelector} .answer-error`)).to.equal("The model stream broke off.");
    expect(await page.textContent(`${answerSelector} .answer-body`)).to.include("Half an ans");
    expect(await page.getAttribute("#status", "data-state")).to.equal("error");
    expect(await page.textContent("#status")).to.equal("Error: The model stream broke off.");
  });

  it("sends Shift+Enter as a newline, Enter as the question, in the chosen mode", async () => {
    await page.check('input[name="mode"][value="kb"]');
    await page.fill("#question", "two");
    await page.press("#question", "Shift+Enter");
    await page.type("#question", "lines, inject");
    expect(await page.inputValue("#question")).to.equal("two\nlines, inject");
    const connection = gateway.connections[gateway.connections.length - 1];
    const asked = connection.asks.length;
    await page.press("#question", "Enter");
    await page.waitForFunction(() => (document.querySelector("#question") as HTMLTextAreaElement).value === "");
    await page.waitForSelector('.turn:last-child .answer[data-state="done"]');
    expect(connection.asks[asked]).to.include({ question: "two\nlines, inject", mode: "kb" });
    await page.check('input[name="mode"][value="llm"]');
  });

  it("wraps a long unbroken word inside the question's bubble (issue 23: it overflowed)", async () => {
    const answer = await ask(`inject ${"x".repeat(400)}`);
    await page.waitForSelector(`${answer}[data-state="done"]`);
    const bubble = answer.replace(/ \.answer$/, " .question-text");
    const { scrollWidth, clientWidth, right, listRight } = await page.$eval(bubble, (node) => ({
      scrollWidth: node.scrollWidth,
      clientWidth: node.clientWidth,
      right: node.getBoundingClientRect().right,
      listRight: document.querySelector(".conversation")!.getBoundingClientRect().right,
    }));
    expect(scrollWidth).to.be.at.most(clientWidth);
    expect(right).to.be.at.most(listRight);
  });

  it("shows no stray markdown markers while an answer streams (issue 12: a literal _ until it closed)", async () => {
    const answerSelector = await ask("a partial one");
    const body = `${answerSelector} .answer-body`;
    await page.waitForFunction((selector) => (document.querySelector(selector)?.textContent ?? "").includes("from the bun"), body);
    expect(await page.getAttribute(answerSelector, "data-state")).to.equal("streaming");
    expect((await page.textContent(body))?.trim()).to.equal("Offline stand-in model: this answer is put together from the bun");
    expect(await page.locator(`${body} em`).count()).to.equal(1);
    expect(await page.locator(`${body} em strong`).textContent()).to.equal("from the bun");
    await pacer.release();
    await page.waitForSelector(`${answerSelector}[data-state="done"]`);
  });

  it("counts the question's characters and says, instead of cutting it, when a paste is over the limit (issue 12)", async () => {
    const connection = gateway.connections[gateway.connections.length - 1];
    const asked = connection.asks.length;
    expect(await page.textContent("#counter")).to.equal("0 / 4,000");
    await page.fill("#question", "x".repeat(5000));
    expect((await page.inputValue("#question")).length).to.equal(5000);
    expect(await page.textContent("#counter")).to.equal("5,000 / 4,000");
    expect(await page.getAttribute("#counter", "data-over")).to.equal("true");
    expect(await page.getAttribute("#question", "aria-invalid")).to.equal("true");
    expect(await page.isVisible("#notice")).to.equal(true);
    expect(await page.textContent("#notice")).to.equal("Your question is 5,000 characters; the limit is 4,000. Shorten it by 1,000 to send it.");
    await page.press("#question", "Enter");
    expect((await page.inputValue("#question")).length).to.equal(5000);
    await page.fill("#question", "x".repeat(4000));
    expect(await page.textContent("#counter")).to.equal("4,000 / 4,000");
    expect(await page.isHidden("#notice")).to.equal(true);
    await page.fill("#question", "");
    expect(connection.asks).to.have.length(asked);
  });

  it("says so when Send is pressed with nothing to ask (issue 12: empty input did nothing)", async () => {
    const connection = gateway.connections[gateway.connections.length - 1];
    const asked = connection.asks.length;
    const turns = await page.locator(".turn").count();
    await page.fill("#question", "   ");
    await page.press("#question", "Enter");
    expect(await page.isVisible("#notice")).to.equal(true);
    expect(await page.textContent("#notice")).to.equal("Type a question first.");
    await page.type("#question", "a");
    expect(await page.isHidden("#notice")).to.equal(true);
    await page.fill("#question", "");
    expect(await page.locator(".turn").count()).to.equal(turns);
    expect(connection.asks).to.have.length(asked);
  });

  it("follows new text only while the reader stays at the bottom", async () => {
    const answerSelector = await ask("a long one");
    await page.waitForFunction((selector) => (document.querySelector(selector)?.textContent ?? "").includes("line"), `${answerSelector} .answer-body`);
    const atBottom = () =>
      page.evaluate(() => {
        const scroller = document.getElementById("conversation-scroller")!;
        return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 2;
      });
    expect(await atBottom()).to.equal(true);
    await page.evaluate(() => document.getElementById("conversation-scroller")!.scrollTo(0, 0));
    await page.waitForFunction(() => document.getElementById("conversation-scroller")!.scrollTop === 0);
    await pacer.release();
    await page.waitForFunction((selector) => (document.querySelector(selector)?.textContent ?? "").includes("more"), `${answerSelector} .answer-body`);
    expect(await page.evaluate(() => document.getElementById("conversation-scroller")!.scrollTop)).to.equal(0);
    await pacer.release();
    await page.waitForSelector(`${answerSelector}[data-state="done"]`);
  });

  it("reconnects with a fresh signature after the socket drops, and asks again", async () => {
    const before = gateway.connections.length;
    gateway.connections[before - 1].drop();
    await page.waitForSelector(`#status[data-connections="${before + 1}"]`);
    await page.waitForSelector("#send:not([disabled])");
    const latest = await gateway.connection(before);
    expect(latest.url.searchParams.get("X-Amz-Signature")).to.equal(`sig${before + 1}`);
    const answerSelector = await ask("inject after reconnect");
    await page.waitForSelector(`${answerSelector}[data-state="done"]`);
    expect(latest.asks).to.have.length(1);
  });

  it("is Ready again after a reconnect that cut an answer off (issue 12: the status stayed on the red error)", async () => {
    const answerSelector = await ask("hang on");
    await page.waitForFunction((selector) => (document.querySelector(selector)?.textContent ?? "").includes("Cut off"), `${answerSelector} .answer-body`);
    const before = gateway.connections.length;
    gateway.connections[before - 1].drop();
    await page.waitForSelector(`${answerSelector}[data-state="error"]`);
    // The new socket asked for the rest; this gateway no longer has the answer (not_found), so it ends with a clear message.
    expect(await page.textContent(`${answerSelector} .answer-error`)).to.equal(
      "The connection dropped and the rest of this answer could not be fetched: There is no answer with this requestId to resume. Ask again.",
    );
    await page.waitForSelector(`#status[data-connections="${before + 1}"]`);
    expect((await gateway.connection(before)).resumes).to.have.length(1);
    await page.waitForSelector('#status[data-state="ready"]');
    expect(await page.textContent("#status")).to.equal("Ready.");
  });
});
