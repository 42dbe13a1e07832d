/**
 * Debian's Chromium driven by playwright-core, set up for tests: headless, no sandbox
 * (containers), no background networking (no outside traffic, no flakiness from it).
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Browser tests are part of `npm test`: a missing Chromium fails them, it never skips them. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-default-apps",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
  });
}

/** Opens the local stack's chat page in a new browser page and waits until it is ready to ask. */
export async function openChatPage(browser: Browser, pageUrl: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await page.goto(pageUrl);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 20_000 });
  return page;
}

/** Types the question, sends it with Enter and returns the new answer's selector. */
export async function askOnPage(page: Page, question: string): Promise<string> {
  await page.waitForSelector('#send[data-action="send"]:not([disabled])');
  const turns = await page.locator(".turn").count();
  await page.fill("#question", question);
  await page.press("#question", "Enter");
  const selector = `.turn:nth-child(${turns + 1}) .answer`;
  await page.waitForSelector(selector);
  return selector;
}
