/**
 * DynamoDB for the local stack and the tests: dynalite in-process (the real DynamoDB wire
 * API), with the tables created from the same key schemas the components deploy.
 *
 * dynalite itself checks only that a request carries some `Authorization`, and answers any
 * `Origin` with `Access-Control-Allow-Origin: *`: reachable like that, any local process or
 * any web page in the developer's browser could read every conversation. So dynalite never
 * listens: a loopback server in front verifies each request's SigV4 signature (service
 * `dynamodb`) against the one credential this DynamoDB was started for, refuses everything
 * else as DynamoDB does, and hands verified requests to dynalite in-process, without their
 * `Origin` (so no CORS header is ever sent).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists, type CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import type { AwsCredentialIdentity } from "@smithy/types";
import { CONNECTIONS_TABLE, MEMORY_TABLE } from "../functions/shared/table";
import { LOCAL_ACCOUNT_ID, type LocalCredential } from "./gateway/credentials";
import { SigV4Verifier, SignatureError } from "./gateway/sigv4";
import { listenOnLoopback } from "./loopback";
import { BodyTooLargeError, verifySignedRequest } from "./signed-request";
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite: (options: Record<string, unknown>) => Server = require("dynalite");

export interface LocalDynamoOptions {
  /** Connections table name. @default "connections" */
  readonly connectionsTable?: string;
  /** Conversation memory table name. @default "memory" */
  readonly memoryTable?: string;
  /** Port on 127.0.0.1. @default 0 (the OS picks) */
  readonly port?: number;
  /** The only credential whose signatures are accepted (the stack's function role). @default LOCAL_DYNAMO_CREDENTIALS */
  readonly credentials?: AwsCredentialIdentity;
  /** Region signatures must be scoped to; without one any Region is accepted, as the tests sign for several. @default any */
  readonly region?: string;
}

export interface LocalDynamo {
  /** `http://127.0.0.1:{port}`, for AWS_ENDPOINT_URL_DYNAMODB or a client's `endpoint`. */
  readonly endpoint: string;
  readonly connectionsTable: string;
  readonly memoryTable: string;
  /** A client pointed at the emulator, signing with `credentials`. */
  readonly client: DynamoDBClient;
  /** The credential requests must be signed with. */
  readonly credentials: AwsCredentialIdentity;
  close(): Promise<void>;
}

/**
 * What a DynamoDB started without `credentials` accepts: random for each process, so nothing
 * outside it can sign for it. The local stack passes its own per-stack role instead.
 */
export const LOCAL_DYNAMO_CREDENTIALS: AwsCredentialIdentity = {
  accessKeyId: `AKIA${randomBytes(8).toString("hex").toUpperCase()}`,
  secretAccessKey: randomBytes(30).toString("base64"),
};

/** DynamoDB's largest request (16 MB, the BatchWriteItem limit): more is refused unread. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** An error in DynamoDB's awsJson1.0 shape; auth failures are 400s there, not 403s. */
function sendDynamoError(res: ServerResponse, status: number, type: string, message: string, close: boolean): void {
  const body = JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message });
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.0",
    "content-length": String(Buffer.byteLength(body)),
    "x-amzn-requestid": randomBytes(26).toString("hex").toUpperCase(),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(body);
}

/** The verified request as dynalite reads it: same method, URL and headers but `Origin`, the body already read. */
function forwardable(req: IncomingMessage, body: Buffer): IncomingMessage {
  const stream = new PassThrough();
  const headers = { ...req.headers };
  delete headers.origin;
  Object.assign(stream, { method: req.method, url: req.url, headers, httpVersion: req.httpVersion, socket: req.socket });
  stream.end(body);
  return stream as unknown as IncomingMessage;
}

/** The loopback front door of dynalite: verifies, then lets dynalite answer in-process. */
function verifyingProxy(store: Server, credential: AwsCredentialIdentity, region: string | undefined): Server {
  const local: LocalCredential = { ...credential, identity: { userArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local-dynamodb-caller`, accountId: LOCAL_ACCOUNT_ID } };
  const verifier = new SigV4Verifier({ credentials: [local], region, service: "dynamodb" });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: Buffer;
    try {
      ({ body } = await verifySignedRequest(verifier, req, MAX_REQUEST_BYTES));
    } catch (error) {
      if (error instanceof SignatureError) return sendDynamoError(res, 400, error.errorType, error.message, true);
      if (error instanceof BodyTooLargeError) return sendDynamoError(res, 413, "RequestEntityTooLarge", error.message, true);
      throw error;
    }
    store.emit("request", forwardable(req, body), res);
  };
  return createServer((req, res) => {
    handle(req, res).catch(() => {
      if (res.headersSent) res.destroy();
      else sendDynamoError(res, 500, "InternalFailure", "internal error", true);
    });
  });
}

export function connectionsTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: CONNECTIONS_TABLE.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: [{ AttributeName: CONNECTIONS_TABLE.hashKey, KeyType: "HASH" }],
  };
}

export function memoryTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: MEMORY_TABLE.attributes.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: [{ AttributeName: MEMORY_TABLE.hashKey, KeyType: "HASH" }],
  };
}

export async function startLocalDynamo(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
  const connectionsTable = options.connectionsTable ?? "connections";
  const memoryTable = options.memoryTable ?? "memory";
  const credentials = options.credentials ?? LOCAL_DYNAMO_CREDENTIALS;
  const region = options.region;
  // Never listens: only the proxy below can reach it.
  const store = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const server = verifyingProxy(store, credentials, region);
  const port = await listenOnLoopback(server, options.port);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: region ?? "us-east-1", credentials });
  const stop = async (): Promise<void> => {
    client.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  try {
    await client.send(new CreateTableCommand(connectionsTableInput(connectionsTable)));
    await client.send(new CreateTableCommand(memoryTableInput(memoryTable)));
    // dynalite answers CreateTable while the table is CREATING (ACTIVE a timer later, however
    // short): an item call in between gets ResourceNotFoundException, so wait as AWS clients do.
    for (const TableName of [connectionsTable, memoryTable]) {
      await waitUntilTableExists({ client, maxWaitTime: 10, minDelay: 0.01, maxDelay: 0.05 }, { TableName });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, connectionsTable, memoryTable, client, credentials, close: stop };
}
