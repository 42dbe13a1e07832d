/**
 * The account's API Gateway CloudWatch role: WebSocket stage logging (access logs, execution
 * logs) needs it set in the Region's API Gateway account settings, or creating the stage fails
 * ("CloudWatch Logs role ARN must be set in account settings to enable logging").
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/**
 * - `auto`: `create` when the Region has no role set, or has the one this stack created (its
 *   name starts with cloudWatchRoleNamePrefix); `existing` when another role is set, which is
 *   never overwritten. Needs the Region's current setting (readRegionCloudWatchRole).
 * - `create`: this stack creates a role and points the Region's setting at it. Both are kept
 *   on destroy (retainOnDelete): the setting cannot be removed, only repointed, so deleting
 *   the role would leave every API in the Region logging through a role that no longer exists.
 * - `existing`: the Region already has one (`aws apigateway get-account` shows
 *   `cloudwatchRoleArn`); nothing is created.
 * - `none`: no role; access logs and execution logging are off, so the stage never needs one.
 *
 * Whatever the mode, nothing is created when the stage logs nothing.
 */
export type ApiGatewayCloudWatchRole = "auto" | "create" | "existing" | "none";
export const API_GATEWAY_CLOUDWATCH_ROLE_MODES: readonly ApiGatewayCloudWatchRole[] = ["auto", "create", "existing", "none"];

/** The Region's API Gateway account setting, as `aws apigateway get-account` shows it. */
export interface RegionCloudWatchRole {
  /** `cloudwatchRoleArn`; undefined when the Region has none. */
  readonly roleArn?: string;
}

/**
 * Name prefix of the role `create` makes (IAM adds a unique suffix): `apigw-cw-{hash}-`, the
 * hash of project, stack and component, so `auto` recognises the Region's role as this
 * stack's own, also one an earlier, destroyed life of the stack left behind. 20 characters:
 * IAM's name prefixes may have 38.
 */
export function cloudWatchRoleNamePrefix(project: string, stack: string, component: string): string {
  const hash = createHash("sha256").update(`${project}/${stack}/${component}`).digest("hex").slice(0, 10);
  return `apigw-cw-${hash}-`;
}

/**
 * What the stage needs done about the Region's role: `create` it, use the `existing` one, or
 * `none` (the stage logs nothing). Throws when `auto` has no reading of the Region's setting.
 */
export function resolveCloudWatchRole(
  mode: ApiGatewayCloudWatchRole,
  logs: boolean,
  region: RegionCloudWatchRole | undefined,
  ownPrefix: string,
): "create" | "existing" | "none" {
  if (!logs) return "none";
  if (mode !== "auto") return mode;
  if (!region) {
    throw new Error(
      'apiGatewayCloudWatchRole "auto" needs the Region\'s current setting: pass regionCloudWatchRole (await readRegionCloudWatchRole()), or choose create, existing or none',
    );
  }
  if (!region.roleArn) return "create";
  const roleName = region.roleArn.slice(region.roleArn.lastIndexOf("/") + 1);
  return roleName.startsWith(ownPrefix) ? "create" : "existing";
}

/** AWS's managed policy for exactly this role (CreateLogGroup, PutLogEvents …), path service-role/. */
export const PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs";

export const API_GATEWAY_ASSUME_ROLE_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/**
 * Creates `${name}-apigateway-cloudwatch-role` (named `{namePrefix}…`), its policy attachment
 * and `${name}-apigateway-account` under `parent`; returns the account settings resource,
 * which the stage must be created after.
 */
export function apiGatewayCloudWatchRole(
  name: string,
  partition: pulumi.Input<string>,
  namePrefix: string,
  parent: pulumi.Resource,
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>,
): aws.apigateway.Account {
  const keep = { parent, retainOnDelete: true };
  const role = new aws.iam.Role(
    `${name}-apigateway-cloudwatch-role`,
    {
      namePrefix,
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
