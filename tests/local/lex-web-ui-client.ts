/**
 * A chat client that behaves as Lex Web UI does, written from docs/clients.md ("Lex Web UI") (not from
 * its code): a guest Cognito identity through `@aws-sdk/client-cognito-identity`, a session id
 * that is `lex-web-ui-` + 4 random hex digits in stock 0.22–0.24.1 (the identity id in 0.21.7
 * and QnABot's own client page), a `@smithy/signature-v4` presign of
 * `{StreamingWebSocketEndpoint}?sessionId={userId}` (service execute-api, GET, expiresIn 3600,
 * only `host` signed and that is the hostname without the port, no `format`), `{"action":"ping"}`
 * on open and every 9 minutes for 2 hours, no reconnect, and questions through Lex
 * `RecognizeText` with that same id and the streaming session attributes. While a question is
 * pending, every text frame except the literal `/stop/` is kept. Logged in (a user signed in
 * through the Cognito user pool), its loaders call `GetId` and `GetCredentialsForIdentity` with
 * `Logins: {"cognito-idp.{region}.amazonaws.com/{userPoolId}": idToken}`, and
 * `LexClient.initCredentials` adopts the returned `identityId` as the session id (clients.md).
 */
import { randomInt } from "node:crypto";
import { CognitoIdentityClient, GetCredentialsForIdentityCommand, GetIdCommand } from "@aws-sdk/client-cognito-identity";
import { LexRuntimeV2Client, RecognizeTextCommand, type RecognizeTextCommandOutput } from "@aws-sdk/client-lex-runtime-v2";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity } from "@smithy/types";
import { openSocket, type StackSocket } from "./stack-helpers";

const PING_EVERY_MS = 9 * 60 * 1000;
const PING_FOR_MS = 2 * 60 * 60 * 1000;

/** Which Lex Web UI: stock 0.22–0.24.1 keeps its random id; 0.21.7 (and QnABot's page) sends the identity id. */
export type LexWebUiVersion = "stock" | "identity-id";

export interface LexWebUiOptions {
  /** @default "stock" */
  readonly version?: LexWebUiVersion;
  /** Forces the stock random id (collision tests, and an attacker naming a victim's id). @default `lex-web-ui-` + 4 random hex digits */
  readonly userId?: string;
  /**
   * A user signed in through the Cognito user pool: the loaders' `getCredentials(poolId,
   * region, logins)` path. The session id is then the identity id, whatever `version` says.
   * @default a guest (no logins)
   */
  readonly login?: { readonly providerName: string; readonly idToken: string };
  /** Ask through Lex only, without opening the WebSocket (streaming off, or its connect failed). @default false */
  readonly noSocket?: boolean;
}

/** Stock Lex Web UI's session id: 65,536 possible values (clients.md). */
export function stockUserId(): string {
  return `lex-web-ui-${randomInt(0, 0x10000).toString(16).padStart(4, "0")}`;
}

/** The presigned connect URL, signed as Lex Web UI signs it; the URL keeps the port so a local socket can reach it. */
export async function lexWebUiConnectUrl(endpoint: string, userId: string, region: string, credentials: AwsCredentialIdentity): Promise<string> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ service: "execute-api", region, credentials, sha256: Hash.bind(null, "sha256") });
  const signed = await signer.presign(
    new HttpRequest({ method: "GET", protocol: url.protocol, hostname: url.hostname, path: url.pathname, query: { sessionId: userId }, headers: { host: url.hostname } }),
    { expiresIn: 3600 },
  );
  const search = new URLSearchParams(signed.query as Record<string, string>).toString();
  return `${url.protocol}//${url.host}${url.pathname}?${search}`;
}

/** What a Lex Web UI is configured with: the endpoints `npm start` prints (a LocalStack has them all). */
export interface LexWebUiConfig {
  readonly region: string;
  /** `StreamingWebSocketEndpoint`. */
  readonly webSocketUrl: string;
  readonly cognito: { readonly endpoint: string; readonly identityPoolId: string };
  readonly lex: { readonly endpoint: string; readonly bot: { readonly id: string; readonly aliasId: string; readonly localeId: string } };
}

export class LexWebUiClient {
  /** Every message the socket received, in order (text of each). */
  readonly received: string[] = [];
  private pendingFrames: string[] | undefined;
  private pingTimer?: NodeJS.Timeout;

  private constructor(
    readonly userId: string,
    readonly identityId: string,
    readonly credentials: AwsCredentialIdentity,
    readonly connectUrl: string,
    /** Undefined when started with `noSocket`. */
    readonly socket: StackSocket | undefined,
    private readonly lex: LexRuntimeV2Client,
    private readonly stack: LexWebUiConfig,
  ) {
    if (!socket) return;
    socket.ws.on("message", (data: Buffer) => {
      const text = data.toString("utf8");
      this.received.push(text);
      if (this.pendingFrames && text !== "/stop/") this.pendingFrames.push(text);
    });
    socket.send({ action: "ping" });
    const openedAt = Date.now();
    this.pingTimer = setInterval(() => {
      if (Date.now() - openedAt >= PING_FOR_MS) clearInterval(this.pingTimer);
      else socket.send({ action: "ping" });
    }, PING_EVERY_MS);
    this.pingTimer.unref();
    // onclose / onerror only stop the timer: Lex Web UI never reconnects.
    void socket.closed.then(() => clearInterval(this.pingTimer));
  }

  /** Gets a guest identity from the stack's Cognito pool, picks the session id, connects and pings. */
  static async start(stack: LexWebUiConfig, options: LexWebUiOptions = {}): Promise<LexWebUiClient> {
    const cognito = new CognitoIdentityClient({ region: stack.region, endpoint: stack.cognito.endpoint });
    const Logins = options.login ? { [options.login.providerName]: options.login.idToken } : undefined;
    const { IdentityId } = await cognito.send(new GetIdCommand({ IdentityPoolId: stack.cognito.identityPoolId, Logins }));
    const { Credentials } = await cognito.send(new GetCredentialsForIdentityCommand({ IdentityId, Logins }));
    cognito.destroy();
    const credentials = { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretKey!, sessionToken: Credentials!.SessionToken!, expiration: Credentials!.Expiration };
    const adoptsIdentityId = options.login !== undefined || (options.version ?? "stock") === "identity-id";
    const userId = adoptsIdentityId ? IdentityId! : (options.userId ?? stockUserId());
    const connectUrl = await lexWebUiConnectUrl(stack.webSocketUrl, userId, stack.region, credentials);
    const socket = options.noSocket ? undefined : await openSocket(connectUrl);
    const lex = new LexRuntimeV2Client({ region: stack.region, endpoint: stack.lex.endpoint, credentials });
    return new LexWebUiClient(userId, IdentityId!, credentials, connectUrl, socket, lex, stack);
  }

  /**
   * Asks through Lex with the session id as Lex session id and the streaming attributes, as
   * Lex Web UI does; returns Lex's answer and the frames kept while it was pending. The frames
   * are read after a barrier on the socket, so every frame posted before Lex answered is in.
   */
  async ask(
    text: string,
    /** More session attributes; they may replace the streaming ones, as a tampered client could. */
    sessionAttributes: Record<string, string> = {},
  ): Promise<{ response: RecognizeTextCommandOutput; frames: string[] }> {
    const frames: string[] = [];
    this.pendingFrames = frames;
    try {
      const response = await this.lex.send(
        new RecognizeTextCommand({
          botId: this.stack.lex.bot.id,
          botAliasId: this.stack.lex.bot.aliasId,
          localeId: this.stack.lex.bot.localeId,
          sessionId: this.userId,
          text,
          sessionState: {
            sessionAttributes: { streamingEndpoint: this.stack.webSocketUrl.replace("wss://", "https://"), streamingDynamoDbTable: "", ...sessionAttributes },
          },
        }),
      );
      await this.settle();
      return { response, frames: [...frames] };
    } finally {
      this.pendingFrames = undefined;
    }
  }

  /** Test instrumentation: resolves once everything posted to this socket so far has arrived (the barrier's reply is not kept). */
  async settle(): Promise<void> {
    const before = this.received.length;
    // A closed socket (Lex Web UI never reconnects) receives nothing more: there is nothing to wait for.
    if (!this.socket || this.socket.ws.readyState !== this.socket.ws.OPEN) return;
    await this.socket.barrier();
    // The barrier's own reply went through the message handler too; it is not a frame of any answer.
    const reply = this.received.findIndex((text, i) => i >= before && text.includes('"type":"error"') && text.includes("barrier-"));
    if (reply >= 0) this.received.splice(reply, 1);
    if (this.pendingFrames) {
      const pending = this.pendingFrames.findIndex((text) => text.includes('"type":"error"') && text.includes("barrier-"));
      if (pending >= 0) this.pendingFrames.splice(pending, 1);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    this.lex.destroy();
    await this.socket?.close();
  }
}
