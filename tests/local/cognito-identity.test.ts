/**
 * The local Cognito identity pool, driven by the real `@aws-sdk/client-cognito-identity`
 * (awsJson1.1, the unsigned GetId → GetCredentialsForIdentity flow a browser client such as
 * Lex Web UI runs for a guest, and with `Logins` for a user signed in to the user pool), plus
 * the raw wire shapes the SDK's schema defines.
 */
import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
  NotAuthorizedException,
  ResourceNotFoundException,
} from "@aws-sdk/client-cognito-identity";
import { expect } from "chai";
import { COGNITO_CREDENTIAL_LIFETIME_MS, LOCAL_IDENTITY_POOL_UUID, startLocalCognitoIdentityPool, type LocalCognitoIdentityPool } from "../../local/cognito-identity";
import { createLocalUserPool, ID_TOKEN_LIFETIME_SECONDS, type LocalUserPool } from "../../local/cognito-user-pool";
import { CredentialStore } from "../../local/gateway";
import { applyEnv } from "../../local/process-env";

async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("the request succeeded");
}

describe("local Cognito identity pool (awsJson1.1, with @aws-sdk/client-cognito-identity)", function () {
  const T0 = Date.UTC(2031, 0, 2, 3, 4, 5);
  let pool: LocalCognitoIdentityPool;
  let store: CredentialStore;
  let client: CognitoIdentityClient;
  let userPool: LocalUserPool;

  before(async function () {
    store = new CredentialStore();
    userPool = createLocalUserPool({ region: "eu-west-1", now: () => T0 });
    pool = await startLocalCognitoIdentityPool({ region: "eu-west-1", credentials: store, now: () => T0, userPool });
    // GetId and GetCredentialsForIdentity are public (noAuth in the SDK): no credentials configured.
    client = new CognitoIdentityClient({ region: "eu-west-1", endpoint: pool.endpoint });
  });

  after(async function () {
    client?.destroy();
    await pool?.close();
  });

  it("has a fixed pool id in the region, so a client configured once keeps working across restarts", function () {
    expect(pool.identityPoolId).to.equal(`eu-west-1:${LOCAL_IDENTITY_POOL_UUID}`);
  });

  it("gives a guest an identity id and one-hour credentials of the unauthenticated role, registered with that identity for the other endpoints", async function () {
    const { IdentityId } = await client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId }));
    expect(IdentityId).to.match(/^eu-west-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const output = await client.send(new GetCredentialsForIdentityCommand({ IdentityId }));
    expect(output.IdentityId).to.equal(IdentityId);
    const credentials = output.Credentials!;
    expect(credentials.AccessKeyId).to.match(/^ASIA[A-Z2-7]{16}$/);
    expect(credentials.SecretKey).to.be.a("string").with.length.greaterThan(20);
    expect(credentials.SessionToken).to.be.a("string").with.length.greaterThan(20);
    // The SDK parses awsJson1.1's epoch-seconds timestamp into a Date.
    expect(credentials.Expiration).to.be.instanceOf(Date);
    expect(credentials.Expiration!.getTime()).to.equal(Math.floor((T0 + COGNITO_CREDENTIAL_LIFETIME_MS) / 1000) * 1000);

    const registered = store.get(credentials.AccessKeyId!)!;
    expect(registered.secretAccessKey).to.equal(credentials.SecretKey);
    expect(registered.sessionToken).to.equal(credentials.SessionToken);
    expect(registered.expiration?.getTime()).to.equal(T0 + COGNITO_CREDENTIAL_LIFETIME_MS);
    expect(registered.identity).to.include({
      cognitoIdentityId: IdentityId,
      cognitoIdentityPoolId: pool.identityPoolId,
      cognitoAuthenticationType: "unauthenticated",
      userArn: "arn:aws:sts::000000000000:assumed-role/Cognito_LocalPoolUnauth_Role/CognitoIdentityCredentials",
      accountId: "000000000000",
    });
    expect(registered.allow).to.deep.equal({ connect: true, manageConnections: false, recognizeText: true });
    expect(pool.identities.has(IdentityId!)).to.equal(true);
  });

  it("gives every GetId without logins a new identity, and every GetCredentialsForIdentity a new key", async function () {
    const [a, b] = await Promise.all([client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId })), client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId }))]);
    expect(a.IdentityId).to.not.equal(b.IdentityId);
    const first = await client.send(new GetCredentialsForIdentityCommand({ IdentityId: a.IdentityId }));
    const second = await client.send(new GetCredentialsForIdentityCommand({ IdentityId: a.IdentityId }));
    expect(first.Credentials!.AccessKeyId).to.not.equal(second.Credentials!.AccessKeyId);
    expect(store.get(first.Credentials!.AccessKeyId!)?.identity.cognitoIdentityId).to.equal(a.IdentityId);
  });

  it("answers an unknown pool and an unknown identity with ResourceNotFoundException (404)", async function () {
    const pool404 = await rejection(client.send(new GetIdCommand({ IdentityPoolId: "eu-west-1:00000000-0000-0000-0000-000000000000" })));
    expect(pool404).to.be.instanceOf(ResourceNotFoundException);
    expect(pool404.message).to.match(/IdentityPool 'eu-west-1:0{8}-0{4}-0{4}-0{4}-0{12}' not found/);
    expect(pool404.$metadata?.httpStatusCode).to.equal(404);

    const identity404 = await rejection(client.send(new GetCredentialsForIdentityCommand({ IdentityId: "eu-west-1:11111111-1111-1111-1111-111111111111" })));
    expect(identity404).to.be.instanceOf(ResourceNotFoundException);
    expect(identity404.message).to.match(/Identity 'eu-west-1:1{8}-1{4}-1{4}-1{4}-1{12}' not found/);
  });

  // Lex Web UI's loaders, logged in: getCredentials(poolId, region, logins) → GetId + GetCredentialsForIdentity with
  // Logins {"cognito-idp.{region}.amazonaws.com/{userPoolId}": idToken} (docs/clients.md, "Lex Web UI").
  describe("a user signed in to the user pool (Logins)", function () {
    it("gets the same identity id on every GetId, and credentials of the authenticated role carrying it", async function () {
      const logins = { [userPool.providerName]: userPool.issueIdToken("ana") };
      const first = await client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId, Logins: logins }));
      const again = await client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId, Logins: { [userPool.providerName]: userPool.issueIdToken("ana") } }));
      expect(again.IdentityId).to.equal(first.IdentityId);
      const other = await client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId, Logins: { [userPool.providerName]: userPool.issueIdToken("ben") } }));
      expect(other.IdentityId).to.not.equal(first.IdentityId);

      const output = await client.send(new GetCredentialsForIdentityCommand({ IdentityId: first.IdentityId, Logins: logins }));
      expect(output.IdentityId).to.equal(first.IdentityId);
      expect(store.get(output.Credentials!.AccessKeyId!)?.identity).to.include({
        cognitoIdentityId: first.IdentityId,
        cognitoAuthenticationType: "authenticated",
        userArn: "arn:aws:sts::000000000000:assumed-role/Cognito_LocalPoolAuth_Role/CognitoIdentityCredentials",
      });
    });

    it("issues a user's identity credentials only against that user's valid token: none, another user's, or a guest's identity get NotAuthorizedException (403)", async function () {
      const ana = { [userPool.providerName]: userPool.issueIdToken("ana") };
      const ben = { [userPool.providerName]: userPool.issueIdToken("ben") };
      const { IdentityId } = await client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId, Logins: ana }));
      for (const attempt of [
        client.send(new GetCredentialsForIdentityCommand({ IdentityId })),
        client.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins: ben })),
      ]) {
        const error = await rejection(attempt);
        expect(error).to.be.instanceOf(NotAuthorizedException);
        expect(error.$metadata?.httpStatusCode).to.equal(403);
        expect(error.message).to.equal("Logins don't match. Please include at least one valid login for this identity or identity pool.");
      }
      const guest = await client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId }));
      expect(await rejection(client.send(new GetCredentialsForIdentityCommand({ IdentityId: guest.IdentityId, Logins: ana })))).to.be.instanceOf(NotAuthorizedException);
    });

    it("refuses a token it did not sign, an expired or tampered one, and another provider's, with NotAuthorizedException (403)", async function () {
      const forger = createLocalUserPool({ region: "eu-west-1", now: () => T0 });
      const expired = userPool.issueIdToken("ana", { now: T0 - (ID_TOKEN_LIFETIME_SECONDS + 1) * 1000 });
      const [header, payload, signature] = userPool.issueIdToken("ana").split(".");
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      const tampered = [header, Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url"), signature].join(".");
      const cases: [Record<string, string>, RegExp][] = [
        [{ [userPool.providerName]: forger.issueIdToken("ana") }, /^Invalid login token\. Token is not signed by this user pool\.$/],
        [{ [userPool.providerName]: expired }, /^Invalid login token\. Token expired/],
        [{ [userPool.providerName]: tampered }, /^Invalid login token\. Token signature is invalid\.$/],
        [{ [userPool.providerName]: "eyJ.token.sig" }, /^Invalid login token\./],
        [{ "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc": userPool.issueIdToken("ana") }, /^Token is not from a supported provider of this identity pool\.$/],
      ];
      for (const [logins, message] of cases) {
        const error = await rejection(client.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId, Logins: logins })));
        expect(error, JSON.stringify(logins)).to.be.instanceOf(NotAuthorizedException);
        expect(error.$metadata?.httpStatusCode).to.equal(403);
        expect(error.message).to.match(message);
      }
    });

    it("refuses every login when it has no user pool", async function () {
      const guestsOnly = await startLocalCognitoIdentityPool({ region: "eu-west-1", credentials: new CredentialStore() });
      const bare = new CognitoIdentityClient({ region: "eu-west-1", endpoint: guestsOnly.endpoint });
      try {
        const error = await rejection(bare.send(new GetIdCommand({ IdentityPoolId: guestsOnly.identityPoolId, Logins: { [userPool.providerName]: userPool.issueIdToken("ana") } })));
        expect(error).to.be.instanceOf(NotAuthorizedException);
      } finally {
        bare.destroy();
        await guestsOnly.close();
      }
    });
  });

  it("refuses a malformed pool id with the service's constraint message (ValidationException)", async function () {
    const error = await rejection(client.send(new GetIdCommand({ IdentityPoolId: "not a pool" })));
    expect(error.name).to.equal("ValidationException");
    expect(error.message).to.match(/identityPoolId.*regular expression pattern/);
  });

  it("is found by a Node client through AWS_ENDPOINT_URL_COGNITO_IDENTITY (what npm start prints)", async function () {
    // The SDK reads the variable when it resolves the endpoint, so it stays set until the call is made.
    const restore = applyEnv({ AWS_ENDPOINT_URL_COGNITO_IDENTITY: pool.endpoint });
    const viaEnv = new CognitoIdentityClient({ region: "eu-west-1" });
    try {
      const { IdentityId } = await viaEnv.send(new GetIdCommand({ IdentityPoolId: pool.identityPoolId }));
      expect(pool.identities.has(IdentityId!)).to.equal(true);
    } finally {
      restore();
      viaEnv.destroy();
    }
  });

  it("speaks awsJson1.1 on the wire: X-Amz-Target routing, {__type, message} errors, epoch-second Expiration, CORS for browsers", async function () {
    const post = (target: string | undefined, body: unknown, contentType = "application/x-amz-json-1.1"): Promise<Response> =>
      fetch(pool.endpoint, {
        method: "POST",
        headers: { "content-type": contentType, ...(target ? { "x-amz-target": target } : {}) },
        body: JSON.stringify(body),
      });

    const id = await post("AWSCognitoIdentityService.GetId", { IdentityPoolId: pool.identityPoolId });
    expect(id.status).to.equal(200);
    expect(id.headers.get("content-type")).to.equal("application/x-amz-json-1.1");
    expect(id.headers.get("x-amzn-requestid")).to.match(/^[0-9a-f-]{36}$/);
    const { IdentityId } = (await id.json()) as { IdentityId: string };
    const credentials = (await (await post("AWSCognitoIdentityService.GetCredentialsForIdentity", { IdentityId })).json()) as { Credentials: { Expiration: unknown } };
    expect(credentials.Credentials.Expiration).to.equal(Math.floor((T0 + COGNITO_CREDENTIAL_LIFETIME_MS) / 1000));

    const unknown = await post("AWSCognitoIdentityService.DeleteIdentities", { IdentityIdsToDelete: [IdentityId] });
    expect(unknown.status).to.equal(400);
    expect(await unknown.json()).to.deep.equal({ __type: "UnknownOperationException", message: "Unknown operation AWSCognitoIdentityService.DeleteIdentities" });
    const inherited = await post("AWSCognitoIdentityService.toString", {});
    expect(((await inherited.json()) as { __type: string }).__type).to.equal("UnknownOperationException");
    const untargeted = await post(undefined, {});
    expect(((await untargeted.json()) as { __type: string }).__type).to.equal("UnknownOperationException");
    const notJson = await fetch(pool.endpoint, { method: "POST", headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSCognitoIdentityService.GetId" }, body: "{" });
    expect(notJson.status).to.equal(400);
    expect(((await notJson.json()) as { __type: string }).__type).to.equal("SerializationException");

    const preflight = await fetch(pool.endpoint, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:8000", "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-amz-target,x-amz-user-agent" },
    });
    expect(preflight.status).to.equal(200);
    expect(preflight.headers.get("access-control-allow-origin")).to.equal("*");
    expect(preflight.headers.get("access-control-allow-headers")).to.equal("content-type,x-amz-target,x-amz-user-agent");
    expect(id.headers.get("access-control-allow-origin")).to.equal("*");
  });
});
