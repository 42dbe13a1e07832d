/**
 * `$default`: a frame no route matched. The route is two-way, so the body returned here is
 * the client's answer: an `error` envelope naming the actions that are accepted.
 */
import { envelope, REQUEST_ID_PATTERN } from "../shared/protocol";
import { CLIENT_ACTIONS } from "../shared/routes";
import type { RouteResult } from "./response";

/** Longest piece of a client's action echoed back, so a huge frame is not reflected. */
const MAX_ECHOED_ACTION_CHARS = 64;

function parseFrame(body: unknown, isBase64Encoded: unknown): Record<string, unknown> | undefined {
  // API Gateway sends a string; anything else is no frame a client could have sent.
  if (typeof body !== "string") return undefined;
  const text = isBase64Encoded === true ? Buffer.from(body, "base64").toString("utf8") : body;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function answerDefault(body: unknown, isBase64Encoded: unknown = false): RouteResult {
  const frame = parseFrame(body, isBase64Encoded);
  const accepted = `accepted actions: ${CLIENT_ACTIONS.join(", ")}`;
  const action = frame?.action;
  const message =
    typeof action === "string" && action !== ""
      ? `no route for action ${JSON.stringify(action.slice(0, MAX_ECHOED_ACTION_CHARS))}; ${accepted}`
      : `a message must be a JSON object with an "action"; ${accepted}`;
  const requestId =
    typeof frame?.requestId === "string" && REQUEST_ID_PATTERN.test(frame.requestId) ? frame.requestId : "none";
  const error = envelope("error", requestId, 0, { code: "bad_request", message, retryable: false });
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(error) };
}
