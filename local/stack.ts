/**
 * The whole streaming system on loopback: dynalite, the Bedrock emulator (or real Bedrock),
 * the WebSocket gateway, the HTTP API, a Lambda Invoke API, a Cognito identity pool for
 * guests, a Lex V2 runtime for a QnABot-shaped bot and the chat page, with the real
 * connection and fulfillment handlers running in-process on the events API Gateway and Lex
 * send. The handlers find the emulators the way they find AWS: through environment
 * variables (AWS_ENDPOINT_URL_*, STREAMING_ENDPOINT, …), so no handler code knows it is local.
 */
import type { TokenPrices } from "../functions/fulfillment/token-budget";
import type { BedrockLatency, BedrockServiceTier, PromptCachingMode } from "../functions/fulfillment/prompt-caching";
import type { Context } from "aws-lambda";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { startLocalDynamo, type LocalDynamo } from "./dynamo";
import { startBedrockEmulator, type BedrockEmulator, type BedrockEmulatorOptions } from "./bedrock";
import {
  CredentialStore,
  DEFAULT_ROUTE_THROTTLES,
  DEFAULT_STAGE_THROTTLE,
  localIamUser,
  localRoleSession,
  startWebSocketGateway,
  type ConnectionsApiBehaviour,
  type GatewayLimits,
  type LocalCredential,
  type RouteThrottles,
  type StageThrottle,
  type WebSocketGateway,
} from "./gateway";
import { startLambdaApi, type LambdaApi } from "./lambda-api";
import { startLocalHttpApi, type LocalHttpApi } from "./http-api";
import { startLocalFunctionUrl, type LocalFunctionUrl } from "./function-url";
import { installResponseStreaming, type StreamingHandler } from "./response-streaming";
import { startLocalCognitoIdentityPool, type LocalCognitoIdentityPool } from "./cognito-identity";
import { createLocalUserPool, type LocalUserPool } from "./cognito-user-pool";
import { CodeHookError, startLocalLexRuntime, type LexCodeHookEvent, type LocalLexRuntime } from "./lex-runtime";
import type { DeployedBundles } from "./deployed-bundles";
import { presignWebSocketUrl } from "../client/presign";
import { applyEnv } from "./process-env";
import { startLocalS3, type LocalS3 } from "./s3";
import { startChatServer, type ChatServer } from "../client/chat-server";
import { anyPortSourceOf, imageSourcesOf } from "../client/web/csp";
import { signFunctionUrlPost } from "../client/function-url-signer";
import { CONNECTION_ROUTE_KEYS, FULFILLMENT_ROUTE_KEYS } from "../functions/shared/routes";
import { ENV } from "../functions/shared/env";
import { resetAwsClients } from "../functions/shared/aws";
import type { StreamFormat } from "../functions/shared/table";

/** Names the functions have in the local Lambda API (the fulfillment's async hand-off calls it by name). */
export const LOCAL_FUNCTIONS = { connection: "qnabot-streaming-connection", fulfillment: "qnabot-streaming-fulfillment" } as const;

/** Model the stand-in answers as; real Bedrock needs a model the account may invoke. */
/** The label of the offline stand-in model: what it is, and what it knows. */
export const OFFLINE_LABEL = "offline stand-in model: it knows only the bundled documents (local/documents/)";

export const DEFAULT_LOCAL_MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0";
/** The model with reasoning on and none named: Claude 3.5 Haiku cannot think, and Bedrock (and the emulator) refuse it thinking. */
export const DEFAULT_LOCAL_REASONING_MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0";
const LOCAL_KNOWLEDGE_BASE_ID = "LOCALKB001";

/** Every port the stack listens on (127.0.0.1); 0 lets the OS pick. */
export interface LocalStackPorts {
  /** The chat page. */
  readonly page: number;
  /** The WebSocket gateway and its @connections API. */
  readonly gateway: number;
  /** `POST /ask`. */
  readonly httpApi: number;
  /** The Lambda Invoke API. */
  readonly lambda: number;
  /** dynalite. */
  readonly dynamo: number;
  /** The Bedrock emulator (unused with `bedrock: "aws"`). */
  readonly bedrock: number;
  /** The Cognito identity pool. */
  readonly cognito: number;
  /** The Lex V2 runtime. */
  readonly lex: number;
  /** The streaming function URL (Server-Sent Events). */
  readonly functionUrl: number;
}

/** A mistake the user can fix (busy port, no credentials): its message is one line that names the fix. */
export class LocalStackSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocalStackSetupError";
  }
}

/** A pinned port another process holds. */
export class PortInUseError extends LocalStackSetupError {
  constructor(
    readonly service: keyof LocalStackPorts,
    readonly port: number,
  ) {
    super(`port ${port} (${service}) is in use`);
    this.name = "PortInUseError";
  }
}

/** `--bedrock aws` without any credential the default chain can find. */
export class MissingAwsCredentialsError extends LocalStackSetupError {
  constructor() {
    super(
      "--bedrock aws needs AWS credentials and none were found: run `aws configure` (or `aws sso login --profile <name>` and set AWS_PROFILE), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
    this.name = "MissingAwsCredentialsError";
  }
}

/** Starts one listener, turning a busy pinned port into a PortInUseError. */
async function listening<T>(service: keyof LocalStackPorts, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new PortInUseError(service, port);
    throw error;
  }
}

export interface LocalStackOptions {
  /** `emulator`: the offline stand-in model; `aws`: real Bedrock with the default credential chain. @default "emulator" */
  readonly bedrock?: "emulator" | "aws";
  /** Pace, scripts and faults of the Bedrock emulator. @default the emulator's defaults */
  readonly bedrockBehavior?: BedrockEmulatorOptions;
  /** Region of signatures and of real Bedrock. @default AWS_REGION, else "us-east-1" */
  readonly region?: string;
  /** Bedrock model id (or inference profile) for the LLM mode. @default DEFAULT_LOCAL_MODEL_ID */
  readonly modelId?: string;
  /** Knowledge base for `--bedrock aws`; the emulator always has its bundled documents. @default none */
  readonly knowledgeBaseId?: string;
  /** Model ARN for RetrieveAndGenerate with `--bedrock aws`. @default the LLM model's ARN */
  readonly knowledgeBaseModelArn?: string;
  /** WebSocket stage. @default "Prod" */
  readonly stage?: string;
  /** Ports to listen on, per service. @default 0 for each (the OS picks) */
  readonly ports?: Partial<LocalStackPorts>;
  /** Serve the chat page. @default true */
  readonly page?: boolean;
  /** API Gateway limits (message size, idle, max age), smaller in tests. @default AWS's */
  readonly gatewayLimits?: Partial<GatewayLimits>;
  /** Injected @connections latency and faults. @default none */
  readonly connectionsApi?: ConnectionsApiBehaviour;
  /**
   * The WebSocket stage's throttling (rate per second, burst), as the deployed stage's
   * throttlingRateLimit / throttlingBurstLimit; `false` for none.
   * @default DEFAULT_STAGE_THROTTLE (50 per second, burst 100: Pulumi.yaml's defaults)
   */
  readonly throttle?: StageThrottle | false;
  /**
   * Route-level throttles (the deployed stage's routeSettings): `ping` and `$default` each
   * with a bucket of its own, applied while `throttle` is on. A route given here replaces its
   * default; the other keeps its own, as StreamingComponentArgs.routeThrottling does.
   * @default DEFAULT_ROUTE_THROTTLES (ping 10/s burst 20, $default 5/s burst 10: the component's defaults)
   */
  readonly routeThrottles?: Partial<RouteThrottles>;
  /** More callers the gateway, the HTTP API and the Lex runtime accept (tests: other principals, Cognito identities). @default none */
  readonly credentials?: readonly LocalCredential[];
  /** Output safety: link schemes an answer keeps, as Pulumi config outputLinkSchemes. @default http, https, mailto */
  readonly outputLinkSchemes?: readonly string[];
  /**
   * Output safety: hosts an answer's image may load from, as Pulumi config outputImageHosts;
   * the chat page's Content-Security-Policy allows images from these hosts only. @default none
   */
  readonly outputImageHosts?: readonly string[];
  /**
   * Lex answers stream to, and are remembered for, session ids bound to no identity (stock Lex
   * Web UI guests), as the deployed `unboundSessionStreaming` setting (UNBOUND_SESSION_STREAMING).
   * @default false
   */
  readonly unboundSessionStreaming?: boolean;
  /** Cost control: tokens one asker may spend per UTC day, as Pulumi config tokenBudgetPerDay. @default none (off) */
  readonly tokenBudgetPerDay?: number;
  /** Token prices for the estimated cost of an answer, as Pulumi config tokenPricesUsdPerMillion. @default none (no estimate) */
  readonly tokenPrices?: TokenPrices;
  /**
   * Model reasoning: the thinking budget in tokens of an answer whose asker asks for it
   * (`"reasoning": true`), as Pulumi config reasoning / reasoningBudgetTokens; without a
   * `modelId`, the LLM mode then answers as DEFAULT_LOCAL_REASONING_MODEL_ID. @default none (off)
   */
  readonly reasoningBudgetTokens?: number;
  /** Feedback: days an answer's record and its rating are kept, as Pulumi config feedbackTtlDays. @default none (no feedback kept) */
  readonly feedbackTtlDays?: number;
  /**
   * Sources people can click, as Pulumi config sourceLinkBuckets: cited objects of these
   * buckets become presigned links to a local S3 (local/s3.ts) that serves the knowledge
   * base's documents as bucket `local-documents` and lets the functions' role read only these
   * buckets. @default none (s3:// sources stay text; no local S3 runs)
   */
  readonly sourceLinkBuckets?: readonly string[];
  /** Seconds a presigned source link works, as Pulumi config sourceLinkExpirySeconds. @default 900 */
  readonly sourceLinkExpirySeconds?: number;
  /** Bedrock prompt caching of LLM answers, as Pulumi config promptCaching. @default "auto" */
  readonly promptCaching?: PromptCachingMode;
  /** performanceConfig.latency of LLM and knowledge-base answers, as Pulumi config bedrockLatency. @default none sent */
  readonly bedrockLatency?: BedrockLatency;
  /** ConverseStream serviceTier, as Pulumi config bedrockServiceTier. @default none sent */
  readonly bedrockServiceTier?: BedrockServiceTier;
  /** Extra environment for the handlers (STREAM_STALL_MS, POWERTOOLS_LOG_LEVEL, …). @default none */
  readonly env?: Readonly<Record<string, string>>;
  /** Fulfillment timeout, as deployed. @default 120000 */
  readonly fulfillmentTimeoutMs?: number;
  /**
   * What runs as the functions: `source`, the handlers' TypeScript through tsx; `bundles`, the
   * esbuild bundles the component uploads (local/deployed-bundles.ts), loaded as the Lambda
   * runtime loads a code package. @default "source"
   */
  readonly handlers?: "source" | "bundles";
}

export interface PresignOptions {
  /** @default "text" (the parameter is left out, as Lex Web UI does) */
  readonly format?: StreamFormat;
  /** @default the chat user */
  readonly credential?: LocalCredential;
  /** @default 300 */
  readonly expiresInSeconds?: number;
  /** Signing time (epoch ms or a Date); a past one with a short expiry makes an expired URL. @default now */
  readonly now?: Date | number;
}

export interface LocalStack {
  /** The chat page, when served. */
  readonly pageUrl?: string;
  /** `ws://127.0.0.1:{port}/{stage}`: presign it (see `presign`) and connect. */
  readonly webSocketUrl: string;
  /** The @connections endpoint the fulfillment posts to (STREAMING_ENDPOINT). */
  readonly managementEndpoint: string;
  /** `POST` here with a SigV4 `Authorization` (service execute-api). */
  readonly askUrl: string;
  /** `POST /feedback` of the same HTTP API, signed the same way. */
  readonly feedbackUrl: string;
  /** The streaming function URL: `POST` with SigV4 (service lambda); `Accept: text/event-stream` for SSE. */
  readonly functionUrl: string;
  readonly region: string;
  /** What answers: OFFLINE_LABEL or the Bedrock model id. */
  readonly label: string;
  /** The local chat user the page and the CLI sign with. */
  readonly chatUser: LocalCredential;
  /** Whether Lex answers stream to session ids bound to no identity (LocalStackOptions.unboundSessionStreaming). */
  readonly unboundSessionStreaming: boolean;
  readonly gateway: WebSocketGateway;
  readonly dynamo: LocalDynamo;
  /** Undefined with `bedrock: "aws"`. */
  readonly bedrock?: BedrockEmulator;
  readonly lambda: LambdaApi;
  /** The Cognito identity pool for guests and signed-in users (what Lex Web UI's `cognito.poolId` names). */
  readonly cognito: LocalCognitoIdentityPool;
  /** The user pool whose ID tokens the identity pool accepts in `Logins` (Lex Web UI's login). */
  readonly userPool: LocalUserPool;
  /** The Lex V2 runtime whose bot's fulfillment is the fulfillment function. */
  readonly lex: LocalLexRuntime;
  /** The local S3 that source links point to; only with `sourceLinkBuckets`. */
  readonly s3?: LocalS3;
  /** Every credential the endpoints accept; the Cognito pool adds the ones it issues. */
  readonly credentials: CredentialStore;
  /** The code packages the functions run from, with `handlers: "bundles"`. */
  readonly bundles?: DeployedBundles;
  /** Presigns a WebSocket URL for `sessionId`, as the chat user unless told otherwise. */
  presign(sessionId: string, options?: PresignOptions): Promise<string>;
  /** Invokes the fulfillment function as Lex V2 would (a code hook event) and returns its response. */
  invokeFulfillment(event: unknown): Promise<unknown>;
  /** Resolves when no handler runs: every hand-off and every route invocation has finished. */
  idle(): Promise<void>;
  /** Stops everything and restores the environment it changed. */
  close(): Promise<void>;
}

/** The fulfillment's role on AWS: a credential the gateway accepts for @connections only. */
function fulfillmentRole(): LocalCredential {
  return localRoleSession("qnabot-streaming-fulfillment-role", {
    sessionName: LOCAL_FUNCTIONS.fulfillment,
    allow: { connect: false, manageConnections: true, recognizeText: false },
  });
}

/** With real Bedrock the handlers sign with the user's own credentials, so the gateway must accept those. */
async function userCredentialAsRole(): Promise<LocalCredential> {
  let resolved;
  try {
    resolved = await defaultProvider()();
  } catch (error) {
    if ((error as Error).name === "CredentialsProviderError") throw new MissingAwsCredentialsError();
    throw error;
  }
  return {
    ...resolved,
    identity: { userArn: "arn:aws:iam::000000000000:user/local-developer", accountId: "000000000000" },
    allow: { connect: false, manageConnections: true, recognizeText: false },
  };
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const region = options.region ?? process.env.AWS_REGION ?? "us-east-1";
  const useAws = options.bedrock === "aws";
  const modelId = options.modelId ?? (options.reasoningBudgetTokens ? DEFAULT_LOCAL_REASONING_MODEL_ID : DEFAULT_LOCAL_MODEL_ID);
  const ports: LocalStackPorts = { page: 0, gateway: 0, httpApi: 0, lambda: 0, dynamo: 0, bedrock: 0, cognito: 0, lex: 0, functionUrl: 0, ...options.ports };
  // Stopped in this order whatever was started: the gateway first, so every `$disconnect` still
  // runs against the tables; Bedrock before waiting on the functions, so no answer in flight
  // holds the shutdown up; the environment last but DynamoDB, so no handler ever runs without it.
  const parts: {
    page?: ChatServer;
    lex?: LocalLexRuntime;
    cognito?: LocalCognitoIdentityPool;
    gateway?: WebSocketGateway;
    httpApi?: LocalHttpApi;
    functionUrl?: LocalFunctionUrl;
    bedrock?: BedrockEmulator;
    lambda?: LambdaApi;
    lambdaClient?: LambdaClient;
    s3?: LocalS3;
    restoreEnv?: () => void;
    dynamo?: LocalDynamo;
    bundles?: DeployedBundles;
  } = {};
  const closeAll = async (): Promise<void> => {
    const { page, lex, cognito, gateway, httpApi, functionUrl, bedrock, lambda, lambdaClient, s3, restoreEnv, dynamo, bundles } = parts;
    for (const key of Object.keys(parts) as (keyof typeof parts)[]) delete parts[key];
    await page?.close();
    await lex?.close();
    await cognito?.close();
    await gateway?.close();
    await httpApi?.close();
    await functionUrl?.close();
    await bedrock?.close();
    await s3?.close();
    await httpApi?.idle();
    await functionUrl?.idle();
    await lambda?.idle();
    await lambda?.close();
    lambdaClient?.destroy();
    if (restoreEnv) {
      restoreEnv();
      resetAwsClients();
    }
    await dynamo?.close();
    bundles?.remove();
  };

  try {
    const role = useAws ? await userCredentialAsRole() : fulfillmentRole();
    const chatUser = localIamUser("local-chat-user", { allow: { connect: true, manageConnections: false, recognizeText: true } });
    const credentials = [role, chatUser, ...(options.credentials ?? [])];
    const store = new CredentialStore(credentials);

    // DynamoDB and the Lambda API accept only the functions' role, as on AWS only the functions may call them.
    const dynamo = (parts.dynamo = await listening("dynamo", ports.dynamo, () => startLocalDynamo({ port: ports.dynamo, credentials: role, region })));
    const bedrock = useAws
      ? undefined
      : (parts.bedrock = await listening("bedrock", ports.bedrock, () => startBedrockEmulator({ ...options.bedrockBehavior, port: ports.bedrock })));

    // Required only in this mode: bundling loads esbuild and Pulumi, which `npm start` needs not.
    const bundles =
      options.handlers === "bundles"
        ? // eslint-disable-next-line @typescript-eslint/no-require-imports
          (parts.bundles = await (require("./deployed-bundles") as typeof import("./deployed-bundles")).writeDeployedBundles([
            "connection",
            "fulfillment",
            "streamingHttp",
          ]))
        : undefined;
    // Handlers are loaded lazily: Powertools reads its log level when a module loads, so the
    // environment must be in place first.
    const load = (name: "connection" | "fulfillment"): Handler => (bundles ? (bundles.handler(name) as Handler) : loadHandler(name));
    const handlers = {
      connection: ((event, context) => load("connection")(event, context)) as Handler,
      fulfillment: ((event, context) => load("fulfillment")(event, context)) as Handler,
    };
    const fulfillmentTimeoutMs = options.fulfillmentTimeoutMs ?? 120_000;
    const lambda = (parts.lambda = await listening("lambda", ports.lambda, () =>
      startLambdaApi({
        region,
        port: ports.lambda,
        credentials: [role],
        functions: {
          [LOCAL_FUNCTIONS.connection]: { handler: handlers.connection, timeoutMs: 10_000 },
          [LOCAL_FUNCTIONS.fulfillment]: { handler: handlers.fulfillment, timeoutMs: fulfillmentTimeoutMs },
        },
      }),
    ));
    // Lex calls the code hook with its service role; locally the functions' role stands in for it.
    const lambdaClient = new LambdaClient({ endpoint: lambda.endpoint, region, credentials: role, maxAttempts: 1 });
    parts.lambdaClient = lambdaClient;
    const invokeFulfillment = async (event: unknown): Promise<{ payload: unknown; functionError?: string }> => {
      const output = await lambdaClient.send(
        new InvokeCommand({ FunctionName: LOCAL_FUNCTIONS.fulfillment, Payload: Buffer.from(JSON.stringify(event), "utf8") }),
      );
      const text = output.Payload ? Buffer.from(output.Payload).toString("utf8") : "null";
      return { payload: JSON.parse(text), functionError: output.FunctionError };
    };

    const connectionIntegration = { handler: handlers.connection, functionName: LOCAL_FUNCTIONS.connection, timeoutMs: 10_000 };
    const gateway = (parts.gateway = await listening("gateway", ports.gateway, () =>
      startWebSocketGateway({
        stage: options.stage ?? "Prod",
        region,
        port: ports.gateway,
        credentials: store,
        limits: options.gatewayLimits,
        connectionsApi: options.connectionsApi,
        throttle: options.throttle ?? DEFAULT_STAGE_THROTTLE,
        routeThrottles: { ...DEFAULT_ROUTE_THROTTLES, ...options.routeThrottles },
        handlers: {
          ...Object.fromEntries(CONNECTION_ROUTE_KEYS.map((key) => [key, connectionIntegration])),
          ...Object.fromEntries(
            FULFILLMENT_ROUTE_KEYS.map((key) => [
              key,
              { handler: handlers.fulfillment, functionName: LOCAL_FUNCTIONS.fulfillment, timeoutMs: fulfillmentTimeoutMs },
            ]),
          ),
        },
      }),
    ));

    const httpApi = (parts.httpApi = await listening("httpApi", ports.httpApi, () =>
      startLocalHttpApi({ handler: handlers.fulfillment, credentials: store, region, port: ports.httpApi }),
    ));

    const functionUrl = (parts.functionUrl = await listening("functionUrl", ports.functionUrl, () =>
      startLocalFunctionUrl({
        handler: bundles ? bundles.streamingHandler("streamingHttp") : loadStreamingHandler(),
        credentials: store,
        region,
        port: ports.functionUrl,
      }),
    ));

    const userPool = createLocalUserPool({ region });
    const cognito = (parts.cognito = await listening("cognito", ports.cognito, () =>
      startLocalCognitoIdentityPool({ region, credentials: store, port: ports.cognito, userPool }),
    ));
    // Lex invokes the fulfillment as a synchronous Lambda Invoke, so it runs (and is timed) like any invocation.
    const lex = (parts.lex = await listening("lex", ports.lex, () =>
      startLocalLexRuntime({
        region,
        credentials: store,
        port: ports.lex,
        invokeCodeHook: async (event: LexCodeHookEvent) => {
          const { payload, functionError } = await invokeFulfillment(event);
          if (functionError) throw new CodeHookError(functionError);
          return payload;
        },
      }),
    ));

    // Only the functions' role signs links, and it may read only the allowlisted buckets.
    const sourceLinkBuckets = options.sourceLinkBuckets ?? [];
    const s3 = sourceLinkBuckets.length > 0 ? (parts.s3 = await startLocalS3({ credentials: [role], readableBuckets: sourceLinkBuckets, region })) : undefined;

    parts.restoreEnv = applyEnv({
      AWS_REGION: region,
      ...(useAws
        ? {}
        : {
            AWS_ACCESS_KEY_ID: role.accessKeyId,
            AWS_SECRET_ACCESS_KEY: role.secretAccessKey,
            AWS_SESSION_TOKEN: role.sessionToken,
            AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock!.endpoint,
            AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME: bedrock!.endpoint,
          }),
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: LOCAL_FUNCTIONS.fulfillment,
      [ENV.connectionsTable]: dynamo.connectionsTable,
      [ENV.connectionTtlSeconds]: "7200",
      [ENV.unboundSessionStreaming]: String(options.unboundSessionStreaming === true),
      [ENV.streamingEndpoint]: gateway.managementEndpoint,
      [ENV.memoryTable]: dynamo.memoryTable,
      [ENV.llmModelId]: modelId,
      [ENV.knowledgeBaseId]: useAws ? options.knowledgeBaseId : LOCAL_KNOWLEDGE_BASE_ID,
      [ENV.knowledgeBaseModelArn]: options.knowledgeBaseModelArn ?? `arn:aws:bedrock:${region}::foundation-model/${modelId.replace(/^(us|eu|apac|global)\./, "")}`,
      POWERTOOLS_METRICS_NAMESPACE: "QnABotStreamingLocal",
      ...(options.outputLinkSchemes ? { [ENV.outputLinkSchemes]: options.outputLinkSchemes.join(",") } : {}),
      ...(options.outputImageHosts ? { [ENV.outputImageHosts]: options.outputImageHosts.join(",") } : {}),
      // dynalite runs in this process and, on a loaded machine, answers far slower than DynamoDB:
      // the deployed 10 s would fail calls that are merely queued. The hang suite sets its own.
      [ENV.dynamoRequestTimeoutMs]: "60000",
      ...(options.tokenBudgetPerDay ? { [ENV.tokenBudgetPerDay]: String(options.tokenBudgetPerDay) } : {}),
      ...(options.tokenPrices ? { [ENV.tokenPricesUsdPerMillion]: `${options.tokenPrices.input},${options.tokenPrices.output}` } : {}),
      ...(options.reasoningBudgetTokens ? { [ENV.reasoningBudgetTokens]: String(options.reasoningBudgetTokens) } : {}),
      ...(options.feedbackTtlDays ? { [ENV.feedbackTtlDays]: String(options.feedbackTtlDays) } : {}),
      ...(s3
        ? {
            AWS_ENDPOINT_URL_S3: s3.endpoint,
            [ENV.sourceLinkBuckets]: sourceLinkBuckets.join(","),
            ...(options.sourceLinkExpirySeconds ? { [ENV.sourceLinkExpirySeconds]: String(options.sourceLinkExpirySeconds) } : {}),
          }
        : {}),
      ...(options.promptCaching ? { [ENV.promptCaching]: options.promptCaching } : {}),
      ...(options.bedrockLatency ? { [ENV.bedrockLatency]: options.bedrockLatency } : {}),
      ...(options.bedrockServiceTier ? { [ENV.bedrockServiceTier]: options.bedrockServiceTier } : {}),
      ...options.env,
    });
    resetAwsClients();

    // Offline, the page's header says what the stand-in can answer from (issue 23).
    const label = useAws ? `Amazon Bedrock (${modelId})` : OFFLINE_LABEL;
    const presign: LocalStack["presign"] = (sessionId, presignOptions = {}) =>
      presignWebSocketUrl({
        endpoint: gateway.url,
        region,
        credentials: presignOptions.credential ?? chatUser,
        query: { sessionId, format: presignOptions.format },
        expiresInSeconds: presignOptions.expiresInSeconds,
        now: presignOptions.now,
      });

    const page =
      options.page === false
        ? undefined
        : (parts.page = await listening("page", ports.page, () =>
            startChatServer({
              sign: (sessionId) => presign(sessionId, { format: "json" }),
              signAsk: (body) => signFunctionUrlPost({ url: functionUrl.url, region, credentials: chatUser, body }),
              label,
              port: ports.page,
              // The page may connect to this gateway only, and load answer images only from the allowed hosts.
              pagePolicy: { connectSources: [anyPortSourceOf(gateway.url)], imageSources: imageSourcesOf(options.outputImageHosts ?? []) },
            }),
          ));

    return {
      pageUrl: page?.url,
      webSocketUrl: gateway.url,
      managementEndpoint: gateway.managementEndpoint,
      askUrl: httpApi.askUrl,
      feedbackUrl: httpApi.feedbackUrl,
      functionUrl: functionUrl.url,
      region,
      label,
      chatUser,
      unboundSessionStreaming: options.unboundSessionStreaming === true,
      gateway,
      dynamo,
      bedrock,
      lambda,
      cognito,
      userPool,
      lex,
      s3,
      credentials: store,
      bundles,
      presign,
      async invokeFulfillment(event) {
        return (await invokeFulfillment(event)).payload;
      },
      async idle() {
        await lex.idle();
        await gateway.idle();
        await httpApi.idle();
        await functionUrl.idle();
        await lambda.idle();
        await gateway.idle();
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

// The handlers' own event and result types differ per route; the emulators check shapes on the wire.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (event: any, context: Context) => Promise<any>;

/** The streaming function URL's handler, run under the stand-in for the runtime's `awslambda` global. */
function loadStreamingHandler(): StreamingHandler {
  installResponseStreaming();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../functions/fulfillment/url-handler").handler as StreamingHandler;
}

function loadHandler(name: "connection" | "fulfillment"): Handler {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = name === "connection" ? require("../functions/connection/handler") : require("../functions/fulfillment/handler");
  return module.handler as Handler;
}
