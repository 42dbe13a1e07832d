import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import type { StackOutputs } from "../../components/stack";
import { installMocks, registrationsSettled, TYPES, valueOf, type Recorder } from "./mocks";

const PROGRAM = require.resolve("../../index");

/** Runs index.ts afresh, as `pulumi up` would, with this stack configuration. */
async function runProgram(config: Record<string, string>): Promise<{ recorder: Recorder; outputs: StackOutputs }> {
  const recorder = await installMocks();
  pulumi.runtime.setAllConfig(config);
  delete require.cache[PROGRAM];
  // The program exports a promise of its outputs (it may read the Region's setting first).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const outputs = await (require(PROGRAM) as Promise<StackOutputs>);
  await registrationsSettled();
  return { recorder, outputs };
}

describe("index.ts, the Pulumi program", function () {
  this.timeout(60_000);
  let savedConfig: Record<string, string>;
  const savedEnv = { ...process.env };
  // API Gateway's GetAccount (GET /account), as a Region whose setting holds `regionRole`.
  let server: Server;
  let regionRole: string | undefined;
  const accountReads: string[] = [];
  before(async () => {
    savedConfig = pulumi.runtime.allConfig();
    server = createServer((request, response) => {
      accountReads.push(`${request.method} ${request.url}`);
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(regionRole ? { cloudwatchRoleArn: regionRole } : {}));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    process.env.AWS_ENDPOINT_URL_API_GATEWAY = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.AWS_ACCESS_KEY_ID = "AKIDTEST";
    process.env.AWS_SECRET_ACCESS_KEY = "secret";
  });
  after(async () => {
    pulumi.runtime.setAllConfig(savedConfig);
    delete require.cache[PROGRAM];
    process.env = savedEnv;
    await new Promise((resolve) => server.close(resolve));
  });

  it("deploys the QnA bot, its Lex bot and identity pool with the project's defaults, exporting their outputs", async () => {
    accountReads.length = 0;
    const { recorder, outputs } = await runProgram({ "aws:region": "eu-west-1" });
    expect(Object.keys(outputs).sort()).to.deep.equal([
      "CognitoIdentityPoolId",
      "FulfillmentFunctionArn",
      "LexV2BotAliasArn",
      "LexV2BotAliasId",
      "LexV2BotId",
      "LexV2BotLocaleId",
      "QnaAskEndpoint",
      "Region",
    ]);
    expect(recorder.ofType(TYPES.streaming)).to.deep.equal([]);
    // No WebSocket stage, no stage logging: the Region's setting is not even read.
    expect(accountReads).to.deep.equal([]);
  });

  it("reads the Region's CloudWatch role setting first, and creates the role only when the Region has none", async () => {
    accountReads.length = 0;
    regionRole = undefined;
    const fresh = await runProgram({ "aws:region": "eu-west-1", "qnabot-streaming:enableStreaming": "true" });
    expect(accountReads).to.deep.equal(["GET /account"]);
    expect(fresh.recorder.ofType(TYPES.apiGatewayAccount).map((a) => a.name)).to.deep.equal(["streaming-apigateway-account"]);
    regionRole = "arn:aws:iam::123456789012:role/org-baseline-apigateway-logs";
    const taken = await runProgram({ "aws:region": "eu-west-1", "qnabot-streaming:enableStreaming": "true" });
    expect(taken.recorder.ofType(TYPES.apiGatewayAccount)).to.deep.equal([]);
    expect(taken.recorder.named("streaming-stage").inputs).to.have.property("accessLogSettings");
  });

  it("reads the qnabot-streaming settings: streaming on, its stage, TTL and the rest", async () => {
    const { recorder, outputs } = await runProgram({
      "qnabot-streaming:enableStreaming": "true",
      "qnabot-streaming:streamingStageName": "dev",
      "qnabot-streaming:connectionTtlSeconds": "10800",
      "qnabot-streaming:streamJsonFlushMs": "40",
      "qnabot-streaming:throttlingBurstLimit": "40",
    });
    expect(await valueOf(outputs.StreamingWebSocketEndpoint)).to.equal("wss://streaming-api-id.execute-api.eu-west-1.amazonaws.com/dev");
    expect(recorder.named("streaming-connection").inputs.environment.variables.CONNECTION_TTL_SECONDS).to.equal("10800");
    expect(recorder.named("qnabot-fulfillment").inputs.environment.variables.STREAM_JSON_FLUSH_MS).to.equal("40");
    expect(await valueOf(outputs.StreamingHttpEndpoint)).to.equal("https://qnabot-streaming-http-url-id.lambda-url.eu-west-1.on.aws/");
    expect(recorder.named("streaming-stage").inputs.defaultRouteSettings.throttlingBurstLimit).to.equal(40);
  });

  it("stops on bad settings before creating anything, naming each", async () => {
    const recorder = await installMocks();
    pulumi.runtime.setAllConfig({
      "qnabot-streaming:enableStreaming": "on",
      "qnabot-streaming:logRetentionInDays": "10",
    });
    delete require.cache[PROGRAM];
    let message = "";
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(PROGRAM);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.include('qnabot-streaming:enableStreaming must be true or false; got "on"');
    expect(message).to.include("qnabot-streaming:logRetentionInDays must be one of");
    await registrationsSettled();
    expect(recorder.resources).to.deep.equal([]);
  });
});
