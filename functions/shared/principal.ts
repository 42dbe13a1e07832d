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
      id: `cognito:${identity.cognitoIdentityId}`,
      kind: "cognito",
      cognitoIdentityId: identity.cognitoIdentityId,
    };
  }
  if (nonEmpty(identity.userArn)) return { id: `iam:${identity.userArn}`, kind: "iam" };
  return undefined;
}

/**
 * Whether `principal` may claim `sessionId` at all. A session id shaped like a Cognito
 * identity id (what QnABot's own client page and Lex Web UI 0.21.7 send) is bound to that
 * identity alone. Any other id (stock Lex Web UI 0.22–0.24.1 sends `lex-web-ui-` + 4 random
 * hex digits, clients.md) may be claimed by several principals; the session then becomes
 * contested and no principal receives another's answers (session-state.ts).
 */
export function assertMayClaimSession(principal: Principal, sessionId: string): void {
  if (!COGNITO_IDENTITY_ID_PATTERN.test(sessionId)) return;
  if (principal.kind === "cognito" && principal.cognitoIdentityId === sessionId) return;
  throw new ProtocolError("forbidden", "this sessionId is a Cognito identity id; only that identity may use it");
}
