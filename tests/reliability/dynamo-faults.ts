/**
 * DynamoDB outages on demand: a proxy in front of dynalite that forwards the DynamoDB wire
 * API and fails the requests a rule picks (a 500 InternalServerError, or a dropped
 * connection), so an outage can hit one operation (the `ask` route's read of a connection's
 * lookup item, the stream writer's read of the session's item) while the rest works. The handlers reach it through
 * AWS_ENDPOINT_URL_DYNAMODB, as they reach dynalite.
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resetAwsClients } from "../../functions/shared/aws";

/** One DynamoDB call as the proxy sees it: `X-Amz-Target` without its prefix, and the JSON body. */
export interface DynamoCall {
  readonly operation: string;
  readonly body: Record<string, unknown>;
}

/**
 * `error`: 500 InternalServerError; `throttle`: 400 ProvisionedThroughputExceededException
 * (DynamoDB's throttling answer, which the SDK retries with backoff); `drop`: the connection
 * reset; `hang`: no answer at all until the caller gives up (a call that times out).
 */
export type DynamoFault = "error" | "throttle" | "drop" | "hang" | undefined;

const FAULT_ANSWERS = {
  error: { status: 500, type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: "Injected outage" },
  throttle: {
    status: 400,
    type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    message: "The level of configured provisioned throughput for the table was exceeded (injected)",
  },
} as const;

export interface DynamoFaultProxy {
  readonly endpoint: string;
  /** Failed calls by operation. */
  readonly failed: Record<string, number>;
  /** Replaces the rule (undefined: forward everything). */
  setRule(rule: ((call: DynamoCall) => DynamoFault) | undefined): void;
  close(): Promise<void>;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startDynamoFaultProxy(target: string): Promise<DynamoFaultProxy> {
  const upstream = new URL(target);
  let rule: ((call: DynamoCall) => DynamoFault) | undefined;
  const failed: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const operation = String(req.headers["x-amz-target"] ?? "").replace(/^DynamoDB_\d+\./, "");
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      } catch {
        // Forwarded as is; dynalite answers it.
      }
      const fault = rule?.({ operation, body: parsed });
      if (fault) {
        failed[operation] = (failed[operation] ?? 0) + 1;
        if (fault === "drop") {
          req.socket.destroy();
          return;
        }
        // Held until the caller's timeout closes the socket (or the proxy closes).
        if (fault === "hang") return;
        const answer = FAULT_ANSWERS[fault];
        const message = JSON.stringify({ __type: answer.type, message: answer.message });
        res.writeHead(answer.status, { "content-type": "application/x-amz-json-1.0", "content-length": Buffer.byteLength(message), "x-amzn-requestid": "injected" });
        res.end(message);
        return;
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      forward.end(body);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failed,
    setRule(next) {
      rule = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Points the handlers' DynamoDB clients at `endpoint` while `run` runs, then back. The shared
 * clients resolve their endpoint once, so they are rebuilt on each switch.
 */
export async function withDynamoEndpoint<T>(endpoint: string, run: () => Promise<T>): Promise<T> {
  const previous = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
  resetAwsClients();
  try {
    return await run();
  } finally {
    process.env.AWS_ENDPOINT_URL_DYNAMODB = previous;
    resetAwsClients();
  }
}

/** The hash key a call names (GetItem, UpdateItem, DeleteItem, PutItem), if any. */
function keyOf(call: DynamoCall): string | undefined {
  const body = call.body as { Key?: { sessionId?: { S?: string } }; Item?: { sessionId?: { S?: string } } };
  return body.Key?.sessionId?.S ?? body.Item?.sessionId?.S;
}

/** Calls on a connection's lookup item (`#connection#{id}`): the `ask` route's and `$disconnect`'s lookup of a connection. */
export const isConnectionLookup = (call: DynamoCall): boolean => keyOf(call)?.startsWith("#connection#") === true;
/** Reads of a session's item (the stream writer's listing of the session's connections). */
export const isSessionRead = (call: DynamoCall): boolean => {
  const key = keyOf(call);
  return call.operation === "GetItem" && key !== undefined && !key.startsWith("#");
};
