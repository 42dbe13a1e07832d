/**
 * Pulumi mocks for the infrastructure tests: every registered resource is recorded with its
 * type, logical name, inputs and parent, and the AWS lookups answer for one fixed account.
 * Mocks are global to the process, so each test file installs its own in a `before` hook
 * and builds its program after that.
 */
import * as pulumi from "@pulumi/pulumi";

export const ACCOUNT = "123456789012";
export const REGION = "eu-west-1";
export const PARTITION = "aws";
export const DNS_SUFFIX = "amazonaws.com";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  // Inputs are whatever the program registered: tests read them freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly inputs: Record<string, any>;
  /** Logical name of the parent resource, when there is one. */
  readonly parent?: string;
  /** Logical names of the resources it was registered to depend on (`dependsOn` and inputs). */
  readonly dependsOn: readonly string[];
  /** Its resource options as registered (retainOnDelete …). */
  readonly options: { readonly retainOnDelete: boolean };
  /** Logical name of its explicit provider, when it has one. */
  readonly provider?: string;
}

export interface Recorder {
  readonly resources: RecordedResource[];
  /** Resources of a type token, e.g. `aws:lambda/function:Function`. */
  ofType(type: string): RecordedResource[];
  /** The one resource with this logical name; throws when there is none or several. */
  named(name: string): RecordedResource;
}

export interface MockOptions {
  /** Run as `pulumi preview`: resources get no ids and no computed outputs. */
  readonly preview?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function computedState(type: string, name: string, id: string, inputs: Record<string, any>): Record<string, unknown> {
  const arnBase = `${PARTITION}:%s:${REGION}:${ACCOUNT}`;
  const arn = (service: string, rest: string) => `arn:${arnBase.replace("%s", service)}:${rest}`;
  switch (type) {
    case "aws:apigatewayv2/api:Api":
      return { apiEndpoint: `wss://${id}.execute-api.${REGION}.${DNS_SUFFIX}`, executionArn: arn("execute-api", id) };
    case "aws:dynamodb/table:Table":
      return { name, arn: arn("dynamodb", `table/${name}`) };
    case "aws:lambda/function:Function": {
      const functionArn = arn("lambda", `function:${name}`);
      return {
        name,
        arn: functionArn,
        invokeArn: `arn:${PARTITION}:apigateway:${REGION}:lambda:path/2015-03-31/functions/${functionArn}/invocations`,
      };
    }
    case "aws:iam/role:Role": {
      const roleName = (inputs.name as string | undefined) ?? name;
      return { name: roleName, arn: `arn:${PARTITION}:iam::${ACCOUNT}:role/${roleName}` };
    }
    case "aws:cloudwatch/logGroup:LogGroup": {
      const groupName = (inputs.name as string | undefined) ?? name;
      return { name: groupName, arn: arn("logs", `log-group:${groupName}`) };
    }
    case "aws:lambda/functionUrl:FunctionUrl":
      return { functionUrl: `https://${id}.lambda-url.${REGION}.on.aws/`, urlId: id };
    case "aws:apigatewayv2/domainName:DomainName":
      return {
        domainNameConfiguration: {
          ...inputs.domainNameConfiguration,
          targetDomainName: `d-${id}.execute-api.${REGION}.${DNS_SUFFIX}`,
          hostedZoneId: "ZREGIONALAPIGW",
        },
      };
    case "aws-native:lex:Bot": {
      const botId = mockLexId(name);
      return { awsId: botId, arn: arn("lex", `bot/${botId}`) };
    }
    case "aws-native:lex:BotVersion":
      return { botVersion: "1" };
    case "aws-native:lex:BotAlias": {
      const aliasId = mockLexId(name);
      return { botAliasId: aliasId, arn: arn("lex", `bot-alias/${inputs.botId}/${aliasId}`) };
    }
    case "aws:cognito/userPool:UserPool":
      return { endpoint: `cognito-idp.${REGION}.${DNS_SUFFIX}/${id}` };
    default:
      return {};
  }
}

/** A Lex V2 id (10 upper-case letters and digits) derived from a logical name. */
export function mockLexId(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "").padEnd(10, "X").slice(0, 10);
}

function callResult(token: string): Record<string, string> {
  switch (token) {
    case "aws:index/getRegion:getRegion":
      return { id: REGION, region: REGION, name: REGION, endpoint: `ec2.${REGION}.${DNS_SUFFIX}`, description: "mock" };
    case "aws:index/getPartition:getPartition":
      return { id: PARTITION, partition: PARTITION, dnsSuffix: DNS_SUFFIX, reverseDnsPrefix: "com.amazonaws" };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { id: ACCOUNT, accountId: ACCOUNT, arn: `arn:${PARTITION}:iam::${ACCOUNT}:user/test`, userId: "AIDTEST" };
    default:
      throw new Error(`unexpected invoke ${token}`);
  }
}

/** Installs fresh mocks (project `qnabot-streaming`, stack `test`) and returns their recorder. */
export async function installMocks(options: MockOptions = {}): Promise<Recorder> {
  const resources: RecordedResource[] = [];
  const registrations = new Map<string, { parent?: string; dependsOn: string[]; retainOnDelete: boolean; provider?: string }>();
  const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const registration = registrations.get(`${args.type}::${args.name}`);
        resources.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          parent: registration?.parent,
          dependsOn: registration?.dependsOn ?? [],
          options: { retainOnDelete: registration?.retainOnDelete ?? false },
          provider: registration?.provider,
        });
        if (options.preview) return { id: undefined, state: args.inputs };
        const id = `${args.name}-id`;
        return { id, state: { ...args.inputs, ...computedState(args.type, args.name, id, args.inputs) } };
      },
      call(args) {
        return callResult(args.token);
      },
    },
    "qnabot-streaming",
    "test",
    options.preview ?? false,
  );
  // The mocks API does not pass the parent, dependencies or options to newResource; the
  // registration request has them.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(
      request: {
        getType(): string;
        getName(): string;
        getParent(): string;
        getDependenciesList(): string[];
        getRetainondelete?(): boolean;
        getProvider?(): string;
      },
      callback: unknown,
    ): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) => {
    registrations.set(`${request.getType()}::${request.getName()}`, {
      parent: request.getParent() ? nameOf(request.getParent()) : undefined,
      dependsOn: request.getDependenciesList().map(nameOf),
      retainOnDelete: request.getRetainondelete?.() ?? false,
      // A provider reference is `{urn}::{id}`.
      provider: request.getProvider?.() ? nameOf(request.getProvider?.().split("::").slice(0, -1).join("::") ?? "") : undefined,
    });
    return register(request, callback);
  };

  return {
    resources,
    ofType: (type) => resources.filter((r) => r.type === type),
    named(name) {
      const found = resources.filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
      return found[0];
    },
  };
}

/** Resolves once every resource registration the program started has completed. */
export async function registrationsSettled(): Promise<void> {
  // `waitForRPCs` is what `pulumi` itself awaits before ending a program; it is not typed.
  const runtime = pulumi.runtime as unknown as { waitForRPCs(): Promise<void> };
  await runtime.waitForRPCs();
}

/** An output's value and whether it is known (unknown outputs never run `apply`, so this avoids it). */
export async function settle<T>(output: pulumi.Output<T>): Promise<{ known: boolean; value: T | undefined }> {
  const internal = output as unknown as { isKnown: Promise<boolean>; promise(): Promise<T> };
  const [known, value] = await Promise.all([internal.isKnown, internal.promise()]);
  return { known, value: known ? value : undefined };
}

/** A known output's value; fails the test when it is unknown. */
export async function valueOf<T>(output: pulumi.Output<T> | undefined): Promise<T> {
  if (!output) throw new Error("output does not exist");
  const { known, value } = await settle(output);
  if (!known) throw new Error("output is unknown");
  return value as T;
}

/** The parsed policy document of a RolePolicy (recorded inputs are plain values). */
export function policyOf(resource: RecordedResource): PolicyDocument {
  return JSON.parse(resource.inputs.policy as string) as PolicyDocument;
}

export interface PolicyDocument {
  Version: string;
  Statement: {
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
  }[];
}

export const TYPES = {
  api: "aws:apigatewayv2/api:Api",
  route: "aws:apigatewayv2/route:Route",
  routeResponse: "aws:apigatewayv2/routeResponse:RouteResponse",
  asyncInvokeConfig: "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
  integration: "aws:apigatewayv2/integration:Integration",
  deployment: "aws:apigatewayv2/deployment:Deployment",
  stage: "aws:apigatewayv2/stage:Stage",
  table: "aws:dynamodb/table:Table",
  function: "aws:lambda/function:Function",
  permission: "aws:lambda/permission:Permission",
  functionUrl: "aws:lambda/functionUrl:FunctionUrl",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  apiGatewayAccount: "aws:apigateway/account:Account",
  domainName: "aws:apigatewayv2/domainName:DomainName",
  apiMapping: "aws:apigatewayv2/apiMapping:ApiMapping",
  record: "aws:route53/record:Record",
  dashboard: "aws:cloudwatch/dashboard:Dashboard",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  lexBot: "aws-native:lex:Bot",
  lexBotVersion: "aws-native:lex:BotVersion",
  lexBotAlias: "aws-native:lex:BotAlias",
  identityPool: "aws:cognito/identityPool:IdentityPool",
  identityPoolRoles: "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment",
  userPool: "aws:cognito/userPool:UserPool",
  userPoolClient: "aws:cognito/userPoolClient:UserPoolClient",
  streaming: "qnabot-streaming:index:StreamingComponent",
  lexBotComponent: "qnabot-streaming:index:LexBot",
  webIdentity: "qnabot-streaming:index:WebClientIdentity",
  qna: "qnabot-streaming:index:QnaBot",
} as const;

/** ARNs the mocks give resources, by logical name. */
export const MOCK_ARNS = {
  executeApi: (api: string) => `arn:${PARTITION}:execute-api:${REGION}:${ACCOUNT}:${api}-id`,
  table: (table: string) => `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${table}`,
  function: (fn: string) => `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${fn}`,
  invoke: (fn: string) =>
    `arn:${PARTITION}:apigateway:${REGION}:lambda:path/2015-03-31/functions/${MOCK_ARNS.function(fn)}/invocations`,
  logGroup: (group: string) => `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${group}`,
  /** The log group of a function, named as Lambda names it. */
  lambdaLogGroup: (fn: string) => MOCK_ARNS.logGroup(`/aws/lambda/${fn}`),
};
