/**
 * dynalite behind its verifying proxy, over the wire. The attack: dynalite answered
 * any `Authorization` and sent `Access-Control-Allow-Origin: *`, so any local process or web
 * page could read every conversation. DynamoDB's own answers (awsJson1.0, 400 with
 * `com.amazon.coral.service#UnrecognizedClientException` for an unknown key,
 * `MissingAuthenticationTokenException` with none) are what the SDK expects.
 */
import { ListTablesCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { startLocalDynamo, type LocalDynamo } from "../../local/dynamo";
import { headersOnly, signedHeaders } from "./side-door-helpers";

async function raw(local: LocalDynamo, headers: Record<string, string>, body = "{}", method = "POST"): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const response = await fetch(local.endpoint, { method, headers, body: method === "POST" ? body : undefined });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

describe("local DynamoDB: reachable only with the stack's credentials", () => {
  let local: LocalDynamo;
  before(async () => {
    local = await startLocalDynamo({ region: "us-east-1" });
  });
  after(() => local.close());

  it("serves the client it hands out, signed with its own credential", async () => {
    const tables = await local.client.send(new ListTablesCommand({}));
    expect(tables.TableNames).to.include.members([local.connectionsTable, local.memoryTable]);
  });

  it("refuses a request with no signature (MissingAuthenticationTokenException, 400)", async () => {
    const answer = await raw(local, { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.ListTables" });
    expect(answer.status).to.equal(400);
    expect(JSON.parse(answer.body).__type).to.equal("com.amazon.coral.service#MissingAuthenticationTokenException");
  });

  it("refuses a request signed with any other key, e.g. the old static local/local (UnrecognizedClientException)", async () => {
    const foreign = new DynamoDBClient({ endpoint: local.endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" }, maxAttempts: 1 });
    try {
      const error = await foreign.send(new ListTablesCommand({})).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.name).to.equal("UnrecognizedClientException");
    } finally {
      foreign.destroy();
    }
  });

  it("refuses the right key id with a wrong secret (InvalidSignatureException)", async () => {
    const forged = new DynamoDBClient({
      endpoint: local.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: local.credentials.accessKeyId, secretAccessKey: "guessed" },
      maxAttempts: 1,
    });
    try {
      const error = await forged.send(new ListTablesCommand({})).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.name).to.equal("InvalidSignatureException");
    } finally {
      forged.destroy();
    }
  });

  it("never sends CORS headers: not to a preflight, not to a web page's request", async () => {
    const preflight = await raw(local, { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,x-amz-target" }, "", "OPTIONS");
    expect(preflight.headers).to.not.have.property("access-control-allow-origin");
    const simple = await raw(local, { origin: "https://evil.example", "content-type": "text/plain", authorization: "AWS4-HMAC-SHA256 Credential=x" });
    expect(simple.headers).to.not.have.property("access-control-allow-origin");
  });

  it("answers a signed request that carries an Origin without Access-Control-Allow-Origin", async () => {
    const seen: Record<string, unknown>[] = [];
    const withOrigin = new DynamoDBClient({ endpoint: local.endpoint, region: "us-east-1", credentials: local.credentials });
    withOrigin.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers.origin = "https://evil.example";
        const result = await next(args);
        seen.push((result.response as { headers: Record<string, unknown> }).headers);
        return result;
      },
      { step: "build" },
    );
    try {
      await withOrigin.send(new ListTablesCommand({}));
      expect(seen[0]).to.not.have.property("access-control-allow-origin");
    } finally {
      withOrigin.destroy();
    }
  });

  it("judges the signature before reading a body: an unsigned 10 MB POST is refused from its headers alone", async () => {
    expect(await headersOnly(local.endpoint, { "content-type": "application/x-amz-json-1.0" }, 10 * 1024 * 1024)).to.equal(400);
  });

  it("refuses a signed body over DynamoDB's 16 MB by its Content-Length, before reading it (413)", async () => {
    const headers = await signedHeaders(local.endpoint, { service: "dynamodb", region: "us-east-1", credentials: local.credentials, body: "" });
    expect(await headersOnly(local.endpoint, headers, 17 * 1024 * 1024)).to.equal(413);
  });
});
