/**
 * `npm start -- --bedrock aws --model X` checks the model at start (issue 23), with the real
 * @aws-sdk/client-bedrock against a stand-in that answers as the Bedrock control plane does
 * (API reference: GetFoundationModel, GET /foundation-models/{modelIdentifier};
 * GetInferenceProfile, GET /inference-profiles/{inferenceProfileIdentifier}; errors as
 * restJson: the x-amzn-ErrorType header and a JSON body with `message`).
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { checkBedrockModel } from "../../local/model-check";

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local" };

const MODELS: Record<string, string[]> = {
  "anthropic.claude-3-haiku-20240307-v1:0": ["ON_DEMAND"],
  // Reachable only through a cross-Region profile, as AWS lists such models.
  "anthropic.claude-3-7-sonnet-20250219-v1:0": ["INFERENCE_PROFILE"],
};
const PROFILES = new Set(["us.anthropic.claude-3-5-haiku-20241022-v1:0"]);

function standIn(deny = false): Promise<{ server: Server; endpoint: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((request, response) => {
    const url = decodeURIComponent(request.url ?? "");
    paths.push(url);
    const fail = (status: number, type: string, message: string) => {
      response.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
      response.end(JSON.stringify({ message }));
    };
    if (!/^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\//.test(request.headers.authorization ?? "")) return fail(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    if (deny) return fail(403, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: bedrock:GetFoundationModel");
    const model = /^\/foundation-models\/(.+)$/.exec(url)?.[1];
    const profile = /^\/inference-profiles\/(.+)$/.exec(url)?.[1];
    if (model !== undefined) {
      const types = MODELS[model];
      if (!types) return fail(400, "ValidationException", "The provided model identifier is invalid.");
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ modelDetails: { modelId: model, modelArn: `arn:aws:bedrock:${REGION}::foundation-model/${model}`, inferenceTypesSupported: types, responseStreamingSupported: true, modelLifecycle: { status: "ACTIVE" } } }));
      return;
    }
    if (profile !== undefined) {
      if (!PROFILES.has(profile)) return fail(404, "ResourceNotFoundException", "The inference profile was not found.");
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ inferenceProfileId: profile, inferenceProfileName: "US Claude 3.5 Haiku", status: "ACTIVE", type: "SYSTEM_DEFINED", models: [] }));
      return;
    }
    fail(404, "UnknownOperationException", "");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths })));
}

describe("local: npm start checks the Bedrock model at start (issue 23)", () => {
  let bedrock: Awaited<ReturnType<typeof standIn>>;
  before(async () => {
    bedrock = await standIn();
  });
  after(() => bedrock.server.close());

  const check = (modelId: string, endpoint = bedrock.endpoint) => checkBedrockModel({ region: REGION, modelId, credentials: CREDENTIALS, endpoint });

  it("accepts a foundation model invokable on demand, and an inference profile, each with its own call", async () => {
    expect(await check("anthropic.claude-3-haiku-20240307-v1:0")).to.deep.equal({ ok: true });
    expect(await check("us.anthropic.claude-3-5-haiku-20241022-v1:0")).to.deep.equal({ ok: true });
    expect(bedrock.paths.slice(-2)).to.deep.equal(["/foundation-models/anthropic.claude-3-haiku-20240307-v1:0", "/inference-profiles/us.anthropic.claude-3-5-haiku-20241022-v1:0"]);
  });

  it("names the cause and the fix in one line: an unknown id, an unknown profile, a model that needs a profile", async () => {
    expect(await check("anthropic.claude-9")).to.deep.equal({
      ok: false,
      problem: "--model anthropic.claude-9 is not a foundation model in us-east-1: check the id and --region (aws bedrock list-foundation-models --region us-east-1)",
    });
    expect(await check("eu.anthropic.claude-3-5-haiku-20241022-v1:0")).to.deep.equal({
      ok: false,
      problem: "--model eu.anthropic.claude-3-5-haiku-20241022-v1:0 is not an inference profile in us-east-1: check the id and --region (aws bedrock list-inference-profiles --region us-east-1)",
    });
    expect(await check("anthropic.claude-3-7-sonnet-20250219-v1:0")).to.deep.equal({
      ok: false,
      problem:
        "--model anthropic.claude-3-7-sonnet-20250219-v1:0 cannot be invoked on demand in us-east-1: use an inference profile that contains it, e.g. --model us.anthropic.claude-3-7-sonnet-20250219-v1:0 (aws bedrock list-inference-profiles --region us-east-1)",
    });
  });

  it("starts anyway, with a note, when the credentials may not read model details", async () => {
    const denying = await standIn(true);
    try {
      const result = await check("anthropic.claude-3-haiku-20240307-v1:0", denying.endpoint);
      expect(result).to.deep.equal({
        ok: true,
        note: "could not check --model anthropic.claude-3-haiku-20240307-v1:0 (no permission to read its details: bedrock:GetFoundationModel); answers will tell if it cannot be used",
      });
    } finally {
      denying.server.close();
    }
  });

  it("npm start -- --bedrock aws --model <unknown> exits 1 with that one line (no SDK warning before it), before starting anything", async () => {
    const root = path.join(__dirname, "../..");
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ENDPOINT_URL_BEDROCK: bedrock.endpoint, AWS_ACCESS_KEY_ID: "AKIDLOCAL", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: REGION };
    delete env.AWS_PROFILE;
    // Not the test suite's silencing (tests/setup.ts): npm start silences the SDK's Node 20 warning itself.
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const failed = await promisify(execFile)(process.execPath, ["--import", "tsx", "local/start.ts", "--bedrock", "aws", "--model", "anthropic.claude-9"], { cwd: root, env }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).to.equal(1);
    expect(failed?.stdout).to.equal("");
    expect(failed?.stderr).to.equal("--model anthropic.claude-9 is not a foundation model in us-east-1: check the id and --region (aws bedrock list-foundation-models --region us-east-1)\n");
  });

  it("says when Bedrock's endpoint does not resolve", async () => {
    // .invalid never resolves (RFC 2606).
    expect(await check("anthropic.claude-3-haiku-20240307-v1:0", "https://bedrock.example.invalid")).to.deep.equal({
      ok: false,
      problem: "cannot reach Amazon Bedrock in us-east-1 (the name of its endpoint did not resolve): check the network and --region",
    });
  });
});
