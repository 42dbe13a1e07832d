/**
 * The chat page in Chromium when things go wrong around it (issue 23): a reload keeps the
 * tab's session, transcript and the answer in flight, which resumes exactly once; the server
 * restarting mid-answer ends that answer with the server's reason and the page recovers by
 * itself; Stop works with no connection; a server that refuses for good gets "reload"; a model
 * that does not exist says so.
 */
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { MESSAGES } from "../../functions/fulfillment/errors";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { askOnPage, launchChromium, openChatPage } from "../client/helpers/browser";

/** Plain words (no markdown), so the page's text is the streamed text; about 8 s at this pace. */
const DELTAS = Array.from({ length: 240 }, (_, i) => `w${i} `);
const ANSWER = DELTAS.join("").trim();

const STACK_OPTIONS = {
  bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 30, deltas: DELTAS },
  env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true", STREAM_CHECKPOINT_MS: "100" },
};

/** Runs in the page: records every distinct streamed text of the answer until it settles. */
const SAMPLER = `(selector) => new Promise((resolve, reject) => {
  const seen = [];
  const deadline = Date.now() + 45000;
  const timer = setInterval(() => {
    const answer = document.querySelector(selector);
    const body = answer && answer.querySelector(".answer-body");
    const state = (answer && answer.getAttribute("data-state")) || "";
    const text = body ? body.textContent.trim() : "";
    if (body && body.getAttribute("data-content") === "streamed" && text !== "" && seen[seen.length - 1] !== text) seen.push(text);
    if (state === "done" || state === "error") { clearInterval(timer); resolve(seen); }
    else if (Date.now() > deadline) { clearInterval(timer); reject(new Error("answer still " + state)); }
  }, 25);
})`;

async function streamedSoFar(page: Page, selector: string, length: number): Promise<void> {
  await page.waitForFunction(
    ([answer, min]) => (document.querySelector(`${answer} .answer-body`)?.textContent ?? "").length > min,
    [selector, length] as const,
    { timeout: 20_000 },
  );
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe("browser: reload and server restart on the local stack (issue 23)", function () {
  this.timeout(90_000);
  let stack: LocalStack | undefined;
  let browser: Browser;
  let pagePort: number;

  before(async () => {
    browser = await launchChromium();
  });

  beforeEach(async () => {
    stack = await startLocalStack({ ...STACK_OPTIONS, ports: pagePort ? { page: pagePort } : {} });
    pagePort = portOf(stack.pageUrl!);
  });

  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  after(async () => {
    await browser?.close();
  });

  it("a reload keeps the session and the transcript, and the answer in flight resumes exactly once", async () => {
    const page = await openChatPage(browser, stack!.pageUrl!);
    try {
      const first = await askOnPage(page, "A first question");
      await page.waitForSelector(`${first}[data-state="done"]`, { timeout: 30_000 });
      const sessionBefore = await page.evaluate(() => sessionStorage.getItem("qnabot-streaming.sessionId"));
      const answer = await askOnPage(page, "A second question");
      await streamedSoFar(page, answer, 40);
      const before = ((await page.textContent(`${answer} .answer-body`)) ?? "").trim();

      await page.reload();
      const sampling = page.evaluate(`(${SAMPLER})(${JSON.stringify(answer)})`) as Promise<string[]>;
      const seen = await sampling;

      expect(await page.evaluate(() => sessionStorage.getItem("qnabot-streaming.sessionId"))).to.equal(sessionBefore);
      expect(await page.locator(".question-text").allTextContents()).to.deep.equal(["A first question", "A second question"]);
      expect(((await page.textContent(`${first} .answer-body`)) ?? "").trim()).to.equal(ANSWER);
      await page.waitForSelector(`${answer}[data-state="done"]`);
      expect(((await page.textContent(`${answer} .answer-body`)) ?? "").trim()).to.equal(ANSWER);
      // The reloaded page showed at once what it had, and every later view was a beginning of
      // the answer: a piece applied twice or skipped would break that.
      expect(seen[0].length).to.be.at.least(before.length);
      expect(seen.filter((text) => !ANSWER.startsWith(text)).map((text) => text.slice(-40))).to.deep.equal([]);
      expect(await page.textContent("#status")).to.equal("Done.");
      // Exactly one socket after the reload, which asked for the rest once.
      expect(stack!.gateway.connections.size).to.equal(1);
    } finally {
      await page.close();
    }
  });

  it("the server restarting mid-answer: Stop still works while it is down, and the page reconnects by itself when it is back", async () => {
    const page = await openChatPage(browser, stack!.pageUrl!);
    try {
      const answer = await askOnPage(page, "Stream a long answer");
      await streamedSoFar(page, answer, 40);
      await stack!.close();
      stack = undefined;
      // Down: the status says why and that Stop keeps what arrived; Stop is enabled and works.
      await page.waitForFunction(() => /^Connection lost: .+ Stop keeps what arrived\.$/.test(document.getElementById("status")?.textContent ?? ""), undefined, {
        timeout: 20_000,
      });
      expect(await page.isEnabled("#send")).to.equal(true);
      const shown = ((await page.textContent(`${answer} .answer-body`)) ?? "").trim();
      await page.click("#send");
      await page.waitForSelector(`${answer}[data-state="done"][data-stopped="true"]`, { timeout: 5_000 });
      expect(((await page.textContent(`${answer} .answer-body`)) ?? "").trim()).to.equal(shown);
      expect(await page.textContent("#send")).to.equal("Send");

      // Back (a new process: it knows neither the page's cookie nor the answer).
      stack = await startLocalStack({ ...STACK_OPTIONS, ports: { page: pagePort } });
      await page.waitForSelector('#status[data-state="ready"]', { timeout: 40_000 });
      const next = await askOnPage(page, "And now?");
      await page.waitForSelector(`${next}[data-state="done"]`, { timeout: 30_000 });
      expect(((await page.textContent(`${next} .answer-body`)) ?? "").trim()).to.equal(ANSWER);
    } finally {
      await page.close();
    }
  });

  it("an answer the restarted server cannot resume ends with the server's reason and what to do; the page is Ready again", async () => {
    const page = await openChatPage(browser, stack!.pageUrl!);
    try {
      const answer = await askOnPage(page, "Stream a long answer");
      await streamedSoFar(page, answer, 40);
      await stack!.close();
      stack = await startLocalStack({ ...STACK_OPTIONS, ports: { page: pagePort } });
      await page.waitForSelector(`${answer}[data-state="error"]`, { timeout: 40_000 });
      const error = (await page.textContent(`${answer} .answer-error`)) ?? "";
      expect(error).to.match(/^The connection dropped and the rest of this answer could not be fetched: .+ Ask again\.$/);
      expect(error).to.include("There is no answer with this requestId to resume in this session");
      await page.waitForSelector('#status[data-state="ready"]', { timeout: 20_000 });
      expect(await page.textContent("#send")).to.equal("Send");
    } finally {
      await page.close();
    }
  });

  it("a model id that does not exist in the Region: the answer ends with one line naming the cause and the fix", async () => {
    const page = await openChatPage(browser, stack!.pageUrl!);
    try {
      // As Bedrock answers ConverseStream for an unknown model id (functions/fulfillment/errors.ts cites the observed messages).
      stack!.bedrock!.enqueue({ operation: "ConverseStream", httpError: { type: "ValidationException", status: 400, message: "The provided model identifier is invalid." } });
      const answer = await askOnPage(page, "Anything");
      await page.waitForSelector(`${answer}[data-state="error"]`, { timeout: 30_000 });
      expect(await page.textContent(`${answer} .answer-error`)).to.equal(MESSAGES.modelNotFound);
      expect(await page.textContent("#status")).to.equal(`Error: ${MESSAGES.modelNotFound}`);
    } finally {
      await page.close();
    }
  });

  it("a server that refuses for good: the answer ends with its reason, the status says to reload, nothing spins", async () => {
    const page = await openChatPage(browser, stack!.pageUrl!);
    let refusing: Server | undefined;
    try {
      const answer = await askOnPage(page, "Stream a long answer");
      await streamedSoFar(page, answer, 40);
      await stack!.close();
      stack = undefined;
      // Something else now answers on the page's port, and refuses (as the chat server does a page it does not know).
      refusing = createServer((_request, response) => {
        response.writeHead(403, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: "signed URLs are only for this server's chat page" }));
      });
      await new Promise<void>((resolve) => refusing!.listen(pagePort, "127.0.0.1", resolve));
      expect((refusing.address() as AddressInfo).port).to.equal(pagePort);

      await page.waitForSelector(`${answer}[data-state="error"]`, { timeout: 40_000 });
      expect(await page.textContent(`${answer} .answer-error`)).to.equal(
        "The server refused a new connection: signed-URL endpoint answered 403: signed URLs are only for this server's chat page. " +
          "The answer was cut off here: reload the page, then ask again.",
      );
      expect(await page.textContent("#status")).to.equal(
        "The server refused a new connection: signed-URL endpoint answered 403: signed URLs are only for this server's chat page. Reload the page to continue.",
      );
      expect(await page.getAttribute("#status", "data-state")).to.equal("error");
      expect(await page.isEnabled("#send")).to.equal(false);
    } finally {
      await page.close();
      await new Promise((resolve) => refusing?.close(resolve));
    }
  });
});
