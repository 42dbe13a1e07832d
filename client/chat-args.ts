/** Argument parsing of `npm run chat`. Pure: argv in, where to sign for and where to listen out. */
import { parseArgs } from "node:util";
import { validateEndpoint } from "./endpoint";
import { UsageError, usageErrorFromParseArgs } from "./exit-codes";

export const CHAT_USAGE = `Usage:
  npm run chat -- --stack <name> [--region r] [--port p]
  npm run chat -- --endpoint wss://{apiId}.execute-api.{region}.amazonaws.com/{stage} [--region r] [--port p]

Serves the chat page on http://127.0.0.1:<port>/ and signs WebSocket URLs there with your
default AWS credential chain (credentials never reach the browser).

  --stack <name>     read the endpoint from \`pulumi stack output StreamingWebSocketEndpoint\`
  --endpoint <url>   the endpoint itself
  --region <region>  default: from the endpoint's host name, then AWS_REGION / AWS_DEFAULT_REGION
  --port <port>      default 8787 (0 picks a free one)
  --host <address>   default 127.0.0.1; the page is only for this machine
  -h, --help         show this help`;

export type ChatArgs =
  | { kind: "help" }
  | {
      kind: "serve";
      source: { kind: "stack"; stack: string } | { kind: "endpoint"; endpoint: string };
      region?: string;
      port: number;
      host: string;
    };

export function parseChatArgs(argv: readonly string[]): ChatArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        stack: { type: "string" },
        endpoint: { type: "string" },
        region: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw usageErrorFromParseArgs(error);
  }
  const { values } = parsed;
  if (values.help) return { kind: "help" };
  if ((values.stack === undefined) === (values.endpoint === undefined)) {
    throw new UsageError("give exactly one of --stack <name> or --endpoint wss://…");
  }
  const port = values.port === undefined ? 8787 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got ${JSON.stringify(values.port)}`);
  let source: { kind: "stack"; stack: string } | { kind: "endpoint"; endpoint: string };
  if (values.stack !== undefined) {
    if (values.stack.trim() === "") throw new UsageError("--stack needs a stack name");
    source = { kind: "stack", stack: values.stack };
  } else {
    try {
      source = { kind: "endpoint", endpoint: validateEndpoint(values.endpoint as string) };
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  return { kind: "serve", source, region: values.region, port, host: values.host ?? "127.0.0.1" };
}
