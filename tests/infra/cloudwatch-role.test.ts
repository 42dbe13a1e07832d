import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { cloudWatchRoleNamePrefix, resolveCloudWatchRole } from "../../components/cloudwatch-role";
import { readRegionCloudWatchRole } from "../../components/region-setting";
import { StreamingComponent, type StreamingComponentArgs } from "../../components/streaming";
import { installMocks, registrationsSettled, TYPES, type Recorder } from "./mocks";

async function build(args: StreamingComponentArgs): Promise<Recorder> {
  const recorder = await installMocks();
  new StreamingComponent("ws", args);
  await registrationsSettled();
  return recorder;
}

/**
 * WebSocket stage logging fails without the Region's API Gateway CloudWatch role
 * ("CloudWatch Logs role ARN must be set in account settings to enable logging"); QnABot's
 * template creates the role and AWS::ApiGateway::Account for that reason (clients.md).
 * Resource types and arguments as the Pulumi AWS docs give them: aws.apigateway.Account
 * { cloudwatchRoleArn }, a role trusted by apigateway.amazonaws.com with the managed policy
 * AmazonAPIGatewayPushToCloudWatchLogs.
 */
describe("the API Gateway CloudWatch role (components/cloudwatch-role.ts)", function () {
  this.timeout(60_000);

  describe('"create" (the component\'s default)', () => {
    let recorder: Recorder;
    before(async () => {
      recorder = await build({});
    });

    it("creates a role only API Gateway can assume, with AWS's managed push-to-CloudWatch policy (partition from the provider)", () => {
      const role = recorder.named("ws-apigateway-cloudwatch-role");
      // Named with this stack's own prefix, so `auto` knows the Region's role as ours later.
      expect(role.inputs.namePrefix).to.equal(cloudWatchRoleNamePrefix("qnabot-streaming", "test", "ws"));
      expect(JSON.parse(role.inputs.assumeRolePolicy as string)).to.deep.equal({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }],
      });
      expect(recorder.named("ws-apigateway-cloudwatch-policy").inputs).to.deep.equal({
        role: "ws-apigateway-cloudwatch-role",
        policyArn: "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
      });
    });

    it("points the Region's API Gateway account setting at it, after the policy is attached", () => {
      const account = recorder.named("ws-apigateway-account");
      expect(account.type).to.equal(TYPES.apiGatewayAccount);
      expect(account.inputs).to.deep.equal({ cloudwatchRoleArn: "arn:aws:iam::123456789012:role/ws-apigateway-cloudwatch-role" });
      expect(account.dependsOn).to.include("ws-apigateway-cloudwatch-policy");
    });

    it("keeps the setting, the role and its policy on destroy, so the Region never points at a deleted role", () => {
      for (const name of ["ws-apigateway-account", "ws-apigateway-cloudwatch-role", "ws-apigateway-cloudwatch-policy"]) {
        expect(recorder.named(name).options.retainOnDelete, name).to.equal(true);
      }
      // Nothing else is retained.
      const retained = recorder.resources.filter((r) => r.options.retainOnDelete).map((r) => r.name);
      expect(retained.sort()).to.deep.equal(["ws-apigateway-account", "ws-apigateway-cloudwatch-policy", "ws-apigateway-cloudwatch-role"]);
    });

    it("creates the stage, with its access logs, only once the setting is in place", () => {
      const stage = recorder.named("ws-stage");
      expect(stage.dependsOn).to.include("ws-apigateway-account");
      expect(stage.inputs.accessLogSettings.destinationArn).to.match(/log-group:\/aws\/apigateway\/ws-api-id\/Prod$/);
    });
  });

  describe('"auto" (the stack\'s default): reads the Region\'s setting, creates only when it is free or ours', () => {
    const own = cloudWatchRoleNamePrefix("qnabot-streaming", "test", "ws");

    it("creates the role and the setting when the Region has none (a fresh account)", async () => {
      const recorder = await build({ apiGatewayCloudWatchRole: "auto", regionCloudWatchRole: {} });
      expect(recorder.ofType(TYPES.apiGatewayAccount).map((a) => a.name)).to.deep.equal(["ws-apigateway-account"]);
      expect(recorder.named("ws-apigateway-cloudwatch-role").inputs.namePrefix).to.equal(own);
      expect(recorder.named("ws-stage").dependsOn).to.include("ws-apigateway-account");
    });

    it("keeps managing the role when the Region's setting is this stack's own", async () => {
      const recorder = await build({
        apiGatewayCloudWatchRole: "auto",
        regionCloudWatchRole: { roleArn: `arn:aws:iam::123456789012:role/${own}20251201abcdef` },
      });
      expect(recorder.ofType(TYPES.apiGatewayAccount).map((a) => a.name)).to.deep.equal(["ws-apigateway-account"]);
    });

    it("never repoints a role another stack or an organisation baseline set: it uses it", async () => {
      const other = cloudWatchRoleNamePrefix("qnabot-streaming", "prod", "ws");
      for (const roleArn of [
        "arn:aws:iam::123456789012:role/service-role/OrgApiGatewayLogs",
        `arn:aws:iam::123456789012:role/${other}20251201abcdef`,
      ]) {
        const recorder = await build({ apiGatewayCloudWatchRole: "auto", regionCloudWatchRole: { roleArn } });
        expect(recorder.ofType(TYPES.apiGatewayAccount), roleArn).to.deep.equal([]);
        expect(recorder.ofType(TYPES.role).map((r) => r.name), roleArn).to.deep.equal(["ws-connection-role"]);
        expect(recorder.named("ws-stage").inputs, roleArn).to.have.property("accessLogSettings");
      }
    });

    it("creates nothing when the stage logs nothing, whatever the mode", async () => {
      for (const mode of ["auto", "create"] as const) {
        const recorder = await build({ apiGatewayCloudWatchRole: mode, regionCloudWatchRole: {}, accessLogging: false });
        expect(recorder.ofType(TYPES.apiGatewayAccount), mode).to.deep.equal([]);
        expect(recorder.ofType(TYPES.role).map((r) => r.name), mode).to.deep.equal(["ws-connection-role"]);
      }
    });

    it("refuses auto without a reading of the Region's setting", async () => {
      const recorder = await installMocks();
      expect(() => new StreamingComponent("a", { apiGatewayCloudWatchRole: "auto" })).to.throw(
        'apiGatewayCloudWatchRole "auto" needs the Region\'s current setting',
      );
      await registrationsSettled();
      expect(recorder.resources).to.deep.equal([]);
    });

    it("decides from the role name alone, any path, one prefix per project, stack and component", () => {
      const prefix = cloudWatchRoleNamePrefix("p", "s", "c");
      expect(prefix).to.match(/^apigw-cw-[0-9a-f]{10}-$/);
      // IAM allows name prefixes of at most 38 characters.
      expect(prefix.length).to.be.at.most(38);
      expect(cloudWatchRoleNamePrefix("p", "s2", "c")).not.to.equal(prefix);
      expect(resolveCloudWatchRole("auto", true, { roleArn: `arn:aws-cn:iam::1:role/a/b/${prefix}x` }, prefix)).to.equal("create");
      expect(resolveCloudWatchRole("auto", true, { roleArn: `arn:aws:iam::1:role/x${prefix}` }, prefix)).to.equal("existing");
      expect(resolveCloudWatchRole("existing", false, undefined, prefix)).to.equal("none");
    });
  });

  describe("readRegionCloudWatchRole: API Gateway's GetAccount (GET /account) through the AWS SDK", () => {
    let server: Server;
    let answer: { status: number; body: unknown };
    const requests: IncomingMessage[] = [];
    const saved = { ...process.env };
    before(async () => {
      server = createServer((request, response) => {
        requests.push(request);
        response.writeHead(answer.status, { "content-type": "application/json" });
        response.end(JSON.stringify(answer.body));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      // The SDK's service-specific endpoint variable, and static credentials for the signer.
      process.env.AWS_ENDPOINT_URL_API_GATEWAY = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      process.env.AWS_ACCESS_KEY_ID = "AKIDTEST";
      process.env.AWS_SECRET_ACCESS_KEY = "secret";
    });
    after(async () => {
      process.env = saved;
      await new Promise((resolve) => server.close(resolve));
    });

    it("returns the Region's role, or none when the setting is empty", async () => {
      answer = { status: 200, body: { cloudwatchRoleArn: "arn:aws:iam::123456789012:role/logs", throttleSettings: {} } };
      expect(await readRegionCloudWatchRole({ region: "eu-west-1" })).to.deep.equal({ roleArn: "arn:aws:iam::123456789012:role/logs" });
      expect(requests.at(-1)?.method).to.equal("GET");
      expect(requests.at(-1)?.url).to.equal("/account");
      answer = { status: 200, body: { throttleSettings: {} } };
      expect(await readRegionCloudWatchRole({ region: "eu-west-1" })).to.deep.equal({});
    });

    it("fails the program with a message saying what to choose instead when it cannot read", async () => {
      answer = { status: 403, body: { message: "User is not authorized to perform: apigateway:GET" } };
      let message = "";
      try {
        await readRegionCloudWatchRole({ region: "eu-west-1" });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).to.include(`apiGatewayCloudWatchRole "auto" could not read the Region's API Gateway account setting`);
      expect(message).to.include("Choose create, existing or none instead.");
    });
  });

  describe('"existing"', () => {
    it("creates no role or setting and keeps logging as configured", async () => {
      const recorder = await build({ apiGatewayCloudWatchRole: "existing", executionLogging: "ERROR" });
      expect(recorder.ofType(TYPES.apiGatewayAccount)).to.deep.equal([]);
      expect(recorder.ofType(TYPES.role).map((r) => r.name)).to.deep.equal(["ws-connection-role"]);
      const stage = recorder.named("ws-stage").inputs;
      expect(stage).to.have.property("accessLogSettings");
      expect(stage.defaultRouteSettings.loggingLevel).to.equal("ERROR");
    });
  });

  describe('"none"', () => {
    it("creates no role and turns access logs and execution logging off, so the stage never needs the role", async () => {
      const recorder = await build({ apiGatewayCloudWatchRole: "none" });
      expect(recorder.ofType(TYPES.apiGatewayAccount)).to.deep.equal([]);
      expect(recorder.ofType(TYPES.role).map((r) => r.name)).to.deep.equal(["ws-connection-role"]);
      const stage = recorder.named("ws-stage").inputs;
      expect(stage).not.to.have.property("accessLogSettings");
      expect(stage.defaultRouteSettings.loggingLevel).to.equal("OFF");
      expect(recorder.ofType(TYPES.logGroup).map((g) => g.name)).to.deep.equal(["ws-connection-logs"]);
    });

    it("refuses logging it cannot do, and an unknown mode, before registering anything", async () => {
      const recorder = await installMocks();
      expect(() => new StreamingComponent("a", { apiGatewayCloudWatchRole: "none", accessLogging: true })).to.throw(
        /"none" cannot log/,
      );
      expect(() => new StreamingComponent("b", { apiGatewayCloudWatchRole: "none", executionLogging: "INFO" })).to.throw(
        /"none" cannot log/,
      );
      expect(
        () => new StreamingComponent("c", { apiGatewayCloudWatchRole: "maybe" as unknown as "none" }),
      ).to.throw(/apiGatewayCloudWatchRole must be one of auto, create, existing, none/);
      await registrationsSettled();
      expect(recorder.resources).to.deep.equal([]);
    });
  });
});
