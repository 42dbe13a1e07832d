/**
 * `npm run chat -- --stack <name> | --endpoint <wss> [--region r] [--port p]`: the chat page
 * for a deployed stack, on this machine, signing with the user's default AWS credentials.
 */
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { credentialsOf } from "./aws-signer";
import { CHAT_USAGE, parseChatArgs } from "./chat-args";
import { startChatServer, type ChatServer } from "./chat-server";
import { connectSourceOf } from "./web/csp";
import { resolveRegion } from "./endpoint";
import { CliError, EXIT, UsageError } from "./exit-codes";
import { readStackEndpoint } from "./stack-output";

export interface ChatDeps {
  readonly stdout: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** @default the default credential chain */
  readonly credentials?: AwsCredentialIdentityProvider;
  /** Where `pulumi stack output` runs. @default process.cwd() */
  readonly cwd?: string;
}

/** Starts the page server; resolves undefined after printing help. Throws CliError. */
export async function runChatCommand(argv: readonly string[], deps: ChatDeps): Promise<ChatServer | undefined> {
  const args = parseChatArgs(argv);
  if (args.kind === "help") {
    deps.stdout.write(`${CHAT_USAGE}\n`);
    return undefined;
  }
  const endpoint =
    args.source.kind === "stack"
      ? await readStackEndpoint(args.source.stack, { cwd: deps.cwd, env: { ...deps.env } })
      : args.source.endpoint;
  const region = resolveRegion(endpoint, args.region, deps.env);
  if (!region) throw new UsageError("--region is required: the endpoint's host name does not say it and AWS_REGION is not set");

  const credentials = credentialsOf({ credentials: deps.credentials });
  try {
    await credentials();
  } catch (error) {
    throw new CliError(
      EXIT.auth,
      `no AWS credentials found (${(error as Error).message}); configure the default chain, e.g. aws configure, AWS_PROFILE or aws sso login`,
    );
  }
  const where = args.source.kind === "stack" ? `stack ${args.source.stack}` : new URL(endpoint).host;
  let server: ChatServer;
  try {
    server = await startChatServer({
      endpoint,
      region,
      credentials,
      label: `${where} · ${region}`,
      port: args.port,
      host: args.host,
      // The page may open its socket to this endpoint only (its Content-Security-Policy).
      pagePolicy: { connectSources: [connectSourceOf(endpoint)] },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UsageError(`port ${args.port} is in use: pass --port <another> (0 picks a free one)`);
    throw error;
  }
  deps.stdout.write(`Chat page: ${server.url}\nSigning for ${endpoint} (${region}) with your default AWS credentials. Ctrl-C stops.\n`);
  return server;
}

async function main(): Promise<void> {
  let server: ChatServer | undefined;
  try {
    server = await runChatCommand(process.argv.slice(2), { stdout: process.stdout, env: process.env });
  } catch (error) {
    process.stderr.write(`chat: ${(error as Error).message}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
    return;
  }
  if (!server) return;
  const running = server;
  process.once("SIGINT", () => void running.close());
  process.once("SIGTERM", () => void running.close());
}

if (require.main === module) void main();
