/**
 * The qnabot-streaming Pulumi program: reads the stack's configuration and builds the stack.
 * Its exports are the stack outputs (the streaming ones only when enableStreaming is on).
 */
import { readStackConfig } from "./components/config";
import { createStack } from "./components/stack";

export = createStack(readStackConfig());
