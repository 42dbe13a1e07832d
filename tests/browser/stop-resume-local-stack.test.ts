/**
 * The chat page in Chromium against the real local stack: Stop (the Send button while an
 * answer streams, or Esc) cancels the answer on the server, which ends it with what was
 * generated; and a socket the gateway drops mid-answer is replaced and the answer resumed,
 * so it arrives whole, with nothing shown twice (issues 11 and 12).
 */
import { expect } from "chai";
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import type { Browser, Page } from "playwright-core";
import { localRoleSession } from "../../local/gateway";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { askOnPage, launchChromium, openChatPage } from "../client/helpers/browser";

/** Plain words (no markdown), so the page's text is the streamed text; about 8 s at this pace. */
const DELTAS = Array.from({ length: 240 }, (_, i) => `w${i} ${i % 40 === 0 ? "😀 " : ""}`);
const ANSWER = DELTAS.join("").trim();

/** Runs in the page: samples the answer's text every 25 ms until it settles. */
const SAMPLER = `(selector) => new Promise((resolve, reject) => {
  const samples = [];
  const deadline = Date.now() + 45000;
  const timer = setInterval(() => {
    const answer = document.querySelector(selector);
    const body = answer && answer.querySelector(".answer-body");
    const state = (answer && answer.getAttribute("data-state")) || "";
    samples.push({ state, content: (body && body.getAttribute("data-content")) || "", text: body ? body.textContent.trim() : "" });
    if (state === "done" || state === "error") { clearInterval(timer); resolve(samples); }
    else if (Date.now() > deadline) { clearInterval(timer); reject(new Error("answer still " + state)); }
  }, 25);
})`;

interface Sample {
  state: string;
  content: string;
  text: string;
}

describe("browser: Stop and resume on the local stack", function () {
  this.timeout(60_000);
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  const operator = localRoleSession("stop-resume-operator", { allow: { connect: false, manageConnections: true } });

  before(async () => {
    stack = await startLocalStack({
      credentials: [operator],
      bedrockBehavior: { firstTokenDelayMs: 0, deltasPerSecond: 30, deltas: DELTAS },
      env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true", STREAM_CHECKPOINT_MS: "100" },
    });
    browser = await launchChromium();
    page = await openChatPage(browser, stack.pageUrl!);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  const ask = (question: string): Promise<string> => askOnPage(page, question);

  async function streamedSoFar(selector: string, length: number): Promise<void> {
    await page.waitForFunction(
      ([answer, min]) => (document.querySelector(`${answer} .answer-body`)?.textContent ?? "").length > min,
      [selector, length] as const,
      { timeout: 20_000 },
    );
  }

  async function expectStopped(selector: string): Promise<void> {
    await page.waitForSelector(`${selector}[data-state="done"]`, { timeout: 20_000 });
    expect(await page.getAttribute(selector, "data-stopped")).to.equal("true");
    expect(await page.textContent(`${selector} .answer-state`)).to.equal("Stopped");
    expect(await page.isVisible(`${selector} .answer-stopped`)).to.equal(true);
    // What shows is the server's final: the text generated until the stop, far from the whole answer.
    const shown = ((await page.textContent(`${selector} .answer-body`)) ?? "").trim();
    expect(shown.length).to.be.above(0);
    expect(shown.length).to.be.below(ANSWER.length / 2);
    expect(ANSWER.startsWith(shown)).to.equal(true);
    expect(await page.textContent("#status")).to.equal("Stopped.");
    expect(await page.textContent("#send")).to.equal("Send");
  }

  it("the Send button becomes Stop while an answer streams; pressing it ends the answer with what was generated (issue 12)", async () => {
    const answer = await ask("Stream a long answer");
    await streamedSoFar(answer, 20);
    expect(await page.getAttribute("#send", "data-action")).to.equal("stop");
    expect(await page.textContent("#send")).to.equal("Stop");
    expect(await page.isEnabled("#send")).to.equal(true);
    // Enter in the box does not stop it, nor send a second question meanwhile.
    await page.fill("#question", "next one");
    await page.press("#question", "Enter");
    expect(await page.textContent("#notice")).to.match(/^An answer is still streaming: press Stop \(or Esc\)/);
    expect(await page.inputValue("#question")).to.equal("next one");
    await page.click("#send");
    await expectStopped(answer);
    await page.fill("#question", "");
  });

  it("Esc stops the answer too", async () => {
    const answer = await ask("Stream another long answer");
    await streamedSoFar(answer, 20);
    await page.keyboard.press("Escape");
    await expectStopped(answer);
  });

  it("resumes an answer whose socket the gateway dropped: it arrives whole, nothing shown twice (issue 11)", async () => {
    const opened = Number(await page.getAttribute("#status", "data-connections"));
    const answer = await ask("Stream a long answer again");
    const sampling = page.evaluate(`(${SAMPLER})(${JSON.stringify(answer)})`) as Promise<Sample[]>;
    await streamedSoFar(answer, 40);
    const [dropped] = [...stack.gateway.connections.values()];
    expect(stack.gateway.connections.size).to.equal(1);
    const management = new ApiGatewayManagementApiClient({ endpoint: stack.managementEndpoint, region: stack.region, credentials: operator });
    try {
      await management.send(new DeleteConnectionCommand({ ConnectionId: dropped.connectionId }));
    } finally {
      management.destroy();
    }
    const samples = await sampling;
    expect(Number(await page.getAttribute("#status", "data-connections"))).to.equal(opened + 1);
    const final = samples[samples.length - 1];
    expect(final).to.deep.include({ state: "done", content: "final", text: ANSWER });
    expect(await page.getAttribute(answer, "data-stopped")).to.equal("false");
    // Every streamed view was a beginning of the answer: a duplicated or lost piece would break that.
    const streamed = samples.filter((s) => s.content === "streamed" && s.text !== "");
    expect(streamed.filter((s) => !ANSWER.startsWith(s.text)).map((s) => s.text.slice(-40))).to.deep.equal([]);
    const longest = Math.max(...streamed.map((s) => s.text.length));
    const atDrop = streamed.find((s) => s.text.length > 40)!.text.length;
    expect(longest, "it kept streaming on the new socket").to.be.above(atDrop + 100);
    expect(await page.textContent("#status")).to.equal("Done.");
  });
});
