/**
 * The package entry (`import { StreamingComponent } from "qnabot-streaming"`): the
 * components, their args, and the inline Lambda bundler.
 */
export {
  StreamingComponent,
  STREAMING_DEFAULTS,
  type StreamingComponentArgs,
  type StreamingRoute,
  type ExecutionLogging,
} from "./streaming";
export { QnaBot, QNA_DEFAULTS, type QnaBotArgs } from "./qna";
export { createStack, type StackOutputs } from "./stack";
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
