/**
 * The chat page holds the line on its own (issue 18), even when frames reach it unsanitized
 * (a hook posting frames itself, a stack without output safety): its Content-Security-Policy,
 * sent as a header and carried in the page's meta tag, lets it load images only from the
 * hosts the operator allowed and connect only to its gateway; and an allowed image streamed
 * over many frames is fetched once, not once per re-render. Loopback servers count every hit.
 */
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { startChatServer, type ChatServer } from "../../client/chat-server";
import { withPagePolicy } from "../../client/web/build";
import { anyPortSourceOf, connectSourceOf, pageContentSecurityPolicy } from "../../client/web/csp";
import { launchChromium } from "./helpers/browser";
import { envelope } from "../../functions/shared/protocol";
import { chunksOf, fakeSigner, startFakeGateway, type FakeGateway } from "./helpers/fake-gateway";
import { chatPage } from "./helpers/page";

function counter(): Promise<{ server: Server; origin: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? "");
    // A 1×1 GIF: a real image, so nothing retries it.
    res.writeHead(200, { "content-type": "image/gif", "cache-control": "no-store" }).end(Buffer.from("R0lGODlhAQABAAAAACw=", "base64"));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits })));
}

describe("client: the chat page's own output safety (CSP, images once)", function () {
  this.timeout(60_000);
  let browser: Browser;
  let gateway: FakeGateway;
  let server: ChatServer;
  let allowed: Awaited<ReturnType<typeof counter>>;
  let other: Awaited<ReturnType<typeof counter>>;

  before(async function () {
    [allowed, other] = await Promise.all([counter(), counter()]);
    const answer = [
      `Here is the chart: ![chart](${allowed.origin}/chart.gif)\n\n`,
      ...Array.from({ length: 30 }, (_, i) => `word${i} `),
      `\n\nAnd the beacons: ![b](${other.origin}/md.gif) <img src="${other.origin}/raw.gif"> done.`,
    ].join("");
    // Paced so the page re-renders the answer many times after the image has appeared.
    gateway = await startFakeGateway({
      onAsk: async (ask, connection) => {
        let seq = 0;
        connection.send(envelope("start", ask.requestId, seq++, {}));
        for (const text of chunksOf(answer, 40)) {
          await new Promise((resolve) => setTimeout(resolve, 25));
          connection.send(envelope("delta", ask.requestId, seq++, { text }));
        }
        connection.send(envelope("end", ask.requestId, seq++, { final: answer, stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, metrics: { ttftMs: 1, totalMs: 2, deltas: 40, frames: 40 } }));
      },
    });
    server = await startChatServer({
      sign: fakeSigner(gateway),
      page: await chatPage(),
      pagePolicy: { connectSources: [connectSourceOf(gateway.endpoint)], imageSources: [allowed.origin] },
    });
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    await server?.close();
    await gateway?.close();
    allowed?.server.close();
    other?.server.close();
  });

  it("sends the policy as a header and in the page's meta tag, naming only the allowed image host and the gateway", async function () {
    const response = await fetch(server.url);
    const header = response.headers.get("content-security-policy") ?? "";
    const html = await response.text();
    const policy = pageContentSecurityPolicy({ connectSources: [connectSourceOf(gateway.endpoint)], imageSources: [allowed.origin] });
    expect(header).to.equal(`${policy}; frame-ancestors 'none'`);
    expect(html).to.include(`<meta http-equiv="Content-Security-Policy" content="${policy}">`);
    expect(policy).to.include(`img-src 'self' data: ${allowed.origin};`).and.include(`connect-src 'self' ${connectSourceOf(gateway.endpoint)};`);
    expect(policy).to.not.include(other.origin).and.not.include("unsafe-inline");
    // The default policy allows no remote image at all.
    expect(pageContentSecurityPolicy()).to.include("img-src 'self' data:;");
    expect(() => pageContentSecurityPolicy({ imageSources: ["https://x.example; script-src *"] })).to.throw(/imageSources must be/);
  });

  it("lets the local stack's page follow its gateway to another loopback port (npm start restarted), and no other host", function () {
    expect(anyPortSourceOf("ws://127.0.0.1:8081/")).to.equal("ws://127.0.0.1:*");
    const policy = pageContentSecurityPolicy({ connectSources: [anyPortSourceOf("ws://127.0.0.1:8081/")] });
    expect(policy).to.include("connect-src 'self' ws://127.0.0.1:*;");
    expect(() => pageContentSecurityPolicy({ connectSources: ["ws://*:*"] })).to.throw(/connectSources must be/);
  });

  it("shows the allowed image once (one element, one fetch) while the answer streams and re-renders, and nothing from any other host", async function () {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector('#status[data-state="ready"]');
    // Every image element that ever shows an address in the answer, and how often the answer re-rendered.
    await page.evaluate(() => {
      const w = window as unknown as { shown: Set<Element>; renders: number };
      w.shown = new Set();
      w.renders = 0;
      new MutationObserver((records) => {
        for (const record of records) {
          if ((record.target as Element).classList?.contains("answer-body")) w.renders++;
          record.addedNodes.forEach((node) => {
            if (node instanceof HTMLImageElement && node.getAttribute("src")) w.shown.add(node);
            if (node instanceof Element) node.querySelectorAll("img[src]").forEach((img) => w.shown.add(img));
          });
        }
      }).observe(document.body, { subtree: true, childList: true });
    });
    await page.fill("#question", "Show me the chart");
    await page.press("#question", "Enter");
    await page.waitForSelector('.answer[data-state="done"] .answer-body[data-content="final"]');
    await page.waitForTimeout(300);
    expect(await page.locator(".answer-body img").count()).to.be.at.least(1);
    expect(await page.evaluate(() => (document.querySelector(".answer-body img") as HTMLImageElement).complete)).to.equal(true);
    const seen = await page.evaluate(() => {
      const w = window as unknown as { shown: Set<Element>; renders: number };
      return { elements: w.shown.size, renders: w.renders, srcs: [...w.shown].map((e) => e.getAttribute("src")) };
    });
    expect(seen.renders, "the answer re-rendered many times after the image appeared").to.be.above(10);
    // One element per image address, kept across renders (the blocked beacons have one each too).
    expect(seen.srcs.filter((src) => src?.endsWith("/chart.gif")), JSON.stringify(seen)).to.have.length(1);
    expect(seen.elements, JSON.stringify(seen)).to.equal(3);
    expect(allowed.hits).to.deep.equal(["/chart.gif"]);
    expect(other.hits).to.deep.equal([]);
    await page.close();
  });

  it("the meta tag alone keeps a copy of the page served without the header from loading a foreign image", async function () {
    const built = withPagePolicy(await chatPage(), { imageSources: [allowed.origin] });
    const bare = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" }).end(built.html.replace("<body>", `<body><img src="${other.origin}/meta.gif"><img src="${allowed.origin}/meta-allowed.gif">`));
    });
    await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/`);
      await page.waitForLoadState("load");
      expect(other.hits.filter((hit) => hit === "/meta.gif")).to.deep.equal([]);
      expect(allowed.hits).to.include("/meta-allowed.gif");
    } finally {
      await page.close();
      bare.close();
    }
  });
});
