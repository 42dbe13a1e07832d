/**
 * The local HTTP API (`POST /ask`) judges a caller before it reads a body, and never reads
 * more than HTTP API's 10 MB payload quota (API Gateway developer guide, "Quotas for
 * configuring and running an HTTP API": payload size 10 MB). The attack: 100
 * concurrent unsigned 10 MB bodies were buffered before any signature check (RSS 132 →
 * 910 MB). Also: callers from the stack's growing credential store (Cognito guests).
 */
import { expect } from "chai";
import { CredentialStore, localCognitoIdentity, localIamUser } from "../../local/gateway";
import { MAX_HTTP_API_BODY_BYTES, startLocalHttpApi, type LocalHttpApi } from "../../local/http-api";
import { ByteBudget, UNVERIFIED_BODIES, UNVERIFIED_BODY_BUDGET_BYTES } from "../../local/signed-request";
import { headersOnly, signedHeaders } from "./side-door-helpers";

describe("local HTTP API: signature first, bodies bounded", () => {
  const user = localIamUser("asker");
  const store = new CredentialStore([user]);
  const events: { body?: string; userArn?: string }[] = [];
  let api: LocalHttpApi;

  before(async () => {
    api = await startLocalHttpApi({
      region: "us-east-1",
      credentials: store,
      handler: async (event) => {
        events.push({ body: event.body, userArn: event.requestContext.authorizer.iam.userArn });
        return { statusCode: 200, body: JSON.stringify({ ok: true }) };
      },
    });
  });
  after(() => api.close());

  const post = async (headers: Record<string, string>, body: string): Promise<number> =>
    (await fetch(api.askUrl, { method: "POST", headers, body })).status;

  it("refuses an unsigned 10 MB POST from its headers alone, without waiting for the body (403)", async () => {
    expect(await headersOnly(api.askUrl, { "content-type": "application/json" }, MAX_HTTP_API_BODY_BYTES)).to.equal(403);
  });

  it("refuses a signed POST declaring more than 10 MB by its Content-Length, before reading it (413)", async () => {
    const headers = await signedHeaders(api.askUrl, { service: "execute-api", region: "us-east-1", credentials: user, body: "" });
    expect(await headersOnly(api.askUrl, headers, MAX_HTTP_API_BODY_BYTES + 1)).to.equal(413);
  });

  it("refuses a chunked body that grows past 10 MB, and runs nothing", async () => {
    const before = events.length;
    const headers = await signedHeaders(api.askUrl, { service: "execute-api", region: "us-east-1", credentials: user, body: "" });
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= 11) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const response = await fetch(api.askUrl, { method: "POST", headers, body, duplex: "half" } as RequestInit).catch(() => undefined);
    // Either the 413 arrives, or the server closed the upload once it passed the limit.
    if (response) expect(response.status).to.equal(413);
    expect(events.length).to.equal(before);
  });

  it("holds at most the shared unverified-body budget for bad signatures by a known access key id: 12 concurrent 6 MB bodies, each refused (403) (issue 21, finding 7)", async function () {
    this.timeout(120_000);
    const before = events.length;
    // The access key id is the stack's; the signature covers an empty body, so every one is bad.
    const headers = await signedHeaders(api.askUrl, { service: "execute-api", region: "us-east-1", credentials: user, body: "" });
    const body = "x".repeat(6 * 1024 * 1024);
    UNVERIFIED_BODIES.peak = UNVERIFIED_BODIES.inUse;
    const statuses = await Promise.all(Array.from({ length: 12 }, () => post(headers, body)));
    expect(statuses).to.deep.equal(Array(12).fill(403));
    // 72 MB were sent; the server never held more than the budget of them at once, and gave it all back.
    expect(UNVERIFIED_BODIES.peak).to.be.at.most(UNVERIFIED_BODY_BUDGET_BYTES);
    expect(UNVERIFIED_BODIES.peak).to.be.at.least(body.length);
    expect(UNVERIFIED_BODIES.inUse).to.equal(0);
    expect(events.length).to.equal(before);
  });

  it("shares the budget in arrival order, whole bodies at a time (no reader holds a part while it waits)", async () => {
    const budget = new ByteBudget(10);
    const order: string[] = [];
    const a = await budget.take(6);
    const b = budget.take(6).then((release) => (order.push("b"), release));
    const c = budget.take(3).then((release) => (order.push("c"), release));
    await new Promise((resolve) => setImmediate(resolve));
    // c would fit beside a, but b came first.
    expect(order).to.deep.equal([]);
    a();
    (await b)();
    (await c)();
    expect(order).to.deep.equal(["b", "c"]);
    expect(budget.inUse).to.equal(0);
    await budget.take(11).then(
      () => expect.fail("a body larger than the budget was admitted"),
      (error: unknown) => expect(error).to.be.instanceOf(RangeError),
    );
  });

  it("checks the signed payload hash once the body is read: a swapped body is refused (403)", async () => {
    const before = events.length;
    const headers = await signedHeaders(api.askUrl, { service: "execute-api", region: "us-east-1", credentials: user, body: '{"question":"mine"}' });
    expect(await post(headers, '{"question":"swapped"}')).to.equal(403);
    expect(events.length).to.equal(before);
  });

  it("answers a signed POST within the limit", async () => {
    const headers = await signedHeaders(api.askUrl, { service: "execute-api", region: "us-east-1", credentials: user, body: '{"question":"hi"}' });
    expect(await post(headers, '{"question":"hi"}')).to.equal(200);
    expect(events.at(-1)).to.deep.equal({ body: '{"question":"hi"}', userArn: user.identity.userArn });
  });

  it("accepts a Cognito guest added to the store after it started (as the local Cognito pool adds them)", async () => {
    const guest = localCognitoIdentity({ region: "us-east-1" });
    const body = '{"question":"guest"}';
    const headers = await signedHeaders(api.askUrl, { service: "execute-api", region: "us-east-1", credentials: guest, body });
    expect(await post(headers, body)).to.equal(403);
    store.add(guest);
    const again = await signedHeaders(api.askUrl, { service: "execute-api", region: "us-east-1", credentials: guest, body });
    expect(await post(again, body)).to.equal(200);
    expect(events.at(-1)?.userArn).to.equal(guest.identity.userArn);
  });
});
