import { expect } from "chai";
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

  describe('"create" (the default)', () => {
    let recorder: Recorder;
    before(async () => {
      recorder = await build({});
    });

    it("creates a role only API Gateway can assume, with AWS's managed push-to-CloudWatch policy (partition from the provider)", () => {
      const role = recorder.named("ws-apigateway-cloudwatch-role");
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
      ).to.throw(/apiGatewayCloudWatchRole must be one of create, existing, none/);
      await registrationsSettled();
      expect(recorder.resources).to.deep.equal([]);
    });
  });
});
