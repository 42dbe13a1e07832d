/**
 * Serves the chat page and `GET /api/signed-url` on loopback. The signer is injected: the
 * local stack passes its own, `npm run chat` signs with the user's AWS credentials
 * (aws-signer.ts). Only signed URLs leave this process, never credentials.
 *
 * A signed URL is the key to a session's answers, so it is signed only for a page this
 * server served, and only for that page's own sessions: loading the page sets a random
 * secret in an HttpOnly, SameSite=Strict cookie (no script can read it, no other site's
 * request carries it), and each session id belongs to the first page secret that asks for
 * it. Any other caller, or any other page asking for that session, gets 403.
 *
 * With `signAsk`, `POST /api/sign-ask` signs an ask for the stack's streaming function URL
 * (Server-Sent Events) under the same rule: the body's session must be the page's own. The
 * caller gets the URL and the SigV4 headers for that exact body, never a credential.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ProtocolError, validateSessionId } from "../functions/shared/protocol";
import { awsUrlSigner, type AwsSignerOptions } from "./aws-signer";
import { buildChatPage, withPagePolicy, type ChatPage } from "./web/build";
import { FRAME_ANCESTORS, pageContentSecurityPolicy, type PagePolicy } from "./web/csp";
import { randomId } from "./web/ids";
import type { SignedPost } from "./function-url-signer";
import { expiresAtFromSignedUrl, SIGN_ASK_PATH, SIGNED_URL_PATH, type SignedUrl } from "./web/signed-url";

/** Returns a presigned `ws(s)://…?sessionId=…&format=json&X-Amz-…` URL for the session. */
export type UrlSigner = (sessionId: string) => Promise<string>;

/** Signs a POST of exactly `body` to the stack's streaming function URL (signFunctionUrlPost). */
export type AskSigner = (body: string) => Promise<SignedPost>;

/** An ask body is at most a 4,000-character question and a few ids: 64 KB bounds it with room. */
const MAX_SIGN_ASK_BODY_BYTES = 64 * 1024;

export interface ChatRequestHandlerOptions {
  /** Signs the page's WebSocket URLs; the URL must ask for `format=json`. */
  readonly sign: UrlSigner;
  /** Signs asks for the streaming function URL (`POST api/sign-ask`). @default none: that route answers 404 */
  readonly signAsk?: AskSigner;
  /** The built page (buildChatPage()). */
  readonly page: ChatPage;
  /** Shown in the page header, e.g. "offline stand-in model". @default none */
  readonly label?: string;
  /** Session id for a page that did not send one. @default randomId("web-") */
  readonly newSessionId?: () => string;
  /**
   * Host names the page may be reached by; other Host headers get 403, so a DNS-rebinding
   * page cannot fetch signed URLs. @default ["127.0.0.1", "localhost", "[::1]"]
   */
  readonly allowedHostnames?: readonly string[];
}

/** Name of the cookie that carries a page's secret. */
export const PAGE_COOKIE = "qnabot-page";

/** Page secrets remembered, and sessions per secret, so a caller cannot grow them without bound. */
const MAX_PAGE_SECRETS = 1000;
const MAX_SESSIONS_PER_PAGE = 100;
/**
 * A page that has not used its secret for this long is gone (a live page re-signs its URL at
 * least every 2 hours, API Gateway's connection limit): only then may its sessions be forgotten.
 */
export const PAGE_IDLE_MS = 2 * 60 * 60 * 1000;

/**
 * Which page secret owns which session id. A session is owned by the first secret that asks
 * for it; only that secret's page gets URLs for it afterwards.
 *
 * When MAX_PAGE_SECRETS are remembered, a new page load may displace only a secret that owns
 * no session, or one idle for PAGE_IDLE_MS; otherwise it is refused. Evicting a live page's
 * secret would free its sessions for anyone to claim (issue 21: 1,001 cookieless page loads
 * evicted every open tab, and anyone knowing a session id could then read its answers).
 */
export class PageSessions {
  /** In order of last use, least recent first. */
  private readonly sessionsBySecret = new Map<string, Set<string>>();
  private readonly lastUsed = new Map<string, number>();
  private readonly ownerBySession = new Map<string, string>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new secret for a page load, or undefined when every remembered page is still in use. */
  issue(): string | undefined {
    if (this.sessionsBySecret.size >= MAX_PAGE_SECRETS) {
      const displaced = this.displaceable();
      if (displaced === undefined) return undefined;
      this.forget(displaced);
    }
    const secret = randomBytes(32).toString("base64url");
    this.sessionsBySecret.set(secret, new Set());
    this.lastUsed.set(secret, this.now());
    return secret;
  }

  /** True for a secret this server issued and still remembers; marks it used. */
  known(secret: string | undefined): secret is string {
    if (secret === undefined) return false;
    const sessions = this.sessionsBySecret.get(secret);
    if (!sessions) return false;
    this.sessionsBySecret.delete(secret);
    this.sessionsBySecret.set(secret, sessions);
    this.lastUsed.set(secret, this.now());
    return true;
  }

  /** True when `sessionId` is (now) the page's own; false when another page owns it. */
  claim(secret: string, sessionId: string): boolean {
    const owner = this.ownerBySession.get(sessionId);
    if (owner !== undefined) return owner === secret;
    const sessions = this.sessionsBySecret.get(secret)!;
    sessions.add(sessionId);
    this.ownerBySession.set(sessionId, secret);
    if (sessions.size > MAX_SESSIONS_PER_PAGE) {
      const oldest = sessions.values().next().value!;
      sessions.delete(oldest);
      this.ownerBySession.delete(oldest);
    }
    return true;
  }

  /** The least recently used secret owning no session, else the least recently used idle one. */
  private displaceable(): string | undefined {
    let idle: string | undefined;
    for (const [secret, sessions] of this.sessionsBySecret) {
      if (sessions.size === 0) return secret;
      if (idle === undefined && this.now() - this.lastUsed.get(secret)! >= PAGE_IDLE_MS) idle = secret;
    }
    return idle;
  }

  private forget(secret: string): void {
    for (const sessionId of this.sessionsBySecret.get(secret) ?? []) this.ownerBySession.delete(sessionId);
    this.sessionsBySecret.delete(secret);
    this.lastUsed.delete(secret);
  }
}

/** The page secret a request carries, if any. */
function pageSecretOf(request: IncomingMessage): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === PAGE_COOKIE) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** Handles the page's routes and returns true, or returns false for any other path. */
export type ChatRequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

const LOOPBACK_HOSTNAMES = ["127.0.0.1", "localhost", "[::1]"];

const PAGE_HEADERS = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // Answers are model output: even if sanitizing failed, no inline script or remote image could run or leak.
  // The page itself carries its own policy (web/csp.ts); other responses get the default one.
  "content-security-policy": `${pageContentSecurityPolicy()}; ${FRAME_ANCESTORS}`,
};

function send(response: ServerResponse, status: number, contentType: string, body: string, headers = {}): void {
  response.writeHead(status, {
    ...PAGE_HEADERS,
    ...headers,
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
  });
  response.end(response.req.method === "HEAD" ? undefined : body);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, "application/json; charset=utf-8", JSON.stringify(body), { "cache-control": "no-store" });
}

function hostnameOf(request: IncomingMessage): string | undefined {
  try {
    return new URL(`http://${request.headers.host ?? ""}`).hostname;
  } catch {
    return undefined;
  }
}

async function answerSignedUrl(options: ChatRequestHandlerOptions, pages: PageSessions, request: IncomingMessage, url: URL, response: ServerResponse): Promise<void> {
  const secret = pageSecretOf(request);
  if (!pages.known(secret)) {
    sendJson(response, 403, { error: "signed URLs are only for this server's chat page: load the page first (its cookie is missing or out of date)" });
    return;
  }
  let sessionId: string;
  try {
    const requested = url.searchParams.get("sessionId");
    sessionId = requested === null ? (options.newSessionId ?? (() => randomId("web-")))() : validateSessionId(requested);
  } catch (error) {
    sendJson(response, (error as ProtocolError).status ?? 400, { error: (error as Error).message });
    return;
  }
  if (!pages.claim(secret, sessionId)) {
    sendJson(response, 403, { error: `session ${sessionId} belongs to another page: open a new tab for a new session` });
    return;
  }
  let signed: string;
  try {
    signed = await options.sign(sessionId);
  } catch (error) {
    sendJson(response, 502, { error: `could not sign a WebSocket URL: ${(error as Error).message}` });
    return;
  }
  const body: SignedUrl = { url: signed, sessionId };
  const expiresAt = expiresAtFromSignedUrl(signed);
  if (expiresAt) body.expiresAt = expiresAt;
  if (options.label) body.label = options.label;
  sendJson(response, 200, body);
}

function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

async function answerSignAsk(signAsk: AskSigner, pages: PageSessions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const secret = pageSecretOf(request);
  if (!pages.known(secret)) {
    sendJson(response, 403, { error: "asks are signed only for this server's chat page: load the page first (its cookie is missing or out of date)" });
    return;
  }
  // A JSON content type cannot be sent cross-site without a preflight this server never grants.
  if (!(request.headers["content-type"] ?? "").startsWith("application/json")) {
    sendJson(response, 415, { error: "send the ask as application/json" });
    return;
  }
  const body = await readBody(request, MAX_SIGN_ASK_BODY_BYTES);
  if (body === undefined) {
    sendJson(response, 413, { error: `an ask is at most ${MAX_SIGN_ASK_BODY_BYTES} bytes` });
    return;
  }
  let sessionId: string;
  try {
    const parsed = JSON.parse(body) as { sessionId?: unknown } | null;
    sessionId = validateSessionId(typeof parsed === "object" && parsed !== null ? parsed.sessionId : undefined);
  } catch (error) {
    sendJson(response, 400, { error: error instanceof SyntaxError ? "the ask must be a JSON object" : (error as Error).message });
    return;
  }
  if (!pages.claim(secret, sessionId)) {
    sendJson(response, 403, { error: `session ${sessionId} belongs to another page: open a new tab for a new session` });
    return;
  }
  let signed: SignedPost;
  try {
    signed = await signAsk(body);
  } catch (error) {
    sendJson(response, 502, { error: `could not sign the ask: ${(error as Error).message}` });
    return;
  }
  sendJson(response, 200, signed);
}

export function createChatRequestHandler(options: ChatRequestHandlerOptions): ChatRequestHandler {
  const routes = new Map<string, [contentType: string, body: string]>([
    ["/", ["text/html; charset=utf-8", options.page.html]],
    ["/index.html", ["text/html; charset=utf-8", options.page.html]],
    ["/app.js", ["text/javascript; charset=utf-8", options.page.js]],
    ["/app.css", ["text/css; charset=utf-8", options.page.css]],
  ]);
  const signedUrlPath = `/${SIGNED_URL_PATH}`;
  const signAskPath = `/${SIGN_ASK_PATH}`;
  const allowed = new Set(options.allowedHostnames ?? LOOPBACK_HOSTNAMES);
  const pages = new PageSessions();
  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://page.invalid");
    const asset = routes.get(url.pathname);
    const signAsk = url.pathname === signAskPath ? options.signAsk : undefined;
    if (!asset && url.pathname !== signedUrlPath && !signAsk) return false;
    const hostname = hostnameOf(request);
    if (hostname === undefined || !allowed.has(hostname)) {
      sendJson(response, 403, { error: `host ${JSON.stringify(request.headers.host ?? "")} is not allowed` });
      return true;
    }
    if (signAsk) {
      if (request.method !== "POST") {
        response.setHeader("allow", "POST");
        sendJson(response, 405, { error: "sign-ask takes a POST of the ask" });
        return true;
      }
      answerSignAsk(signAsk, pages, request, response).catch((error: Error) => response.destroy(error));
      return true;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      sendJson(response, 405, { error: "only GET and HEAD are served here" });
      return true;
    }
    if (!asset) {
      answerSignedUrl(options, pages, request, url, response).catch((error: Error) => response.destroy(error));
      return true;
    }
    // The page (not its script or stylesheet) gets a secret, unless the browser holds a current one.
    let cookie = {};
    if (asset[0].startsWith("text/html") && !pages.known(pageSecretOf(request))) {
      const secret = pages.issue();
      if (secret === undefined) {
        sendJson(response, 503, { error: "every page slot of this server is in use by an open page; close a tab or try again later" });
        return true;
      }
      cookie = { "set-cookie": `${PAGE_COOKIE}=${secret}; HttpOnly; SameSite=Strict; Path=/` };
    }
    send(response, 200, asset[0], asset[1], { ...cookie, "content-security-policy": `${options.page.csp}; ${FRAME_ANCESTORS}` });
    return true;
  };
}

export type ChatServerOptions = ({ readonly sign: UrlSigner } | AwsSignerOptions) & {
  /** Signs asks for the stack's streaming function URL (`POST api/sign-ask`). @default none */
  readonly signAsk?: AskSigner;
  /** Shown in the page header. @default none */
  readonly label?: string;
  /** @default 0 (the OS picks) */
  readonly port?: number;
  /** Loopback by default: the signed-URL endpoint must not be reachable from the network. @default "127.0.0.1" */
  readonly host?: string;
  /** A page built earlier (several servers, or tests, can share one build). @default buildChatPage() */
  readonly page?: ChatPage;
  /**
   * Where the page may connect and load answer images from (its Content-Security-Policy, in
   * the header and the page's meta tag). @default any ws:/wss: host, no remote image
   */
  readonly pagePolicy?: PagePolicy;
};

export interface ChatServer {
  /** `http://{host}:{port}/`: the page. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startChatServer(options: ChatServerOptions): Promise<ChatServer> {
  const sign = "sign" in options ? options.sign : awsUrlSigner(options);
  const host = options.host ?? "127.0.0.1";
  const handle = createChatRequestHandler({
    sign,
    signAsk: options.signAsk,
    page: options.page ? (options.pagePolicy ? withPagePolicy(options.page, options.pagePolicy) : options.page) : await buildChatPage(options.pagePolicy),
    label: options.label,
    allowedHostnames: [...LOOPBACK_HOSTNAMES, host.includes(":") ? `[${host}]` : host],
  });
  const server = createServer((request, response) => {
    if (!handle(request, response)) sendJson(response, 404, { error: "not found" });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
