/** The Bedrock runtime client, loaded by wiring.ts only when an LLM answer is first generated. */
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";

export function createBedrockRuntimeClient(): BedrockRuntimeClient {
  return new BedrockRuntimeClient({});
}
