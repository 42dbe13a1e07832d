/**
 * Feedback buttons on the chat page in Chromium against the local stack (issue 24, item 3),
 * with feedback kept as `npm start -- --feedback-ttl-days 7` keeps it: a finished answer shows
 * thumbs up / down and a comment box; a click sends the `feedback` action on the page's
 * socket, the page shows the server's acknowledgement, and the rating is in the table.
 */
import { expect } from "chai";
import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { Browser, Page } from "playwright-core";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { parseStartArgs } from "../../local/start";
import { askOnPage, launchChromium, openChatPage } from "../client/helpers/browser";

describe("browser: feedback buttons on the local stack", function () {
  this.timeout(60_000);
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;

  before(async () => {
    stack = await startLocalStack({
      bedrockBehavior: { deltasPerSecond: 200, firstTokenDelayMs: 0 },
      ...parseStartArgs(["--feedback-ttl-days", "7"]),
      env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" },
    });
    browser = await launchChromium();
    page = await openChatPage(browser, stack.pageUrl!);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("rates a finished answer with a comment, shows the acknowledgement, and a second click replaces the rating", async () => {
    const answer = await askOnPage(page, "What is the security model?");
    await page.waitForSelector(`${answer}[data-state="done"] .answer-feedback:not([hidden])`);
    await page.fill(`${answer} .feedback-comment`, "Helpful, thanks");
    await page.click(`${answer} .feedback-up`);
    await page.waitForFunction((selector) => document.querySelector(`${selector} .feedback-status`)?.textContent === "Thanks: recorded as a good answer.", answer);
    expect(await page.getAttribute(`${answer} .feedback-up`, "aria-pressed")).to.equal("true");

    const table = DynamoDBDocumentClient.from(stack.dynamo.client);
    const rated = async () =>
      ((await table.send(new ScanCommand({ TableName: stack.dynamo.connectionsTable, ConsistentRead: true }))).Items ?? []).filter(
        (item) => item.kind === "feedback" && item.question === "What is the security model?",
      );
    const [record] = await rated();
    expect(record).to.include({ rating: "up", comment: "Helpful, thanks", mode: "llm", stopReason: "end_turn" });
    expect(record.model).to.be.a("string").and.not.equal("");
    expect(record.principal).to.match(/^iam:/);
    expect(record.answerSessionId).to.match(/^web-/);

    await page.fill(`${answer} .feedback-comment`, "");
    await page.click(`${answer} .feedback-down`);
    await page.waitForFunction((selector) => document.querySelector(`${selector} .feedback-status`)?.textContent === "Thanks: recorded as a bad answer.", answer);
    expect(await page.getAttribute(`${answer} .feedback-up`, "aria-pressed")).to.equal("false");
    expect(await page.getAttribute(`${answer} .feedback-down`, "aria-pressed")).to.equal("true");
    const [replaced] = await rated();
    expect(replaced).to.include({ rating: "down", ratings: 2 });
    expect(replaced).to.not.have.property("comment");
  });
});
