/**
 * Reads the Region's API Gateway account setting before the program builds anything, so
 * `apiGatewayCloudWatchRole: "auto"` can decide whether to create the CloudWatch role. The
 * AWS provider has no data source for it (`aws.apigateway.Account` is a resource only), so
 * this is API Gateway's GetAccount through the AWS SDK, with the stack's Region and profile.
 */
import { APIGatewayClient, GetAccountCommand } from "@aws-sdk/client-api-gateway";
import type { RegionCloudWatchRole } from "./cloudwatch-role";

export interface RegionSettingTarget {
  /** The stack's Region (`aws:region`). @default the SDK's (AWS_REGION …) */
  readonly region?: string;
  /** The stack's named profile (`aws:profile`). @default the SDK's credential chain */
  readonly profile?: string;
}

/** `aws apigateway get-account`'s `cloudwatchRoleArn` (undefined when unset). */
export async function readRegionCloudWatchRole(target: RegionSettingTarget = {}): Promise<RegionCloudWatchRole> {
  const client = new APIGatewayClient({ region: target.region, profile: target.profile });
  try {
    const account = await client.send(new GetAccountCommand({}));
    return account.cloudwatchRoleArn ? { roleArn: account.cloudwatchRoleArn } : {};
  } catch (error) {
    throw new Error(
      `apiGatewayCloudWatchRole "auto" could not read the Region's API Gateway account setting (apigateway:GET on /account): ${(error as Error).message}. Choose create, existing or none instead.`,
    );
  } finally {
    client.destroy();
  }
}
