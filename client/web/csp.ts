/**
 * The chat page's Content-Security-Policy. Answers are model output: even if every sanitizer
 * failed, no inline script could run, and the page could fetch nothing (no image, no
 * connection) from a host the operator did not name. The same policy is sent as a header by
 * the page server and carried in the built page's `<meta>` tag, so a copy of the page served
 * by anything else keeps it too (`frame-ancestors` works only as a header). Pure.
 */

export interface PagePolicy {
  /**
   * Where the page may open its WebSocket, as CSP sources (`wss://abc.execute-api.…`,
   * `ws://127.0.0.1:8081`). @default any ws: or wss: host (the endpoint is not known)
   */
  readonly connectSources?: readonly string[];
  /** Where answer images may load from, as CSP sources (`https://images.example.com`). @default none */
  readonly imageSources?: readonly string[];
}

/** Only a header can forbid framing. */
export const FRAME_ANCESTORS = "frame-ancestors 'none'";

const SOURCE = /^(?:https?|wss?):\/\/[A-Za-z0-9.-]+(?::(?:\d{1,5}|\*))?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$/;

function sources(name: string, list: readonly string[]): string[] {
  for (const source of list) {
    if (!SOURCE.test(source)) throw new Error(`${name} must be scheme://host[:port] sources, got ${JSON.stringify(source)}`);
  }
  return [...list];
}

/** The policy as a `<meta>` tag carries it; the server adds FRAME_ANCESTORS to its header. */
export function pageContentSecurityPolicy(policy: PagePolicy = {}): string {
  const connect = policy.connectSources ? sources("connectSources", policy.connectSources) : ["ws:", "wss:"];
  const images = sources("imageSources", policy.imageSources ?? []);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    ["img-src 'self' data:", ...images].join(" "),
    ["connect-src 'self'", ...connect].join(" "),
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** The origin of a WebSocket endpoint (`wss://host[:port]`), the CSP source that lets the page connect to it. */
export function connectSourceOf(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}`;
}

/**
 * The same origin with any port (`ws://127.0.0.1:*`), for the local stack's gateway: `npm start`
 * restarted may listen on another port while an open tab keeps the policy it loaded with, and
 * the host stays this machine's loopback address.
 */
export function anyPortSourceOf(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.hostname}:*`;
}

/** CSP sources of the output-safety image hosts: images load over https only. */
export function imageSourcesOf(hosts: readonly string[]): string[] {
  return hosts.map((host) => `https://${host}`);
}
