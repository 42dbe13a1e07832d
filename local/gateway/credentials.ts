/**
 * The IAM side of the local gateway: which access keys it knows, whose they are, and
 * what they may do. A credential configured as a Cognito identity yields the
 * `requestContext.identity` API Gateway builds for Cognito identity-pool credentials,
 * so the session-ownership rules run against the same fields they see on AWS.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { AwsCredentialIdentity } from "@smithy/types";

/** The caller fields API Gateway copies into `requestContext.identity` on an AWS_IAM `$connect`. */
export interface LocalCallerIdentity {
  /** `arn:aws:iam::{account}:user/{name}` or `arn:aws:sts::{account}:assumed-role/{role}/{session}`. */
  readonly userArn: string;
  readonly accountId: string;
  /** @default null */
  readonly caller?: string;
  /** @default null */
  readonly user?: string;
  /** Set for Cognito identity-pool credentials, e.g. `us-east-1:1b2c…`. */
  readonly cognitoIdentityId?: string;
  readonly cognitoIdentityPoolId?: string;
  /** `authenticated` or `unauthenticated` for Cognito credentials. */
  readonly cognitoAuthenticationType?: string;
  readonly cognitoAuthenticationProvider?: string;
  readonly principalOrgId?: string;
}

/** A credential the gateway accepts, with the identity and permissions behind it. */
export interface LocalCredential extends AwsCredentialIdentity {
  readonly identity: LocalCallerIdentity;
  readonly allow?: {
    /** `execute-api:Invoke` on `{stage}/$connect`. @default true */
    readonly connect?: boolean;
    /** `execute-api:ManageConnections` on `{stage}/*\/@connections/*`. @default true */
    readonly manageConnections?: boolean;
    /** `lex:RecognizeText` on the local bot's alias. @default true */
    readonly recognizeText?: boolean;
  };
}

/** Where a verifier finds the credential a signature names. */
export interface CredentialLookup {
  get(accessKeyId: string): LocalCredential | undefined;
}

/**
 * The credentials the local endpoints accept, shared by all of them and growing while the
 * stack runs: the local Cognito endpoint adds every set it issues, as STS makes a new role
 * session valid everywhere at once.
 */
export class CredentialStore implements CredentialLookup {
  private readonly byAccessKey = new Map<string, LocalCredential>();

  constructor(credentials: Iterable<LocalCredential> = []) {
    for (const credential of credentials) this.add(credential);
  }

  add(credential: LocalCredential): void {
    this.byAccessKey.set(credential.accessKeyId, credential);
  }

  get(accessKeyId: string): LocalCredential | undefined {
    return this.byAccessKey.get(accessKeyId);
  }
}

export const LOCAL_ACCOUNT_ID = "000000000000";

const KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** `AKIA…`/`ASIA…` followed by 16 characters, the shape of a real access key id. */
function accessKeyId(prefix: "AKIA" | "ASIA"): string {
  const bytes = randomBytes(16);
  let id = prefix;
  for (const byte of bytes) id += KEY_ALPHABET[byte % KEY_ALPHABET.length];
  return id;
}

function secret(): string {
  return randomBytes(30).toString("base64");
}

export interface LocalIamUserOptions {
  /** @default "000000000000" */
  readonly accountId?: string;
  readonly allow?: LocalCredential["allow"];
}

/** Long-term keys of an IAM user (`AKIA…`, no session token). */
export function localIamUser(name: string, options: LocalIamUserOptions = {}): LocalCredential {
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const userId = accessKeyId("AKIA").replace(/^AKIA/, "AIDA");
  return {
    accessKeyId: accessKeyId("AKIA"),
    secretAccessKey: secret(),
    identity: { userArn: `arn:aws:iam::${accountId}:user/${name}`, accountId, caller: userId, user: userId },
    allow: options.allow,
  };
}

export interface LocalRoleOptions extends LocalIamUserOptions {
  /** @default "local" */
  readonly sessionName?: string;
}

/** Temporary keys of an assumed role (`ASIA…` with a session token), like a Lambda execution role's. */
export function localRoleSession(roleName: string, options: LocalRoleOptions = {}): LocalCredential {
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const sessionName = options.sessionName ?? "local";
  const caller = `${accessKeyId("AKIA").replace(/^AKIA/, "AROA")}:${sessionName}`;
  return {
    accessKeyId: accessKeyId("ASIA"),
    secretAccessKey: secret(),
    sessionToken: randomBytes(96).toString("base64"),
    identity: { userArn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}`, accountId, caller, user: caller },
    allow: options.allow,
  };
}

export interface LocalCognitoIdentityOptions {
  /** @default "us-east-1" */
  readonly region?: string;
  /** @default `{region}:{random uuid}` */
  readonly identityId?: string;
  /** @default `{region}:{random uuid}` */
  readonly identityPoolId?: string;
  /** Unauthenticated identities are what Lex Web UI uses without a login. @default false */
  readonly authenticated?: boolean;
  /** @default "000000000000" */
  readonly accountId?: string;
  /** Cognito pool roles may connect but never manage connections. @default { connect: true, manageConnections: false } */
  readonly allow?: LocalCredential["allow"];
  /** Name of the pool role the credentials are a session of. @default `Cognito_LocalPool{Auth|Unauth}_Role` */
  readonly roleName?: string;
  /** When the credentials stop being accepted (GetCredentialsForIdentity's `Expiration`). @default never */
  readonly expiration?: Date;
}

/** Credentials a Cognito identity pool hands out (GetCredentialsForIdentity): an assumed pool role with the identity id attached. */
export function localCognitoIdentity(options: LocalCognitoIdentityOptions = {}): LocalCredential {
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const authenticated = options.authenticated ?? false;
  const role = options.roleName ?? `Cognito_LocalPool${authenticated ? "Auth" : "Unauth"}_Role`;
  const caller = `${accessKeyId("AKIA").replace(/^AKIA/, "AROA")}:CognitoIdentityCredentials`;
  return {
    accessKeyId: accessKeyId("ASIA"),
    secretAccessKey: secret(),
    sessionToken: randomBytes(96).toString("base64"),
    ...(options.expiration ? { expiration: options.expiration } : {}),
    identity: {
      userArn: `arn:aws:sts::${accountId}:assumed-role/${role}/CognitoIdentityCredentials`,
      accountId,
      caller,
      user: caller,
      cognitoIdentityId: options.identityId ?? `${region}:${randomUUID()}`,
      cognitoIdentityPoolId: options.identityPoolId ?? `${region}:${randomUUID()}`,
      cognitoAuthenticationType: authenticated ? "authenticated" : "unauthenticated",
    },
    allow: options.allow ?? { connect: true, manageConnections: false },
  };
}
