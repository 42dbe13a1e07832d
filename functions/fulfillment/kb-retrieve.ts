/**
 * Knowledge-base retrieval for a custom LLM Lambda (QnABot's LLM_API=LAMBDA in knowledge-base
 * mode): Bedrock `Retrieve` finds the passages, which become the hook's `{context}`, and
 * their sources the answer's citations, as QnABot hands a hook its retrieved context.
 */
import { RetrieveCommand, type RetrieveCommandOutput } from "@aws-sdk/client-bedrock-agent-runtime";
import type { Citation } from "../shared/protocol";
import { referenceUri } from "./knowledge-base";
import { snippetOf } from "./source-links";

/** The part of BedrockAgentRuntimeClient retrieval uses. */
export interface RetrieveClient {
  send(command: RetrieveCommand, options?: { abortSignal?: AbortSignal }): Promise<RetrieveCommandOutput>;
}

export interface RetrievedContext {
  /** The passages, best first, separated by blank lines. */
  context: string;
  citations: Citation[];
}

export interface Retriever {
  retrieve(question: string, signal: AbortSignal): Promise<RetrievedContext>;
}

/** Passages the hook gets: enough context for an answer, few enough for a prompt. */
export const RETRIEVED_PASSAGES = 5;

export function knowledgeBaseRetriever(client: RetrieveClient, knowledgeBaseId: string): Retriever {
  return {
    async retrieve(question, signal) {
      const output = await client.send(
        new RetrieveCommand({
          knowledgeBaseId,
          retrievalQuery: { text: question },
          retrievalConfiguration: { vectorSearchConfiguration: { numberOfResults: RETRIEVED_PASSAGES } },
        }),
        { abortSignal: signal },
      );
      const results = (output.retrievalResults ?? []).filter((result) => (result.content?.text ?? "") !== "");
      return {
        context: results.map((result) => result.content!.text!).join("\n\n"),
        citations: results.flatMap((result) => {
          const uri = referenceUri(result.location, result.metadata as Record<string, unknown> | undefined);
          const snippet = snippetOf(result.content!.text);
          return uri ? [{ text: result.content!.text!, sources: [{ uri, ...(snippet ? { snippet } : {}) }] }] : [];
        }),
      };
    },
  };
}
