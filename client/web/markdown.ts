/**
 * Markdown to safe HTML for the browser: `marked` renders, DOMPurify removes anything
 * executable (answers are model output and may carry injected markup). An image comes out
 * with its address in `data-src` and no `src`, so rendering it fetches nothing: the view gives
 * each image its source once per answer (mountImages), however often the answer re-renders.
 * Browser-only: DOMPurify needs a DOM.
 */
import DOMPurify from "dompurify";
import { Marked } from "marked";

const markdown = new Marked({ gfm: true, async: false });

// Links in answers leave the chat page instead of replacing it, and give it no handle back.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  if (node.tagName === "IMG") {
    const src = node.getAttribute("src");
    node.removeAttribute("src");
    node.removeAttribute("srcset");
    if (src) node.setAttribute("data-src", src);
  }
});

/**
 * Puts the answer's images in place: the first time an address appears it gets an element
 * that loads it; every later render of the same answer reuses that element, so a streamed
 * answer fetches each image once, not once per frame. `loaded` lives as long as the answer.
 */
export function mountImages(body: HTMLElement, loaded: Map<string, HTMLImageElement[]>): void {
  const seen = new Map<string, number>();
  for (const placeholder of Array.from(body.querySelectorAll<HTMLImageElement>("img[data-src]"))) {
    const src = placeholder.dataset.src ?? "";
    const index = seen.get(src) ?? 0;
    seen.set(src, index + 1);
    const pool = loaded.get(src) ?? [];
    loaded.set(src, pool);
    let image = pool[index];
    if (!image) {
      image = placeholder.cloneNode() as HTMLImageElement;
      image.removeAttribute("data-src");
      image.src = src;
      pool.push(image);
    }
    image.alt = placeholder.alt;
    placeholder.replaceWith(image);
  }
}

export function renderMarkdown(text: string): string {
  const html = markdown.parse(text, { async: false });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "dialog"],
    FORBID_ATTR: ["style"],
  });
}
