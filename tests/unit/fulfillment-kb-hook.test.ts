import { BedrockAgentRuntimeClient } from "@aws-sdk/client-bedrock-agent-runtime";
import { expect } from "chai";
import type { GenerateRequest, GenerateSink } from "../../functions/fulfillment/generate";
import { StreamGuard } from "../../functions/fulfillment/guard";
import { hookGenerator, hookPayload, type HookOptions, type LambdaInvoker } from "../../functions/fulfillment/hook";
import { knowledgeBaseRetriever, type Retriever } from "../../functions/fulfillment/kb-retrieve";
import { startBedrockEmulator, type BedrockEmulator } from "../../local/bedrock";
import { ManualClock, fakeClient } from "./fulfillment-fakes";

const options: HookOptions = { functionArn: "arn:aws:lambda:us-east-1:123456789012:function:my-llm", inference: { temperature: 0 } };
const request: GenerateRequest = {
  question: "How does the stream writer coalesce deltas?",
  history: [],
  sessionId: "s",
  requestId: "r",
  streaming: false,
};
const discardingSink: GenerateSink = { delta: () => undefined, citation: () => undefined, guardrail: () => undefined };

// QnABot's LLM_QA_PROMPT_TEMPLATE `{context}`: "passages retrieved from the search query" (QnABot's LLM documentation).
describe("fulfillment: a custom LLM Lambda in knowledge-base mode (retrieved context)", () => {
  it("fills {context} of QnABot's template with the retrieved passages, and the default prompt gets a Context section", () => {
    const templated = hookPayload({ ...options, promptTemplate: "Context: {context}<br>Q: {input}" }, request, "passage one\n\npassage two");
    expect(templated.prompt).to.equal("Context: passage one\n\npassage two\nQ: How does the stream writer coalesce deltas?");
    expect(hookPayload(options, request, "a passage").prompt).to.equal(
      "Context:\na passage\n\nHuman: How does the stream writer coalesce deltas?\n\nAssistant:",
    );
  });

  it("retrieves before invoking the hook, sends the context, and cites the passages' sources", async () => {
    const retriever: Retriever = {
      retrieve: async (question) => ({ context: `passages for ${question}`, citations: [{ text: "p", sources: [{ uri: "s3://docs/a.md" }] }] }),
    };
    const lambda = fakeClient(() => ({ StatusCode: 200, Payload: Buffer.from(JSON.stringify({ generated_text: "Coalesced." })) }));
    const result = await hookGenerator(lambda as unknown as LambdaInvoker, options, retriever).generate(
      request,
      discardingSink,
      new StreamGuard({ stallMs: 10_000, clock: new ManualClock() }),
    );
    expect(result).to.deep.equal({ text: "Coalesced.", stopReason: "end_turn", citations: [{ text: "p", sources: [{ uri: "s3://docs/a.md" }] }] });
    const payload = JSON.parse(Buffer.from((lambda.sent[0].input as { Payload: Uint8Array }).Payload).toString("utf8")) as { prompt: string };
    expect(payload.prompt).to.include(`passages for ${request.question}`);
  });

  describe("Bedrock Retrieve over the wire (the real SDK client against the local emulator)", () => {
    let emulator: BedrockEmulator;
    let agent: BedrockAgentRuntimeClient;

    before(async () => {
      emulator = await startBedrockEmulator({ deltasPerSecond: 0, firstTokenDelayMs: 0 });
      agent = new BedrockAgentRuntimeClient({
        endpoint: emulator.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "AKIALOCALTEST0000000", secretAccessKey: "local" },
        maxAttempts: 1,
      });
    });
    after(async () => {
      agent.destroy();
      await emulator.close();
    });

    it("returns the best passages as context, with their S3 sources as citations", async () => {
      const retrieved = await knowledgeBaseRetriever(agent, "LOCALKB001").retrieve(request.question, new AbortController().signal);
      expect(retrieved.context).to.include("coalesced");
      expect(retrieved.citations.length).to.be.within(1, 5);
      expect(retrieved.citations[0].sources[0].uri).to.equal("s3://local-documents/stream-writer.md");
      const recorded = emulator.requests[emulator.requests.length - 1];
      expect(recorded).to.include({ operation: "Retrieve", knowledgeBaseId: "LOCALKB001", path: "/knowledgebases/LOCALKB001/retrieve" });
    });

    it("is refused with a ValidationException for an empty query, as Bedrock does", async () => {
      const error = await knowledgeBaseRetriever(agent, "LOCALKB001")
        .retrieve("", new AbortController().signal)
        .then(() => undefined, (e: unknown) => e);
      expect((error as Error).name).to.equal("ValidationException");
    });
  });
});
