/**
 * Parses one `format=json` frame into a v1 envelope. Clients trust nothing on the wire:
 * a frame that is not a well-formed envelope is reported, never half-applied.
 */
import { PROTOCOL_VERSION, type Envelope, type EnvelopeType } from "../../functions/shared/protocol";

const ENVELOPE_TYPES: readonly EnvelopeType[] = ["start", "delta", "citation", "guardrail", "end", "error", "reasoning", "progress"];

/** A frame that is not a v1 envelope. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

function fail(message: string): never {
  throw new FrameError(message);
}

function requireString(frame: Record<string, unknown>, field: string, type: string): void {
  if (typeof frame[field] !== "string") fail(`${type} envelope without a string "${field}"`);
}

export function parseEnvelope(data: unknown): Envelope {
  if (typeof data !== "string") fail("binary frame where a JSON envelope was expected");
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    fail("frame is not JSON (was the socket opened with format=json?)");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("frame is not a JSON object");
  const frame = parsed as Record<string, unknown>;
  if (frame.v !== PROTOCOL_VERSION) fail(`unsupported protocol version ${JSON.stringify(frame.v)}`);
  const type = frame.type as EnvelopeType;
  if (!ENVELOPE_TYPES.includes(type)) fail(`unknown envelope type ${JSON.stringify(frame.type)}`);
  if (typeof frame.requestId !== "string") fail(`${type} envelope without a requestId`);
  if (typeof frame.seq !== "number" || !Number.isInteger(frame.seq) || frame.seq < 0) {
    fail(`${type} envelope without a non-negative integer seq`);
  }
  switch (type) {
    case "delta":
    case "reasoning":
      requireString(frame, "text", type);
      break;
    case "progress":
      requireString(frame, "stage", type);
      break;
    case "citation":
      if (!Array.isArray(frame.citations)) fail("citation envelope without a citations array");
      break;
    case "guardrail":
      requireString(frame, "action", type);
      break;
    case "end":
      requireString(frame, "final", type);
      break;
    case "error":
      requireString(frame, "code", type);
      requireString(frame, "message", type);
      break;
  }
  return frame as unknown as Envelope;
}
