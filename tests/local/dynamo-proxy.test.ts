/**
 * dynalite behind its verifying proxy, over the wire. The attack: dynalite answered
 * any `Authorization` and sent `Access-Control-Allow-Origin: *`, so any local process or web
 * page could read every conversation. DynamoDB's own answers (awsJson1.0, 400 with
 * `com.amazon.coral.service#UnrecognizedClientException` for an unknown key,
 * `MissingAuthenticationTokenException` with none) are what the SDK expects.
 */
import { ListTablesCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { request } from "node:http";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { startLocalDynamo, type LocalDynamo } from "../../local/dynamo";

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

  /** Sends only the headers of a POST declaring `length` bytes and resolves with the status: an answer proves no body was waited for. */
  function headersOnly(headers: Record<string, string>, length: number): Promise<number> {
    const url = new URL(local.endpoint);
    return new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: "POST", path: "/", headers: { ...headers, "content-length": String(length) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", () => undefined);
      req.on("close", () => reject(new Error("closed without an answer")));
      req.flushHeaders();
    });
  }

  it("judges the signature before reading a body: an unsigned 10 MB POST is refused from its headers alone", async () => {
    expect(await headersOnly({ "content-type": "application/x-amz-json-1.0" }, 10 * 1024 * 1024)).to.equal(400);
  });

  it("refuses a signed body over DynamoDB's 16 MB by its Content-Length, before reading it (413)", async () => {
    const url = new URL(local.endpoint);
    const signer = new SignatureV4({ service: "dynamodb", region: "us-east-1", credentials: local.credentials, sha256: Hash.bind(null, "sha256") });
    const signed = await signer.sign(
      new HttpRequest({ method: "POST", protocol: "http:", hostname: url.hostname, port: Number(url.port), path: "/", headers: { host: url.host, "content-type": "application/x-amz-json-1.0" }, body: "" }),
    );
    expect(await headersOnly(signed.headers as Record<string, string>, 17 * 1024 * 1024)).to.equal(413);
  });
});
