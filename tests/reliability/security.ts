/**
 * Security over the wire on the local stack: another principal cannot take over a session or
 * read its answers, an expired signature cannot be replayed, a signed URL cannot be changed,
 * a streaming endpoint a client names is never called, and question and answer text stay out
 * of the logs at the default log level.
 */
import { expect } from "chai";
import { presignWebSocketUrl } from "../../client/presign";
import { logger } from "../../functions/shared/observability";
import { plainText } from "../../functions/stream/plain-text";
import type { LocalCredential } from "../../local/gateway";
import type { LocalStack } from "../../local/stack";
import type { Figure } from "./figures";
import type { Trap } from "./fuzz-handlers";
import { captureOutput, Client, connect, connectionRows, lexEvent, memoryRows, postAsk, rowsAfterIdle, type Row } from "./harness";

export interface SecurityEnv {
  readonly stack: LocalStack;
  /** An IAM user who owns a session. */
  readonly owner: LocalCredential;
  /** Another IAM user, signed in, trying to get at the owner's session. */
  readonly intruder: LocalCredential;
  /** A Cognito identity (Lex Web UI's kind of caller) and another one. */
  readonly cognito: LocalCredential;
  readonly otherCognito: LocalCredential;
  readonly trap: Trap;
}

/** Every credential the scenarios sign with; pass them to the stack. */
export function securityCredentials(env: Omit<SecurityEnv, "stack" | "trap">): LocalCredential[] {
  return [env.owner, env.intruder, env.cognito, env.otherCognito];
}

async function refusal(url: string): Promise<{ status: number; body: string }> {
  try {
    const client = await Client.open(url);
    await client.close();
  } catch (error) {
    const { status, body } = error as { status?: number; body?: string };
    if (status !== undefined) return { status, body: body ?? "" };
    throw error;
  }
  throw new Error(`the connection was accepted: ${url}`);
}

const principalOf = (credential: LocalCredential) =>
  credential.identity.cognitoIdentityId ? `cognito:${credential.identity.cognitoIdentityId}` : `iam:${credential.identity.userArn}`;

const sessionRows = async (stack: LocalStack, sessionId: string): Promise<Row[]> =>
  (await connectionRows(stack)).filter((row) => row.sessionId === sessionId).sort((a, b) => String(a.connectionId).localeCompare(String(b.connectionId)));

let sequence = 0;
const nextId = (prefix: string) => `${prefix}-${++sequence}`;

/** Another principal can neither register the owner's session, nor ask into it, nor receive its answers. */
export async function sessionHijack(env: SecurityEnv): Promise<Figure> {
  const { stack, owner, intruder, cognito, otherCognito } = env;
  const session = nextId("owned");
  const tab = await connect(stack, session, { credential: owner, format: "json" });
  const secondTab = await connect(stack, session, { credential: owner, format: "text" });
  const cognitoSession = cognito.identity.cognitoIdentityId!;
  const cognitoTab = await connect(stack, cognitoSession, { credential: cognito, format: "json" });
  const intruderTab = await connect(stack, nextId("intruder"), { credential: intruder, format: "json" });
  const clients = [tab, secondTab, cognitoTab, intruderTab];
  try {
    await stack.idle();
    const cognitoRowsBefore = await sessionRows(stack, cognitoSession);
    const cognitoSeen = cognitoTab.messages.length;

    // A Cognito identity id belongs to that identity alone: every other caller is refused.
    const refusals = [
      (await refusal(await stack.presign(cognitoSession, { credential: otherCognito }))).status,
      (await refusal(await stack.presign(cognitoSession, { credential: intruder }))).status,
    ];
    expect(refusals, "connects into another principal's identity session").to.deep.equal([403, 403]);
    const cognitoPost = await postAsk(stack, { question: "What did they ask?", sessionId: cognitoSession }, otherCognito);
    expect(cognitoPost.status, "POST /ask into another identity's session").to.equal(403);

    // A plain id is anybody's to pick (stock clients choose short random ones), so a second
    // principal may claim it too: the session is contested, and each asker's answer reaches
    // that asker's own connections only.
    const contested = await connect(stack, session, { credential: intruder, format: "json" });
    clients.push(contested);
    const intruderPost = await postAsk(stack, { question: "What did they ask?", sessionId: session }, intruder);
    expect(intruderPost.status, "POST /ask into a contested plain session answers the asker").to.equal(200);

    // An ask naming the owner's session, principal and connection is answered in the intruder's own session.
    const requestId = nextId("smuggled");
    await intruderTab.send(JSON.stringify({ action: "ask", requestId, question: "Hello?", sessionId: session, principal: principalOf(owner), connectionId: "x" }));
    expect((await intruderTab.settled(requestId))?.type, "the intruder's own answer").to.equal("end");

    // The owner's answer reaches the owner's tabs only.
    const ownerAsk = nextId("owner");
    await tab.ask(ownerAsk, "How do answers stream?");
    expect((await tab.settled(ownerAsk))?.type).to.equal("end");
    await stack.idle();
    expect(intruderTab.of(ownerAsk), "envelopes of the owner's answer at the intruder").to.deep.equal([]);
    expect(contested.of(ownerAsk), "envelopes of the owner's answer at the intruder's tab in the contested session").to.deep.equal([]);
    expect(tab.of(requestId), "envelopes of the intruder's answer at the owner").to.deep.equal([]);
    expect(tab.of(String(intruderPost.body.requestId)), "envelopes of the intruder's POST /ask at the owner").to.deep.equal([]);
    expect(cognitoTab.messages.length, "frames at the Cognito owner").to.equal(cognitoSeen);
    const ownerText = tab.of(ownerAsk).flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
    // The text tab (format=text) receives it as prose (functions/stream/plain-text.ts).
    expect(secondTab.messages.map((m) => m.text).join(""), "the owner's text tab got exactly the owner's answer").to.equal(plainText(ownerText));
    expect(await sessionRows(stack, cognitoSession), "the Cognito owner's rows").to.deep.equal(cognitoRowsBefore);
    const memory = (await memoryRows(stack)).filter((row) => row.sessionId === cognitoSession);
    expect(memory, "the Cognito owner's memory").to.deep.equal([]);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return {
    section: "Security",
    check: "Cross-principal session hijack (IAM and Cognito callers)",
    tried: "connect into another's identity session ×2 and POST /ask into it; a second principal in a plain session (contested) with a WebSocket and a POST /ask; an ask smuggling sessionId/principal/connectionId",
    result: "identity session: connects refused 403, POST refused 403, rows and frames untouched; contested plain session: each asker's answer reached only its own connections; the smuggled ask answered in the intruder's own session",
  };
}

/** A presigned URL past its expiry is refused, including one that worked before it expired. */
export async function signatureReplay(env: SecurityEnv): Promise<Figure> {
  const { stack, owner } = env;
  const sign = (sessionId: string, now: number, expiresInSeconds: number) =>
    presignWebSocketUrl({ endpoint: stack.webSocketUrl, region: stack.region, credentials: owner, query: { sessionId, format: "json" }, now, expiresInSeconds });

  const stale = await refusal(await sign(nextId("replay"), Date.now() - 10 * 60_000, 60));
  expect(stale.status, "a URL signed 10 min ago for 60 s").to.equal(403);
  expect(stale.body).to.match(/expired/i);

  // Valid for five more seconds (room for a busy machine to open the first socket): used once,
  // then replayed after it expired.
  const signedAt = Date.now() - 55_000;
  const url = await sign(nextId("replay"), signedAt, 60);
  const first = await Client.open(url);
  await first.close();
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, signedAt + 60_000 + 250 - Date.now())));
  const replay = await refusal(url);
  expect(replay.status, "the same URL after its expiry").to.equal(403);
  expect(replay.body).to.match(/expired/i);
  // The URL that worked left its claim (claims outlive connections by design); the refused ones left nothing else.
  expect(await rowsAfterIdle(stack), "rows of refused connects").to.deep.equal([]);
  return {
    section: "Security",
    check: "Signature replay after expiry",
    tried: "a URL expired 9 min ago; a URL used once, then replayed after its expiry",
    result: "both refused 403 (Signature expired); no row written",
  };
}

/** Any change to a signed URL's query or path breaks its signature. */
export async function tamperedQueries(env: SecurityEnv): Promise<Figure> {
  const { stack, owner, intruder, cognito } = env;
  const session = nextId("tamper");
  const signed = new URL(await stack.presign(session, { credential: owner, format: "json" }));
  const withParam = (name: string, value: string | undefined) => {
    const url = new URL(signed);
    if (value === undefined) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
    return url.toString();
  };
  const signature = signed.searchParams.get("X-Amz-Signature")!;
  const flipped = signature.slice(0, -1) + (signature.endsWith("0") ? "1" : "0");
  const otherKey = signed.searchParams.get("X-Amz-Credential")!.replace(owner.accessKeyId, intruder.accessKeyId);
  const cognitoUrl = new URL(await stack.presign(cognito.identity.cognitoIdentityId!, { credential: cognito }));
  cognitoUrl.searchParams.delete("X-Amz-Security-Token");
  const tampered: Record<string, string> = {
    "sessionId changed": withParam("sessionId", "someone-else"),
    "format changed": withParam("format", "text"),
    "format removed": withParam("format", undefined),
    "parameter added": `${signed}&admin=true`,
    "sessionId repeated": `${signed}&sessionId=someone-else`,
    "X-Amz-Expires raised": withParam("X-Amz-Expires", "604800"),
    "X-Amz-Date moved": withParam("X-Amz-Date", signed.searchParams.get("X-Amz-Date")!.replace(/\d(?=Z$)/, (d) => String((Number(d) + 1) % 10))),
    "signature altered": withParam("X-Amz-Signature", flipped),
    "another caller's access key": withParam("X-Amz-Credential", otherKey),
    "session token removed": cognitoUrl.toString(),
    "path changed": signed.toString().replace(`/${stack.gateway.stage}?`, `/${stack.gateway.stage.toLowerCase()}?`),
  };
  const statuses: Record<string, number> = {};
  for (const [what, url] of Object.entries(tampered)) statuses[what] = (await refusal(url)).status;
  expect(statuses, "tampered URLs").to.deep.equal(Object.fromEntries(Object.keys(tampered).map((k) => [k, 403])));
  // The URL that worked left its claim (claims outlive connections by design); the refused ones left nothing else.
  expect(await rowsAfterIdle(stack), "rows of refused connects").to.deep.equal([]);
  const untouched = await Client.open(signed.toString());
  await untouched.close();
  return {
    section: "Security",
    check: "Tampered signed URLs",
    tried: `${Object.keys(tampered).length} alterations: ${Object.keys(tampered).join(", ")}`,
    result: "every one refused 403, no row written; the untouched URL still connects",
  };
}

/** A streaming endpoint or table named by the client (Lex session attribute, HTTP body, WebSocket frame) is ignored. */
export async function clientSuppliedEndpoint(env: SecurityEnv): Promise<Figure> {
  // A Lex answer streams only to a session bound to an identity (issue 19): the Cognito identity's own id.
  const { stack, cognito: owner, trap } = env;
  const session = owner.identity.cognitoIdentityId!;
  const tab = await connect(stack, session, { credential: owner, format: "json" });
  try {
    const smuggled = { streamingEndpoint: trap.url, streamingDynamoDbTable: stack.dynamo.memoryTable };
    const requestIds = () => [...new Set(tab.envelopes().filter((e) => e.type === "end").map((e) => e.requestId))];

    const lex = (await stack.invokeFulfillment(lexEvent(session, "How do answers stream?", smuggled))) as { messages?: { content?: string }[] };
    expect(lex.messages?.[0]?.content, "Lex got its answer").to.be.a("string").and.not.equal("");
    await tab.until(() => requestIds().length >= 1, "the Lex answer on the session's socket");

    const http = await postAsk(stack, { question: "How do answers stream?", sessionId: session, requestId: nextId("http"), ...smuggled }, owner);
    expect(http.status).to.equal(200);
    await tab.until(() => requestIds().length >= 2, "the POST /ask answer on the session's socket");

    const requestId = nextId("ws");
    await tab.send(JSON.stringify({ action: "ask", requestId, question: "How do answers stream?", ...smuggled }));
    expect((await tab.settled(requestId))?.type).to.equal("end");
    await stack.idle();
    expect(trap.requests(), "requests to the endpoint the client named").to.equal(0);
  } finally {
    await tab.close();
  }
  return {
    section: "Security",
    check: "Client-supplied streaming endpoint and table (Lex session attributes, POST /ask body, WebSocket frame)",
    tried: "3 asks naming a recording endpoint and another table",
    result: "the endpoint got 0 requests; every answer streamed through the stack's own endpoint and table",
  };
}

/** Words nobody else uses, so finding one in the logs can only mean the text was logged. */
export const QUESTION_MARKER = "zyxquestionmarkerqv";
export const ANSWER_MARKER = "qvanswermarkerzyx";

/** A full ask through every door at the default log level (INFO): no question or answer text in the output. */
export async function logsWithoutText(env: SecurityEnv): Promise<Figure> {
  const { stack, owner } = env;
  const bedrock = stack.bedrock!;
  bedrock.setBehavior({ deltas: ["The ", `${ANSWER_MARKER} `, "is ", "the ", "answer."] });
  const session = nextId("logs");
  const question = `Where is the ${QUESTION_MARKER} kept?`;
  const previous = logger.getLevelName();
  logger.setLogLevel("INFO");
  let output: string;
  try {
    ({ output } = await captureOutput(async () => {
      const tab = await connect(stack, session, { credential: owner, format: "json" });
      const text = await connect(stack, session, { credential: owner, format: "text" });
      try {
        const requestId = nextId("ask");
        await tab.ask(requestId, question);
        await tab.settled(requestId);
        const refused = nextId("refused");
        await tab.send(JSON.stringify({ action: "ask", requestId: refused, question, mode: "unknown-mode" }));
        await tab.settled(refused);
        await tab.send(JSON.stringify({ action: QUESTION_MARKER, question }));
        await tab.until(() => tab.envelopes().some((e) => e.requestId === "none"), "the $default reply");
        expect((await postAsk(stack, { question, sessionId: session }, owner)).status).to.equal(200);
        await stack.invokeFulfillment(lexEvent(session, question));
        await stack.idle();
      } finally {
        await tab.close();
        await text.close();
        await stack.idle();
      }
    }));
  } finally {
    logger.setLogLevel(previous as Parameters<typeof logger.setLogLevel>[0]);
    bedrock.setBehavior({});
  }
  expect(output, "the handlers logged at INFO").to.match(/"level":"INFO"/);
  expect(output.includes(QUESTION_MARKER), "question text in the logs").to.equal(false);
  expect(output.includes(ANSWER_MARKER), "answer text in the logs").to.equal(false);
  const lines = output.split("\n").filter((line) => line.trim() !== "").length;
  return {
    section: "Security",
    check: "Question and answer text kept out of the logs (default level INFO)",
    tried: `stdout+stderr captured during a WebSocket ask (json and text sockets), a refused ask, an unrouted frame, POST /ask and a Lex code hook: ${lines} lines`,
    result: "neither the question's nor the answer's marker word appears",
  };
}
