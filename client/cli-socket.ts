/**
 * One `ws` connection for the CLI, with its failures mapped to exit codes: unlike a
 * browser, Node sees the gateway's refusal status and body, so auth (401/403) is told
 * from network trouble and from other server answers.
 */
import WebSocket from "ws";
import { CliError, EXIT, networkErrorCode } from "./exit-codes";

const MAX_ERROR_BODY = 2048;

/** A refusal body like `{"message":"Forbidden"}` or plain text, shortened to one line. */
function refusalDetail(body: string): string {
  let text = body.trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    const message = parsed.message ?? parsed.error;
    if (typeof message === "string") text = message;
  } catch {
    // not JSON: the text itself
  }
  return text.replace(/\s+/g, " ").slice(0, 300);
}

/** Where the connection goes, for messages: the URL without its signature. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "the endpoint";
  }
}

export function openSocket(url: string, handshakeTimeoutMs = 15_000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const where = describeUrl(url);
    let settled = false;
    const settle = (error?: CliError) => {
      if (settled) return;
      settled = true;
      if (error) {
        reject(error);
        socket.terminate();
      } else {
        resolve(socket);
      }
    };
    const socket = new WebSocket(url, { handshakeTimeout: handshakeTimeoutMs });
    socket.once("unexpected-response", (_request, response) => {
      const status = response.statusCode ?? 0;
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < MAX_ERROR_BODY) body += chunk;
      });
      const done = () => {
        const detail = refusalDetail(body);
        const suffix = detail ? `: ${detail}` : "";
        settle(
          status === 401 || status === 403
            ? new CliError(EXIT.auth, `${where} refused the connection (${status})${suffix}; check the credentials and their execute-api:Invoke permission`)
            : new CliError(EXIT.protocol, `${where} answered ${status} instead of opening a WebSocket${suffix}`),
        );
      };
      response.once("end", done);
      response.once("close", done);
      response.once("error", done);
    });
    socket.once("open", () => settle());
    socket.on("error", (error) => {
      const code = networkErrorCode(error);
      settle(new CliError(EXIT.network, `cannot connect to ${where}: ${code ?? error.message}`));
    });
  });
}
