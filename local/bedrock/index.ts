/**
 * Local Bedrock emulator for the offline stack, the tests and the benchmarks: the real
 * Bedrock wire protocol, an offline stand-in model, and scripted pace and faults.
 */
export { startBedrockEmulator } from "./emulator";
export type { BedrockEmulator, BedrockEmulatorOptions, RecordedRequest, RequestOutcome } from "./emulator";
export type {
  BedrockBehavior,
  BedrockOperation,
  InjectedGuardrailIntervention,
  InjectedHttpError,
  InjectedReset,
  InjectedStall,
  InjectedStreamError,
  RequestScript,
  ScriptedCitation,
} from "./behavior";
export { DEFAULT_BLOCKED_MESSAGE, DEFAULT_DELTAS_PER_SECOND, DEFAULT_FIRST_TOKEN_DELAY_MS } from "./behavior";
export { STAND_IN_NOTICE } from "./answer";
export { splitIntoDeltas } from "./deltas";
export { DOCUMENTS_URI_PREFIX } from "./retrieval";
export { SESSION_ID_HEADER } from "./retrieve-and-generate";
