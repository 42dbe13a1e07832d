/**
 * The local Lambda Invoke API through the real LambdaClient: asynchronous hand-off
 * (`Event`), synchronous results, function errors and timeouts, unknown functions.
 */
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import type { Context } from "aws-lambda";
import { expect } from "chai";
import { startLambdaApi, type LambdaApi } from "../../local/lambda-api";
import { localRoleSession } from "../../local/gateway";

describe("local Lambda Invoke API", () => {
  let api: LambdaApi;
  let lambda: LambdaClient;
  const handled: { name: string; event: unknown; context: Context }[] = [];
  let releaseBackground!: () => void;
  let background = new Promise<void>((resolve) => (releaseBackground = resolve));
  const role = localRoleSession("invoker");

  before(async () => {
    api = await startLambdaApi({
      region: "eu-west-1",
      credentials: [role],
      logger: { error: () => undefined },
      functions: {
        echo: async (event, context) => {
          handled.push({ name: "echo", event, context });
          return { got: event, remaining: context.getRemainingTimeInMillis() };
        },
        worker: {
          timeoutMs: 5000,
          handler: async (event, context) => {
            handled.push({ name: "worker", event, context });
            await background;
            handled.push({ name: "worker-done", event, context });
          },
        },
        failing: async () => {
          throw new TypeError("bad input");
        },
        slow: { timeoutMs: 50, handler: () => new Promise((resolve) => setTimeout(() => resolve("late"), 200)) },
      },
    });
    lambda = new LambdaClient({ endpoint: api.endpoint, region: "eu-west-1", credentials: role, maxAttempts: 1 });
  });

  after(async () => {
    lambda.destroy();
    await api.close();
  });

  const payload = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
  const parse = (bytes: Uint8Array | undefined): unknown => JSON.parse(Buffer.from(bytes ?? []).toString("utf8"));

  it("runs a RequestResponse invocation and returns its JSON result", async () => {
    const response = await lambda.send(new InvokeCommand({ FunctionName: "echo", Payload: payload({ question: "hi" }) }));
    expect(response.StatusCode).to.equal(200);
    expect(response.FunctionError).to.equal(undefined);
    expect(response.ExecutedVersion).to.equal("$LATEST");
    const result = parse(response.Payload) as { got: unknown; remaining: number };
    expect(result.got).to.deep.equal({ question: "hi" });
    expect(result.remaining).to.be.within(1, 30_000);
    const { context } = handled.at(-1)!;
    expect(context).to.include({ functionName: "echo", functionVersion: "$LATEST", invokedFunctionArn: "arn:aws:lambda:eu-west-1:000000000000:function:echo" });
    expect(context.awsRequestId).to.match(/^[0-9a-f-]{36}$/);
  });

  it("accepts an Event invocation with 202 at once and runs it in the background until idle()", async () => {
    const response = await lambda.send(new InvokeCommand({ FunctionName: "worker", InvocationType: "Event", Payload: payload({ job: 1 }) }));
    expect(response.StatusCode).to.equal(202);
    // The caller has its answer while the handler is still waiting.
    expect(handled.map((h) => h.name)).to.not.include("worker-done");
    let idle = false;
    const idled = api.idle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).to.equal(false);
    releaseBackground();
    await idled;
    expect(handled.filter((h) => h.name === "worker-done").map((h) => h.event)).to.deep.equal([{ job: 1 }]);
    background = Promise.resolve();
  });

  it("resolves to the function by ARN as well as by name", async () => {
    const response = await lambda.send(new InvokeCommand({ FunctionName: "arn:aws:lambda:eu-west-1:000000000000:function:echo:$LATEST", Payload: payload(1) }));
    expect((parse(response.Payload) as { got: unknown }).got).to.equal(1);
  });

  it("reports a thrown error as an Unhandled function error", async () => {
    const response = await lambda.send(new InvokeCommand({ FunctionName: "failing", Payload: payload({}) }));
    expect(response.StatusCode).to.equal(200);
    expect(response.FunctionError).to.equal("Unhandled");
    expect(parse(response.Payload)).to.include({ errorType: "TypeError", errorMessage: "bad input" });
  });

  it("reports a handler past its timeout as Sandbox.Timedout", async () => {
    const response = await lambda.send(new InvokeCommand({ FunctionName: "slow", Payload: payload({}) }));
    expect(response.FunctionError).to.equal("Unhandled");
    const error = parse(response.Payload) as { errorType: string; errorMessage: string };
    expect(error.errorType).to.equal("Sandbox.Timedout");
    expect(error.errorMessage).to.match(/Task timed out after 0\.05 seconds/);
    await api.idle();
  });

  it("answers an unknown function with ResourceNotFoundException", async () => {
    let error: unknown;
    try {
      await lambda.send(new InvokeCommand({ FunctionName: "missing", InvocationType: "Event", Payload: payload({}) }));
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(ResourceNotFoundException);
    expect((error as Error).message).to.equal("Function not found: arn:aws:lambda:eu-west-1:000000000000:function:missing");
  });

  describe("no side door", () => {
    const invocations = () => handled.filter((h) => h.name === "echo").length;
    const invokeUrl = () => `${api.endpoint}/2015-03-31/functions/echo/invocations`;

    it("runs nothing for an unsigned Invoke: 403 MissingAuthenticationTokenException", async () => {
      const before = invocations();
      const response = await fetch(invokeUrl(), { method: "POST", body: JSON.stringify({ forged: true }) });
      expect(response.status).to.equal(403);
      expect(response.headers.get("x-amzn-errortype")).to.equal("MissingAuthenticationTokenException");
      expect(await response.json()).to.have.property("message");
      expect(invocations()).to.equal(before);
    });

    it("runs nothing for a caller the stack never issued a key to (the old local/local): UnrecognizedClientException", async () => {
      const before = invocations();
      const stranger = new LambdaClient({ endpoint: api.endpoint, region: "eu-west-1", credentials: { accessKeyId: "local", secretAccessKey: "local" }, maxAttempts: 1 });
      try {
        const error = await stranger.send(new InvokeCommand({ FunctionName: "echo", Payload: payload({}) })).then(
          () => undefined,
          (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
        );
        expect(error?.name).to.equal("UnrecognizedClientException");
        expect(error?.$metadata?.httpStatusCode).to.equal(403);
      } finally {
        stranger.destroy();
      }
      expect(invocations()).to.equal(before);
    });

    it("refuses the right key id signed with a guessed secret: InvalidSignatureException", async () => {
      const wrongSecret = new LambdaClient({ endpoint: api.endpoint, region: "eu-west-1", credentials: { ...role, secretAccessKey: "guess" }, maxAttempts: 1 });
      try {
        const error = await wrongSecret.send(new InvokeCommand({ FunctionName: "echo", Payload: payload({}) })).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(error?.name).to.equal("InvalidSignatureException");
      } finally {
        wrongSecret.destroy();
      }
    });

    it("answers a web page's preflight and request without any CORS header", async () => {
      const preflight = await fetch(invokeUrl(), { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
      expect(preflight.headers.get("access-control-allow-origin")).to.equal(null);
      const simple = await fetch(invokeUrl(), { method: "POST", headers: { origin: "https://evil.example", "content-type": "text/plain" }, body: "{}" });
      expect(simple.status).to.equal(403);
      expect(simple.headers.get("access-control-allow-origin")).to.equal(null);
    });
  });
});
