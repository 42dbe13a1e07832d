/**
 * The account's API Gateway CloudWatch role: WebSocket stage logging (access logs, execution
 * logs) needs it set in the Region's API Gateway account settings, or creating the stage fails
 * ("CloudWatch Logs role ARN must be set in account settings to enable logging").
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/**
 * - `create`: this stack creates a role and points the Region's setting at it. Both are kept
 *   on destroy (retainOnDelete): the setting cannot be removed, only repointed, so deleting
 *   the role would leave every API in the Region logging through a role that no longer exists.
 * - `existing`: the Region already has one (`aws apigateway get-account` shows
 *   `cloudwatchRoleArn`); nothing is created.
 * - `none`: no role; access logs and execution logging are off, so the stage never needs one.
 */
export type ApiGatewayCloudWatchRole = "create" | "existing" | "none";
export const API_GATEWAY_CLOUDWATCH_ROLE_MODES: readonly ApiGatewayCloudWatchRole[] = ["create", "existing", "none"];

/** AWS's managed policy for exactly this role (CreateLogGroup, PutLogEvents …), path service-role/. */
export const PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs";

export const API_GATEWAY_ASSUME_ROLE_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/**
 * Creates `${name}-apigateway-cloudwatch-role`, its policy attachment and
 * `${name}-apigateway-account` under `parent`; returns the account settings resource, which
 * the stage must be created after.
 */
export function apiGatewayCloudWatchRole(
  name: string,
  partition: pulumi.Input<string>,
  parent: pulumi.Resource,
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>,
): aws.apigateway.Account {
  const keep = { parent, retainOnDelete: true };
  const role = new aws.iam.Role(
    `${name}-apigateway-cloudwatch-role`,
    {
      description: "Lets API Gateway write API logs to CloudWatch Logs (the Region's API Gateway account setting)",
      assumeRolePolicy: API_GATEWAY_ASSUME_ROLE_POLICY,
      tags,
    },
    keep,
  );
  const attachment = new aws.iam.RolePolicyAttachment(
    `${name}-apigateway-cloudwatch-policy`,
    { role: role.name, policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/${PUSH_TO_CLOUDWATCH_POLICY}` },
    keep,
  );
  // API Gateway checks that it can assume the role and write logs when the setting changes.
  return new aws.apigateway.Account(
    `${name}-apigateway-account`,
    { cloudwatchRoleArn: role.arn },
    { ...keep, dependsOn: [attachment] },
  );
}
