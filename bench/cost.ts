/**
 * What 1,000 answers cost at published prices, per transport, from measured figures. The
 * prices are assumptions (US East (N. Virginia), on demand, no free tier), quoted where the
 * results are shown; Bedrock tokens are left out, being the same whichever way an answer travels.
 */

export const PRICES = {
  webSocketMessagePerMillion: 1.0,
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequestPerMillion: 0.2,
  fulfillmentMemoryGb: 0.5,
  dynamoReadPerMillion: 0.125,
  dynamoWritePerMillion: 0.625,
  readUnitsPerAnswer: 2,
  writeUnitsPerAnswer: 10,
  /** The WebSocket `ask` route's invocation and the asynchronous job. */
  lambdaRequestsPerAnswer: 2,
  /** Lambda response streaming: processed (streamed) bytes beyond the first 6 MB of each response, per GB. */
  lambdaStreamedPerGb: 0.008,
  /** Streamed bytes of each response that carry no bytes charge. */
  lambdaStreamedFreeBytesPerResponse: 6 * 1024 * 1024,
  /** The function URL request is the answer's only invocation. */
  sseLambdaRequestsPerAnswer: 1,
} as const;

export interface CostPerThousand {
  /** API Gateway WebSocket messages (the posts and the `ask`). */
  messages: number;
  /** Lambda duration and requests. */
  lambda: number;
  /** Lambda response streaming's streamed-bytes charge. */
  streamedBytes: number;
  dynamo: number;
  total: number;
}

const round6 = (value: number) => Math.round(value * 1e6) / 1e6;

function dynamoPerThousand(): number {
  const p = PRICES;
  return ((p.readUnitsPerAnswer * p.dynamoReadPerMillion + p.writeUnitsPerAnswer * p.dynamoWritePerMillion) / 1e6) * 1000;
}

function lambdaPerThousand(invocationMs: number, requests: number): number {
  const p = PRICES;
  return (p.fulfillmentMemoryGb * (invocationMs / 1000) * p.lambdaArmGbSecond + (requests * p.lambdaRequestPerMillion) / 1e6) * 1000;
}

function total(parts: Omit<CostPerThousand, "total">): CostPerThousand {
  const sum = parts.messages + parts.lambda + parts.streamedBytes + parts.dynamo;
  return { messages: round6(parts.messages), lambda: round6(parts.lambda), streamedBytes: round6(parts.streamedBytes), dynamo: round6(parts.dynamo), total: round6(sum) };
}

/** An answer asked over the WebSocket (`ask` + hand-off + job) and streamed in `posts` PostToConnection calls. */
export function webSocketCostPerThousand(posts: number, invocationMs: number): CostPerThousand {
  return total({
    messages: ((posts + 1) * PRICES.webSocketMessagePerMillion) / 1000,
    lambda: lambdaPerThousand(invocationMs, PRICES.lambdaRequestsPerAnswer),
    streamedBytes: 0,
    dynamo: dynamoPerThousand(),
  });
}

/** An answer streamed through the function URL: one invocation, `responseBytes` streamed, no WebSocket message. */
export function sseCostPerThousand(invocationMs: number, responseBytes: number): CostPerThousand {
  const charged = Math.max(0, responseBytes - PRICES.lambdaStreamedFreeBytesPerResponse);
  return total({
    messages: 0,
    lambda: lambdaPerThousand(invocationMs, PRICES.sseLambdaRequestsPerAnswer),
    streamedBytes: ((charged / 2 ** 30) * PRICES.lambdaStreamedPerGb) * 1000,
    dynamo: dynamoPerThousand(),
  });
}
