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
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const outputs = require(PROGRAM) as StackOutputs;
  await registrationsSettled();
  return { recorder, outputs };
}

describe("index.ts, the Pulumi program", function () {
  this.timeout(60_000);
  let savedConfig: Record<string, string>;
  before(() => {
    savedConfig = pulumi.runtime.allConfig();
  });
  after(() => {
    pulumi.runtime.setAllConfig(savedConfig);
    delete require.cache[PROGRAM];
  });

  it("deploys the QnA bot alone with the project's defaults, exporting only its outputs", async () => {
    const { recorder, outputs } = await runProgram({ "aws:region": "eu-west-1" });
    expect(Object.keys(outputs).sort()).to.deep.equal(["FulfillmentFunctionArn", "QnaAskEndpoint"]);
    expect(recorder.ofType(TYPES.streaming)).to.deep.equal([]);
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
