import { expect } from "chai";
import {
  askEndpoint,
  bedrockModel,
  INFERENCE_PROFILE_PREFIXES,
  isInferenceProfile,
  knowledgeBaseArn,
  lambdaInvokeUri,
  managementEndpoint,
  webSocketEndpoint,
  type AwsTarget,
} from "../../components/arns";

const TARGET: AwsTarget = { partition: "aws", region: "eu-west-1", accountId: "123456789012", dnsSuffix: "amazonaws.com" };

describe("ARN and endpoint formulas (components/arns.ts)", () => {
  describe("Bedrock models", () => {
    it("turns a foundation model id into its ARN in the stack's Region, and allows only that", () => {
      const model = bedrockModel("anthropic.claude-3-haiku-20240307-v1:0", TARGET);
      const arn = "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0";
      expect(model).to.deep.equal({ arn, invokeResources: [arn] });
      expect(isInferenceProfile("anthropic.claude-3-haiku-20240307-v1:0")).to.equal(false);
    });

    it("turns an inference profile id into the profile ARN plus its foundation model in any Region", () => {
      const model = bedrockModel("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", TARGET);
      const profile = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0";
      expect(model).to.deep.equal({
        arn: profile,
        inferenceProfileArn: profile,
        invokeResources: [profile, "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0"],
      });
    });

    it("recognises every geography prefix, us-gov before us", () => {
      for (const prefix of INFERENCE_PROFILE_PREFIXES) {
        const model = bedrockModel(`${prefix}.amazon.nova-lite-v1:0`, TARGET);
        expect(model.inferenceProfileArn, prefix).to.equal(
          `arn:aws:bedrock:eu-west-1:123456789012:inference-profile/${prefix}.amazon.nova-lite-v1:0`,
        );
        expect(model.invokeResources[1], prefix).to.equal("arn:aws:bedrock:*::foundation-model/amazon.nova-lite-v1:0");
      }
    });

    it("uses an ARN as is, adding the foundation model only for a system-defined profile ARN", () => {
      const fm = "arn:aws:bedrock:us-west-2::foundation-model/amazon.titan-text-express-v1";
      expect(bedrockModel(fm, TARGET)).to.deep.equal({ arn: fm, invokeResources: [fm] });
      const app = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc123def456";
      expect(bedrockModel(app, TARGET)).to.deep.equal({ arn: app, invokeResources: [app] });
      const profile = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-v1:0";
      expect(bedrockModel(profile, TARGET)).to.deep.equal({
        arn: profile,
        inferenceProfileArn: profile,
        invokeResources: [profile, "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-v1:0"],
      });
      expect(isInferenceProfile(profile)).to.equal(true);
      expect(isInferenceProfile(app)).to.equal(false);
    });

    it("follows the partition", () => {
      const model = bedrockModel("us-gov.anthropic.claude-3-haiku-20240307-v1:0", {
        ...TARGET,
        partition: "aws-us-gov",
        region: "us-gov-west-1",
      });
      expect(model.arn).to.match(/^arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile\//);
      expect(model.invokeResources[1]).to.match(/^arn:aws-us-gov:bedrock:\*::foundation-model\//);
    });

    it("rejects an ARN of another service, and an empty setting", () => {
      expect(() => bedrockModel("arn:aws:lambda:eu-west-1:123456789012:function:f", TARGET)).to.throw(/not a Bedrock/);
      expect(() => bedrockModel(" ", TARGET)).to.throw(/not a Bedrock/);
    });
  });

  it("builds the knowledge base ARN", () => {
    expect(knowledgeBaseArn("KB12345678", TARGET)).to.equal("arn:aws:bedrock:eu-west-1:123456789012:knowledge-base/KB12345678");
  });

  it("builds the Lambda invoke URI API Gateway integrations use", () => {
    expect(lambdaInvokeUri("aws", "eu-west-1", "arn:aws:lambda:eu-west-1:123456789012:function:ask")).to.equal(
      "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:ask/invocations",
    );
  });

  it("builds the WebSocket, @connections and ask endpoints", () => {
    expect(webSocketEndpoint("abc123", "eu-west-1", "amazonaws.com", "Prod")).to.equal(
      "wss://abc123.execute-api.eu-west-1.amazonaws.com/Prod",
    );
    expect(managementEndpoint("abc123", "eu-west-1", "amazonaws.com", "Prod")).to.equal(
      "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod",
    );
    expect(askEndpoint("xyz789", "cn-north-1", "amazonaws.com.cn")).to.equal(
      "https://xyz789.execute-api.cn-north-1.amazonaws.com.cn/ask",
    );
  });
});
