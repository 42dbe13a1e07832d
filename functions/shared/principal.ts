/**
 * Who is calling, as a canonical string, and which sessions they may claim
 * (design.md, "Security model"). Pure: the identity comes from API Gateway's
 * IAM-authorized request context, never from the request body.
 */
import { ProtocolError } from "./protocol";

export interface Principal {
  /** `cognito:{identityId}` or `iam:{userArn}`; compared for equality, stored on rows. */
  id: string;
  kind: "cognito" | "iam";
  /** Set for Cognito identity-pool callers (Lex Web UI). */
  cognitoIdentityId?: string;
}

/** `{region}:{uuid}`, the shape of a Cognito identity id (what QnABot's client page sends as sessionId). */
export const COGNITO_IDENTITY_ID_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The identity fields API Gateway puts in `requestContext.identity` (WebSocket) or `authorizer.iam` (HTTP API). */
export interface CallerIdentityFields {
  cognitoIdentityId?: string | null;
  userArn?: string | null;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/** Returns the principal, or undefined when the request carries no IAM identity. */
export function principalFromIdentity(identity: CallerIdentityFields | null | undefined): Principal | undefined {
  if (!identity) return undefined;
  if (nonEmpty(identity.cognitoIdentityId)) {
    return {
      id: `${COGNITO_PRINCIPAL_PREFIX}${identity.cognitoIdentityId}`,
      kind: "cognito",
      cognitoIdentityId: identity.cognitoIdentityId,
    };
  }
  if (nonEmpty(identity.userArn)) return { id: `iam:${identity.userArn}`, kind: "iam" };
  return undefined;
}

/** Prefix of a Cognito identity's principal id (Principal.id). */
export const COGNITO_PRINCIPAL_PREFIX = "cognito:";

/**
 * Whether a principal id is a Cognito identity's: the kind of caller anyone can create for
 * free from a public identity pool (Lex Web UI's guests), unlike the operator's IAM callers.
 */
export function isCognitoPrincipal(principalId: string): boolean {
  return principalId.startsWith(COGNITO_PRINCIPAL_PREFIX);
}

/**
 * Whether `sessionId` is bound to one identity: a Cognito identity id, which only that identity
 * can sign for (QnABot's own client page, Lex Web UI 0.21.7, and Lex Web UI 0.22–0.24.1 for
 * users logged in through the Cognito user pool, clients.md). Any other id (stock Lex Web UI
 * guests send `lex-web-ui-` + 4 random hex digits) is unbound: anyone may use it, with Lex
 * too, so nothing proves who asked a Lex question under it.
 */
export function isBoundSessionId(sessionId: string): boolean {
  return COGNITO_IDENTITY_ID_PATTERN.test(sessionId);
}

/**
 * Whether `principal` may claim `sessionId` at all. A bound session id (isBoundSessionId) is
 * that identity's alone. An unbound id may be claimed by several principals; the session then
 * becomes contested and no principal receives another's answers (session-state.ts).
 */
export function assertMayClaimSession(principal: Principal, sessionId: string): void {
  if (!isBoundSessionId(sessionId)) return;
  if (principal.kind === "cognito" && principal.cognitoIdentityId === sessionId) return;
  throw new ProtocolError("forbidden", "this sessionId is a Cognito identity id; only that identity may use it");
}
