/** The Bedrock agent runtime (knowledge base) client, loaded by wiring.ts only when a knowledge-base answer is first generated. */
import { BedrockAgentRuntimeClient } from "@aws-sdk/client-bedrock-agent-runtime";

export function createBedrockAgentRuntimeClient(): BedrockAgentRuntimeClient {
  return new BedrockAgentRuntimeClient({});
}
