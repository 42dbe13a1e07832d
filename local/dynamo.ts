/**
 * DynamoDB for the local stack and the tests: dynalite in-process (the real DynamoDB wire
 * API), with the tables created from the same key schemas the components deploy.
 */
import type { Server } from "node:http";
import { CreateTableCommand, DynamoDBClient, type CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { CONNECTIONS_TABLE, MEMORY_TABLE } from "../functions/shared/table";
import { listenOnLoopback } from "./loopback";
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
}

export interface LocalDynamo {
  /** `http://127.0.0.1:{port}`, for AWS_ENDPOINT_URL_DYNAMODB or a client's `endpoint`. */
  readonly endpoint: string;
  readonly connectionsTable: string;
  readonly memoryTable: string;
  /** A client pointed at the emulator. */
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

/** Static credentials: dynalite checks that a request is signed, not by whom. */
export const LOCAL_DYNAMO_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

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
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const port = await listenOnLoopback(server, options.port);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: LOCAL_DYNAMO_CREDENTIALS });
  try {
    await client.send(new CreateTableCommand(connectionsTableInput(connectionsTable)));
    await client.send(new CreateTableCommand(memoryTableInput(memoryTable)));
  } catch (error) {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
    throw error;
  }
  return {
    endpoint,
    connectionsTable,
    memoryTable,
    client,
    async close() {
      client.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
