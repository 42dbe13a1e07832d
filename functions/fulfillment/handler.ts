/**
 * The fulfillment function: one handler, three front doors (Lex V2 code hook, HTTP API
 * `POST /ask`, WebSocket `ask` route) and the internal job the `ask` route hands off to, all
 * answered by one engine. Everything it talks to comes from the stack's environment.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { ENV } from "../shared/env";
import { loadConfig } from "./config";
import { dispatch, type DoorDeps, type DoorResult } from "./doors";

let cached: { key: string; deps: DoorDeps } | undefined;

/**
 * Built on first use and kept for the container; rebuilt only when the environment changes (a
 * process hosting it locally). The wiring (SDK clients, engine, writer) is required on the
 * first request rather than imported, so the init phase does not evaluate it (the bundler keeps
 * a `require` lazy), and it loads each client only on the path that calls it.
 */
export function depsFromEnv(): DoorDeps {
  const names = [...Object.values(ENV), ...Object.keys(process.env).filter((name) => name.startsWith("AWS_ENDPOINT_URL"))];
  const key = JSON.stringify(names.map((name) => [name, process.env[name] ?? null]));
  if (cached?.key !== key) {
    const { doorDeps } = require("./wiring") as typeof import("./wiring");
    cached = { key, deps: doorDeps(loadConfig(process.env)) };
  }
  return cached.deps;
}

export const handler = async (event: unknown, context?: Partial<Context>): Promise<DoorResult> => {
  const remaining = context?.getRemainingTimeInMillis;
  return dispatch(
    event,
    {
      remainingMs: typeof remaining === "function" ? () => remaining.call(context) : undefined,
      awsRequestId: context?.awsRequestId ?? randomUUID(),
    },
    depsFromEnv(),
  );
};
