/**
 * One cleartext port for HTTP/2 with prior knowledge (h2c: what the SDK's NodeHttp2Handler
 * speaks to an `http://` endpoint) and HTTP/1.1 (a client configured with NodeHttpHandler,
 * or curl). `allowHTTP1` only works on TLS servers, so the first bytes are sniffed for the
 * HTTP/2 connection preface and the socket is handed to the matching server.
 */
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import { constants, createServer as createHttp2Server, Http2ServerResponse, type Http2ServerRequest } from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

const RESET_FLUSH_POLLS = 200;
const RESET_FLUSH_POLL_MS = 5;
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type CompatRequest = IncomingMessage | Http2ServerRequest;
export type CompatResponse = ServerResponse | Http2ServerResponse;
export type RequestListener = (req: CompatRequest, res: CompatResponse) => void;

/**
 * Breaks off a response mid-body the way a failing server does: RST_STREAM INTERNAL_ERROR on
 * HTTP/2, a dropped connection on HTTP/1.1. What was written first still reaches the client
 * (a reset discards frames nghttp2 has not sent yet, so it waits for them to go out).
 * Resolves once the stream is closed. Node's HTTP/2 client ends the body cleanly even then,
 * so the SDK shows a cut stream only as missing its closing events.
 */
export async function resetResponse(res: CompatResponse): Promise<void> {
  if (res instanceof Http2ServerResponse) {
    const { stream } = res;
    // Bounded: a client that stops reading never lets the queue drain.
    for (let polls = 0; polls < RESET_FLUSH_POLLS; polls++) {
      if (stream.closed || (stream.writableLength === 0 && (stream.session?.state.outboundQueueSize ?? 0) === 0)) break;
      await sleep(RESET_FLUSH_POLL_MS, undefined, { ref: false });
    }
    if (stream.closed) return;
    await new Promise<void>((resolve) => stream.close(constants.NGHTTP2_INTERNAL_ERROR, () => resolve()));
    return;
  }
  if (res.destroyed) return;
  // ServerResponse.destroy() drops the socket after the bytes already written to it.
  await new Promise<void>((resolve) => {
    res.once("close", () => resolve());
    res.destroy();
  });
}

export interface DualProtocolServer {
  readonly port: number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

export async function listenDualProtocol(listener: RequestListener, host: string, port: number): Promise<DualProtocolServer> {
  const http1 = createHttp1Server(listener);
  const http2 = createHttp2Server(listener);
  // A long answer outlives node's default HTTP/1.1 request timeout.
  http1.requestTimeout = 0;
  const sockets = new Set<Socket>();

  const route = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, HTTP2_PREFACE.length);
      const isHttp2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      if (isHttp2 && n < HTTP2_PREFACE.length) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      if (isHttp2) {
        http2.emit("connection", socket);
      } else {
        http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  };

  const server = createNetServer(route);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
