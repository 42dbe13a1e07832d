/**
 * Stock Lex Web UI 0.24.1's rendering of a bot message's `alts.markdown`
 * (lex-web-ui/src/components/MessageText.vue; docs/reliability-and-security.md, "Output safety"): `marked`
 * ^4.0.12 as its package.json pins, with its `renderer.link` that writes
 * `<a href="${href}" title="${title}" target="_blank">` without escaping `href`, and the custom
 * tokenizer clients.md describes that turns `https://…` and `tel:` runs into
 * `<a target="_blank">`. That tokenizer's source was not found (the MessageText.vue read is the
 * version with `marked.use({ renderer })`); it is written here from clients.md's description as
 * the least careful linkifier could be: the whole non-blank run copied into `href` and text
 * unescaped. The result goes into `v-html` (innerHTML) with no sanitizer, because
 * `AllowSuperDangerousHTMLInMessage` is true by default. Runs in Node and, bundled, in Chromium.
 */
import { marked } from "marked4";

const RUN = /^(?:https:\/\/|tel:)\S+/;

marked.use({
  renderer: {
    link(href: string, title: string | null, text: string) {
      return `<a href="${href}" title="${title}" target="_blank">${text}</a>`;
    },
  },
  extensions: [
    {
      name: "lexWebUiLinkRun",
      level: "inline",
      start(src: string) {
        const at = src.search(/https:\/\/|tel:/);
        return at < 0 ? undefined : at;
      },
      tokenizer(src: string) {
        const run = RUN.exec(src);
        return run ? { type: "lexWebUiLinkRun", raw: run[0], href: run[0] } : undefined;
      },
      renderer(token) {
        return `<a target="_blank" href="${String(token.href)}">${String(token.href)}</a>`;
      },
    },
  ],
});

/** The HTML Lex Web UI puts into `v-html` for a bot message whose `alts.markdown` is `markdown`. */
export function lexWebUiHtml(markdown: string): string {
  return marked.parse(markdown);
}
