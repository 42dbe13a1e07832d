/**
 * Builds the chat page in memory (esbuild, no files written) for a server to serve:
 * the local stack's dev server and `npm run chat` both call it once at startup.
 */
import * as path from "node:path";
import { build } from "esbuild";
import { pageContentSecurityPolicy, type PagePolicy } from "./csp";
import { chatPageHtml } from "./page";

export interface ChatPage {
  /** Served at the page's path (e.g. `/`); refers to `app.js`, `app.css` and `api/signed-url` relatively. */
  readonly html: string;
  /** Served as `app.js`. */
  readonly js: string;
  /** Served as `app.css`. */
  readonly css: string;
  /** The Content-Security-Policy in the page's meta tag; the server sends it as a header too. */
  readonly csp: string;
}

/** The same built page under another policy (the markup is cheap; the bundle is shared). */
export function withPagePolicy(page: ChatPage, policy: PagePolicy): ChatPage {
  const csp = pageContentSecurityPolicy(policy);
  return { ...page, html: chatPageHtml(csp), csp };
}

export async function buildChatPage(policy: PagePolicy = {}): Promise<ChatPage> {
  const result = await build({
    entryPoints: { app: path.join(__dirname, "main.ts"), style: path.join(__dirname, "style.css") },
    bundle: true,
    write: false,
    outdir: "/chat-page",
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    minify: true,
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
  });
  const output = (name: string): string => {
    const file = result.outputFiles.find((candidate) => path.basename(candidate.path) === name);
    if (!file) throw new Error(`chat page build produced no ${name}`);
    return file.text;
  };
  const csp = pageContentSecurityPolicy(policy);
  return { html: chatPageHtml(csp), js: output("app.js"), css: output("style.css"), csp };
}
