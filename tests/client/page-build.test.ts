import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { chatPage } from "./helpers/page";

describe("client: chat page bundle", () => {
  it("builds in memory: one browser script with marked and DOMPurify inside, its stylesheet, and the markup", async () => {
    const page = await chatPage();
    expect(page.js.length).to.be.greaterThan(20_000);
    expect(page.js).to.include("DOMPurify");
    // A browser has no require() or process: the bundle must not reach for them.
    expect(page.js).not.to.match(/\brequire\(|process\.env/);
    expect(page.css).to.include(".answer-body");
    expect(page.html).to.include('<script src="app.js" defer></script>');
    expect(page.html).to.include('<link rel="stylesheet" href="app.css">');
  });

  it("has every element the script looks up, and the accessibility hooks", async () => {
    const page = await chatPage();
    const script = readFileSync(path.join(__dirname, "../../client/web/main.ts"), "utf8");
    const ids = [...script.matchAll(/byId(?:<[^>]+>)?\("([^"]+)"\)/g)].map((match) => match[1]);
    expect(ids).to.include.members(["question", "send", "status", "conversation"]);
    for (const id of ids) expect(page.html, `#${id}`).to.include(`id="${id}"`);
    expect(page.html).to.match(/<label for="question"/);
    expect(page.html).to.match(/id="status"[^>]*role="status"/);
    expect(page.html).to.match(/<legend>Answer from<\/legend>/);
    expect(page.html).to.match(/value="kb"/);
  });
});
