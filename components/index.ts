/**
 * The package entry (`import { StreamingComponent } from "qnabot-streaming"`): the
 * components, their args, and the inline Lambda bundler.
 */
export {
  StreamingComponent,
  STREAMING_DEFAULTS,
  STREAMING_LIMITS,
  HANDLER_ROUTE_DEFAULTS,
  type StreamingComponentArgs,
  type StreamingRoute,
  type HandlerRoute,
  type FunctionArnRoute,
  type ExecutionLogging,
} from "./streaming";
export type { ApiGatewayCloudWatchRole, RegionCloudWatchRole } from "./cloudwatch-role";
export { readRegionCloudWatchRole, type RegionSettingTarget } from "./region-setting";
export type { StreamingDomain } from "./domain";
export type { NodeFunction } from "./function";
export type { PolicyStatement } from "./iam";
export { METRICS_NAMESPACE } from "./monitoring";
export {
  QnaBot,
  QNA_DEFAULTS,
  STREAMING_HTTP_DEFAULTS,
  type QnaBotArgs,
  type QnaGuardrail,
  type StreamingHttpArgs,
} from "./qna";
export { LexBot, type LexBotArgs } from "./lex-bot";
export { WebClientIdentity, LEX_WEB_UI_ACTIONS, type WebClientIdentityArgs } from "./web-identity";
export { BOT_INTENTS, DEFAULT_BOT_LOCALES, QNA_INTENT, QNA_SLOT, type BotIntentDefinition } from "./bot-definition";
export { createStack, needsRegionCloudWatchRole, type StackOutputs } from "./stack";
export { parseStackConfig, readStackConfig, CONFIG_DEFAULTS, type StackConfig } from "./config";
export {
  bundleArchive,
  buildBundle,
  functionEntry,
  BUNDLE_FILE,
  BUNDLE_HANDLER,
  type BundleOptions,
} from "./bundle";
export { bedrockModel, type AwsTarget, type BedrockModel } from "./arns";
