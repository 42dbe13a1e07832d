/**
 * Least privilege, proven by evaluation: the stack's IAM policies are captured under Pulumi
 * mocks (the deployed program, streaming on, with a knowledge base, inference profiles and
 * a KMS key) plus a chat client's role granted `$connect` by the component, and each role is
 * asked what it may do: the requests it needs are allowed, everything else in a broad sweep
 * of actions and resources (other APIs, stages, tables, functions, models) is denied.
 */
import * as aws from "@pulumi/aws";
import { expect } from "chai";
import { parseStackConfig, type ConfigKey } from "../../components/config";
import { createStack } from "../../components/stack";
import { StreamingComponent } from "../../components/streaming";
import { LAMBDA_ASSUME_ROLE_POLICY } from "../../components/iam";
import { ACCOUNT, REGION, installMocks, policyOf, registrationsSettled, TYPES } from "../infra/mocks";
import { evaluate, statementsOf, type Decision, type PolicyDocument } from "./iam-eval";
import type { Figure } from "./figures";

export const STACK_CONFIG: Partial<Record<ConfigKey, string>> = {
  enableStreaming: "true",
  llmModelId: "us.anthropic.claude-3-5-haiku-20241022-v1:0",
  knowledgeBaseId: "KBTEST1234",
  knowledgeBaseModelId: "anthropic.claude-3-haiku-20240307-v1:0",
  kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
};

export interface Principals {
  /** The fulfillment function's role (Bedrock, memory, hand-off, streaming grant). */
  readonly fulfillment: PolicyDocument[];
  /** The connection function's role ($connect, $disconnect, $default). */
  readonly connection: PolicyDocument[];
  /** A chat client's role, granted by StreamingComponent.grantConnect. */
  readonly chatClient: PolicyDocument[];
}

function documentsByRole(resources: { type: string; inputs: Record<string, unknown> }[]): Map<string, PolicyDocument[]> {
  const byRole = new Map<string, PolicyDocument[]>();
  for (const resource of resources.filter((r) => r.type === TYPES.rolePolicy)) {
    const role = resource.inputs.role as string;
    byRole.set(role, [...(byRole.get(role) ?? []), policyOf(resource as never) as PolicyDocument]);
  }
  return byRole;
}

/** Runs the stack program and a grantConnect program under Pulumi mocks; returns each role's policies. */
export async function captureDeployedPolicies(): Promise<Principals> {
  const stack = await installMocks();
  createStack(parseStackConfig((key) => STACK_CONFIG[key]), {});
  await registrationsSettled();
  const stackRoles = documentsByRole(stack.resources);

  const component = await installMocks();
  const chat = new StreamingComponent("chat");
  chat.grantConnect(new aws.iam.Role("chat-client", { assumeRolePolicy: LAMBDA_ASSUME_ROLE_POLICY }));
  await registrationsSettled();
  const componentRoles = documentsByRole(component.resources);

  const pick = (roles: Map<string, PolicyDocument[]>, name: string) => {
    const documents = roles.get(name);
    if (!documents) throw new Error(`no policy attached to ${name}; roles: ${[...roles.keys()].join(", ")}`);
    return documents;
  };
  return {
    fulfillment: pick(stackRoles, "qnabot-fulfillment-role"),
    connection: pick(stackRoles, "streaming-connection-role"),
    chatClient: pick(componentRoles, "chat-client"),
  };
}

const arn = (service: string, rest: string, region = REGION, account = ACCOUNT) => `arn:aws:${service}:${region}:${account}:${rest}`;
const API = "streaming-api-id";
const CHAT_API = "chat-api-id";
const OTHER = {
  api: "0therapi99",
  table: arn("dynamodb", "table/someone-elses-table"),
  function: arn("lambda", "function:someone-elses-function"),
  logGroup: arn("logs", "log-group:/aws/lambda/someone-else"),
  model: "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0",
  knowledgeBase: arn("bedrock", "knowledge-base/OTHERKB999"),
};
const OWN = {
  connectionsTable: arn("dynamodb", "table/streaming-connections"),
  memoryTable: arn("dynamodb", "table/qnabot-memory"),
  fulfillment: arn("lambda", "function:qnabot-fulfillment"),
  fulfillmentLogs: arn("logs", "log-group:/aws/lambda/qnabot-fulfillment"),
  connectionLogs: arn("logs", "log-group:/aws/lambda/streaming-connection"),
  knowledgeBase: arn("bedrock", "knowledge-base/KBTEST1234"),
  kmsKey: STACK_CONFIG.kmsKeyArn!,
  profile: arn("bedrock", "inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"),
  profileModel: (region: string) => `arn:aws:bedrock:${region}::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0`,
  kbModel: `arn:aws:bedrock:${REGION}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0`,
};

export interface Expectation {
  readonly who: keyof Principals;
  readonly action: string;
  readonly resource: string;
  readonly decision: Decision;
  readonly why: string;
}

/** The requests each role must be allowed, and the near misses it must be denied. */
export const EXPECTATIONS: readonly Expectation[] = [
  // The fulfillment role streams to its own API's stage, nowhere else.
  { who: "fulfillment", action: "execute-api:ManageConnections", resource: arn("execute-api", `${API}/Prod/POST/@connections/abc`), decision: "allow", why: "posts to its own stage" },
  { who: "fulfillment", action: "execute-api:ManageConnections", resource: arn("execute-api", `${OTHER.api}/Prod/POST/@connections/abc`), decision: "implicit-deny", why: "another API" },
  { who: "fulfillment", action: "execute-api:ManageConnections", resource: arn("execute-api", `${API}/Dev/POST/@connections/abc`), decision: "implicit-deny", why: "another stage" },
  { who: "fulfillment", action: "execute-api:ManageConnections", resource: arn("execute-api", `${API}/Prod/DELETE/@connections/abc`), decision: "allow", why: "closing a json connection the writer gave up on (DeleteConnection)" },
  { who: "fulfillment", action: "execute-api:ManageConnections", resource: arn("execute-api", `${API}/Dev/DELETE/@connections/abc`), decision: "implicit-deny", why: "closing connections of another stage" },
  { who: "fulfillment", action: "execute-api:ManageConnections", resource: arn("execute-api", `${API}/Prod/POST/@connections/abc`, "us-east-1"), decision: "implicit-deny", why: "another region" },
  { who: "fulfillment", action: "execute-api:ManageConnections", resource: arn("execute-api", `${API}/Prod/POST/@connections/abc`, REGION, "999999999999"), decision: "implicit-deny", why: "another account" },
  { who: "fulfillment", action: "execute-api:Invoke", resource: arn("execute-api", `${API}/Prod/$connect`), decision: "implicit-deny", why: "connecting as a client" },
  { who: "fulfillment", action: "dynamodb:GetItem", resource: OWN.connectionsTable, decision: "allow", why: "finds a connection (its lookup item) and a session's connections" },
  { who: "fulfillment", action: "dynamodb:Query", resource: OWN.connectionsTable, decision: "implicit-deny", why: "one item per session: nothing to query" },
  { who: "fulfillment", action: "dynamodb:DeleteItem", resource: OWN.connectionsTable, decision: "allow", why: "removes a gone connection" },
  { who: "fulfillment", action: "dynamodb:PutItem", resource: OWN.connectionsTable, decision: "allow", why: "writes the ask ledger's and the resumable answers' items" },
  { who: "fulfillment", action: "dynamodb:Scan", resource: OWN.connectionsTable, decision: "implicit-deny", why: "reading every session" },
  { who: "fulfillment", action: "dynamodb:GetItem", resource: OWN.memoryTable, decision: "allow", why: "reads memory" },
  { who: "fulfillment", action: "dynamodb:DeleteItem", resource: OWN.memoryTable, decision: "implicit-deny", why: "memory is only read and replaced" },
  { who: "fulfillment", action: "dynamodb:GetItem", resource: OTHER.table, decision: "implicit-deny", why: "another table" },
  { who: "fulfillment", action: "bedrock:InvokeModelWithResponseStream", resource: OWN.profile, decision: "allow", why: "the configured inference profile" },
  { who: "fulfillment", action: "bedrock:InvokeModelWithResponseStream", resource: OWN.profileModel("us-west-2"), decision: "allow", why: "the profile's model, in a Region the profile routes to" },
  { who: "fulfillment", action: "bedrock:InvokeModel", resource: OWN.kbModel, decision: "allow", why: "the configured knowledge-base model" },
  { who: "fulfillment", action: "bedrock:InvokeModel", resource: OTHER.model, decision: "implicit-deny", why: "a model not configured" },
  { who: "fulfillment", action: "bedrock:InvokeModel", resource: `arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0`, decision: "implicit-deny", why: "the knowledge-base model in another Region" },
  { who: "fulfillment", action: "bedrock:InvokeModel", resource: arn("bedrock", "inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0", REGION, "999999999999"), decision: "implicit-deny", why: "another account's profile" },
  { who: "fulfillment", action: "bedrock:Retrieve", resource: OWN.knowledgeBase, decision: "allow", why: "the configured knowledge base" },
  { who: "fulfillment", action: "bedrock:Retrieve", resource: OTHER.knowledgeBase, decision: "implicit-deny", why: "another knowledge base" },
  { who: "fulfillment", action: "lambda:InvokeFunction", resource: OWN.fulfillment, decision: "allow", why: "hands WebSocket asks to itself" },
  { who: "fulfillment", action: "lambda:InvokeFunction", resource: OTHER.function, decision: "implicit-deny", why: "another function" },
  { who: "fulfillment", action: "logs:PutLogEvents", resource: `${OWN.fulfillmentLogs}:log-stream:2026/01/01/x`, decision: "allow", why: "its own log group" },
  { who: "fulfillment", action: "logs:PutLogEvents", resource: `${OWN.connectionLogs}:log-stream:x`, decision: "implicit-deny", why: "another function's logs" },
  { who: "fulfillment", action: "kms:Decrypt", resource: OWN.kmsKey, decision: "conditional-allow", why: "the table key, only through DynamoDB (kms:ViaService)" },
  { who: "fulfillment", action: "iam:PassRole", resource: arn("iam", "role/admin", ""), decision: "implicit-deny", why: "escalation" },
  // The connection function's role: its table, its actions, nothing else.
  { who: "connection", action: "dynamodb:PutItem", resource: OWN.connectionsTable, decision: "allow", why: "registers a connection" },
  { who: "connection", action: "dynamodb:GetItem", resource: OWN.connectionsTable, decision: "allow", why: "reads a session's item and a connection's lookup item" },
  { who: "connection", action: "dynamodb:GetItem", resource: OTHER.table, decision: "implicit-deny", why: "reads another table" },
  { who: "connection", action: "dynamodb:Query", resource: OTHER.table, decision: "implicit-deny", why: "queries another table" },
  { who: "connection", action: "dynamodb:GetItem", resource: OWN.memoryTable, decision: "implicit-deny", why: "reads conversation memory" },
  { who: "connection", action: "dynamodb:Query", resource: OWN.connectionsTable, decision: "implicit-deny", why: "an action beyond its list" },
  { who: "connection", action: "dynamodb:Scan", resource: OWN.connectionsTable, decision: "implicit-deny", why: "an action beyond its list" },
  { who: "connection", action: "dynamodb:DeleteTable", resource: OWN.connectionsTable, decision: "implicit-deny", why: "an action beyond its list" },
  { who: "connection", action: "execute-api:ManageConnections", resource: arn("execute-api", `${API}/Prod/POST/@connections/abc`), decision: "implicit-deny", why: "posting to clients" },
  { who: "connection", action: "bedrock:InvokeModel", resource: OWN.kbModel, decision: "implicit-deny", why: "using a model" },
  // A chat client may open a connection, nothing more.
  { who: "chatClient", action: "execute-api:Invoke", resource: arn("execute-api", `${CHAT_API}/Prod/$connect`), decision: "allow", why: "connects" },
  { who: "chatClient", action: "execute-api:Invoke", resource: arn("execute-api", `${CHAT_API}/Prod/ask`), decision: "implicit-deny", why: "the ask route is authorized by the connection, not by IAM" },
  { who: "chatClient", action: "execute-api:Invoke", resource: arn("execute-api", `${CHAT_API}/Prod/$default`), decision: "implicit-deny", why: "another route" },
  { who: "chatClient", action: "execute-api:Invoke", resource: arn("execute-api", `${CHAT_API}/Dev/$connect`), decision: "implicit-deny", why: "another stage" },
  { who: "chatClient", action: "execute-api:Invoke", resource: arn("execute-api", `${OTHER.api}/Prod/$connect`), decision: "implicit-deny", why: "another API" },
  { who: "chatClient", action: "execute-api:ManageConnections", resource: arn("execute-api", `${CHAT_API}/Prod/POST/@connections/abc`), decision: "implicit-deny", why: "posting to other clients" },
  { who: "chatClient", action: "execute-api:ManageConnections", resource: arn("execute-api", `${CHAT_API}/Prod/GET/@connections/abc`), decision: "implicit-deny", why: "reading other connections" },
];

/** Actions the sweep tries on every resource: what each role may do must be exactly its list. */
const SWEEP_ACTIONS = [
  "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
  "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems", "dynamodb:PartiQLSelect", "dynamodb:DeleteTable",
  "dynamodb:UpdateTable", "dynamodb:DescribeTable", "dynamodb:ExportTableToPointInTime", "dynamodb:RestoreTableFromBackup",
  "execute-api:ManageConnections", "execute-api:Invoke", "execute-api:InvalidateCache",
  "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Retrieve", "bedrock:RetrieveAndGenerate",
  "bedrock:GetInferenceProfile", "bedrock:InvokeAgent", "bedrock:CreateModelCustomizationJob", "bedrock:DeleteKnowledgeBase",
  "lambda:InvokeFunction", "lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:AddPermission",
  "logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:GetLogEvents", "logs:FilterLogEvents",
  "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ScheduleKeyDeletion",
  "iam:PassRole", "iam:CreateRole", "iam:PutRolePolicy", "sts:AssumeRole", "s3:GetObject", "s3:PutObject", "s3:ListBucket",
  "apigateway:POST", "apigateway:DELETE", "secretsmanager:GetSecretValue", "ssm:GetParameter", "ec2:RunInstances",
];

const connectionsIndex = `${OWN.connectionsTable}/index/byConnectionId`;
const fulfillmentStream = `${OWN.fulfillmentLogs}:log-stream:x`;
const connectionStream = `${OWN.connectionLogs}:log-stream:x`;
const ownPost = arn("execute-api", `${API}/Prod/POST/@connections/abc`);
const chatConnect = arn("execute-api", `${CHAT_API}/Prod/$connect`);

/** Each role's own resources (concrete instances of its policies' patterns): the only ones it may be allowed on. */
const OWN_RESOURCES: Record<keyof Principals, readonly string[]> = {
  fulfillment: [
    OWN.connectionsTable, connectionsIndex, OWN.memoryTable, OWN.fulfillment, OWN.fulfillmentLogs, fulfillmentStream,
    OWN.knowledgeBase, OWN.kmsKey, OWN.profile, OWN.profileModel(REGION), OWN.kbModel, ownPost,
  ],
  connection: [OWN.connectionsTable, connectionsIndex, OWN.connectionLogs, connectionStream, OWN.kmsKey],
  chatClient: [chatConnect],
};

/** Resources the sweep tries: every role's own, and others' (another API, table, function, model…). */
const SWEEP_RESOURCES = [
  ...new Set([
    ...Object.values(OWN_RESOURCES).flat(),
    arn("execute-api", `${API}/Prod/$connect`),
    arn("execute-api", `${CHAT_API}/Prod/POST/@connections/abc`),
    ...Object.values(OTHER).filter((r) => r.startsWith("arn:")),
    arn("execute-api", `${OTHER.api}/Prod/POST/@connections/abc`),
    "arn:aws:s3:::any-bucket/key",
    arn("iam", "role/admin", ""),
    arn("kms", "key/other-key"),
  ]),
];

/** What each role may do in the sweep (unconditionally), as `action` → resources. */
function allowedIn(documents: readonly PolicyDocument[]): Map<string, string[]> {
  const allowed = new Map<string, string[]>();
  for (const action of SWEEP_ACTIONS) {
    for (const resource of SWEEP_RESOURCES) {
      if (evaluate(documents, { action, resource }).decision === "allow") allowed.set(action, [...(allowed.get(action) ?? []), resource]);
    }
  }
  return allowed;
}

/** Actions each role needs, exactly (the sweep must find no other). */
export const NEEDED_ACTIONS: Record<keyof Principals, readonly string[]> = {
  fulfillment: [
    "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Retrieve", "bedrock:RetrieveAndGenerate",
    "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "execute-api:ManageConnections", "lambda:InvokeFunction", "logs:CreateLogStream", "logs:PutLogEvents",
  ],
  connection: ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "logs:CreateLogStream", "logs:PutLogEvents"],
  chatClient: ["execute-api:Invoke"],
};

/** Actions AWS gives no resource type for, so `*` is the narrowest resource (see tests/infra/iam.ts). */
const RESOURCELESS_ACTIONS = new Set(["bedrock:RetrieveAndGenerate"]);

export interface PolicyFigure {
  readonly requests: number;
  readonly statements: number;
  readonly conditional: string[];
}

/** Evaluates every expectation and the sweep; throws on the first request decided otherwise. */
export function checkLeastPrivilege(principals: Principals): PolicyFigure {
  for (const e of EXPECTATIONS) {
    const { decision, statements } = evaluate(principals[e.who], { action: e.action, resource: e.resource });
    expect(decision, `${e.who} ${e.action} on ${e.resource} (${e.why}); statements ${statements.join(", ")}`).to.equal(e.decision);
  }
  const conditional: string[] = [];
  for (const who of Object.keys(principals) as (keyof Principals)[]) {
    const documents = principals[who];
    const allowed = allowedIn(documents);
    expect([...allowed.keys()].sort(), `${who}: actions allowed in the sweep`).to.deep.equal([...NEEDED_ACTIONS[who]].sort());
    for (const [action, resources] of allowed) {
      if (RESOURCELESS_ACTIONS.has(action)) continue;
      const others = resources.filter((r) => !OWN_RESOURCES[who].includes(r));
      expect(others, `${who}: ${action} allowed beyond its own resources`).to.deep.equal([]);
    }
    for (const statement of statementsOf(documents)) if (statement.Condition !== undefined) conditional.push(`${who}: ${statement.Sid}`);
  }
  const statements = Object.values(principals).reduce((n, documents) => n + statementsOf(documents).length, 0);
  return { requests: EXPECTATIONS.length + SWEEP_ACTIONS.length * SWEEP_RESOURCES.length * 3, statements, conditional: [...new Set(conditional)] };
}

export function policyFigure(figure: PolicyFigure): Figure {
  return {
    section: "Security",
    check: "IAM policies captured under Pulumi mocks, evaluated (fulfillment role, connection function role, chat client role from grantConnect)",
    tried: `${EXPECTATIONS.length} targeted requests + a sweep of ${SWEEP_ACTIONS.length} actions × ${SWEEP_RESOURCES.length} resources per role (${figure.requests} evaluations over ${figure.statements} statements)`,
    result:
      "each role allowed exactly the actions it needs, on its own resources only (ManageConnections on its own API and stage only; " +
      "no other table, function, model, log group); `*` only for bedrock:RetrieveAndGenerate, which has no resource type; " +
      `conditional (not evaluated, reported): ${figure.conditional.join("; ") || "none"}`,
  };
}
