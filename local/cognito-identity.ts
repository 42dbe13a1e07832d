/**
 * A local Amazon Cognito identity pool: `GetId` and `GetCredentialsForIdentity` over
 * awsJson1.1 exactly as `@aws-sdk/client-cognito-identity` speaks it (POST /,
 * `X-Amz-Target: AWSCognitoIdentityService.{Operation}`, unsigned, as both operations are
 * public APIs). Guests (no `Logins`) get a new unauthenticated identity per `GetId`. A user
 * signed in to the pool's user pool (cognito-user-pool.ts) passes its ID token in `Logins`
 * under the user pool's provider name, as Lex Web UI's loaders do (docs/clients.md, "Lex Web UI"): the
 * token is verified, the user always gets the same identity id, and that identity's
 * credentials are issued only against a valid token of the same user ("Logins don't match"
 * otherwise), as the service documents (GetCredentialsForIdentity: "The Logins parameter is
 * required when using identities associated with external identity providers";
 * https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetCredentialsForIdentity.html).
 * Every credential set it issues is registered with the stack's credential store as a session
 * of the pool's unauthenticated or authenticated role carrying the identity id, so a
 * signature made with it yields the `requestContext.identity` API Gateway builds for Cognito
 * credentials, and the local Lex endpoint accepts it.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { AwsError, answerPreflight, jsonObject, readBody, sendAwsJsonError, sendJson } from "./aws-http";
import { LOCAL_ACCOUNT_ID, localCognitoIdentity, type CredentialStore, type LocalCredential } from "./gateway/credentials";
import { InvalidLoginTokenError, type LocalUserPool } from "./cognito-user-pool";
import { listenOnLoopback } from "./loopback";

const TARGET_PREFIX = "AWSCognitoIdentityService.";
const CONTENT_TYPE = "application/x-amz-json-1.1";
/** The service's member constraints (Cognito Identity API reference, IdentityPoolId and IdentityId). */
const IDENTITY_POOL_ID = /^[\w-]+:[0-9a-f-]+$/;
const IDENTITY_ID = /^[\w-]+:[0-9a-f-]+$/;
const MAX_ID_LENGTH = 55;
/** Requests are a few hundred bytes; this only stops a runaway client. */
const MAX_BODY_BYTES = 64 * 1024;
/** The pool id's UUID part: fixed, so a client configured once keeps working across restarts. */
export const LOCAL_IDENTITY_POOL_UUID = "10ca1000-c0de-4000-8000-000000000001";
/** STS role sessions from GetCredentialsForIdentity last one hour. */
export const COGNITO_CREDENTIAL_LIFETIME_MS = 60 * 60 * 1000;

export interface LocalCognitoIdentityPoolOptions {
  /** Region of the pool id, the identity ids and the credentials' scope. @default "us-east-1" */
  readonly region?: string;
  /** @default `{region}:10ca1000-c0de-4000-8000-000000000001` */
  readonly identityPoolId?: string;
  /** @default "000000000000" */
  readonly accountId?: string;
  /** The pool's unauthenticated role. @default "Cognito_LocalPoolUnauth_Role" */
  readonly unauthRoleName?: string;
  /** What the unauthenticated role may do (Lex Web UI's: connect and RecognizeText). @default { connect: true, manageConnections: false, recognizeText: true } */
  readonly allow?: LocalCredential["allow"];
  /** The pool's authenticated role (Lex Web UI's template grants it what the unauthenticated one has). @default "Cognito_LocalPoolAuth_Role" */
  readonly authRoleName?: string;
  /** The user pool whose ID tokens the pool accepts in `Logins`. @default none: any login is refused */
  readonly userPool?: LocalUserPool;
  /** Where issued credentials are registered, so the other endpoints accept them. */
  readonly credentials: CredentialStore;
  /** Port on 127.0.0.1. @default 0 (the OS picks) */
  readonly port?: number;
  /** Clock (epoch ms) of the credentials' expiration. @default Date.now */
  readonly now?: () => number;
}

export interface LocalCognitoIdentityPool {
  /** `http://127.0.0.1:{port}`: the client's `endpoint`, or AWS_ENDPOINT_URL_COGNITO_IDENTITY. */
  readonly endpoint: string;
  readonly port: number;
  readonly identityPoolId: string;
  readonly region: string;
  /** The identity ids handed out so far. */
  readonly identities: ReadonlySet<string>;
  close(): Promise<void>;
}

function stringMember(body: Record<string, unknown>, name: string, member: string, pattern: RegExp): string {
  const value = body[name];
  if (value === undefined || value === null) {
    throw new AwsError(400, "ValidationException", `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  if (typeof value !== "string") throw new AwsError(400, "SerializationException", `${name} must be a string`);
  if (value.length < 1 || value.length > MAX_ID_LENGTH) {
    throw new AwsError(400, "ValidationException", `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must have length between 1 and ${MAX_ID_LENGTH}`);
  }
  if (!pattern.test(value)) {
    throw new AwsError(400, "ValidationException", `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern.source.slice(1, -1)}`);
  }
  return value;
}

/**
 * The user a `Logins` map proves, or undefined for none (a guest). Statuses are the model's
 * (`@httpError` in the SDK's schema: 404 not found, 403 not authorized); a provider the pool
 * does not trust and a token that does not verify are refused as the service refuses them.
 */
function loginOf(body: Record<string, unknown>, userPool: LocalUserPool | undefined, now: number): { sub: string } | undefined {
  const logins = body.Logins;
  if (logins === undefined || logins === null) return undefined;
  if (typeof logins !== "object" || Array.isArray(logins)) throw new AwsError(400, "SerializationException", "Logins must be a map");
  const entries = Object.entries(logins as Record<string, unknown>);
  if (entries.length === 0) return undefined;
  if (entries.length > 10) throw new AwsError(400, "ValidationException", "1 validation error detected: Value at 'logins' failed to satisfy constraint: Member must have length less than or equal to 10");
  let user: { sub: string } | undefined;
  for (const [provider, token] of entries) {
    if (!userPool || provider !== userPool.providerName) {
      throw new AwsError(403, "NotAuthorizedException", "Token is not from a supported provider of this identity pool.");
    }
    if (typeof token !== "string") throw new AwsError(400, "SerializationException", "Logins values must be strings");
    try {
      user = { sub: userPool.verify(token, now).sub };
    } catch (error) {
      if (error instanceof InvalidLoginTokenError) throw new AwsError(403, "NotAuthorizedException", error.message);
      throw error;
    }
  }
  return user;
}

export async function startLocalCognitoIdentityPool(options: LocalCognitoIdentityPoolOptions): Promise<LocalCognitoIdentityPool> {
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const identityPoolId = options.identityPoolId ?? `${region}:${LOCAL_IDENTITY_POOL_UUID}`;
  const roleName = options.unauthRoleName ?? "Cognito_LocalPoolUnauth_Role";
  const authRoleName = options.authRoleName ?? "Cognito_LocalPoolAuth_Role";
  const allow = options.allow ?? { connect: true, manageConnections: false, recognizeText: true };
  const now = options.now ?? Date.now;
  const identities = new Set<string>();
  /** Identity id → the user pool `sub` it belongs to, for authenticated identities. */
  const owners = new Map<string, string>();
  /** User pool `sub` → its identity id: a user gets the same identity every time. */
  const identityOfUser = new Map<string, string>();

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    GetId(body) {
      const poolId = stringMember(body, "IdentityPoolId", "identityPoolId", IDENTITY_POOL_ID);
      if (body.AccountId !== undefined && typeof body.AccountId !== "string") throw new AwsError(400, "SerializationException", "AccountId must be a string");
      if (poolId !== identityPoolId) throw new AwsError(404, "ResourceNotFoundException", `IdentityPool '${poolId}' not found.`);
      const user = loginOf(body, options.userPool, now());
      const known = user && identityOfUser.get(user.sub);
      if (known) return { IdentityId: known };
      const identityId = `${region}:${randomUUID()}`;
      identities.add(identityId);
      if (user) {
        owners.set(identityId, user.sub);
        identityOfUser.set(user.sub, identityId);
      }
      return { IdentityId: identityId };
    },
    GetCredentialsForIdentity(body) {
      const identityId = stringMember(body, "IdentityId", "identityId", IDENTITY_ID);
      if (!identities.has(identityId)) throw new AwsError(404, "ResourceNotFoundException", `Identity '${identityId}' not found.`);
      const user = loginOf(body, options.userPool, now());
      const owner = owners.get(identityId);
      if (owner !== user?.sub) {
        throw new AwsError(403, "NotAuthorizedException", "Logins don't match. Please include at least one valid login for this identity or identity pool.");
      }
      const authenticated = owner !== undefined;
      const expiration = new Date(now() + COGNITO_CREDENTIAL_LIFETIME_MS);
      const credential = localCognitoIdentity({
        region,
        accountId,
        identityId,
        identityPoolId,
        roleName: authenticated ? authRoleName : roleName,
        authenticated,
        expiration,
        allow,
      });
      options.credentials.add(credential);
      return {
        IdentityId: identityId,
        Credentials: {
          AccessKeyId: credential.accessKeyId,
          SecretKey: credential.secretAccessKey,
          SessionToken: credential.sessionToken,
          // awsJson1.1 timestamps are epoch seconds.
          Expiration: Math.floor(expiration.getTime() / 1000),
        },
      };
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (answerPreflight(req, res)) return;
    const path = (req.url ?? "/").split("?")[0];
    const target = String(req.headers["x-amz-target"] ?? "");
    const name = target.slice(TARGET_PREFIX.length);
    const operation = target.startsWith(TARGET_PREFIX) && Object.hasOwn(operations, name) ? operations[name] : undefined;
    if (req.method !== "POST" || path !== "/" || !operation) {
      req.resume();
      throw new AwsError(400, "UnknownOperationException", target ? `Unknown operation ${target}` : "Missing X-Amz-Target: AWSCognitoIdentityService.GetId or .GetCredentialsForIdentity");
    }
    const contentType = String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (contentType !== CONTENT_TYPE) {
      req.resume();
      throw new AwsError(400, "SerializationException", `Content-Type must be ${CONTENT_TYPE}`);
    }
    const { bytes } = await readBody(req, MAX_BODY_BYTES, new AwsError(413, "SerializationException", "Request body is too large"));
    const body = jsonObject(bytes, new AwsError(400, "SerializationException", "Request body must be a JSON object"));
    sendJson(res, 200, operation(body), CONTENT_TYPE);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const answer = error instanceof AwsError ? error : new AwsError(500, "InternalErrorException", "internal error");
      if (!(error instanceof AwsError)) console.error("[cognito identity] request failed", error);
      if (res.headersSent) res.destroy();
      else sendAwsJsonError(res, answer);
    });
  });
  const port = await listenOnLoopback(server, options.port);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    identityPoolId,
    region,
    identities,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
