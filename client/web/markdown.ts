/**
 * Markdown to safe HTML for the browser: `marked` renders, DOMPurify removes anything
 * executable (answers are model output and may carry injected markup). Browser-only:
 * DOMPurify needs a DOM.
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
});

export function renderMarkdown(text: string): string {
  const html = markdown.parse(text, { async: false });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "dialog"],
    FORBID_ATTR: ["style"],
  });
}
