/**
 * The gateway's pure parts: SigV4 verification against an injected clock (cross-checked
 * with an independent signer written from the AWS spec), route selection and query parsing.
 */
import { createHash, createHmac } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { expect } from "chai";
import { CredentialStore, hostWithoutPort, localCognitoIdentity, localIamUser, localRoleSession } from "../../local/gateway";
import { parseQuery } from "../../local/gateway/query";
import { RouteTable, selectionPath } from "../../local/gateway/routing";
import { SigV4Verifier, SignatureError, formatAmzDate, type SignedRequest } from "../../local/gateway/sigv4";

const HOST = "abc123.execute-api.eu-west-1.amazonaws.com";
const T0 = Date.UTC(2031, 4, 6, 7, 8, 9);

async function refusal(promise: Promise<unknown>): Promise<SignatureError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SignatureError) return error;
    throw error;
  }
  throw new Error("the signature was accepted");
}

/** A presigned URL's query the way a hand-written signer (e.g. Amplify's signUrl) makes it: no X-Amz-Expires. */
function independentPresign(credential: { accessKeyId: string; secretAccessKey: string }, query: Record<string, string>, at: number): SignedRequest {
  const amzDate = formatAmzDate(at);
  const scope = `${amzDate.slice(0, 8)}/eu-west-1/execute-api/aws4_request`;
  const params: Record<string, string> = {
    ...query,
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${credential.accessKeyId}/${scope}`,
    "X-Amz-Date": amzDate,
    "X-Amz-SignedHeaders": "host",
  };
  const rfc3986 = (value: string): string => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const canonicalQuery = Object.keys(params)
    .map((key) => [rfc3986(key), rfc3986(params[key])])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
  const canonicalRequest = ["GET", "/Prod", canonicalQuery, `host:${HOST}`, "", "host", createHash("sha256").update("").digest("hex")].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${credential.secretAccessKey}`).update(amzDate.slice(0, 8)).digest();
  for (const part of ["eu-west-1", "execute-api", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  params["X-Amz-Signature"] = createHmac("sha256", key).update(stringToSign).digest("hex");
  return { method: "GET", rawPath: "/Prod", query: params, headers: { host: HOST } };
}

async function smithyPresigned(credential: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, at: number, expiresIn = 300, region = "eu-west-1"): Promise<SignedRequest> {
  const signer = new SignatureV4({ service: "execute-api", region, credentials: credential, sha256: Hash.bind(null, "sha256") });
  const signed = await signer.presign(new HttpRequest({ method: "GET", hostname: HOST, path: "/Prod", query: { sessionId: "s-1" }, headers: { host: HOST } }), {
    signingDate: new Date(at),
    expiresIn,
  });
  return { method: "GET", rawPath: "/Prod", query: signed.query as Record<string, string>, headers: { host: HOST } };
}

describe("local gateway: SigV4 verification", () => {
  const user = localIamUser("verifier-test");
  const role = localRoleSession("verifier-role");
  let now = T0;
  const verifier = new SigV4Verifier({ credentials: [user, role], region: "eu-west-1", now: () => now });

  afterEach(() => {
    now = T0;
  });

  it("accepts a URL from an independent signer without X-Amz-Expires for the 5-minute skew window only", async () => {
    const request = independentPresign(user, { sessionId: "a:b.c_d-e", format: "json" }, T0);
    now = T0 + 4 * 60_000;
    expect(await verifier.verifyQuery(request)).to.equal(user);
    now = T0 + 6 * 60_000;
    expect((await refusal(verifier.verifyQuery(request))).message).to.match(/^Signature expired: 20310506T070809Z is now earlier than/);
  });

  it("refuses a repeated parameter, whose order SigV4 does not sign, and an extra X-Amz-Signature (issue 21, finding 7)", async () => {
    // The canonical query sorts pairs by name, then value: sessionId=a&sessionId=b and
    // sessionId=b&sessionId=a sign the same, yet a handler reads the last one.
    const signer = new SignatureV4({ service: "execute-api", region: "eu-west-1", credentials: user, sha256: Hash.bind(null, "sha256") });
    const signed = await signer.presign(new HttpRequest({ method: "GET", hostname: HOST, path: "/Prod", query: { sessionId: ["victim", "mine"] }, headers: { host: HOST } }), {
      signingDate: new Date(T0),
    });
    const query = signed.query as Record<string, string | string[]>;
    const swapped: SignedRequest = { method: "GET", rawPath: "/Prod", query: { ...query, sessionId: ["mine", "victim"] }, headers: { host: HOST } };
    expect((await refusal(verifier.verifyQuery(swapped))).message).to.equal("Query parameter sessionId appears 2 times; a signed URL names each parameter once.");
    const valid = await smithyPresigned(user, T0);
    expect(await verifier.verifyQuery(valid)).to.equal(user);
    const extraSignature = { ...valid, query: { ...valid.query, "X-Amz-Signature": ["0".repeat(64), String(valid.query["X-Amz-Signature"])] } };
    expect((await refusal(verifier.verifyQuery(extraSignature))).message).to.match(/^Query parameter X-Amz-Signature appears 2 times/);
  });

  it("refuses a URL dated more than 5 minutes ahead of the clock", async () => {
    const request = await smithyPresigned(user, T0 + 6 * 60_000);
    expect((await refusal(verifier.verifyQuery(request))).message).to.match(/^Signature not yet current/);
  });

  it("refuses lifetimes beyond a week, other regions and other services", async () => {
    const week = await smithyPresigned(user, T0);
    const tooLong = { ...week, query: { ...week.query, "X-Amz-Expires": "604801" } };
    expect((await refusal(verifier.verifyQuery(tooLong))).message).to.match(/X-Amz-Expires must be an integer/);
    const otherRegion = await smithyPresigned(user, T0, 300, "us-west-2");
    expect((await refusal(verifier.verifyQuery(otherRegion))).message).to.match(/scoped to a valid region/);
    const otherService = { ...week, query: { ...week.query, "X-Amz-Credential": String(week.query["X-Amz-Credential"]).replace("execute-api", "lambda") } };
    expect((await refusal(verifier.verifyQuery(otherService))).message).to.match(/correct service/);
  });

  it("refuses a session token on long-term keys and a wrong token on temporary ones", async () => {
    const withToken = await smithyPresigned({ ...user, sessionToken: "made-up" }, T0);
    expect((await refusal(verifier.verifyQuery(withToken))).errorType).to.equal("UnrecognizedClientException");
    const wrongToken = await smithyPresigned({ ...role, sessionToken: `${role.sessionToken}x` }, T0);
    expect((await refusal(verifier.verifyQuery(wrongToken))).errorType).to.equal("UnrecognizedClientException");
    expect(await verifier.verifyQuery(await smithyPresigned(role, T0))).to.equal(role);
  });

  it("refuses a signed Host header that was changed", async () => {
    const request = await smithyPresigned(user, T0);
    expect((await refusal(verifier.verifyQuery({ ...request, headers: { host: "evil.example.com" } }))).errorType).to.equal("InvalidSignatureException");
  });

  describe("host forms (clients.md: Lex Web UI signs the URL's hostname without the port)", () => {
    const LOCAL = "127.0.0.1";
    /** A presign whose signed `host` is `signedHost`, received with the Host header `sentHost`. */
    async function presignedFor(signedHost: string, sentHost: string): Promise<SignedRequest> {
      const signer = new SignatureV4({ service: "execute-api", region: "eu-west-1", credentials: user, sha256: Hash.bind(null, "sha256") });
      const signed = await signer.presign(new HttpRequest({ method: "GET", hostname: LOCAL, path: "/Prod", query: { sessionId: "lex-web-ui-1a2b" }, headers: { host: signedHost } }), {
        signingDate: new Date(T0),
        expiresIn: 3600,
      });
      return { method: "GET", rawPath: "/Prod", query: signed.query as Record<string, string>, headers: { host: sentHost } };
    }

    it("accepts the Host header as sent and the same host without its port", async () => {
      expect(await verifier.verifyQuery(await presignedFor(`${LOCAL}:8081`, `${LOCAL}:8081`))).to.equal(user);
      expect(await verifier.verifyQuery(await presignedFor(LOCAL, `${LOCAL}:8081`))).to.equal(user);
      expect(await verifier.verifyQuery(await presignedFor(HOST, HOST))).to.equal(user);
    });

    it("refuses every other host form: another port, another host, a port the client added, a bare host signed for a ported one", async () => {
      for (const [signed, sent] of [
        [`${LOCAL}:8082`, `${LOCAL}:8081`],
        ["localhost", `${LOCAL}:8081`],
        [`localhost:8081`, `${LOCAL}:8081`],
        [`${LOCAL}:8081`, LOCAL],
        [`${HOST}:443`, HOST],
      ]) {
        const error = await refusal(verifier.verifyQuery(await presignedFor(signed, sent)));
        expect(error.errorType, `${signed} signed, ${sent} sent`).to.equal("InvalidSignatureException");
      }
    });

    it("strips only a trailing numeric port, keeping IPv6 brackets", () => {
      expect(hostWithoutPort("127.0.0.1:8081")).to.equal("127.0.0.1");
      expect(hostWithoutPort("[::1]:8081")).to.equal("[::1]");
      expect(hostWithoutPort("[::1]")).to.equal(undefined);
      expect(hostWithoutPort("example.com")).to.equal(undefined);
      expect(hostWithoutPort("::1")).to.equal(undefined);
      expect(hostWithoutPort("example.com:")).to.equal(undefined);
    });

    it("accepts the SDK's HTTP/2 signature, whose host is the `:authority` pseudo-header, in both forms", async () => {
      const signer = new SignatureV4({ service: "execute-api", region: "eu-west-1", credentials: role, sha256: Hash.bind(null, "sha256") });
      for (const signedAuthority of [`${LOCAL}:8081`, LOCAL]) {
        const signed = await signer.sign(new HttpRequest({ method: "POST", hostname: LOCAL, path: "/Prod/ask", headers: { ":authority": signedAuthority, "content-type": "application/json" }, body: "{}" }), {
          signingDate: new Date(T0),
        });
        expect(String(signed.headers.authorization)).to.match(/SignedHeaders=:authority;/);
        const request = { method: "POST", rawPath: "/Prod/ask", query: {}, headers: { ...signed.headers, ":authority": `${LOCAL}:8081` } };
        expect(await verifier.verifyHeader(request, createHash("sha256").update("{}").digest("hex"))).to.equal(role);
      }
    });
  });

  describe("credential store", () => {
    it("accepts credentials added after the verifier was made, and refuses them once they expire", async () => {
      const store = new CredentialStore([user]);
      const storeVerifier = new SigV4Verifier({ credentials: store, region: "eu-west-1", now: () => now });
      const guest = localCognitoIdentity({ region: "eu-west-1", expiration: new Date(T0 + 60_000) });
      const request = await smithyPresigned(guest, T0);
      expect((await refusal(storeVerifier.verifyQuery(request))).errorType).to.equal("UnrecognizedClientException");
      store.add(guest);
      expect(await storeVerifier.verifyQuery(request)).to.equal(guest);
      now = T0 + 60_000;
      const expired = await refusal(storeVerifier.verifyQuery(request));
      expect(expired.errorType).to.equal("ExpiredTokenException");
      expect(expired.message).to.equal("The security token included in the request is expired");
    });
  });

  describe("Authorization header", () => {
    async function signedHeaderRequest(at: number, body = "payload"): Promise<SignedRequest & { hash: string }> {
      const signer = new SignatureV4({ service: "execute-api", region: "eu-west-1", credentials: role, sha256: Hash.bind(null, "sha256") });
      const signed = await signer.sign(
        new HttpRequest({ method: "POST", hostname: HOST, path: "/Prod/@connections/abc%3D", headers: { host: HOST, "user-agent": "x", "content-type": "text/plain" }, body }),
        { signingDate: new Date(at) },
      );
      return { method: "POST", rawPath: "/Prod/@connections/abc%3D", query: {}, headers: signed.headers, hash: createHash("sha256").update(body).digest("hex") };
    }

    it("accepts a signed request within the skew window and refuses it outside", async () => {
      const request = await signedHeaderRequest(T0);
      now = T0 + 4 * 60_000;
      expect(await verifier.verifyHeader(request, request.hash)).to.equal(role);
      now = T0 + 6 * 60_000;
      expect((await refusal(verifier.verifyHeader(request, request.hash))).message).to.match(/^Signature expired/);
      now = T0 - 6 * 60_000;
      expect((await refusal(verifier.verifyHeader(request, request.hash))).message).to.match(/^Signature not yet current/);
    });

    it("refuses another body, another path and a missing signed header", async () => {
      const request = await signedHeaderRequest(T0);
      const otherHash = createHash("sha256").update("other").digest("hex");
      expect((await refusal(verifier.verifyHeader(request, otherHash))).errorType).to.equal("InvalidSignatureException");
      expect((await refusal(verifier.verifyHeader({ ...request, rawPath: "/Prod/@connections/abd%3D" }, request.hash))).message).to.match(/does not match/);
      const headers = { ...request.headers };
      delete headers["content-type"];
      expect((await refusal(verifier.verifyHeader({ ...request, headers }, request.hash))).message).to.match(/Signed header 'content-type' is missing/);
    });

    it("refuses a malformed or missing Authorization header", async () => {
      const request = await signedHeaderRequest(T0);
      expect((await refusal(verifier.verifyHeader({ ...request, headers: { ...request.headers, authorization: "Bearer token" } }, request.hash))).errorType).to.equal(
        "IncompleteSignatureException",
      );
      const headers = { ...request.headers };
      delete headers.authorization;
      expect((await refusal(verifier.verifyHeader({ ...request, headers }, request.hash))).errorType).to.equal("MissingAuthenticationTokenException");
    });
  });
});

describe("local gateway: route selection", () => {
  const table = new RouteTable(["$connect", "$disconnect", "$default", "ask"]);

  it("selects on $request.body.action from the shared route table", () => {
    expect(table.select(JSON.stringify({ action: "ask" }))).to.deep.equal({ kind: "lambda", routeKey: "ask", twoWay: false });
    expect(table.select(JSON.stringify({ action: "ping" }))).to.deep.equal({ kind: "mock", routeKey: "ping" });
  });

  it("falls back to $default (two-way) for anything it cannot evaluate or match", () => {
    const fallback = { kind: "lambda", routeKey: "$default", twoWay: true };
    for (const message of ["", "[]", "null", "42", '"ask"', '{"action":null}', '{"action":["ask"]}', '{"Action":"ask"}', '{"action":"$connect"}', '{"action":"__proto__"}', undefined]) {
      expect(table.select(message), String(message)).to.deep.equal(fallback);
    }
  });

  it("accepts both expression spellings and nested paths, and refuses the rest", () => {
    expect(selectionPath("${request.body.action}")).to.deep.equal(["action"]);
    expect(selectionPath("$request.body.meta.kind")).to.deep.equal(["meta", "kind"]);
    expect(new RouteTable(["go"], "$request.body.meta.kind").select('{"meta":{"kind":"go"}}')).to.deep.include({ routeKey: "go" });
    expect(() => selectionPath("$request.header.action")).to.throw(/unsupported route selection expression/);
    expect(() => selectionPath("${request.body.action")).to.throw(/unsupported/);
  });
});

describe("local gateway: query strings", () => {
  it("decodes, keeps repeats as arrays and keeps odd names as own properties", () => {
    const { pairs, params } = parseQuery("sessionId=us-east-1%3Aabc&x=1&x=2&__proto__=p&flag&bad=%E0%A4%A");
    expect(pairs).to.deep.equal([
      ["sessionId", "us-east-1:abc"],
      ["x", "1"],
      ["x", "2"],
      ["__proto__", "p"],
      ["flag", ""],
      ["bad", "%E0%A4%A"],
    ]);
    expect(params.x).to.deep.equal(["1", "2"]);
    expect(Object.prototype.hasOwnProperty.call(params, "__proto__")).to.equal(true);
    expect(Object.getPrototypeOf(params)).to.equal(Object.prototype);
  });
});
