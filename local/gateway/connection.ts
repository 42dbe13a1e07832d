/**
 * One accepted WebSocket connection: its limits (idle timeout, maximum lifetime), its
 * outbound sends, and a close that is reported exactly once, whichever side closes.
 */
import { isUtf8 } from "node:buffer";
import { WebSocket } from "ws";
import type { ConnectIdentity, ConnectionContext } from "./events";

/** What the gateway exposes about a live connection (and GetConnection answers). */
export interface GatewayConnectionInfo {
  readonly connectionId: string;
  /** Epoch ms. */
  readonly connectedAt: number;
  /** Epoch ms of the last message from the client. */
  readonly lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent: string | null;
  /** `requestContext.identity` of the `$connect` event. */
  readonly identity: ConnectIdentity;
  /** The `$connect` query string, decoded (last value wins). */
  readonly queryStringParameters: Readonly<Record<string, string>>;
}

export interface CloseStatus {
  readonly code: number;
  readonly reason: string;
}

/** The `disconnectReason` wording API Gateway uses, where one is known; otherwise a plain description. */
const CLOSE_REASONS: Readonly<Record<number, string>> = {
  1000: "Connection Closed Normally",
  1001: "Going away",
  1005: "Client-side close frame status not set",
  1006: "Connection closed abnormally",
  1007: "Invalid frame payload data",
  1009: "Message too big",
  1011: "Internal server error",
};

/** The close code ws sends for each of its (documented) receiver error codes. */
const PROTOCOL_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
};

export function closeStatus(code: number, reason: string): CloseStatus {
  return { code, reason: reason !== "" ? reason : (CLOSE_REASONS[code] ?? `Close code ${code}`) };
}

export interface ConnectionLimits {
  readonly idleTimeoutMs: number;
  readonly maxConnectionMs: number;
}

export class GatewayConnection implements GatewayConnectionInfo {
  readonly connectionId: string;
  readonly connectedAt: number;
  lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent: string | null;
  /** Resolves once the socket has closed and the close has been reported. */
  readonly whenClosed: Promise<void>;
  private markClosed!: () => void;
  private serverClose: CloseStatus | undefined;
  private closed = false;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly lifetimeTimer: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    readonly context: ConnectionContext,
    readonly identity: ConnectIdentity,
    readonly queryStringParameters: Readonly<Record<string, string>>,
    limits: ConnectionLimits,
    private readonly onClose: (connection: GatewayConnection, status: CloseStatus) => void,
  ) {
    this.connectionId = context.connectionId;
    this.connectedAt = context.connectedAt;
    this.lastActiveAt = context.connectedAt;
    this.sourceIp = context.sourceIp;
    this.userAgent = context.userAgent;
    this.whenClosed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    // API Gateway closes idle and over-age connections with 1001 "Going away".
    this.idleTimer = setTimeout(() => this.close(closeStatus(1001, "")), limits.idleTimeoutMs).unref();
    this.lifetimeTimer = setTimeout(() => this.close(closeStatus(1001, "")), limits.maxConnectionMs).unref();
    ws.on("close", (code: number, reason: Buffer) => this.closedBy(code, reason.toString("utf8")));
    // On a protocol error ws sends the close frame itself and stops reading, so the close event only sees 1006.
    ws.on("error", (error: Error & { code?: string }) => {
      if (!this.serverClose) this.serverClose = closeStatus(PROTOCOL_ERROR_CLOSE_CODES[error.code ?? ""] ?? 1002, "");
    });
  }

  get open(): boolean {
    return !this.closed && this.serverClose === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  /** A message arrived from the client: it counts as activity. */
  touch(now: number): void {
    this.lastActiveAt = now;
    this.idleTimer.refresh();
  }

  /** One WebSocket message (text when the bytes are UTF-8); resolves once the frame is handed to the socket. */
  send(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.open) {
        reject(new Error("connection is not open"));
        return;
      }
      this.ws.send(data, { binary: !isUtf8(data) }, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Queues one message without waiting for the client to take it (a PostToConnection is
   * answered once API Gateway has accepted the message, not once the client has read it).
   * A socket that fails meanwhile reports its close as usual.
   */
  queue(data: Buffer): void {
    if (!this.open) throw new Error("connection is not open");
    this.ws.send(data, { binary: !isUtf8(data) }, () => undefined);
  }

  /** Bytes queued for the client that its socket has not taken yet (grows while the client does not read). */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  /** Server-side close (idle, lifetime, DeleteConnection, shutdown); `$disconnect` reports this status. */
  close(status: CloseStatus, abrupt = false): void {
    if (this.closed || this.serverClose) return;
    this.serverClose = status;
    if (abrupt) this.ws.terminate();
    else this.ws.close(status.code, status.reason);
  }

  /** The socket is gone, whoever closed it; reported once. */
  private closedBy(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.lifetimeTimer);
    this.onClose(this, this.serverClose ?? closeStatus(code, reason));
    this.markClosed();
  }
}
