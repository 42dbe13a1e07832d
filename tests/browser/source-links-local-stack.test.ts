/**
 * Sources people can click, in Chromium against the local stack (issue 24): a knowledge-base
 * answer's sources are links (presigned to the local S3, bucket `local-documents` allowlisted
 * as `npm start -- --source-link-buckets local-documents` does); focusing one shows its
 * snippet as the link's description, and following it gets the document.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import type { Browser, Page } from "playwright-core";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { askOnPage, launchChromium, openChatPage } from "../client/helpers/browser";

const DOCUMENTS = join(__dirname, "..", "..", "local", "documents");

describe("browser: source links on the chat page", function () {
  this.timeout(60_000);
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;

  before(async () => {
    stack = await startLocalStack({
      bedrockBehavior: { deltasPerSecond: 200, firstTokenDelayMs: 20 },
      sourceLinkBuckets: ["local-documents"],
      env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" },
    });
    browser = await launchChromium();
    page = await openChatPage(browser, stack.pageUrl!);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("links each source, shows its snippet on focus as the link's description, and the link gets the document", async () => {
    await page.check('input[name="mode"][value="kb"]');
    const answer = await askOnPage(page, "How does the knowledge base cite its sources?");
    await page.waitForSelector(`${answer}[data-state="done"]`, { timeout: 30_000 });

    // The [n] marker in the answer's text is a link too, before the sources list's entry.
    const links = page.locator(`${answer} .answer-body a.source-link`);
    expect(await links.count()).to.be.greaterThan(1);
    const marker = links.first();
    expect(await marker.textContent()).to.equal("[1]");

    const describedBy = (await marker.getAttribute("aria-describedby"))!;
    const tip = page.locator(`[id="${describedBy}"]`);
    expect(await tip.getAttribute("role")).to.equal("tooltip");
    expect(await tip.isVisible()).to.equal(false);
    await marker.focus();
    expect(await tip.isVisible()).to.equal(true);
    const snippet = (await tip.textContent())!;
    expect(snippet.length).to.be.greaterThan(20);

    const href = (await marker.getAttribute("href"))!;
    expect(href.startsWith(`${stack.s3!.endpoint}/local-documents/`)).to.equal(true);
    const file = decodeURIComponent(new URL(href).pathname.slice("/local-documents/".length));
    const document = readFileSync(join(DOCUMENTS, file), "utf8");
    expect(document.replace(/\s+/g, " ")).to.include(snippet.replace(/…$/, ""));

    // Followed as a reader follows it (a new tab), the presigned link opens the document.
    const [tab] = await Promise.all([page.context().waitForEvent("page"), marker.click()]);
    await tab.waitForLoadState("domcontentloaded");
    expect(tab.url()).to.equal(href);
    expect((await tab.locator("body").innerText()).trim()).to.equal(document.trim());
    // Fetched with no credentials at all, it is the document.
    const fetched = await page.request.get(href);
    expect(fetched.status()).to.equal(200);
    expect(await fetched.text()).to.equal(document);
    await tab.close();

    // The same source's entry in the list is described by the same snippet.
    const listed = page.locator(`${answer} .answer-body li a.source-link[href="${href}"]`);
    await listed.focus();
    const listedTip = page.locator(`[id="${(await listed.getAttribute("aria-describedby"))!}"]`);
    expect(await listedTip.isVisible()).to.equal(true);
    expect(await listedTip.textContent()).to.equal(snippet);

    // The pointer shows it too, without focus.
    await page.locator("#question").focus();
    await page.mouse.move(0, 0);
    expect(await tip.isVisible()).to.equal(false);
    await marker.hover();
    expect(await tip.isVisible()).to.equal(true);
  });
});
