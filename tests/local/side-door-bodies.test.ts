/**
 * Bodies of the local Lex V2 runtime and the local @connections API, over the wire (issue 21,
 * finding 7, the residue: those two read bodies outside the bad-signature budget the other
 * SigV4 endpoints share). Each judges the `Authorization` header before reading a byte,
 * refuses a declared length over the service's limit unread, and reads a known key id's
 * badly signed body only from the shared UNVERIFIED_BODIES budget (signed-request.ts).
 *
 * Limits: @connections takes a message payload of at most 128 KB ("Quotas for configuring and
 * running a WebSocket API in API Gateway": message payload size 128 KB, which applies to
 * @connections commands; an oversized post gets 413 PayloadTooLargeException). Lex V2 documents
 * no request-body size for RecognizeText, only `text` of 1 to 1,024 characters (API reference,
 * RecognizeText); the local runtime keeps its 1 MB bound, which no valid request comes near.
 */
import { expect } from "chai";
import { ApiGatewayManagementApiClient, PayloadTooLargeException, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { localCognitoIdentity, localRoleSession, startWebSocketGateway, type WebSocketGateway } from "../../local/gateway";
import { DEFAULT_LOCAL_BOT, startLocalLexRuntime, type LocalLexRuntime } from "../../local/lex-runtime";
import { UNVERIFIED_BODIES, UNVERIFIED_BODY_BUDGET_BYTES } from "../../local/signed-request";
import { headersOnly, signedHeaders } from "./side-door-helpers";

const REGION = "us-east-1";

/** Sends `count` copies of `body` at once under `headers` and resolves with their statuses; the budget's peak is reset first. */
async function concurrentPosts(url: string, headers: Record<string, string>, body: string, count: number): Promise<number[]> {
  UNVERIFIED_BODIES.peak = UNVERIFIED_BODIES.inUse;
  return Promise.all(Array.from({ length: count }, async () => (await fetch(url, { method: "POST", headers, body })).status));
}

describe("local Lex V2 runtime: the caller judged before its body, bad-signature bodies in the shared budget", () => {
  const guest = localCognitoIdentity({ region: REGION });
  let lex: LocalLexRuntime;
  let hooks = 0;
  let url: string;

  before(async () => {
    lex = await startLocalLexRuntime({
      region: REGION,
      credentials: [guest],
      invokeCodeHook: async () => {
        hooks++;
        return {};
      },
    });
    const bot = DEFAULT_LOCAL_BOT;
    url = `${lex.endpoint}/bots/${bot.id}/botAliases/${bot.aliasId}/botLocales/${bot.localeId}/sessions/s-body/text`;
  });
  after(() => lex.close());

  it("refuses an unsigned 1 MB POST from its headers alone (403)", async () => {
    expect(await headersOnly(url, { "content-type": "application/json" }, 1024 * 1024)).to.equal(403);
  });

  it("refuses a body declared over 1 MB by its Content-Length, unread (400 ValidationException)", async () => {
    const headers = await signedHeaders(url, { service: "lex", region: REGION, credentials: guest, body: "" });
    expect(await headersOnly(url, headers, 1024 * 1024 + 1)).to.equal(400);
  });

  it("reads a known key id's badly signed bodies from the shared unverified-body budget: 8 concurrent 1 MB bodies, each refused (403), nothing run", async function () {
    this.timeout(60_000);
    // The access key id is the guest's; the signature covers an empty body, so every one is bad.
    const headers = await signedHeaders(url, { service: "lex", region: REGION, credentials: guest, body: "" });
    const body = "x".repeat(1024 * 1024 - 16);
    const statuses = await concurrentPosts(url, headers, body, 8);
    expect(statuses).to.deep.equal(Array(8).fill(403));
    expect(UNVERIFIED_BODIES.peak, "held from the shared budget").to.be.at.least(body.length);
    expect(UNVERIFIED_BODIES.peak).to.be.at.most(UNVERIFIED_BODY_BUDGET_BYTES);
    expect(UNVERIFIED_BODIES.inUse).to.equal(0);
    expect(hooks).to.equal(0);
  });
});

describe("local @connections API: the caller judged before its body, bad-signature bodies in the shared budget", () => {
  const role = localRoleSession("fulfillment-role");
  let gateway: WebSocketGateway;
  let url: string;

  before(async () => {
    gateway = await startWebSocketGateway({ credentials: [role], handlers: { $connect: async () => ({ statusCode: 200 }) } });
    url = `${gateway.managementEndpoint}/@connections/abc`;
  });
  after(() => gateway.close());

  it("refuses a known key id's post declaring 10 MB by its Content-Length, unread (413), before its signature could be checked", async () => {
    const headers = await signedHeaders(url, { service: "execute-api", region: REGION, credentials: role, body: "" });
    expect(await headersOnly(url, headers, 10 * 1024 * 1024)).to.equal(413);
  });

  it("answers an oversized post through the SDK with PayloadTooLargeException", async () => {
    const client = new ApiGatewayManagementApiClient({ endpoint: gateway.managementEndpoint, region: REGION, credentials: role, maxAttempts: 1 });
    try {
      const refused = await client.send(new PostToConnectionCommand({ ConnectionId: "abc", Data: "z".repeat(128 * 1024 + 1) })).catch((error: unknown) => error);
      expect(refused).to.be.instanceOf(PayloadTooLargeException);
    } finally {
      client.destroy();
    }
  });

  it("reads a known key id's badly signed bodies from the shared unverified-body budget: 20 concurrent 128 KB bodies, each refused (403)", async () => {
    const headers = await signedHeaders(url, { service: "execute-api", region: REGION, credentials: role, body: "" });
    const body = "x".repeat(128 * 1024);
    const before = gateway.stats().connectionsApi.posts;
    const statuses = await concurrentPosts(url, headers, body, 20);
    expect(statuses).to.deep.equal(Array(20).fill(403));
    expect(UNVERIFIED_BODIES.peak, "held from the shared budget").to.be.at.least(body.length);
    expect(UNVERIFIED_BODIES.inUse).to.equal(0);
    expect(gateway.stats().connectionsApi.posts, "no refused post counts as one").to.equal(before);
  });
});
