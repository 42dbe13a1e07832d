/**
 * Event-stream framing (`application/vnd.amazon.eventstream`) of the messages Bedrock
 * streams: modelled events and modelled exceptions, encoded with the SDK's own codec.
 */
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { camelCase } from "./behavior";

export const EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream";

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function str(value: string) {
  return { type: "string" as const, value };
}

/** An `event` message; `eventType` is the union member, e.g. `contentBlockDelta`. */
export function encodeEvent(eventType: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ":event-type": str(eventType),
      ":message-type": str("event"),
      ":content-type": str("application/json"),
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** An `exception` message; the SDK throws it while the caller iterates the stream. */
export function encodeException(type: string, payload: Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: {
      ":exception-type": str(camelCase(type)),
      ":message-type": str("exception"),
      ":content-type": str("application/json"),
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}
