/**
 * Whether rendered HTML holds anything live: parsed as a browser parses `innerHTML` (parse5,
 * the WHATWG algorithm), every element must be one markdown produces, no attribute may be an
 * event handler or a style, every `href` must use an allowed scheme once entities are decoded,
 * and an image only comes from an allowed host. Returns what it found, empty when safe.
 */
import { parseFragment } from "parse5";

const MARKDOWN_ELEMENTS = new Set([
  "p", "a", "em", "strong", "code", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
  "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "del", "input", "img",
]);
const ATTRIBUTES = new Set(["href", "title", "target", "id", "align", "type", "checked", "disabled", "start", "class", "src", "alt"]);

interface Node {
  nodeName: string;
  attrs?: { name: string; value: string }[];
  childNodes?: Node[];
  content?: Node;
}

export function liveMarkup(html: string, options: { linkSchemes?: readonly string[]; imageHosts?: readonly string[] } = {}): string[] {
  const schemes = (options.linkSchemes ?? ["http", "https", "mailto"]).map((s) => `${s}:`);
  const hosts = new Set(options.imageHosts ?? []);
  const found: string[] = [];
  const visit = (node: Node): void => {
    if (node.attrs) {
      if (!MARKDOWN_ELEMENTS.has(node.nodeName)) found.push(`<${node.nodeName}>`);
      for (const { name, value } of node.attrs) {
        if (!ATTRIBUTES.has(name)) found.push(`${node.nodeName}[${name}]`);
        if (name === "href" && !schemes.some((scheme) => value.toLowerCase().startsWith(scheme))) found.push(`href=${value}`);
        if (name === "src" && !(node.nodeName === "img" && hosts.has(new URL(value, "https://page.invalid/").hostname))) found.push(`src=${value}`);
      }
    }
    for (const child of node.childNodes ?? []) visit(child);
    if (node.content) visit(node.content);
  };
  visit(parseFragment(html) as unknown as Node);
  return found;
}
