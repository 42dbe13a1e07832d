/**
 * Shows a source's snippet where its links are: every link of the final answer that points at
 * a source's `url` (its `[n]` markers and its entry in the sources list) is described by a
 * tooltip holding the passage the answer drew on (`aria-describedby`, so a screen reader reads
 * it on focus), shown while the link is hovered or focused. The snippet is set as text, never
 * parsed: it is a document's words, as untrusted as the model's.
 */
import type { AnswerSource } from "../../functions/shared/protocol";

function hrefOf(url: string): string | undefined {
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

/** Only what the protocol promises: numbered, titled, an http(s) `url`, a string `snippet`. */
export function wellFormedSources(sources: unknown): AnswerSource[] {
  if (!Array.isArray(sources)) return [];
  const result: AnswerSource[] = [];
  for (const item of sources) {
    if (typeof item !== "object" || item === null) continue;
    const { n, title, uri, url, snippet } = item as Record<string, unknown>;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || typeof uri !== "string" || typeof title !== "string") continue;
    const href = typeof url === "string" && /^https?:/.test(hrefOf(url) ?? "") ? url : undefined;
    result.push({ n, title, uri, ...(href ? { url: href } : {}), ...(typeof snippet === "string" && snippet !== "" ? { snippet } : {}) });
  }
  return result;
}

/** Describes each link to a source by its snippet; `idPrefix` keeps the tooltip ids unique on the page. */
export function describeSourceLinks(body: HTMLElement, sources: readonly AnswerSource[], idPrefix: string): void {
  const byHref = new Map<string, AnswerSource>();
  for (const source of sources) {
    const href = source.url && source.snippet ? hrefOf(source.url) : undefined;
    if (href) byHref.set(href, source);
  }
  if (byHref.size === 0) return;
  let count = 0;
  for (const link of body.querySelectorAll<HTMLAnchorElement>("a[href]")) {
    const source = byHref.get(link.href);
    if (!source) continue;
    const tip = document.createElement("span");
    tip.className = "source-snippet";
    tip.id = `${idPrefix}-source-${source.n}-${++count}`;
    tip.setAttribute("role", "tooltip");
    tip.textContent = source.snippet!;
    link.classList.add("source-link");
    link.setAttribute("aria-describedby", tip.id);
    link.after(tip);
  }
}
