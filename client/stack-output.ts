/** Reads a deployed stack's WebSocket endpoint with the pulumi CLI, as `npm run chat -- --stack <name>` does. */
import { execFile } from "node:child_process";
import { validateEndpoint } from "./endpoint";
import { UsageError } from "./exit-codes";

/** The stack output index.ts exports (QnABot's name). */
export const ENDPOINT_OUTPUT = "StreamingWebSocketEndpoint";

export interface StackOutputOptions {
  /** The Pulumi project directory. @default process.cwd() */
  readonly cwd?: string;
  /** Environment of the pulumi process (its PATH finds the CLI). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export function readStackEndpoint(stack: string, options: StackOutputOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "pulumi",
      ["stack", "output", ENDPOINT_OUTPUT, "--stack", stack],
      { cwd: options.cwd, env: options.env ?? process.env, timeout: 120_000, windowsHide: true },
      (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") {
          reject(
            new UsageError(
              "the pulumi CLI was not found on PATH: install it (https://www.pulumi.com/docs/install/) or pass --endpoint wss://… --region … instead of --stack",
            ),
          );
          return;
        }
        if (error) {
          const detail = String(stderr).trim().split("\n").filter(Boolean).pop() ?? error.message;
          reject(new UsageError(`pulumi stack output ${ENDPOINT_OUTPUT} --stack ${stack} failed: ${detail}`));
          return;
        }
        const endpoint = String(stdout).trim();
        if (endpoint === "") {
          reject(new UsageError(`stack ${stack} has no ${ENDPOINT_OUTPUT} output: is enableStreaming true there?`));
          return;
        }
        try {
          resolve(validateEndpoint(endpoint));
        } catch (invalid) {
          reject(new UsageError(`stack ${stack}: ${(invalid as Error).message}`));
        }
      },
    );
  });
}
