/**
 * The page's only backend call: `GET api/signed-url?sessionId=…` on the serving origin
 * answers `{url, sessionId, expiresAt, label?}`. Signing happens there, so no credential
 * ever reaches the browser.
 *
 * The server signs only for a page it served (its HttpOnly cookie, which a browser sends
 * by itself). A program (the CLI's `--local`) has no cookie jar: it loads the page once
 * per page URL, as a browser would, and sends that cookie.
 */
import { validateSessionId } from "../../functions/shared/protocol";

/** Path of the signed-URL endpoint, relative to the page (so the page can be mounted under a prefix). */
export const SIGNED_URL_PATH = "api/signed-url";

export interface SignedUrl {
  /** `ws(s)://…?sessionId=…&format=json&X-Amz-…`: a SigV4-presigned WebSocket URL. */
  url: string;
  sessionId: string;
  /** ISO time after which the URL can no longer open a connection, when the signer tells. */
  expiresAt?: string;
  /** A note for the page's header, e.g. "offline stand-in model". */
  label?: string;
}

/** The signed-URL endpoint answered with an error status; `status` lets the CLI tell auth from the rest. */
export class SignedUrlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "SignedUrlError";
  }
}

export function parseSignedUrlResponse(body: unknown): SignedUrl {
  if (typeof body !== "object" || body === null) throw new SignedUrlError(502, "signed-URL response is not a JSON object");
  const { url, sessionId, expiresAt, label } = body as Record<string, unknown>;
  if (typeof url !== "string" || !/^wss?:\/\//.test(url)) {
    throw new SignedUrlError(502, "signed-URL response has no ws:// or wss:// url");
  }
  const result: SignedUrl = { url, sessionId: validateSessionId(sessionId) };
  if (typeof expiresAt === "string") result.expiresAt = expiresAt;
  if (typeof label === "string" && label !== "") result.label = label;
  return result;
}

/** Outside a browser: the page's cookie per page URL, loaded once (and again when the server no longer knows it). */
const programCookies = new Map<string, string>();

async function programCookie(page: URL, fetchImpl: typeof fetch): Promise<string | undefined> {
  const cached = programCookies.get(page.href);
  if (cached !== undefined) return cached;
  const response = await fetchImpl(page, { cache: "no-store", headers: { accept: "text/html" } });
  await response.arrayBuffer();
  const cookie = response.headers.get("set-cookie")?.split(";")[0];
  if (cookie) programCookies.set(page.href, cookie);
  return cookie;
}

/**
 * After a 403 the server may have restarted and forgotten the page's secret. A program drops
 * its cached cookie (the retry loads the page again); a browser loads the page itself, which
 * stores the new cookie by itself. False: nothing was renewed, a retry would get the same.
 */
async function renewPageCookie(base: string | URL, page: URL | undefined, fetchImpl: typeof fetch): Promise<boolean> {
  if (page) return programCookies.delete(page.href);
  const response = await fetchImpl(new URL(base), { cache: "no-store", credentials: "same-origin", headers: { accept: "text/html" } });
  await response.arrayBuffer();
  return response.ok;
}

/** Asks `{base}api/signed-url` for a URL bound to `sessionId`. */
export async function fetchSignedUrl(
  base: string | URL,
  sessionId: string,
  fetchImpl: typeof fetch = fetch,
): Promise<SignedUrl> {
  const endpoint = new URL(SIGNED_URL_PATH, base);
  endpoint.searchParams.set("sessionId", sessionId);
  // A browser sends the page's cookie by itself (same origin); a program fetches its own.
  const page = typeof document === "undefined" ? new URL(base) : undefined;
  const ask = async (): Promise<Response> => {
    const cookie = page ? await programCookie(page, fetchImpl) : undefined;
    return fetchImpl(endpoint, { cache: "no-store", headers: { accept: "application/json", ...(cookie ? { cookie } : {}) } });
  };
  let response = await ask();
  // The server restarted (or forgot the page): load the page again, once.
  if (response.status === 403 && (await renewPageCookie(base, page, fetchImpl))) {
    await response.arrayBuffer();
    response = await ask();
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const message = (body as { error?: unknown } | undefined)?.error;
    throw new SignedUrlError(
      response.status,
      `signed-URL endpoint answered ${response.status}: ${typeof message === "string" ? message : response.statusText}`,
    );
  }
  return parseSignedUrlResponse(body);
}

/** Path of the endpoint that signs a POST to the stack's streaming function URL, relative to the page. */
export const SIGN_ASK_PATH = "api/sign-ask";

/**
 * Asks `{base}api/sign-ask` to sign `body` (an ask: question, sessionId, requestId, mode) for
 * the stack's function URL; the session must be this page's own. Returns where to POST it
 * and the headers to send.
 */
export async function fetchSignedAsk(
  base: string | URL,
  body: string,
  fetchImpl: typeof fetch = fetch,
): Promise<{ url: string; headers: Record<string, string> }> {
  const endpoint = new URL(SIGN_ASK_PATH, base);
  const page = typeof document === "undefined" ? new URL(base) : undefined;
  const ask = async (): Promise<Response> => {
    const cookie = page ? await programCookie(page, fetchImpl) : undefined;
    return fetchImpl(endpoint, {
      method: "POST",
      cache: "no-store",
      headers: { accept: "application/json", "content-type": "application/json", ...(cookie ? { cookie } : {}) },
      body,
    });
  };
  let response = await ask();
  // The server restarted (or forgot the page): load the page again, once.
  if (response.status === 403 && (await renewPageCookie(base, page, fetchImpl))) {
    await response.arrayBuffer();
    response = await ask();
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const message = (parsed as { error?: unknown } | undefined)?.error;
    throw new SignedUrlError(response.status, `sign-ask endpoint answered ${response.status}: ${typeof message === "string" ? message : response.statusText}`);
  }
  const { url, headers } = (parsed ?? {}) as { url?: unknown; headers?: unknown };
  if (typeof url !== "string" || !/^https?:\/\//.test(url) || typeof headers !== "object" || headers === null) {
    throw new SignedUrlError(502, "sign-ask response has no http(s) url and headers");
  }
  return { url, headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)])) };
}

/** Reads a presigned URL's expiry from `X-Amz-Date` + `X-Amz-Expires`. */
export function expiresAtFromSignedUrl(url: string): string | undefined {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return undefined;
  }
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(params.get("X-Amz-Date") ?? "");
  const expires = Number(params.get("X-Amz-Expires"));
  if (!date || !Number.isFinite(expires) || expires <= 0) return undefined;
  const [, y, mo, d, h, mi, s] = date.map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s) + expires * 1000).toISOString();
}
