/**
 * Limits the code relies on, held by the local emulators as AWS documents them (the table in
 * docs/local-stack.md#limits-the-code-relies-on lists every one, with its source and test).
 * These are the ones not proven elsewhere: DynamoDB's 400 KB item (dynalite enforces it, and
 * the journal's and memory's own bounds fit under it), and Lambda's invocation payload quotas
 * on the local Invoke API and function URL.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { DEFAULT_MEMORY_LIMITS } from "../../functions/fulfillment/memory";
import { DynamoJournalStore, MAX_JOURNAL_BYTES } from "../../functions/stream/journal-store";
import { useLocalDynamo } from "../unit/local-dynamo";
import { MAX_FUNCTION_URL_BODY_BYTES, startLocalFunctionUrl } from "../../local/function-url";
import { localIamUser, localRoleSession } from "../../local/gateway";
import { startLambdaApi } from "../../local/lambda-api";
import { installResponseStreaming, type StreamingHandler } from "../../local/response-streaming";
import { responseStreaming } from "../../functions/fulfillment/response-streaming";
import { rejection } from "./sdk-rejection";
import { headersOnly, signedHeaders } from "./side-door-helpers";

const KB = 1024;

describe("AWS limits the code relies on, held locally", function () {
  // "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary
  // length (UTF-8 length) and attribute value lengths"
  // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
  describe("DynamoDB: 400 KB per item", function () {
    const dynamo = useLocalDynamo();

    it("refuses an item over 400 KB with ValidationException, as DynamoDB does", async function () {
      const put = (bytes: number) => dynamo.client.send(new PutCommand({ TableName: dynamo.local.connectionsTable, Item: { sessionId: "big", blob: "a".repeat(bytes) } }));
      await put(399 * KB);
      const error = await rejection(put(401 * KB));
      expect(error.name).to.equal("ValidationException");
      expect(error.message).to.match(/Item size has exceeded the maximum allowed size/);
    });

    it("fits the longest journal the writer keeps (MAX_JOURNAL_BYTES) and the memory item's bound under it", async function () {
      expect(MAX_JOURNAL_BYTES).to.be.below(400 * KB);
      expect(DEFAULT_MEMORY_LIMITS.maxItemBytes).to.be.below(400 * KB);
      const store = new DynamoJournalStore({ tableName: dynamo.local.connectionsTable, client: dynamo.client });
      const key = { sessionId: "s", principal: "iam:arn:aws:iam::123456789012:user/alice", requestId: "r-long" };
      await store.open(key);
      // One delta as long as a kept journal may be: the checkpoint is accepted whole.
      const text = "x".repeat(MAX_JOURNAL_BYTES - 100);
      const news = await store.checkpoint(key, [{ type: "delta", text, end: text.length }], true);
      expect(news.cancelled).to.equal(false);
    });
  });

  // "For synchronous invocations, the maximum payload size is 6 MB. For asynchronous invocations,
  // the maximum payload size is 1 MB." https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
  describe("Lambda: invocation payload quotas", function () {
    it("refuses a synchronous payload over 6 MB and an asynchronous one over 1 MB with RequestTooLargeException (413)", async function () {
      const role = localRoleSession("invoker");
      const api = await startLambdaApi({ credentials: [role], functions: { echo: async (event) => event } });
      const lambda = new LambdaClient({ endpoint: api.endpoint, region: "us-east-1", credentials: role, maxAttempts: 1 });
      try {
        const payload = (bytes: number) => Buffer.from(JSON.stringify({ blob: "a".repeat(bytes) }));
        const sync = await rejection(lambda.send(new InvokeCommand({ FunctionName: "echo", Payload: payload(6 * KB * KB) })));
        expect(sync.name).to.equal("RequestTooLargeException");
        expect(sync.$metadata?.httpStatusCode).to.equal(413);
        const async = await rejection(lambda.send(new InvokeCommand({ FunctionName: "echo", InvocationType: "Event", Payload: payload(KB * KB) })));
        expect(async.name).to.equal("RequestTooLargeException");
        const fits = await lambda.send(new InvokeCommand({ FunctionName: "echo", InvocationType: "Event", Payload: payload(KB * KB - 100) }));
        expect(fits.StatusCode).to.equal(202);
      } finally {
        lambda.destroy();
        await api.idle();
        await api.close();
      }
    });

    it("refuses a function URL request over the 6 MB synchronous quota before reading it (413)", async function () {
      installResponseStreaming();
      const user = localIamUser("url-user");
      const handler = responseStreaming().streamifyResponse(async (_event, stream) => void stream.end("ok")) as unknown as StreamingHandler;
      const url = await startLocalFunctionUrl({ handler, credentials: [user] });
      try {
        const headers = await signedHeaders(url.url, { service: "lambda", region: "us-east-1", credentials: user, body: "" });
        expect(MAX_FUNCTION_URL_BODY_BYTES).to.equal(6 * KB * KB);
        expect(await headersOnly(url.url, headers, MAX_FUNCTION_URL_BODY_BYTES + 1)).to.equal(413);
      } finally {
        await url.close();
      }
    });
  });
});
