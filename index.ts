/**
 * The qnabot-streaming Pulumi program: reads the stack's configuration and builds the stack.
 * Its exports are the stack outputs (the streaming ones only when enableStreaming is on).
 * With `apiGatewayCloudWatchRole: auto` it first reads the Region's API Gateway account
 * setting (the AWS provider has no data source for it), with the stack's Region and profile.
 */
import * as aws from "@pulumi/aws";
import { readStackConfig } from "./components/config";
import { readRegionCloudWatchRole } from "./components/region-setting";
import { createStack, needsRegionCloudWatchRole } from "./components/stack";

// Read synchronously: a bad setting fails before anything else happens.
const config = readStackConfig();

export = (async () => {
  const region = needsRegionCloudWatchRole(config)
    ? // The provider's Region (aws:region, or AWS_REGION …), the one the stack deploys to.
      await readRegionCloudWatchRole({ region: (await aws.getRegion()).region, profile: aws.config.profile })
    : undefined;
  return createStack(config, region);
})();
