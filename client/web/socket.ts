/**
 * The connection manager talks to sockets through this narrow seam, so tests can drive it
 * with a scripted fake or with `ws`, and the page with the browser's WebSocket.
 */
export interface SocketEvents {
  open(): void;
  message(data: unknown): void;
  /** Browsers say nothing about why (""); `ws` gives a message (e.g. "Unexpected server response: 403"). */
  error(message: string): void;
  close(code: number, reason: string): void;
}

export interface SocketHandle {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string, events: SocketEvents) => SocketHandle;

/** Adapts a WHATWG WebSocket constructor (the browser's, or `ws`'s, which implements the same API). */
export function webSocketFactory(WebSocketImpl: typeof WebSocket): SocketFactory {
  return (url, events) => {
    const socket = new WebSocketImpl(url);
    socket.onopen = () => events.open();
    socket.onmessage = (event) => events.message(event.data);
    socket.onerror = (event) => {
      const message = (event as Partial<ErrorEvent>).message;
      events.error(typeof message === "string" ? message : "");
    };
    socket.onclose = (event) => events.close(event.code, event.reason);
    return {
      send: (data) => socket.send(data),
      close: (code, reason) => socket.close(code, reason),
    };
  };
}
