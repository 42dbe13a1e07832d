/**
 * The local stack's side doors, probed over the wire as the issue's attack did (finding 6):
 * dynalite answering any `Authorization` with `Access-Control-Allow-Origin: *`, the Lambda
 * Invoke API taking unsigned calls, the chat page server signing any session for any
 * caller, the HTTP API buffering unsigned 10 MB bodies (100 concurrent: RSS 132 → 910 MB),
 * and the Bedrock emulator keeping every request body (~8.6 KB of heap per answer).
 */
import { request } from "node:http";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { expect } from "chai";
import { REQUEST_LOG_LIMIT } from "../../local/bedrock/emulator";
import { MAX_HTTP_API_BODY_BYTES } from "../../local/http-api";
import type { LocalStack } from "../../local/stack";
import { PAGE_COOKIE } from "../../client/chat-server";
import type { Figure } from "./figures";
import { startReliabilityStack } from "./harness";

/** The stack as `npm start` runs it (chat page included), for the probes. */
export function startSideDoorStack(): Promise<LocalStack> {
  return startReliabilityStack({ page: true });
}

/** The credential the issue's attack used against dynalite and the Lambda API. */
const STATIC_LOCAL = { accessKeyId: "local", secretAccessKey: "local" };

async function failureOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "accepted";
  } catch (error) {
    return (error as Error).name;
  }
}

export async function dynamoSideDoor(stack: LocalStack): Promise<Figure> {
  const foreign = new DynamoDBClient({ endpoint: stack.dynamo.endpoint, region: stack.region, credentials: STATIC_LOCAL, maxAttempts: 1 });
  try {
    const scan = await failureOf(foreign.send(new ScanCommand({ TableName: stack.dynamo.connectionsTable })));
    expect(scan, "a scan signed with local/local").to.equal("UnrecognizedClientException");
    const unsigned = await fetch(stack.dynamo.endpoint, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.Scan" },
      body: JSON.stringify({ TableName: stack.dynamo.connectionsTable }),
    });
    expect(unsigned.status).to.equal(400);
    expect(unsigned.headers.get("access-control-allow-origin"), "CORS from DynamoDB").to.equal(null);
    const preflight = await fetch(stack.dynamo.endpoint, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.headers.get("access-control-allow-origin"), "CORS preflight from DynamoDB").to.equal(null);
    return {
      section: "Side doors",
      check: "DynamoDB (dynalite) without the stack's credentials",
      tried: "a Scan of the connections table signed with the old static local/local key; an unsigned Scan and a CORS preflight from a web page's Origin",
      result: `Scan refused (${scan}); unsigned refused with ${unsigned.status}; no Access-Control-Allow-Origin on either (before: any Authorization read every row, with Access-Control-Allow-Origin: *)`,
    };
  } finally {
    foreign.destroy();
  }
}

export async function lambdaSideDoor(stack: LocalStack): Promise<Figure> {
  const url = `${stack.lambda.endpoint}/2015-03-31/functions/qnabot-streaming-fulfillment/invocations`;
  const unsigned = await fetch(url, { method: "POST", headers: { origin: "https://evil.example" }, body: JSON.stringify({ forged: true }) });
  const foreign = new LambdaClient({ endpoint: stack.lambda.endpoint, region: stack.region, credentials: STATIC_LOCAL, maxAttempts: 1 });
  let signedAsStranger: string;
  try {
    signedAsStranger = await failureOf(foreign.send(new InvokeCommand({ FunctionName: "qnabot-streaming-fulfillment", Payload: Buffer.from("{}") })));
  } finally {
    foreign.destroy();
  }
  await stack.idle();
  expect(unsigned.status).to.equal(403);
  expect(unsigned.headers.get("x-amzn-errortype")).to.equal("MissingAuthenticationTokenException");
  expect(unsigned.headers.get("access-control-allow-origin")).to.equal(null);
  expect(signedAsStranger).to.equal("UnrecognizedClientException");
  return {
    section: "Side doors",
    check: "Lambda Invoke API without a signature",
    tried: "an unsigned Invoke of the fulfillment function from a web page's Origin; one signed with local/local",
    result: `403 MissingAuthenticationTokenException and ${signedAsStranger}; no CORS (before: both ran the function)`,
  };
}

export async function chatPageSideDoor(stack: LocalStack): Promise<Figure> {
  const pageUrl = stack.pageUrl!;
  const signedUrl = (sessionId: string, cookie?: string) =>
    fetch(new URL(`api/signed-url?sessionId=${sessionId}`, pageUrl), { headers: cookie ? { cookie } : {} }).then((response) => response.status);
  const loadPage = async (): Promise<string> => {
    const response = await fetch(pageUrl);
    await response.arrayBuffer();
    return response.headers.get("set-cookie")!.split(";")[0];
  };
  const owner = await loadPage();
  const ownerStatus = await signedUrl("tab-of-the-owner", owner);
  const anonymous = await signedUrl("tab-of-the-owner");
  const otherPage = await signedUrl("tab-of-the-owner", await loadPage());
  const madeUp = await signedUrl("tab-of-the-owner", `${PAGE_COOKIE}=guess`);
  expect({ ownerStatus, anonymous, otherPage, madeUp }).to.deep.equal({ ownerStatus: 200, anonymous: 403, otherPage: 403, madeUp: 403 });
  return {
    section: "Side doors",
    check: "Chat page server signing for someone else's session",
    tried: "a signed URL for a session another page holds: with no cookie, with another page's cookie, with a made-up cookie",
    result: "403 for each; the owning page still gets 200 (before: 200 for any caller and any session)",
  };
}

/** Sends `count` unsigned POSTs of `bytes` each at once (one shared buffer) and resolves with their statuses. */
function unsignedFlood(url: string, count: number, bytes: number): Promise<Record<string, number>> {
  const body = Buffer.alloc(bytes, 0x61);
  const target = new URL(url);
  const statuses: Record<string, number> = {};
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          // One outcome per request: the status when one came back (the upload may still be cut after it), else the reset.
          let outcome: string | undefined;
          const settle = (): void => {
            statuses[outcome ?? "reset"] = (statuses[outcome ?? "reset"] ?? 0) + 1;
            resolve();
          };
          const req = request({ host: target.hostname, port: target.port, method: "POST", path: target.pathname, headers: { "content-length": String(bytes) } }, (res) => {
            outcome = String(res.statusCode ?? 0);
            res.resume();
          });
          req.on("error", () => undefined);
          req.on("close", settle);
          req.end(body);
        }),
    ),
  ).then(() => statuses);
}

export async function httpApiBodies(stack: LocalStack, count: number): Promise<Figure> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const started = Date.now();
  let statuses: Record<string, number>;
  try {
    statuses = await unsignedFlood(stack.askUrl, count, MAX_HTTP_API_BODY_BYTES);
  } finally {
    clearInterval(sampler);
  }
  const tookMs = Date.now() - started;
  expect(Object.keys(statuses).every((status) => status === "403" || status === "reset"), JSON.stringify(statuses)).to.equal(true);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
  return {
    section: "Side doors",
    check: "Unsigned 10 MB bodies to POST /ask",
    tried: `${count} concurrent unsigned POSTs of 10 MB each (HTTP API's payload quota)`,
    result: `all refused from their headers (${Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join(", ")}) in ${tookMs} ms; process RSS ${mb(before)} → peak ${mb(peak)} MB, the test's own 10 MB buffer included (before: RSS 132 → 910 MB, every body buffered, then 403)`,
  };
}

export async function bedrockRequestLog(stack: LocalStack, answers: number): Promise<Figure> {
  const emulator = stack.bedrock!;
  const converse = (i: number) =>
    fetch(`${emulator.endpoint}/model/local-model/converse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: `question ${i} ${"x".repeat(8 * 1024)}` }] }] }),
    }).then((response) => response.arrayBuffer());
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let next = 0; next < answers; next += 50) await Promise.all(Array.from({ length: Math.min(50, answers - next) }, (_, k) => converse(next + k)));
  global.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  expect(emulator.requests.length).to.be.at.most(REQUEST_LOG_LIMIT);
  return {
    section: "Side doors",
    check: "Bedrock emulator request log",
    tried: `${answers} Converse requests with 8 KB questions`,
    result: `${emulator.requests.length} kept (the last ${REQUEST_LOG_LIMIT}); heap ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MB after vs before${global.gc ? "" : " (without --expose-gc)"} (before: every body kept, ~8.6 KB per answer for ever)`,
  };
}
