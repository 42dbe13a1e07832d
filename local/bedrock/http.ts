/**
 * HTTP plumbing shared by the operations: body reading, JSON responses and REST-JSON
 * errors (`x-amzn-errortype`, which the SDK maps to the modelled exception class).
 */
import { randomUUID } from "node:crypto";
import { ERROR_STATUS } from "./behavior";
import type { CompatRequest, CompatResponse } from "./dual-protocol";

/** An error answered as an AWS REST-JSON error response. */
export class ServiceError extends Error {
  readonly status: number;
  constructor(
    readonly type: string,
    message: string,
    status?: number,
  ) {
    super(message);
    this.name = type;
    this.status = status ?? ERROR_STATUS[type] ?? 500;
  }
}

/** Largest request body accepted; Bedrock's own limits are far lower for text. */
const MAX_BODY_BYTES = 20 * 1024 * 1024;

export async function readJsonBody(req: CompatRequest): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ServiceError("ValidationException", "Request body is too large.", 413);
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks).toString("utf8");
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new ServiceError("SerializationException", "Request body is not valid JSON.", 400);
  }
}

export function requestIdHeaders(): Record<string, string> {
  return { "x-amzn-requestid": randomUUID() };
}

export function sendJson(res: CompatResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, {
    ...requestIdHeaders(),
    ...headers,
    "content-type": "application/json",
    "content-length": String(payload.length),
  });
  res.end(payload);
}

export function sendError(res: CompatResponse, error: ServiceError): void {
  sendJson(res, error.status, { message: error.message }, { "x-amzn-errortype": error.type });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
