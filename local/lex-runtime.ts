/**
 * A local Amazon Lex V2 runtime for one QnABot-shaped bot: `RecognizeText` as
 * `@aws-sdk/client-lex-runtime-v2` calls it (REST-JSON
 * `POST /bots/{botId}/botAliases/{botAliasId}/botLocales/{localeId}/sessions/{sessionId}/text`,
 * SigV4 with service `lex`). Like QnABot's bot, every utterance matches `QnaIntent` (its
 * `{qnaslot}` sample utterance takes any text) whose fulfillment code hook is the
 * fulfillment Lambda: the endpoint builds the Lex V2 code hook event (Lambda input event
 * format 1.0), invokes the function, and maps its answer back into the RecognizeText
 * response. Session attributes are kept per session between calls, as Lex keeps them until
 * the session's idle timeout. A hook that does not return within Lex's 30 s gets Lex's
 * timeout instead of its answer (Lex V2 API reference, RecognizeText:
 * https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_RecognizeText.html). The SDK's Node client speaks HTTP/2 to this service (h2c on an
 * `http://` endpoint) and a browser HTTP/1.1, so the port serves both.
 */
import { randomUUID } from "node:crypto";
import { listenDualProtocol, type CompatRequest as IncomingMessage, type CompatResponse as ServerResponse } from "./bedrock/dual-protocol";
import { AwsError, answerPreflight, jsonObject, sendJson, sendRestJsonError } from "./aws-http";
import type { CredentialLookup, LocalCredential } from "./gateway/credentials";
import { SigV4Verifier, SignatureError } from "./gateway/sigv4";
import { BodyTooLargeError, verifySignedRequest } from "./signed-request";
import {
  BOT_IDLE_SESSION_TTL_SECONDS,
  DEFAULT_BOT_LOCALES,
  FALLBACK_INTENT,
  QNA_INTENT,
  QNA_SLOT,
} from "../components/bot-definition";
import { LEX_CODE_HOOK_TIMEOUT_MS } from "../functions/fulfillment/config";

/** The bot a Lex client names in its request path. */
export interface LocalLexBot {
  /** @default "QNABOTLOCL" (a bot id is 10 upper-case letters and digits) */
  readonly id: string;
  /** @default "QnaBot" */
  readonly name: string;
  /** Lex's built-in test alias. @default "TSTALIASID" */
  readonly aliasId: string;
  /** @default "TestBotAlias" */
  readonly aliasName: string;
  /** @default "en_US" */
  readonly localeId: string;
  /** The version the alias points at. @default "DRAFT" */
  readonly version: string;
}

export const DEFAULT_LOCAL_BOT: LocalLexBot = {
  id: "QNABOTLOCL",
  name: "QnaBot",
  aliasId: "TSTALIASID",
  aliasName: "TestBotAlias",
  localeId: DEFAULT_BOT_LOCALES[0],
  version: "DRAFT",
};

/** The deployed bot's intents (components/bot-definition.ts): local and deployed cannot drift. */
export { QNA_INTENT, QNA_SLOT };

/** A function error (Lambda's `X-Amz-Function-Error`): Lex answers DependencyFailedException. */
export class CodeHookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CodeHookError";
  }
}

export interface LocalLexRuntimeOptions {
  /** Invokes the fulfillment code hook synchronously; throws CodeHookError on a function error. */
  readonly invokeCodeHook: (event: LexCodeHookEvent) => Promise<unknown>;
  /** Who may sign (the stack's credential store, so Cognito guests are accepted). */
  readonly credentials: readonly LocalCredential[] | CredentialLookup;
  /** @default "us-east-1" */
  readonly region?: string;
  /** @default "000000000000" */
  readonly accountId?: string;
  /** @default DEFAULT_LOCAL_BOT */
  readonly bot?: Partial<LocalLexBot>;
  /** A session's attributes are forgotten after this long without a request (QnABot's bot: 300 s). @default 300000 */
  readonly idleSessionTtlMs?: number;
  /**
   * How long Lex waits for the fulfillment code hook before answering with its timeout
   * instead (LEX_CODE_HOOK_TIMEOUT_MS). Never more than Lex's 30 s: tests may shorten it to
   * see the cut without waiting for it. @default 30000
   */
  readonly codeHookTimeoutMs?: number;
  /** Port on 127.0.0.1. @default 0 (the OS picks) */
  readonly port?: number;
  /** Clock (epoch ms) for signatures and session expiry. @default Date.now */
  readonly now?: () => number;
}

export interface LocalLexRuntime {
  /** `http://127.0.0.1:{port}`: the client's `endpoint`, or AWS_ENDPOINT_URL_LEX_RUNTIME_V2. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly bot: LocalLexBot;
  /** Resolves once no code hook invocation is running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

type Attributes = Record<string, string>;

interface SlotValue {
  shape: "Scalar";
  value: { originalValue: string; interpretedValue: string; resolvedValues: string[] };
}

interface LexIntent {
  name: string;
  slots: Record<string, SlotValue | null>;
  state: string;
  confirmationState: string;
}

/** The Lex V2 Lambda input event (format 1.0) of a fulfillment code hook for a text utterance. */
export interface LexCodeHookEvent {
  messageVersion: "1.0";
  invocationSource: "FulfillmentCodeHook";
  inputMode: "Text";
  responseContentType: string;
  sessionId: string;
  inputTranscript: string;
  bot: { id: string; name: string; aliasId: string; aliasName: string; localeId: string; version: string };
  interpretations: { intent: LexIntent; nluConfidence?: number; interpretationSource: "Lex" }[];
  requestAttributes: Attributes;
  sessionState: { sessionAttributes: Attributes; activeContexts: unknown[]; intent: LexIntent; originatingRequestId: string };
  transcriptions: { transcription: string; transcriptionConfidence: number; resolvedContext: { intent: string }; resolvedSlots: Record<string, unknown> }[];
}

/** Path and body constraints of RecognizeText (Lex V2 runtime API reference). */
const BOT_ID = /^[0-9a-zA-Z]+$/;
const ALIAS_ID = /^(\bTSTALIASID\b|[0-9a-zA-Z]+)$/;
const SESSION_ID = /^[0-9a-zA-Z._:-]+$/;
const MAX_TEXT_CHARS = 1024;
export const MAX_RECOGNIZE_TEXT_BODY_BYTES = 1024 * 1024;
const ROUTE = /^\/bots\/([^/]+)\/botAliases\/([^/]+)\/botLocales\/([^/]+)\/sessions\/([^/]+)\/text$/;
const DIALOG_ACTIONS = new Set(["Close", "ConfirmIntent", "Delegate", "ElicitIntent", "ElicitSlot"]);

function validation(message: string): AwsError {
  return new AwsError(400, "ValidationException", message);
}

function pathMember(value: string, member: string, pattern: RegExp, min: number, max: number): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    throw validation(`Invalid ${member}: not a valid percent-encoded value`);
  }
  if (decoded.length < min || decoded.length > max) throw validation(`1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length between ${min} and ${max}`);
  if (!pattern.test(decoded)) throw validation(`1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern.source.slice(1, -1)}`);
  return decoded;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string map (session or request attributes); anything else is a validation error. */
function attributes(value: unknown, member: string): Attributes | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw validation(`${member} must be a map of strings`);
  const out: Attributes = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") throw validation(`${member}.${key} must be a string`);
    out[key] = item;
  }
  return out;
}

/** The intent QnABot's bot recognises for any text: QnaIntent with the whole utterance in its slot. */
export function qnaIntent(text: string, state: string): LexIntent {
  return {
    name: QNA_INTENT,
    slots: { [QNA_SLOT]: { shape: "Scalar", value: { originalValue: text, interpretedValue: text, resolvedValues: [] } } },
    state,
    confirmationState: "None",
  };
}

export interface CodeHookEventInput {
  readonly bot: LocalLexBot;
  readonly sessionId: string;
  readonly text: string;
  readonly sessionAttributes: Attributes;
  readonly requestAttributes: Attributes;
  readonly originatingRequestId: string;
}

/** The event Lex sends a fulfillment code hook for a text utterance (Lex V2 "Lambda input event format"). */
export function codeHookEvent(input: CodeHookEventInput): LexCodeHookEvent {
  const intent = qnaIntent(input.text, "ReadyForFulfillment");
  const { id, name, aliasId, aliasName, localeId, version } = input.bot;
  return {
    messageVersion: "1.0",
    invocationSource: "FulfillmentCodeHook",
    inputMode: "Text",
    responseContentType: "text/plain; charset=utf-8",
    sessionId: input.sessionId,
    inputTranscript: input.text,
    bot: { id, name, aliasId, aliasName, localeId, version },
    interpretations: [
      { intent, nluConfidence: 1, interpretationSource: "Lex" },
      { intent: { name: FALLBACK_INTENT, slots: {}, state: "ReadyForFulfillment", confirmationState: "None" }, interpretationSource: "Lex" },
    ],
    requestAttributes: input.requestAttributes,
    sessionState: { sessionAttributes: input.sessionAttributes, activeContexts: [], intent, originatingRequestId: input.originatingRequestId },
    transcriptions: [{ transcription: input.text, transcriptionConfidence: 1, resolvedContext: { intent: QNA_INTENT }, resolvedSlots: {} }],
  };
}

/** What RecognizeText answers, mapped from the code hook's response; an unusable response is Lex's DependencyFailedException. */
export function recognizeTextResponse(event: LexCodeHookEvent, hookResponse: unknown): Record<string, unknown> {
  const invalid = (why: string): AwsError => new AwsError(424, "DependencyFailedException", `Invalid Lambda Response: ${why}`);
  if (!isRecord(hookResponse)) throw invalid("the response must be a JSON object");
  const state = hookResponse.sessionState;
  if (!isRecord(state) || !isRecord(state.dialogAction) || typeof state.dialogAction.type !== "string" || !DIALOG_ACTIONS.has(state.dialogAction.type)) {
    throw invalid("sessionState.dialogAction.type must be one of Close, ConfirmIntent, Delegate, ElicitIntent, ElicitSlot");
  }
  let sessionAttributes: Attributes;
  try {
    sessionAttributes = attributes(state.sessionAttributes, "sessionState.sessionAttributes") ?? {};
  } catch (error) {
    throw invalid((error as Error).message);
  }
  const returned = isRecord(state.intent) ? state.intent : undefined;
  const intent: LexIntent = {
    ...event.sessionState.intent,
    ...(returned && typeof returned.name === "string" ? { name: returned.name } : {}),
    ...(returned && isRecord(returned.slots) ? { slots: returned.slots as LexIntent["slots"] } : {}),
    state: returned && typeof returned.state === "string" ? returned.state : state.dialogAction.type === "Close" ? "Fulfilled" : event.sessionState.intent.state,
  };
  const messages = hookResponse.messages;
  if (messages !== undefined && (!Array.isArray(messages) || !messages.every((m) => isRecord(m) && typeof m.contentType === "string"))) {
    throw invalid("messages must be a list of { contentType, content }");
  }
  return {
    ...(Array.isArray(messages) && messages.length > 0 ? { messages } : {}),
    sessionState: {
      dialogAction: state.dialogAction,
      intent,
      sessionAttributes,
      originatingRequestId: event.sessionState.originatingRequestId,
    },
    interpretations: [
      { intent, nluConfidence: { score: 1 }, interpretationSource: "Lex" },
      { intent: { name: FALLBACK_INTENT, slots: {} }, interpretationSource: "Lex" },
    ],
    ...(Object.keys(event.requestAttributes).length > 0 ? { requestAttributes: event.requestAttributes } : {}),
    sessionId: event.sessionId,
  };
}

/**
 * Lex's answer to a code hook that did not return within its 30 s: the client gets Lex's
 * timeout, never the answer (a hook with no timeout message configured; QnABot's bot
 * configures none). The Lambda itself is not stopped: it runs on, unseen, to its own timeout.
 */
export function codeHookTimedOut(timeoutMs: number): AwsError {
  return new AwsError(424, "DependencyFailedException", `Lambda function timed out: the code hook did not return within ${timeoutMs / 1000} seconds`);
}

/** Resolves with the hook's response, or rejects with Lex's timeout once `timeoutMs` has passed. */
function withinCodeHookTimeout<T>(invocation: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(codeHookTimedOut(timeoutMs)), timeoutMs);
  });
  return Promise.race([invocation, cut]).finally(() => clearTimeout(timer));
}

export async function startLocalLexRuntime(options: LocalLexRuntimeOptions): Promise<LocalLexRuntime> {
  const codeHookTimeoutMs = options.codeHookTimeoutMs ?? LEX_CODE_HOOK_TIMEOUT_MS;
  if (!(codeHookTimeoutMs > 0 && codeHookTimeoutMs <= LEX_CODE_HOOK_TIMEOUT_MS)) {
    throw new RangeError(`codeHookTimeoutMs must be above 0 and at most Lex's ${LEX_CODE_HOOK_TIMEOUT_MS} ms, got ${codeHookTimeoutMs}`);
  }
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? "000000000000";
  const bot: LocalLexBot = { ...DEFAULT_LOCAL_BOT, ...options.bot };
  const idleTtlMs = options.idleSessionTtlMs ?? BOT_IDLE_SESSION_TTL_SECONDS * 1000;
  const now = options.now ?? Date.now;
  const verifier = new SigV4Verifier({ credentials: options.credentials, region, service: "lex", now });
  const sessions = new Map<string, { attributes: Attributes; lastUsed: number }>();
  const running = new Set<Promise<unknown>>();

  async function recognizeText(req: IncomingMessage, match: RegExpExecArray): Promise<Record<string, unknown>> {
    let credential: LocalCredential;
    let bytes: Buffer;
    try {
      // The caller is judged from its headers first; a known key id with a bad signature has its
      // body read from the budget every local endpoint shares (signed-request.ts).
      ({ credential, body: bytes } = await verifySignedRequest(verifier, req, MAX_RECOGNIZE_TEXT_BODY_BYTES));
    } catch (error) {
      if (error instanceof SignatureError) throw new AwsError(403, error.errorType, error.message);
      if (error instanceof BodyTooLargeError) throw validation("Request body is too large");
      throw error;
    }
    const [botId, aliasId, localeId, sessionId] = [
      pathMember(match[1], "botId", BOT_ID, 10, 10),
      pathMember(match[2], "botAliasId", ALIAS_ID, 10, 10),
      pathMember(match[3], "localeId", /^.+$/, 1, 20),
      pathMember(match[4], "sessionId", SESSION_ID, 2, 100),
    ];
    if (credential.allow?.recognizeText === false) {
      throw new AwsError(
        403,
        "AccessDeniedException",
        `User: ${credential.identity.userArn} is not authorized to perform: lex:RecognizeText on resource: arn:aws:lex:${region}:${accountId}:bot-alias/${botId}/${aliasId} because no identity-based policy allows the lex:RecognizeText action`,
      );
    }
    if (botId !== bot.id) throw new AwsError(404, "ResourceNotFoundException", `Could not find bot ${botId} in ${region}`);
    if (aliasId !== bot.aliasId) throw new AwsError(404, "ResourceNotFoundException", `Could not find alias ${aliasId} of bot ${botId}`);
    if (localeId !== bot.localeId) throw new AwsError(404, "ResourceNotFoundException", `Could not find locale ${localeId} of bot ${botId} alias ${aliasId}`);

    const body = jsonObject(bytes, validation("Request body must be a JSON object"));
    if (typeof body.text !== "string" || body.text.length < 1 || body.text.length > MAX_TEXT_CHARS) {
      throw validation(`1 validation error detected: Value at 'text' failed to satisfy constraint: Member must have length between 1 and ${MAX_TEXT_CHARS}`);
    }
    if (body.sessionState !== undefined && !isRecord(body.sessionState)) throw validation("sessionState must be an object");
    const requested = attributes(isRecord(body.sessionState) ? body.sessionState.sessionAttributes : undefined, "sessionState.sessionAttributes");
    const requestAttributes = attributes(body.requestAttributes, "requestAttributes") ?? {};

    const key = `${botId}/${aliasId}/${localeId}/${sessionId}`;
    const at = now();
    // Sessions past their idle timeout are gone, as in Lex; sweeping here keeps the map bounded by the live ones.
    for (const [other, session] of sessions) if (at - session.lastUsed >= idleTtlMs) sessions.delete(other);
    const previous = sessions.get(key)?.attributes ?? {};
    // Attributes the client sends replace the session's; without them the session's carry over.
    const event = codeHookEvent({ bot, sessionId, text: body.text, sessionAttributes: requested ?? previous, requestAttributes, originatingRequestId: randomUUID() });

    let hookResponse: unknown;
    const invocation = options.invokeCodeHook(event);
    running.add(invocation);
    // A hook past the cut still runs to its end (Lex does not stop the Lambda); only its answer is lost.
    invocation.catch(() => undefined).finally(() => running.delete(invocation));
    try {
      hookResponse = await withinCodeHookTimeout(invocation, codeHookTimeoutMs);
    } catch (error) {
      if (error instanceof CodeHookError) throw new AwsError(424, "DependencyFailedException", `Received error response from Lambda: ${error.message}`);
      throw error;
    }
    const response = recognizeTextResponse(event, hookResponse);
    sessions.set(key, { attributes: (response.sessionState as { sessionAttributes: Attributes }).sessionAttributes, lastUsed: now() });
    return response;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (answerPreflight(req, res)) return;
    const path = (req.url ?? "/").split("?")[0];
    const match = ROUTE.exec(path);
    if (req.method !== "POST" || !match) {
      req.resume();
      throw new AwsError(404, "UnknownOperationException", `No operation at ${req.method} ${path}: this endpoint serves RecognizeText only`);
    }
    sendJson(res, 200, await recognizeText(req, match), "application/json");
  }

  const server = await listenDualProtocol(
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        if (!(error instanceof AwsError)) console.error("[lex runtime] request failed", error);
        const answer = error instanceof AwsError ? error : new AwsError(500, "InternalServerException", "internal error");
        if (res.headersSent) res.destroy();
        else sendRestJsonError(res, answer);
      });
    },
    "127.0.0.1",
    options.port ?? 0,
  );
  const port = server.port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region,
    bot,
    idle: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    close: () => server.close(),
  };
}
