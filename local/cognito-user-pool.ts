/**
 * A local Amazon Cognito user pool, as far as an identity pool sees one: it issues the ID
 * tokens a signed-in user's browser holds (RS256 JWTs with the claims a user pool puts in
 * them: `iss` https://cognito-idp.{region}.amazonaws.com/{userPoolId}, `aud` the app client id,
 * `token_use` "id", `sub`, `cognito:username`, `exp`), and verifies them as an identity pool
 * verifies a `Logins` entry: signature, issuer, audience, token use and expiry. Lex Web UI's
 * loaders pass such a token as `Logins: { "cognito-idp.{region}.amazonaws.com/{userPoolId}": idToken }`
 * to `GetId` and `GetCredentialsForIdentity` (docs/clients.md, "Lex Web UI"), so the local identity pool
 * (cognito-identity.ts) can run that login path offline. The key pair is made per pool and
 * never leaves the process: a token another pool (or anyone else) signed does not verify.
 */
import { createSign, createVerify, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";

/** A user pool id is `{region}_{9 alphanumerics}`; the local one is fixed, so a configured client keeps working across restarts. */
export const LOCAL_USER_POOL_SUFFIX = "LocalPool1";
/** The app client Lex Web UI's login uses (`cognito.appUserPoolClientId`). */
export const LOCAL_USER_POOL_CLIENT_ID = "10ca1c1i3n7000000000000001";
/** Cognito user pools issue ID tokens valid for one hour by default. */
export const ID_TOKEN_LIFETIME_SECONDS = 60 * 60;

export interface IdTokenClaims {
  sub: string;
  "cognito:username": string;
  iss: string;
  aud: string;
  token_use: "id";
  auth_time: number;
  iat: number;
  exp: number;
}

/** Why a token was not accepted; the identity pool answers it with NotAuthorizedException. */
export class InvalidLoginTokenError extends Error {
  constructor(reason: string) {
    super(`Invalid login token. ${reason}`);
    this.name = "InvalidLoginTokenError";
  }
}

export interface LocalUserPool {
  readonly region: string;
  readonly userPoolId: string;
  readonly clientId: string;
  /** `cognito-idp.{region}.amazonaws.com/{userPoolId}`: the key of the identity pool's `Logins` map. */
  readonly providerName: string;
  /** The tokens' `iss`. */
  readonly issuer: string;
  /** An ID token for `username` (a user is created on first sign-in, with a fresh `sub`). */
  issueIdToken(username: string, options?: { now?: number }): string;
  /** The token's claims when this pool issued it and it is still valid at `now`; throws InvalidLoginTokenError otherwise. */
  verify(token: string, now?: number): IdTokenClaims;
}

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString("base64url");
}

function decodeJson(part: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Reported below as not a token.
  }
  throw new InvalidLoginTokenError("Not a valid OpenId Connect identity token.");
}

export function createLocalUserPool(options: { region?: string; now?: () => number } = {}): LocalUserPool {
  const region = options.region ?? "us-east-1";
  const clock = options.now ?? Date.now;
  const userPoolId = `${region}_${LOCAL_USER_POOL_SUFFIX}`;
  const issuer = `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;
  const keyId = randomUUID();
  const { privateKey, publicKey }: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const subs = new Map<string, string>();

  return {
    region,
    userPoolId,
    clientId: LOCAL_USER_POOL_CLIENT_ID,
    providerName: `cognito-idp.${region}.amazonaws.com/${userPoolId}`,
    issuer,
    issueIdToken(username, issueOptions = {}) {
      if (!/^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u.test(username)) throw new Error(`not a user pool username: ${JSON.stringify(username)}`);
      let sub = subs.get(username);
      if (!sub) subs.set(username, (sub = randomUUID()));
      const issuedAt = Math.floor((issueOptions.now ?? clock()) / 1000);
      const claims: IdTokenClaims = {
        sub,
        "cognito:username": username,
        iss: issuer,
        aud: LOCAL_USER_POOL_CLIENT_ID,
        token_use: "id",
        auth_time: issuedAt,
        iat: issuedAt,
        exp: issuedAt + ID_TOKEN_LIFETIME_SECONDS,
      };
      const signingInput = `${base64url(JSON.stringify({ kid: keyId, alg: "RS256" }))}.${base64url(JSON.stringify(claims))}`;
      const signature = createSign("RSA-SHA256").update(signingInput).sign(privateKey);
      return `${signingInput}.${base64url(signature)}`;
    },
    verify(token, now = clock()) {
      const parts = typeof token === "string" ? token.split(".") : [];
      if (parts.length !== 3) throw new InvalidLoginTokenError("Not a valid OpenId Connect identity token.");
      const [header, payload, signature] = parts;
      const { alg, kid } = decodeJson(header);
      if (alg !== "RS256" || kid !== keyId) throw new InvalidLoginTokenError("Token is not signed by this user pool.");
      if (!createVerify("RSA-SHA256").update(`${header}.${payload}`).verify(publicKey, Buffer.from(signature, "base64url"))) {
        throw new InvalidLoginTokenError("Token signature is invalid.");
      }
      const claims = decodeJson(payload);
      if (claims.iss !== issuer) throw new InvalidLoginTokenError("Issuer mismatch.");
      if (claims.aud !== LOCAL_USER_POOL_CLIENT_ID) throw new InvalidLoginTokenError("Audience mismatch.");
      if (claims.token_use !== "id") throw new InvalidLoginTokenError("Not an ID token.");
      if (typeof claims.exp !== "number" || claims.exp * 1000 <= now) throw new InvalidLoginTokenError(`Token expired: ${String(claims.exp)} <= ${Math.floor(now / 1000)}.`);
      if (typeof claims.sub !== "string") throw new InvalidLoginTokenError("Token has no subject.");
      return claims as unknown as IdTokenClaims;
    },
  };
}
