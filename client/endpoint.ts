/** Checks a user-given WebSocket endpoint and finds its region, shared by `npm run chat` and the CLI. */

/** Returns the endpoint without a trailing slash; throws a usage-grade message when it is not ws(s)://. */
export function validateEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`endpoint ${JSON.stringify(value)} is not a URL (expected wss://{apiId}.execute-api.{region}.amazonaws.com/{stage})`);
  }
  if (url.protocol !== "wss:" && url.protocol !== "ws:") {
    throw new Error(`endpoint must start with wss:// (or ws:// for a local gateway), got ${url.protocol}//`);
  }
  if (url.search !== "" || url.hash !== "") {
    throw new Error("endpoint must not carry a query string: sessionId and the signature are added when connecting");
  }
  return value.replace(/\/+$/, "");
}

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/** `wss://abc123.execute-api.eu-west-1.amazonaws.com/Prod` → `eu-west-1`; undefined for custom domains. */
export function regionFromEndpoint(endpoint: string): string | undefined {
  try {
    return EXECUTE_API_HOST.exec(new URL(endpoint).hostname)?.[1];
  } catch {
    return undefined;
  }
}

/** `--region`, else the endpoint's own host, else the AWS SDK's usual environment variables. */
export function resolveRegion(
  endpoint: string,
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  return explicit || regionFromEndpoint(endpoint) || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
}
