/**
 * Names of the environment variables the stack sets on its functions. The infrastructure
 * (components/) and the handlers both import these, so a rename cannot drift.
 * Streaming endpoint and table always come from here, never from a client.
 */
export const ENV = {
  /** Connections table name (connection and fulfillment functions). */
  connectionsTable: "CONNECTIONS_TABLE",
  /** Seconds a connection row lives (DynamoDB TTL). */
  connectionTtlSeconds: "CONNECTION_TTL_SECONDS",
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`; its presence turns streaming on. */
  streamingEndpoint: "STREAMING_ENDPOINT",
  /**
   * `true`: answers whose asker is unknown (the Lex door, QnABot-style hooks) may stream to,
   * and be remembered for, session ids not bound to an identity (session-state.ts,
   * SessionPolicy). Unset or `false` (the default): they are not.
   */
  unboundSessionStreaming: "UNBOUND_SESSION_STREAMING",
  /** Frame budget of `format=text` connections (Lex Web UI): minimum ms between two posts to one (0 = as fast as posts return). */
  streamTextFlushMs: "STREAM_TEXT_FLUSH_MS",
  /** Frame budget of `format=json` connections: minimum ms between two posts to one (0 = as fast as posts return). */
  streamJsonFlushMs: "STREAM_JSON_FLUSH_MS",
  /** Milliseconds without a Bedrock event after which a stream is ended with an error. */
  streamStallMs: "STREAM_STALL_MS",
  /** Asks one WebSocket connection may have in flight (fair use). */
  asksPerConnection: "ASKS_PER_CONNECTION",
  /** Asks one session may have in flight over all its connections and doors (fair use). */
  asksPerSession: "ASKS_PER_SESSION",
  /** Tokens one asker (principal, or session without one) may spend per UTC day; 0 or unset: metered, not limited. */
  tokenBudgetPerDay: "TOKEN_BUDGET_PER_DAY",
  /** `input,output` US dollars per million tokens, for the estimated cost in `usage`; unset: no estimate. */
  tokenPricesUsdPerMillion: "TOKEN_PRICES_USD_PER_MILLION",
  /** Days an answer's feedback record is kept after the answer ends and after each rating; 0 or unset: no feedback kept. */
  feedbackTtlDays: "FEEDBACK_TTL_DAYS",
  /** Prompt caching on ConverseStream: `auto` (default: models known to support it), `on`, `off`. */
  promptCaching: "PROMPT_CACHING",
  /** `performanceConfig.latency` (ConverseStream; RetrieveAndGenerate's generation configuration): `standard` or `optimized`; unset: not sent. */
  bedrockLatency: "BEDROCK_LATENCY",
  /** ConverseStream `serviceTier.type`: `default`, `flex`, `priority` or `reserved`; unset: not sent. */
  bedrockServiceTier: "BEDROCK_SERVICE_TIER",
  /** Milliseconds within which the Lex door answers a Lex code hook (below Lex's 30 s cut). */
  lexAnswerBudgetMs: "LEX_ANSWER_BUDGET_MS",
  /** Milliseconds a PostToConnection may take before it counts as failed. */
  streamPostTimeoutMs: "STREAM_POST_TIMEOUT_MS",
  /** Retries of a throttled or failed post before the writer gives up on its connection. */
  streamPostRetries: "STREAM_POST_RETRIES",
  /** Milliseconds a DynamoDB request's socket may stay silent before the attempt fails. */
  dynamoRequestTimeoutMs: "DYNAMODB_REQUEST_TIMEOUT_MS",
  /** Milliseconds between checkpoints of a resumable answer: how long a resuming client waits. */
  streamCheckpointMs: "STREAM_CHECKPOINT_MS",
  /** Conversation memory table name. */
  memoryTable: "MEMORY_TABLE",
  /** Turns (question + answer pairs) kept per session. */
  memoryTurns: "MEMORY_TURNS",
  /** Seconds a session's memory lives after its last turn. */
  memoryTtlSeconds: "MEMORY_TTL_SECONDS",
  /** Bedrock model id or inference profile id for the LLM mode. */
  llmModelId: "LLM_MODEL_ID",
  /** Knowledge base id; knowledge-base mode is available only when set. */
  knowledgeBaseId: "KNOWLEDGE_BASE_ID",
  /** Model ARN used by RetrieveAndGenerate. */
  knowledgeBaseModelArn: "KNOWLEDGE_BASE_MODEL_ARN",
  /** System prompt for ConverseStream. */
  systemPrompt: "SYSTEM_PROMPT",
  /** Inference config. */
  maxTokens: "LLM_MAX_TOKENS",
  temperature: "LLM_TEMPERATURE",
  topP: "LLM_TOP_P",
  /**
   * QnABot's QA prompt template for a custom LLM Lambda: `{context}`, `{history}`, `{input}`,
   * `{query}` placeholders, `<br>` for line breaks. Empty: the system prompt, history, question.
   */
  llmQaPromptTemplate: "LLM_QA_PROMPT_TEMPLATE",
  /** QnABot's model parameters (a JSON object) sent to a custom LLM Lambda as `parameters`. */
  llmQaModelParams: "LLM_QA_MODEL_PARAMS",
  /** ARN of a custom LLM Lambda (QnABot's LLM_API=LAMBDA); when set it generates instead of Bedrock. */
  llmLambdaArn: "LLM_LAMBDA_ARN",
  /** Comma-separated URL schemes a link in an answer may keep (output safety); unset: http,https,mailto. */
  outputLinkSchemes: "OUTPUT_LINK_SCHEMES",
  /** Comma-separated hosts an answer's image may load from over https (output safety); unset: none. */
  outputImageHosts: "OUTPUT_IMAGE_HOSTS",
  /**
   * Thinking budget in tokens (1024-24000) of an LLM answer whose asker asked for the model's
   * reasoning (`"reasoning": true`); unset: reasoning is off and such asks are answered without it.
   */
  reasoningBudgetTokens: "REASONING_BUDGET_TOKENS",
  /** Comma-separated S3 buckets whose cited objects become presigned links in answers; unset: none (sources stay text). */
  sourceLinkBuckets: "SOURCE_LINK_BUCKETS",
  /** Seconds a presigned source link works (1-604800); unset: 900. */
  sourceLinkExpirySeconds: "SOURCE_LINK_EXPIRY_SECONDS",
  /** The fulfillment function's own name, for the asynchronous hand-off of WebSocket asks. */
  selfFunctionName: "AWS_LAMBDA_FUNCTION_NAME",
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
