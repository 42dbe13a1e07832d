/**
 * A small evaluator of identity-based IAM policies, so the deployed policies are judged by
 * what they allow rather than by how they read. It follows IAM's evaluation logic for one
 * principal's identity policies: an explicit Deny wins, else an Allow, else the implicit
 * deny. Action/NotAction match case-insensitively with `*` and `?`; Resource/NotResource
 * match ARNs segment by segment, case-sensitively, wildcards never spanning the colons
 * between ARN segments (but spanning `/` and `:` inside the resource part). Conditions are
 * not evaluated: a decision that rests on a statement with a Condition is reported as
 * "conditional", never as a plain allow.
 *
 * IAM reference: "Policy evaluation logic" and "IAM JSON policy elements: Resource"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
 */

export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: unknown;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: Statement | readonly Statement[];
}

export interface Request {
  readonly action: string;
  readonly resource: string;
}

export type Decision = "allow" | "deny" | "implicit-deny" | "conditional-allow" | "conditional-deny";

export interface Evaluation {
  readonly decision: Decision;
  /** Sids (or positions) of the statements the decision rests on. */
  readonly statements: string[];
}

function list(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

/** `*` any run of characters, `?` any one; everything else literal. */
function wildcard(pattern: string, flags = ""): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, `s${flags}`);
}

export function actionMatches(pattern: string, action: string): boolean {
  return wildcard(pattern, "i").test(action);
}

/** Splits an ARN into its six segments; the sixth (resource) keeps any further colons. */
function arnSegments(arn: string): string[] | undefined {
  const parts = arn.split(":");
  if (parts.length < 6 || parts[0] !== "arn") return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(":")];
}

export function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern === "*") return true;
  const want = arnSegments(pattern);
  const have = arnSegments(resource);
  if (!want || !have) return wildcard(pattern).test(resource);
  return want.every((segment, i) => wildcard(segment).test(have[i]));
}

function statementMatches(statement: Statement, request: Request): boolean {
  const actionOk =
    statement.Action !== undefined
      ? list(statement.Action).some((p) => actionMatches(p, request.action))
      : statement.NotAction !== undefined && !list(statement.NotAction).some((p) => actionMatches(p, request.action));
  if (!actionOk) return false;
  return statement.Resource !== undefined
    ? list(statement.Resource).some((p) => resourceMatches(p, request.resource))
    : statement.NotResource !== undefined && !list(statement.NotResource).some((p) => resourceMatches(p, request.resource));
}

export function statementsOf(documents: readonly PolicyDocument[]): Statement[] {
  return documents.flatMap((d) => (Array.isArray(d.Statement) ? [...(d.Statement as Statement[])] : [d.Statement as Statement]));
}

/** What the principal holding `documents` may do for `request`. */
export function evaluate(documents: readonly PolicyDocument[], request: Request): Evaluation {
  const statements = statementsOf(documents);
  const matching = statements.map((s, i) => ({ s, id: s.Sid ?? `#${i}` })).filter(({ s }) => statementMatches(s, request));
  const denies = matching.filter(({ s }) => s.Effect === "Deny");
  const unconditionalDenies = denies.filter(({ s }) => s.Condition === undefined);
  if (unconditionalDenies.length > 0) return { decision: "deny", statements: unconditionalDenies.map((m) => m.id) };
  const allows = matching.filter(({ s }) => s.Effect === "Allow");
  const unconditionalAllows = allows.filter(({ s }) => s.Condition === undefined);
  // A Deny with a Condition may or may not apply: without evaluating it, no allow is certain.
  if (denies.length > 0 && allows.length > 0) return { decision: "conditional-deny", statements: denies.map((m) => m.id) };
  if (unconditionalAllows.length > 0) return { decision: "allow", statements: unconditionalAllows.map((m) => m.id) };
  if (allows.length > 0) return { decision: "conditional-allow", statements: allows.map((m) => m.id) };
  return { decision: "implicit-deny", statements: [] };
}

export function isAllowed(documents: readonly PolicyDocument[], request: Request): boolean {
  return evaluate(documents, request).decision === "allow";
}
