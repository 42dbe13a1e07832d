/**
 * client/presign.ts: the URL a browser-style client would build, checked by the gateway's
 * verifier (which an independent signer cross-checks in gateway-sigv4.test.ts).
 */
import { expect } from "chai";
import { presignWebSocketUrl } from "../../client/presign";
import { localRoleSession } from "../../local/gateway";
import { parseQuery } from "../../local/gateway/query";
import { SigV4Verifier } from "../../local/gateway/sigv4";

describe("client: presignWebSocketUrl", () => {
  const role = localRoleSession("browser-role");
  const signedAt = Date.UTC(2031, 0, 2, 3, 4, 5);

  function requestOf(url: string) {
    const parsed = new URL(url);
    return { method: "GET", rawPath: parsed.pathname, query: parseQuery(parsed.search.slice(1)).params, headers: { host: parsed.host } };
  }

  it("signs a wss endpoint for execute-api with host as the only signed header, 300 s by default", async () => {
    const url = await presignWebSocketUrl({
      endpoint: "wss://abc123.execute-api.eu-west-1.amazonaws.com/Prod",
      region: "eu-west-1",
      credentials: async () => role,
      query: { sessionId: "eu-west-1:7d9e", format: "json" },
      now: signedAt,
    });
    const parsed = new URL(url);
    expect(`${parsed.protocol}//${parsed.host}${parsed.pathname}`).to.equal("wss://abc123.execute-api.eu-west-1.amazonaws.com/Prod");
    const q = parsed.searchParams;
    expect(q.get("sessionId")).to.equal("eu-west-1:7d9e");
    expect(q.get("format")).to.equal("json");
    expect(q.get("X-Amz-Algorithm")).to.equal("AWS4-HMAC-SHA256");
    expect(q.get("X-Amz-Credential")).to.equal(`${role.accessKeyId}/20310102/eu-west-1/execute-api/aws4_request`);
    expect(q.get("X-Amz-Date")).to.equal("20310102T030405Z");
    expect(q.get("X-Amz-Expires")).to.equal("300");
    expect(q.get("X-Amz-SignedHeaders")).to.equal("host");
    expect(q.get("X-Amz-Security-Token")).to.equal(role.sessionToken);
    expect(url).to.not.include("+");

    const verifier = new SigV4Verifier({ credentials: [role], region: "eu-west-1", now: () => signedAt + 299_000 });
    expect(await verifier.verifyQuery(requestOf(url))).to.equal(role);
  });

  it("keeps the endpoint's port in the signed host and its own query parameters, and honours expiresInSeconds", async () => {
    const url = await presignWebSocketUrl({
      endpoint: "ws://127.0.0.1:4510/dev?tenant=a b",
      region: "us-east-1",
      credentials: role,
      query: { sessionId: "s-1" },
      expiresInSeconds: 30,
      now: new Date(signedAt),
    });
    const parsed = new URL(url);
    expect(parsed.host).to.equal("127.0.0.1:4510");
    expect(parsed.searchParams.get("tenant")).to.equal("a b");
    expect(parsed.searchParams.has("format")).to.equal(false);
    expect(parsed.searchParams.get("X-Amz-Expires")).to.equal("30");
    const verifier = new SigV4Verifier({ credentials: [role], region: "us-east-1", now: () => signedAt + 29_000 });
    expect(await verifier.verifyQuery(requestOf(url))).to.equal(role);
  });

  it("refuses an endpoint that is not a WebSocket URL", async () => {
    let error: unknown;
    try {
      await presignWebSocketUrl({ endpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/Prod", region: "eu-west-1", credentials: role, query: { sessionId: "s" } });
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.match(/must be a ws:\/\/ or wss:\/\/ URL/);
  });
});
