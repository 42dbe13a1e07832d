/**
 * The chat page's reasoning and progress in Chromium against the local stack with reasoning
 * allowed (`npm start -- --reasoning`): with "Show reasoning" ticked, the model's reasoning
 * appears in a collapsed <details> above the answer, rendered inert, and opens on a click;
 * unticked, no reasoning is asked for and no section shows. A knowledge-base answer's stage
 * is the answer's status before its first token.
 */
import { expect } from "chai";
import type { Browser, Page } from "playwright-core";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { parseStartArgs } from "../../local/start";
import { askOnPage, launchChromium, openChatPage } from "../client/helpers/browser";

const MARKER = "SECRET-THOUGHT-b2c1";
const REASONING = ["Weighing ", `${MARKER} `, '<img src=x onerror="window.pwned=1"> ', "the options."];
const ANSWER = ["Reasoning ", "stays ", "apart."];

describe("browser: reasoning and progress on the chat page", function () {
  this.timeout(60_000);
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;

  before(async () => {
    stack = await startLocalStack({
      ...parseStartArgs(["--reasoning"]),
      ports: undefined,
      bedrockBehavior: { deltasPerSecond: 100, firstTokenDelayMs: 20, deltas: ANSWER, reasoning: REASONING },
      env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" },
    });
    browser = await launchChromium();
    page = await openChatPage(browser, stack.pageUrl!);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  const done = (answer: string) => page.waitForSelector(`${answer}[data-state="done"]`);

  it("shows the reasoning, asked for with the checkbox, in a collapsed section that opens on a click; inert", async () => {
    await page.check("#reasoning");
    const answer = await askOnPage(page, "Why keep reasoning apart?");
    await done(answer);
    const details = page.locator(`${answer} details.answer-reasoning`);
    expect(await details.isVisible()).to.equal(true);
    expect(await details.getAttribute("open"), "collapsed by default").to.equal(null);
    const body = page.locator(`${answer} .reasoning-body`);
    expect(await body.isVisible()).to.equal(false);
    await page.click(`${answer} .reasoning-summary`);
    expect(await body.isVisible()).to.equal(true);
    expect(await body.textContent()).to.contain(MARKER).and.contain("the options.");
    // The injected tag arrived escaped (output sanitizer) and rendered as text: nothing ran, no element made.
    expect(await page.locator(`${answer} .reasoning-body img`).count()).to.equal(0);
    expect(await page.evaluate("window.pwned")).to.equal(undefined);
    // The answer itself carries none of it.
    expect((await page.textContent(`${answer} .answer-body`))?.trim()).to.equal(ANSWER.join("")).and.not.contain(MARKER);
  });

  it("asks for no reasoning with the checkbox clear, and shows no section", async () => {
    await page.uncheck("#reasoning");
    const answer = await askOnPage(page, "Just the answer?");
    await done(answer);
    expect(await page.locator(`${answer} details.answer-reasoning`).isVisible()).to.equal(false);
    const body = stack.bedrock!.requests.at(-1)!.body as Record<string, unknown>;
    expect(body.additionalModelRequestFields).to.equal(undefined);
  });

  it("shows a knowledge-base answer's stage as its status before the first token", async () => {
    // A slow first token leaves time to see the stage.
    stack.bedrock!.enqueue({ operation: "RetrieveAndGenerateStream", firstTokenDelayMs: 1500 });
    await page.check('input[name="mode"][value="kb"]');
    const answer = await askOnPage(page, "How does the knowledge base cite its sources?");
    // Sampled in the page (source text: tsx would wrap a function in a helper the page lacks):
    // each label change, with whether any answer text was on screen then.
    const seen = (await page.evaluate(`new Promise((resolve) => {
      const seen = [];
      const timer = setInterval(() => {
        const answer = document.querySelector(${JSON.stringify(answer)});
        const label = answer.querySelector(".answer-state").textContent;
        const text = answer.querySelector(".answer-body").textContent.trim() !== "";
        const last = seen[seen.length - 1];
        if (!last || last.label !== label || last.text !== text) seen.push({ label, text });
        if (answer.getAttribute("data-state") === "done") { clearInterval(timer); resolve(seen); }
      }, 20);
    })`)) as { label: string; text: boolean }[];
    // The search is shown before any answer text; `generating` comes with Bedrock's first event
    // (the SDK reads that event before it returns the stream: @smithy/core's event-streams
    // initial-response check), so it may last too short a time to sample; the reducer test
    // covers it.
    const searching = seen.findIndex((s) => s.label === "Searching the knowledge base…");
    expect(searching, JSON.stringify(seen)).to.be.greaterThan(-1);
    expect(seen[searching].text, JSON.stringify(seen)).to.equal(false);
    expect(seen.some((s, i) => i > searching && s.text), JSON.stringify(seen)).to.equal(true);
    await done(answer);
    expect(await page.textContent(`${answer} .answer-state`)).to.equal("");
  });
});
