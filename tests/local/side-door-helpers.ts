/** Over-the-wire probes of the local endpoints' side doors: requests that send headers only, signed requests of any service. */
import { request } from "node:http";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity } from "@smithy/types";

/**
 * Sends only the headers of a POST that declares `length` bytes and resolves with the status.
 * An answer proves the server judged the request without waiting for (or buffering) a body.
 */
export function headersOnly(url: string, headers: Record<string, string>, length: number): Promise<number> {
  const target = new URL(url);
  return new Promise<number>((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, method: "POST", path: target.pathname + target.search, headers: { ...headers, "content-length": String(length) } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      },
    );
    req.on("error", () => undefined);
    req.on("close", () => reject(new Error("closed without an answer")));
    req.flushHeaders();
  });
}

/** The headers of a SigV4-signed POST to `url` (service, region, body as given). */
export async function signedHeaders(
  url: string,
  options: { service: string; region: string; credentials: AwsCredentialIdentity; body: string; headers?: Record<string, string> },
): Promise<Record<string, string>> {
  const target = new URL(url);
  const signer = new SignatureV4({ service: options.service, region: options.region, credentials: options.credentials, sha256: Hash.bind(null, "sha256") });
  const signed = await signer.sign(
    new HttpRequest({
      method: "POST",
      protocol: target.protocol,
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      headers: { host: target.host, "content-type": "application/json", ...options.headers },
      body: options.body,
    }),
  );
  return signed.headers as Record<string, string>;
}
