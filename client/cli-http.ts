/**
 * `qnabot-stream ask --http`: the answer over plain HTTP from the stack's streaming function
 * URL, as Server-Sent Events (`event:` type, `id:` seq, `data:` the v1 envelope), through the
 * same reducer and printer as the WebSocket path. The POST is SigV4-signed (service
 * `lambda`) with the user's credentials, or, for the local stack, by its chat server
 * (`POST api/sign-ask`, bound to the page cookie), so no credential leaves that server.
 * Ctrl-C stops the answer on the server with a signed cancel (`{"action":"cancel",
 * "sessionId","requestId"}` to the same URL), then hangs up: hanging up alone would not stop
 * it, since Lambda runs a streamed response to its end when the caller goes away
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html).
 */
import type { Envelope } from "../functions/shared/protocol";
import { credentialsOf } from "./aws-signer";
import { AnswerTracker } from "./cli-answer";
import type { CliCommand, HttpTarget } from "./cli-args";
import type { AnswerPrinter } from "./cli-output";
import { CliError, EXIT, networkErrorCode, type ExitCode } from "./exit-codes";
import { signFunctionUrlPost, type SignedPost } from "./function-url-signer";
import { SseParser } from "./sse";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { FrameError, parseEnvelope } from "./web/envelope";
import { randomId } from "./web/ids";
import { fetchSignedAsk, SignedUrlError } from "./web/signed-url";

export interface HttpAskDeps {
  /** @default the default credential chain */
  readonly credentials?: AwsCredentialIdentityProvider;
  /** @default global fetch */
  readonly fetch?: typeof fetch;
}

async function signedPost(target: HttpTarget, body: string, deps: HttpAskDeps): Promise<SignedPost> {
  if (target.kind === "http") {
    try {
      return await signFunctionUrlPost({ url: target.url, region: target.region, credentials: credentialsOf({ credentials: deps.credentials }), body });
    } catch (error) {
      throw new CliError(
        EXIT.auth,
        `no usable AWS credentials (${(error as Error).message}); configure the default chain, e.g. aws configure, AWS_PROFILE or aws sso login`,
      );
    }
  }
  try {
    return await fetchSignedAsk(target.baseUrl, body, deps.fetch);
  } catch (error) {
    if (error instanceof SignedUrlError && error.status === 404) {
      throw new CliError(
        EXIT.usage,
        `${target.baseUrl} does not sign asks for a function URL (no POST api/sign-ask): drop --http to ask over the WebSocket, or give --http <function URL> to sign with your credentials`,
      );
    }
    if (error instanceof SignedUrlError) throw new CliError(error.status === 401 || error.status === 403 ? EXIT.auth : EXIT.protocol, error.message);
    const code = networkErrorCode(error);
    if (code) throw new CliError(EXIT.network, `cannot reach ${target.baseUrl}: ${code}`);
    throw new CliError(EXIT.protocol, `${target.baseUrl} did not sign the request: ${(error as Error).message}`);
  }
}

/** How long Ctrl-C waits for the server to take the cancel before the CLI exits anyway. */
const CANCEL_TIMEOUT_MS = 5_000;

/** Asks the function URL to stop the answer (best effort: an unreachable server cannot be stopped from here). */
async function sendCancel(target: HttpTarget, answer: { sessionId: string; requestId: string }, deps: HttpAskDeps): Promise<void> {
  const body = JSON.stringify({ action: "cancel", ...answer });
  try {
    const signed = await signedPost(target, body, deps);
    const response = await (deps.fetch ?? fetch)(signed.url, { method: "POST", headers: signed.headers, body, signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) });
    await response.body?.cancel();
  } catch {
    // The answer may run on to its end: there is nothing more the CLI can do about it.
  }
}

/** A refusal before any stream: `{"error":{code,message}}` from the handler, `{"Message"}` from Lambda. */
async function refusal(response: Response, where: string): Promise<CliError> {
  const text = await response.text().catch(() => "");
  let detail = text.trim().slice(0, 300);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; Message?: unknown; message?: unknown };
    const message = typeof parsed.error === "object" ? parsed.error?.message : (parsed.error ?? parsed.Message ?? parsed.message);
    if (typeof message === "string") detail = message;
  } catch {
    // not JSON: the text itself
  }
  const suffix = detail ? `: ${detail}` : "";
  if (response.status === 401 || response.status === 403) {
    return new CliError(EXIT.auth, `${where} refused the request (${response.status})${suffix}; check the credentials and their lambda:InvokeFunctionUrl permission`);
  }
  return new CliError(EXIT.protocol, `${where} answered ${response.status}${suffix}`);
}

export async function askOverHttp(
  command: Extract<CliCommand, { kind: "ask" }>,
  target: HttpTarget,
  printer: AnswerPrinter,
  stop: AbortSignal,
  deps: HttpAskDeps,
): Promise<ExitCode> {
  const fetchImpl = deps.fetch ?? fetch;
  const request = { requestId: randomId(), question: command.question, mode: command.mode, ...(command.reasoning ? { reasoning: true } : {}) };
  const sessionId = command.sessionId ?? randomId("cli-");
  const body = JSON.stringify({ ...request, sessionId });
  const signed = await signedPost(target, body, deps);
  const where = new URL(signed.url).host;
  const tracker = new AnswerTracker(request, {
    onEnvelope: (envelope) => printer.onEnvelope(envelope),
    onText: (text) => printer.onText(text),
    onReasoning: (text) => printer.onReasoning(text),
    onProgress: (stage) => printer.onProgress(stage),
  });
  const hangUp = new AbortController();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const armTimeout = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      hangUp.abort();
    }, command.timeoutMs);
  };
  let cancelling: Promise<void> | undefined;
  const onStop = () => {
    cancelling = sendCancel(target, { sessionId, requestId: request.requestId }, deps);
    hangUp.abort();
  };
  stop.addEventListener("abort", onStop, { once: true });
  try {
    if (stop.aborted) return EXIT.cancelled;
    printer.waiting();
    armTimeout();
    let response: Response;
    try {
      response = await fetchImpl(signed.url, { method: "POST", headers: signed.headers, body, signal: hangUp.signal });
    } catch (error) {
      if (stop.aborted) return EXIT.cancelled;
      if (timedOut) throw new CliError(EXIT.network, `no answer from ${where} for ${command.timeoutMs / 1000} s; giving up`);
      const code = networkErrorCode(error);
      throw new CliError(EXIT.network, `cannot connect to ${where}: ${code ?? (error as Error).message}`);
    }
    if (!response.ok) throw await refusal(response, where);
    if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      throw new CliError(EXIT.protocol, `${where} answered ${response.headers.get("content-type") ?? "no content type"}, not text/event-stream`);
    }
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
          let envelope: Envelope;
          try {
            envelope = parseEnvelope(event.data);
          } catch (error) {
            if (!(error instanceof FrameError)) throw error;
            throw new CliError(EXIT.protocol, `bad event from the server: ${error.message}`);
          }
          armTimeout();
          tracker.apply(envelope);
          if (tracker.finished) return printer.finish(tracker.answer);
        }
      }
    } catch (error) {
      if (error instanceof CliError) throw error;
      // Ctrl-C hung up: what arrived is the answer, stopped here.
      if (stop.aborted) return printer.finish(tracker.stoppedHere());
      if (timedOut) throw new CliError(EXIT.network, `no answer event for ${command.timeoutMs / 1000} s; giving up`);
      throw new CliError(EXIT.network, `the stream from ${where} broke off before the answer finished: ${networkErrorCode(error) ?? (error as Error).message}`);
    }
    if (stop.aborted) return printer.finish(tracker.stoppedHere());
    throw new CliError(EXIT.network, `the stream from ${where} ended before the answer finished`);
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop);
    hangUp.abort();
    await cancelling;
  }
}
