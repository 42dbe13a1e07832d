import { PassThrough } from "node:stream";
import { expect } from "chai";
import type { DoorDeps, InvocationContext } from "../../functions/fulfillment/doors";
import { answer, type EngineDeps } from "../../functions/fulfillment/engine";
import type { Generator } from "../../functions/fulfillment/generate";
import { EVENT_STREAM_HEADERS, urlDoor, type HttpResponseSink } from "../../functions/fulfillment/url-door";
import { SseParser } from "../../client/sse";
import { sseEvent } from "../../functions/stream/sse";
import { ManualClock, MapMemory, quietLogs } from "./fulfillment-fakes";
import { journalPositions } from "./stream-fakes";
import type { JournalEvent } from "../../functions/stream/journal";
import type { AnswerKey, CheckpointNews, JournalStore, ResumeOutcome } from "../../functions/stream/journal-store";

const IDENTITY = "us-east-1:0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b";

/** A function URL request (payload format 2.0) signed with Cognito credentials: AWS's documented event shape. */
function urlEvent(body: unknown, options: { accept?: string; path?: string; method?: string; iam?: boolean } = {}) {
  return {
    version: "2.0",
    rawPath: options.path ?? "/",
    rawQueryString: "",
    headers: { "content-type": "application/json", ...(options.accept ? { accept: options.accept } : {}) },
    requestContext: {
      accountId: "123456789012",
      apiId: "urlid123",
      ...(options.iam === false
        ? {}
        : {
            authorizer: {
              iam: {
                accessKey: "ASIAEXAMPLE",
                accountId: "123456789012",
                callerId: "AROAEXAMPLE:CognitoIdentityCredentials",
                cognitoIdentity: { amr: ["unauthenticated"], identityId: IDENTITY, identityPoolId: "us-east-1:pool" },
                principalOrgId: null,
                userArn: "arn:aws:sts::123456789012:assumed-role/Cognito_Unauth/CognitoIdentityCredentials",
                userId: "AROAEXAMPLE:CognitoIdentityCredentials",
              },
            },
          }),
      domainName: "urlid123.lambda-url.us-east-1.on.aws",
      domainPrefix: "urlid123",
      http: { method: options.method ?? "POST", path: options.path ?? "/", protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "curl/8" },
      requestId: "url-req-1",
      time: "29/Nov/2026:09:00:00 +0000",
      timeEpoch: 1_795_942_800_000,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

/** Records what the door sends: the prelude, then the body as written. */
class RecordingResponse implements HttpResponseSink {
  statusCode?: number;
  headers?: Record<string, string>;
  readonly body = new PassThrough();
  text = "";

  constructor() {
    this.body.on("data", (chunk: Buffer) => (this.text += chunk.toString("utf8")));
  }

  open(statusCode: number, headers: Record<string, string>) {
    this.statusCode = statusCode;
    this.headers = headers;
    return this.body;
  }

  /** The SSE events: event, id and the envelope of each. */
  events(): { event: string; id: string; data: Record<string, unknown> }[] {
    return new SseParser().push(this.text).map(({ event, id, data }) => ({ event, id: id ?? "", data: JSON.parse(data) as Record<string, unknown> }));
  }
}

function scripted(chunks: string[], hang = false): Generator {
  return {
    streamsItself: false,
    async generate(_request, sink, guard) {
      for (const chunk of chunks) sink.delta(chunk);
      if (hang) await guard.step(new Promise<never>(() => undefined));
      return { text: chunks.join(""), stopReason: "end_turn", citations: [] };
    },
  };
}

function deps(generator: Generator, memory = new MapMemory()): DoorDeps {
  const engine: EngineDeps = { generators: { llm: generator }, memory, stallMs: 20_000, clock: new ManualClock() };
  return { answer: (request) => answer(request, engine), defaultMode: "llm", clock: new ManualClock() };
}

const context: InvocationContext = { awsRequestId: "aws-1", remainingMs: () => 60_000 };

describe("fulfillment: streaming function URL door (Server-Sent Events)", () => {
  quietLogs();

  it("streams an answer as SSE events mirroring protocol v1: event = type, id = seq, data = the envelope", async () => {
    const response = new RecordingResponse();
    await urlDoor(urlEvent({ question: "What is QnABot?", sessionId: IDENTITY, requestId: "r-1" }, { accept: "text/event-stream" }), response, context, deps(scripted(["Qn", "ABot ", "is 😀 a bot."])));
    expect(response.statusCode).to.equal(200);
    expect(response.headers).to.deep.equal(EVENT_STREAM_HEADERS);
    const events = response.events();
    expect(events.map((e) => e.event)).to.deep.equal(events.map((e) => e.data.type));
    expect(events[0].event).to.equal("start");
    expect(events.at(-1)?.event).to.equal("end");
    expect(events.map((e) => Number(e.id))).to.deep.equal(journalPositions(events.map((e) => e.data)));
    expect(events.flatMap((e) => (e.event === "delta" ? [e.data.text] : [])).join("")).to.equal("QnABot is 😀 a bot.");
    expect(events.every((e) => e.data.requestId === "r-1")).to.equal(true);
    expect(response.body.writableEnded).to.equal(true);
  });

  it("answers complete JSON, as POST /ask does, without Accept: text/event-stream", async () => {
    const response = new RecordingResponse();
    await urlDoor(urlEvent({ question: "Q?", sessionId: IDENTITY }, { accept: "application/json" }), response, context, deps(scripted(["All ", "at once."])));
    expect(response.statusCode).to.equal(200);
    const body = JSON.parse(response.text) as Record<string, unknown>;
    expect(body).to.include({ requestId: "aws-1", answer: "All at once.", stopReason: "end_turn" });
  });

  const refusals: [string, ReturnType<typeof urlEvent>, number][] = [
    ["an unsigned request (no IAM identity)", urlEvent({ question: "q", sessionId: IDENTITY }, { iam: false, accept: "text/event-stream" }), 403],
    ["a body that is not JSON", urlEvent("{nope", { accept: "text/event-stream" }), 400],
    ["another identity's session id", urlEvent({ question: "q", sessionId: "us-east-1:00000000-0000-4000-8000-000000000000" }, { accept: "text/event-stream" }), 403],
    ["GET", urlEvent({ question: "q", sessionId: IDENTITY }, { method: "GET", accept: "text/event-stream" }), 405],
    ["a path other than / or /ask", urlEvent({ question: "q", sessionId: IDENTITY }, { path: "/admin", accept: "text/event-stream" }), 404],
  ];
  for (const [name, event, status] of refusals) {
    it(`refuses ${name} with ${status} JSON before any stream starts`, async () => {
      const response = new RecordingResponse();
      await urlDoor(event, response, context, deps(scripted(["never"])));
      expect(response.statusCode).to.equal(status);
      expect(response.headers?.["content-type"]).to.equal("application/json");
      expect((JSON.parse(response.text) as { error: { code: string } }).error.code).to.be.a("string");
      expect(response.text).to.not.include("event:");
    });
  }

  // "streamed responses are not interrupted or stopped when the invoking client connection is broken"
  // https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html
  it("does not notice the reader leaving (Lambda keeps the stream open): the answer runs to its end and is remembered", async () => {
    const response = new RecordingResponse();
    const memory = new MapMemory();
    let readerLeft!: () => void;
    const left = new Promise<void>((resolve) => (readerLeft = resolve));
    const generator: Generator = {
      streamsItself: false,
      async generate(_request, sink) {
        sink.delta("The start");
        await left;
        sink.delta(", and the rest.");
        return { text: "The start, and the rest.", stopReason: "end_turn", citations: [] };
      },
    };
    const answering = urlDoor(urlEvent({ question: "Long?", sessionId: IDENTITY }, { accept: "text/event-stream" }), response, context, deps(generator, memory));
    await new Promise((resolve) => setImmediate(resolve));
    response.body.resume();
    readerLeft();
    await answering;
    expect(memory.saves[0].state.turns).to.deep.equal([{ question: "Long?", answer: "The start, and the rest." }]);
  });

  describe("cancel: a signed {action: \"cancel\", sessionId, requestId} by the asker", function () {
    /** Journal items as DynamoJournalStore keeps them, in memory: open, checkpoint (reads the cancel flag), cancel. */
    class CancelJournal implements JournalStore {
      readonly items = new Map<string, { cancelled: boolean; ended: boolean; resumable: boolean }>();
      private id = (key: AnswerKey) => `${key.sessionId}/${key.principal}/${key.requestId}`;
      async open(key: AnswerKey, options: { resumable?: boolean } = {}) {
        this.items.set(this.id(key), { cancelled: false, ended: false, resumable: options.resumable !== false });
      }
      async checkpoint(key: AnswerKey, _events: readonly JournalEvent[], ended: boolean): Promise<CheckpointNews> {
        const item = this.items.get(this.id(key))!;
        if (ended) item.ended = true;
        return { resumers: {}, cancelled: item.cancelled };
      }
      async cancel(key: AnswerKey) {
        const item = this.items.get(this.id(key));
        if (!item || item.ended) return false;
        item.cancelled = true;
        return true;
      }
      async resume(): Promise<ResumeOutcome> {
        return { state: "unknown" };
      }
    }

    it("stops the caller's running SSE answer at the writer's next checkpoint; the stream ends cancelled with the text so far", async function () {
      const journal = new CancelJournal();
      const door = { ...deps(scripted(["Half an answer"], true)), journal };
      const response = new RecordingResponse();
      const answering = urlDoor(urlEvent({ question: "Long?", sessionId: IDENTITY, requestId: "r-cancel" }, { accept: "text/event-stream" }), response, context, door);
      while (journal.items.size === 0) await new Promise((resolve) => setImmediate(resolve));
      expect([...journal.items.values()][0].resumable, "an SSE answer cannot be resumed: its item only carries the cancel").to.equal(false);

      const cancel = new RecordingResponse();
      await urlDoor(urlEvent({ action: "cancel", sessionId: IDENTITY, requestId: "r-cancel" }), cancel, context, door);
      expect(cancel.statusCode).to.equal(200);
      expect(JSON.parse(cancel.text)).to.deep.equal({ requestId: "r-cancel", cancelled: true });

      await answering;
      const end = response.events().at(-1)!;
      expect(end.data).to.include({ type: "end", stopReason: "cancelled" });
      expect(response.body.writableEnded).to.equal(true);
    });

    it("answers 404 for an answer that is not running (ended or unknown), and 400 for another action", async function () {
      const door = { ...deps(scripted(["Quick."])), journal: new CancelJournal() };
      await urlDoor(urlEvent({ question: "Quick?", sessionId: IDENTITY, requestId: "r-done" }, { accept: "text/event-stream" }), new RecordingResponse(), context, door);
      for (const requestId of ["r-done", "r-never"]) {
        const response = new RecordingResponse();
        await urlDoor(urlEvent({ action: "cancel", sessionId: IDENTITY, requestId }), response, context, door);
        expect(response.statusCode, requestId).to.equal(404);
        expect((JSON.parse(response.text) as { error: { code: string } }).error.code).to.equal("not_found");
      }
      const other = new RecordingResponse();
      await urlDoor(urlEvent({ action: "delete", sessionId: IDENTITY, requestId: "r-done" }), other, context, door);
      expect(other.statusCode).to.equal(400);
    });

    it("answers a retryable 503 when the journal cannot be reached, and 503 when streaming (the journal) is off", async function () {
      const journal = new CancelJournal();
      journal.cancel = async () => {
        throw new Error("DynamoDB is down");
      };
      const down = new RecordingResponse();
      await urlDoor(urlEvent({ action: "cancel", sessionId: IDENTITY, requestId: "r-1" }), down, context, { ...deps(scripted(["x"])), journal });
      expect(down.statusCode).to.equal(503);
      expect(JSON.parse(down.text).error).to.include({ retryable: true });
      const off = new RecordingResponse();
      await urlDoor(urlEvent({ action: "cancel", sessionId: IDENTITY, requestId: "r-1" }), off, context, deps(scripted(["x"])));
      expect(off.statusCode).to.equal(503);
    });
  });

  it("frames one envelope as one SSE event whose data is the envelope on one line", () => {
    const envelope = JSON.stringify({ v: 1, type: "delta", requestId: "r", seq: 7, text: "two\nlines" });
    expect(sseEvent(envelope)).to.equal(`event: delta\nid: 7\ndata: ${envelope}\n\n`);
  });
});
