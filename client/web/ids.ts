/**
 * Random identifiers from `crypto.getRandomValues`, which (unlike `randomUUID`) exists
 * in insecure browser contexts too, e.g. a chat page opened on a LAN address over http.
 */
export function randomId(prefix = ""): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
