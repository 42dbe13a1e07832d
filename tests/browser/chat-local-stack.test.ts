/**
 * The chat page in Chromium against the real local stack: the page server signs URLs for
 * the local gateway, the real connection and fulfillment handlers run behind it, and the
 * Bedrock emulator streams the stand-in model's answers (or scripted ones) at a pace slow
 * enough for the test to watch an answer grow.
 */
import { expect } from "chai";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import type { Browser, Page } from "playwright-core";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { localRoleSession } from "../../local/gateway";
import { MESSAGES } from "../../functions/fulfillment/errors";
import { askOnPage, launchChromium, openChatPage } from "../client/helpers/browser";

const SCREENSHOTS = path.join(__dirname, "../../test-output/browser");
/** The stand-in answers this from security-model.md in about 140 deltas, with bold, italics, code and a list. */
const QUESTION = "What is the security model?";
/** Slow enough for many observations of one answer, fast enough to keep the file short. */
const DELTAS_PER_SECOND = 35;
/** Scripted answers need no pacing of their own. */
const FAST = { deltasPerSecond: 200, firstTokenDelayMs: 20 } as const;

/** What the in-page observer saw of one answer, sampled until it settled. */
interface Observation {
  /** `sources`: items in the answer's visible sources list; `lead`: the first visible character. */
  samples: { state: string; content: string; length: number; sources: number; lead: string }[];
  /** Markup that could run (a script, an inline handler) appeared anywhere in the document. */
  executable: string[];
  final: { state: string; content: string; text: string };
}

/** Runs in the page: see `observe`. */
const OBSERVER = `(answerSelector) => new Promise((resolve, reject) => {
  const samples = [];
  const executable = [];
  function scan(node) {
    if (!(node instanceof Element)) return;
    for (const el of [node, ...node.querySelectorAll("*")]) {
      if (el.tagName === "SCRIPT" && el.closest("#conversation")) executable.push(el.outerHTML);
      for (const attr of el.getAttributeNames()) if (/^on/i.test(attr)) executable.push(el.tagName + " " + attr);
    }
  }
  const mutations = new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "attributes") scan(record.target);
      record.addedNodes.forEach(scan);
    }
  });
  mutations.observe(document.documentElement, { subtree: true, childList: true, attributes: true });
  const deadline = Date.now() + 45000;
  function sample() {
    const answer = document.querySelector(answerSelector);
    const body = answer && answer.querySelector(".answer-body");
    const state = (answer && answer.getAttribute("data-state")) || "";
    const content = (body && body.getAttribute("data-content")) || "";
    const sources = answer ? answer.querySelectorAll(".citations:not([hidden]) li").length : 0;
    const lead = body ? body.textContent.trim().slice(0, 1) : "";
    samples.push({ state, content, length: body ? body.textContent.length : 0, sources, lead });
    if (state === "done" || state === "error") {
      clearInterval(timer);
      mutations.disconnect();
      resolve({ samples, executable, final: { state, content, text: body.textContent } });
    } else if (Date.now() > deadline) {
      clearInterval(timer);
      mutations.disconnect();
      reject(new Error("answer still " + state + " after 45 s"));
    }
  }
  const timer = setInterval(sample, 25);
  sample();
})`;

describe("browser: chat page on the local stack", function () {
  this.timeout(60_000);
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  // A caller allowed to use @connections, standing in for an operator who disconnects a client.
  const operator = localRoleSession("local-operator", { allow: { connect: false, manageConnections: true } });

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await startLocalStack({
      bedrockBehavior: { deltasPerSecond: DELTAS_PER_SECOND, firstTokenDelayMs: 150 },
      credentials: [operator],
      env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" },
    });
    browser = await launchChromium();
    page = await openChatPage(browser, stack.pageUrl!);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  const ask = (question: string): Promise<string> => askOnPage(page, question);

  /**
   * Samples the answer in the page (every 25 ms) until it is done or failed, and records any
   * executable markup that appears anywhere in the document meanwhile (a MutationObserver).
   */
  function observe(selector: string): Promise<Observation> {
    // Source text, not a function: tsx would wrap the inner functions in a `__name` helper the page lacks.
    return page.evaluate(`(${OBSERVER})(${JSON.stringify(selector)})`) as Promise<Observation>;
  }

  /** How many times the streamed text got longer between two samples taken while streaming. */
  function growthSteps(observation: Observation): number {
    let steps = 0;
    const streaming = observation.samples.filter((s) => s.state === "streaming" && s.content === "streamed");
    for (let i = 1; i < streaming.length; i += 1) if (streaming[i].length > streaming[i - 1].length) steps += 1;
    return steps;
  }

  const lastConnectionCount = async (): Promise<number> => Number(await page.getAttribute("#status", "data-connections"));

  it("shows the offline stand-in model label and is ready", async () => {
    // It says what the stand-in knows (issue 23).
    expect(await page.textContent("#label")).to.equal("offline stand-in model: it knows only the bundled documents (local/documents/)");
    expect(await page.isVisible("#label")).to.equal(true);
    expect(await page.textContent("#status")).to.equal("Ready.");
    expect(await lastConnectionCount()).to.equal(1);
    // The page's socket reached the real gateway, signed for the page's session, in JSON format.
    const [connection] = [...stack.gateway.connections.values()];
    expect(connection.queryStringParameters.format).to.equal("json");
    expect(connection.queryStringParameters.sessionId).to.match(/^web-/);
  });

  it("streams the answer as it grows, then replaces it with the final answer, rendered as markdown", async () => {
    const answer = await ask(QUESTION);
    const body = `${answer} .answer-body`;
    const watching = observe(answer);
    await page.waitForFunction(
      (selector) => {
        const node = document.querySelector(selector);
        return node?.closest(".answer")?.getAttribute("data-state") === "streaming" && (node.textContent ?? "").length > 200;
      },
      body,
      { timeout: 20_000 },
    );
    expect(await page.getAttribute("#status", "data-state")).to.equal("streaming");
    expect(await page.getAttribute(body, "aria-live")).to.equal("polite");
    await page.screenshot({ path: path.join(SCREENSHOTS, "streaming.png") });

    const observation = await watching;
    expect(growthSteps(observation), JSON.stringify(observation.samples.slice(0, 40))).to.be.at.least(3);
    expect(observation.final).to.include({ state: "done", content: "final" });
    expect(observation.final.text).to.include("Offline stand-in model");
    const streamed = observation.samples.filter((s) => s.content === "streamed");
    expect(streamed[streamed.length - 1].length).to.be.below(observation.final.text.length + 1);

    // Markdown renders as elements, not as literal asterisks and dashes.
    expect(await page.locator(`${body} em`).first().textContent()).to.match(/^Offline stand-in model/);
    expect(await page.locator(`${body} strong`).first().textContent()).to.equal("Security model");
    expect(await page.locator(`${body} code`).first().textContent()).to.equal("$connect");
    // Its sources look as the knowledge-base mode's do: a numbered list under **Sources** (issue 23).
    expect(await page.locator(`${body} strong`).last().textContent()).to.equal("Sources");
    expect(await page.locator(`${body} ol li`).first().textContent()).to.include("s3://local-documents/security-model.md");
    expect(await page.textContent(body)).not.to.include("**");
    // The stand-in's answer opens with "_Offline stand-in model…_": while that emphasis is
    // still open, the page shows it in italics, never a literal "_" (issue 12).
    const shown = streamed.filter((s) => s.length > 0);
    expect(shown.length).to.be.at.least(3);
    expect(shown.filter((s) => s.lead !== "O").map((s) => s.lead)).to.deep.equal([]);

    expect(await page.getAttribute("#status", "data-state")).to.equal("done");
    expect(await page.textContent(`${answer} .answer-stats`)).to.match(/^first token \d+ ms · [\d.]+ tokens\/s · [\d,]+ tokens in · [\d,]+ out$/);
    expect(stack.bedrock!.requests[stack.bedrock!.requests.length - 1].operation).to.equal("ConverseStream");
    await page.screenshot({ path: path.join(SCREENSHOTS, "final.png") });
  });

  it("neutralizes script injection split across deltas", async () => {
    stack.bedrock!.enqueue({
      operation: "ConverseStream",
      ...FAST,
      deltas: [
        "Safe **text** <im",
        'g src=x onerr',
        'or="window.__pwned=1"> and <scr',
        "ipt>window.__pwned=2</scr",
        "ipt> [click](javascript:window.__pwned=3) done.",
      ],
    });
    const answer = await ask("Tell me something hostile");
    const observation = await observe(answer);
    expect(observation.final).to.include({ state: "done", content: "final" });
    expect(observation.executable).to.deep.equal([]);
    const body = page.locator(`${answer} .answer-body`);
    expect(await body.textContent()).to.include("Safe text");
    expect(await body.locator("strong").textContent()).to.equal("text");
    expect(await page.locator("#conversation script").count()).to.equal(0);
    expect(await page.locator("[onerror]").count()).to.equal(0);
    expect(await body.locator('a[href^="javascript:"]').count()).to.equal(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).to.equal(undefined);
  });

  it("answers from the knowledge base when the mode is switched, with its citations", async () => {
    await page.check('input[name="mode"][value="kb"]');
    stack.bedrock!.enqueue({ operation: "RetrieveAndGenerateStream", deltasPerSecond: 100, firstTokenDelayMs: 20 });
    const standIn = await ask(QUESTION);
    const observation = await observe(standIn);
    expect(observation.final).to.include({ state: "done", content: "final" });
    const request = stack.bedrock!.requests[stack.bedrock!.requests.length - 1];
    expect(request.operation).to.equal("RetrieveAndGenerateStream");
    expect(request.knowledgeBaseId).to.equal("LOCALKB001");
    expect(await page.textContent(`${standIn} .answer-mode`)).to.equal("Knowledge base");
    // Citations streamed in were listed under the answer while it streamed...
    expect(observation.samples.some((s) => s.state === "streaming" && s.sources > 0)).to.equal(true);
    // ...and the final formatted answer, longer than the streamed text by its own list of
    // sources, replaced it; it lists them once: the bundled documents' s3:// URIs as text,
    // since only web links become anchors.
    const streamed = observation.samples.filter((s) => s.content === "streamed");
    expect(streamed[streamed.length - 1].length).to.be.below(observation.final.text.length);
    const body = `${standIn} .answer-body`;
    expect(await page.locator(`${body} strong`).last().textContent()).to.equal("Sources");
    // Once: the stand-in's text lists no sources of its own, as a knowledge base's does not.
    expect(observation.final.text.match(/Sources/g)).to.have.length(1);
    expect(await page.locator(`${body} ol li`).first().textContent()).to.include("s3://local-documents/security-model.md");
    expect(await page.isHidden(`${standIn} .citations`)).to.equal(true);
    expect(await page.locator(`${standIn} a`).count()).to.equal(0);

    stack.bedrock!.enqueue({
      operation: "RetrieveAndGenerateStream",
      ...FAST,
      deltas: ["Signed ", "URLs ", "expire."],
      citations: [{ references: [{ uri: "https://docs.example/security", text: "Every connection URL is signed." }] }],
    });
    const linked = await ask("Do signed URLs expire?");
    await page.waitForSelector(`${linked}[data-state="done"]`, { timeout: 20_000 });
    // The [1] marker after the cited text and the source's entry in the list.
    const links = page.locator(`${linked} a`);
    expect(await links.count()).to.equal(2);
    expect(await links.first().textContent()).to.equal("[1]");
    for (const link of await links.all()) {
      expect(await link.getAttribute("href")).to.equal("https://docs.example/security");
      expect(await link.getAttribute("rel")).to.equal("noopener noreferrer");
      expect(await link.getAttribute("target")).to.equal("_blank");
    }
    expect(await page.isHidden(`${linked} .citations`)).to.equal(true);
    await page.check('input[name="mode"][value="llm"]');
  });

  it("shows the error when the model fails mid-stream", async () => {
    stack.bedrock!.enqueue({
      operation: "ConverseStream",
      deltasPerSecond: DELTAS_PER_SECOND,
      firstTokenDelayMs: 20,
      streamError: { afterDeltas: 25, type: "modelStreamErrorException", message: "Injected mid-stream failure." },
    });
    const answer = await ask(QUESTION);
    const observation = await observe(answer);
    expect(observation.final).to.include({ state: "error", content: "streamed" });
    expect(observation.samples.some((s) => s.state === "streaming" && s.length > 0)).to.equal(true);
    expect(await page.textContent(`${answer} .answer-error`)).to.equal(MESSAGES.unavailable);
    expect(await page.isVisible(`${answer} .answer-error`)).to.equal(true);
    // The text that arrived before the failure stays readable.
    expect(await page.textContent(`${answer} .answer-body`)).to.include("Offline stand-in model");
    await page.waitForSelector('#status[data-state="error"]');
    expect(await page.textContent("#status")).to.equal(`Error: ${MESSAGES.unavailable}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, "error.png") });
  });

  it("reconnects after the server drops the socket, and the next question streams", async () => {
    const opened = await lastConnectionCount();
    const [dropped] = [...stack.gateway.connections.values()];
    expect(stack.gateway.connections.size).to.equal(1);
    const management = new ApiGatewayManagementApiClient({ endpoint: stack.managementEndpoint, region: stack.region, credentials: operator });
    try {
      await management.send(new DeleteConnectionCommand({ ConnectionId: dropped.connectionId }));
    } finally {
      management.destroy();
    }
    await page.waitForSelector(`#status[data-connections="${opened + 1}"]`, { timeout: 20_000 });
    const [replacement] = [...stack.gateway.connections.values()];
    expect(replacement.connectionId).not.to.equal(dropped.connectionId);
    expect(replacement.queryStringParameters.sessionId).to.equal(dropped.queryStringParameters.sessionId);
    // The answer before the drop failed; the new connection is ready all the same (issue 12).
    await page.waitForSelector('#status[data-state="ready"]');
    expect(await page.textContent("#status")).to.equal("Ready.");

    stack.bedrock!.enqueue({ operation: "ConverseStream", deltasPerSecond: 60, firstTokenDelayMs: 20 });
    const answer = await ask("How does the stream writer coalesce frames?");
    const observation = await observe(answer);
    expect(observation.final).to.include({ state: "done", content: "final" });
    expect(growthSteps(observation)).to.be.at.least(3);
    expect(await lastConnectionCount()).to.equal(opened + 1);
  });
});
