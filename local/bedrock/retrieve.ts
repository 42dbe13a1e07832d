/**
 * Bedrock Agent Runtime `Retrieve` (POST /knowledgebases/{knowledgeBaseId}/retrieve): the
 * passages of the bundled documents that best match the query, shaped as a knowledge base
 * returns them (content text, S3 location, score). A custom LLM Lambda answering in
 * knowledge-base mode gets them as its prompt's `{context}`.
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_Retrieve.html
 */
import { ServiceError, isRecord } from "./http";
import type { DocumentIndex } from "./retrieval";

/** Results when the request names no numberOfResults (Bedrock's default). */
const DEFAULT_RESULTS = 5;
const MAX_RESULTS = 100;

export const RETRIEVE_ROUTE = /^\/knowledgebases\/([^/]+)\/retrieve$/;

export interface RetrieveRequest {
  readonly query: string;
  readonly numberOfResults: number;
}

export function parseRetrieveRequest(body: unknown): RetrieveRequest {
  const query = isRecord(body) && isRecord(body.retrievalQuery) ? body.retrievalQuery.text : undefined;
  if (typeof query !== "string" || query.trim() === "") throw new ServiceError("ValidationException", "retrievalQuery.text is required.");
  const vector = isRecord(body) && isRecord(body.retrievalConfiguration) ? body.retrievalConfiguration.vectorSearchConfiguration : undefined;
  const asked = isRecord(vector) ? vector.numberOfResults : undefined;
  if (asked !== undefined && (typeof asked !== "number" || !Number.isInteger(asked) || asked < 1 || asked > MAX_RESULTS)) {
    throw new ServiceError("ValidationException", `numberOfResults must be an integer from 1 to ${MAX_RESULTS}.`);
  }
  return { query, numberOfResults: asked ?? DEFAULT_RESULTS };
}

export function retrieveResponse(index: DocumentIndex, request: RetrieveRequest): unknown {
  return {
    retrievalResults: index.search(request.query, request.numberOfResults).map(({ passage, score }) => ({
      content: { type: "TEXT", text: passage.text },
      location: { type: "S3", s3Location: { uri: passage.document.uri } },
      metadata: { "x-amz-bedrock-kb-source-uri": passage.document.uri, title: passage.document.title },
      score,
    })),
  };
}
