/**
 * `npm start`: the local stack on loopback, until Ctrl-C.
 *   npm start -- [--bedrock emulator|aws] [--port 3000] [--region us-east-1] [--model <id>] [--knowledge-base <id>]
 */
import { parseArgs } from "node:util";
import { startLocalStack } from "./stack";

const USAGE = "usage: npm start -- [--bedrock emulator|aws] [--port 3000] [--region <region>] [--model <model id>] [--knowledge-base <id>]";

export interface StartOptions {
  bedrock: "emulator" | "aws";
  port: number;
  region?: string;
  model?: string;
  knowledgeBase?: string;
}

/** Parses the command line; throws with the usage on anything it does not accept. */
export function parseStartArgs(argv: readonly string[]): StartOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      bedrock: { type: "string", default: "emulator" },
      port: { type: "string", default: "3000" },
      region: { type: "string" },
      model: { type: "string" },
      "knowledge-base": { type: "string" },
    },
    strict: true,
  });
  if (values.bedrock !== "emulator" && values.bedrock !== "aws") throw new Error(`--bedrock must be "emulator" or "aws"\n${USAGE}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number\n${USAGE}`);
  if (values["knowledge-base"] && values.bedrock !== "aws") throw new Error(`--knowledge-base needs --bedrock aws\n${USAGE}`);
  return { bedrock: values.bedrock, port, region: values.region, model: values.model, knowledgeBase: values["knowledge-base"] };
}

async function main(): Promise<void> {
  let options: StartOptions;
  try {
    options = parseStartArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const started = Date.now();
  const stack = await startLocalStack({
    bedrock: options.bedrock,
    pagePort: options.port,
    region: options.region,
    modelId: options.model,
    knowledgeBaseId: options.knowledgeBase,
    env: { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN", POWERTOOLS_METRICS_DISABLED: "true" },
  });
  process.stdout.write(
    [
      `qnabot-streaming local stack ready in ${Date.now() - started} ms (answers from: ${stack.label})`,
      ``,
      `  Chat page            ${stack.pageUrl}`,
      `  WebSocket (signed)   ${stack.webSocketUrl}`,
      `  @connections API     ${stack.managementEndpoint}`,
      `  POST /ask (SigV4)    ${stack.askUrl}`,
      `  DynamoDB (dynalite)  ${stack.dynamo.endpoint}`,
      ...(stack.bedrock ? [`  Bedrock emulator     ${stack.bedrock.endpoint}`] : []),
      ``,
      `  From a terminal:     npx qnabot-stream ask "How does streaming work?" --local ${stack.pageUrl}`,
      ``,
      `Ctrl-C stops it.`,
      ``,
    ].join("\n"),
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping…\n");
    stack.close().then(
      () => process.exit(0),
      (error: Error) => {
        process.stderr.write(`error while stopping: ${error.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (require.main === module) {
  main().catch((error: Error) => {
    const busy = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
    process.stderr.write(busy ? `the port is in use: pick another with --port\n` : `could not start the local stack: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}
