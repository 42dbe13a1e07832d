/**
 * Source links over the wire: functions/fulfillment/source-presign.ts signs, local/s3.ts
 * verifies as S3 does ("Authenticating Requests: Using Query Parameters (AWS Signature
 * Version 4)", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html:
 * the payload is signed as UNSIGNED-PAYLOAD, X-Amz-Expires is required, 1 to 604800 seconds,
 * and a URL used after X-Amz-Date + X-Amz-Expires is refused with 403 AccessDenied "Request
 * has expired"), and a changed byte of the URL is a SignatureDoesNotMatch.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { SourceLinker } from "../../functions/fulfillment/source-presign";
import { localRoleSession } from "../../local/gateway";
import { LOCAL_DOCUMENTS_BUCKET, startLocalS3, type LocalS3 } from "../../local/s3";

const DOCUMENTS = join(__dirname, "..", "..", "local", "documents");

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

function errorCode(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}

describe("local S3: presigned GetObject links (local/s3.ts, functions/fulfillment/source-presign.ts)", () => {
  const role = localRoleSession("qnabot-streaming-fulfillment-role");
  const stranger = localRoleSession("someone-else");
  let s3: LocalS3;
  const linker = (options: { now?: () => number; expirySeconds?: number; credentials?: typeof role; buckets?: string[] } = {}) =>
    new SourceLinker({
      buckets: options.buckets ?? [LOCAL_DOCUMENTS_BUCKET],
      expirySeconds: options.expirySeconds ?? 900,
      region: "us-east-1",
      credentials: options.credentials ?? role,
      endpoint: s3.endpoint,
      now: options.now,
    });

  before(async () => {
    s3 = await startLocalS3({ credentials: [role], readableBuckets: [LOCAL_DOCUMENTS_BUCKET], region: "us-east-1" });
  });
  after(async () => {
    await s3.close();
  });

  it("serves the document a presigned link names, to anyone holding the link", async () => {
    const url = await linker().presign("s3://local-documents/stream-writer.md");
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/local-documents\/stream-writer\.md\?/);
    const q = new URL(url!).searchParams;
    expect(q.get("X-Amz-Content-Sha256")).to.equal("UNSIGNED-PAYLOAD");
    expect(q.get("X-Amz-Expires")).to.equal("900");
    expect(q.get("X-Amz-SignedHeaders")).to.equal("host");
    const response = await get(url!);
    expect(response.status).to.equal(200);
    expect(response.body).to.equal(readFileSync(join(DOCUMENTS, "stream-writer.md"), "utf8"));
  });

  it("refuses a tampered link: another key, another expiry, another signature", async () => {
    const url = (await linker().presign("s3://local-documents/stream-writer.md"))!;
    const otherKey = url.replace("stream-writer.md", "security-model.md");
    const longer = url.replace("X-Amz-Expires=900", "X-Amz-Expires=3600");
    const signature = new URL(url).searchParams.get("X-Amz-Signature")!;
    const flipped = url.replace(signature, (signature[0] === "a" ? "b" : "a") + signature.slice(1));
    for (const tampered of [otherKey, longer, flipped]) {
      const response = await get(tampered);
      expect(response.status, tampered).to.equal(403);
      expect(errorCode(response.body)).to.equal("SignatureDoesNotMatch");
    }
  });

  it("refuses an expired link with 403 AccessDenied, Request has expired", async () => {
    const url = (await linker({ now: () => Date.now() - 61_000, expirySeconds: 60 }).presign("s3://local-documents/stream-writer.md"))!;
    const response = await get(url);
    expect(response.status).to.equal(403);
    expect(errorCode(response.body)).to.equal("AccessDenied");
    expect(response.body).to.include("Request has expired");
  });

  it("refuses X-Amz-Expires over a week, and a link without X-Amz-Expires, with 400", async () => {
    const url = (await linker().presign("s3://local-documents/stream-writer.md"))!;
    for (const bad of [url.replace("X-Amz-Expires=900", "X-Amz-Expires=604801"), url.replace("&X-Amz-Expires=900", "")]) {
      const response = await get(bad);
      expect(response.status, bad).to.equal(400);
      expect(errorCode(response.body)).to.equal("AuthorizationQueryParametersError");
    }
  });

  it("refuses a link signed over the empty payload's hash: S3 presigned URLs sign UNSIGNED-PAYLOAD", async () => {
    const signer = new SignatureV4({ service: "s3", region: "us-east-1", credentials: role, sha256: Hash.bind(null, "sha256"), uriEscapePath: false });
    const host = new URL(s3.endpoint).host;
    const signed = await signer.presign(
      new HttpRequest({ method: "GET", protocol: "http:", hostname: "127.0.0.1", path: "/local-documents/stream-writer.md", headers: { host } }),
      { expiresIn: 900 },
    );
    const query = new URLSearchParams(signed.query as Record<string, string>).toString();
    const response = await get(`${s3.endpoint}/local-documents/stream-writer.md?${query}`);
    expect(response.status).to.equal(403);
    expect(errorCode(response.body)).to.equal("SignatureDoesNotMatch");
  });

  it("refuses a signer the stack never issued, a bucket the role may not read, an unsigned request, and a missing key", async () => {
    const foreign = await get((await linker({ credentials: stranger }).presign("s3://local-documents/stream-writer.md"))!);
    expect([foreign.status, errorCode(foreign.body)]).to.deep.equal([403, "InvalidAccessKeyId"]);
    const otherBucket = await get((await linker({ buckets: ["other-bucket"] }).presign("s3://other-bucket/stream-writer.md"))!);
    expect([otherBucket.status, errorCode(otherBucket.body)]).to.deep.equal([403, "AccessDenied"]);
    const unsigned = await get(`${s3.endpoint}/local-documents/stream-writer.md`);
    expect([unsigned.status, errorCode(unsigned.body)]).to.deep.equal([403, "AccessDenied"]);
    // Without s3:ListBucket, S3 answers a missing key as a forbidden one.
    const missing = await get((await linker().presign("s3://local-documents/no-such-file.md"))!);
    expect([missing.status, errorCode(missing.body)]).to.deep.equal([403, "AccessDenied"]);
  });

  it("links only allowlisted buckets' objects", async () => {
    expect(await linker().presign("s3://another-bucket/stream-writer.md")).to.equal(undefined);
    expect(await linker().presign("https://example.com/doc")).to.equal(undefined);
  });
});
