/**
 * A bundled Node.js Lambda function with its own log group (`/aws/lambda/{functionName}`, the
 * name Lambda writes to by default and that tools and log subscriptions expect; JSON logs,
 * retention set) and its own execution role. Callers add the role's permissions, so each
 * function's policy lists exactly what that function calls.
 */
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { BUNDLE_HANDLER, bundleArchive } from "./bundle";
import { LAMBDA_ASSUME_ROLE_POLICY } from "./iam";

export const LAMBDA_RUNTIME = "nodejs22.x";
export const LAMBDA_ARCHITECTURE = "arm64";

export interface NodeFunctionArgs {
  /** Absolute path of the entry module (exports `handler`). */
  readonly entry: string;
  /** Shown in the Lambda console. */
  readonly description: string;
  /** MB. */
  readonly memorySize: number;
  /** Seconds. */
  readonly timeout: number;
  /** Environment variables (names from functions/shared/env.ts). */
  readonly environment: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Retention of the function's log group. */
  readonly logRetentionInDays: number;
  /** Active X-Ray tracing. */
  readonly tracing: boolean;
  /** Runs the function in these subnets. */
  readonly vpcConfig?: pulumi.Input<aws.types.input.lambda.FunctionVpcConfig>;
  /** Partition of the managed policies tracing and VPC access need. */
  readonly partition: pulumi.Input<string>;
  /** Executions set aside for the function, and its cap. @default none (-1): the account's unreserved pool */
  readonly reservedConcurrency?: number;
  /** Tags of the function, its role and its log group. */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export interface NodeFunction {
  readonly function: aws.lambda.Function;
  readonly role: aws.iam.Role;
  readonly logGroup: aws.cloudwatch.LogGroup;
}

/** The log group Lambda writes a function's logs to unless told otherwise. */
export function lambdaLogGroupName(functionName: string): string {
  return `/aws/lambda/${functionName}`;
}

/** Creates `${name}`, `${name}-logs`, `${name}-role` (and `${name}-xray` / `${name}-vpc`) under `parent`. */
export function nodeFunction(name: string, args: NodeFunctionArgs, parent: pulumi.Resource): NodeFunction {
  const role = new aws.iam.Role(
    `${name}-role`,
    { assumeRolePolicy: LAMBDA_ASSUME_ROLE_POLICY, tags: args.tags },
    { parent },
  );

  // X-Ray segments and VPC network interfaces support no resource-level permissions, so
  // those grants come from AWS's managed policies instead of inline `*` statements.
  const attachments: aws.iam.RolePolicyAttachment[] = [];
  if (args.tracing) {
    attachments.push(
      new aws.iam.RolePolicyAttachment(
        `${name}-xray`,
        { role: role.name, policyArn: pulumi.interpolate`arn:${args.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess` },
        { parent },
      ),
    );
  }
  if (args.vpcConfig) {
    attachments.push(
      new aws.iam.RolePolicyAttachment(
        `${name}-vpc`,
        {
          role: role.name,
          policyArn: pulumi.interpolate`arn:${args.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
        },
        { parent },
      ),
    );
  }

  const fn = new aws.lambda.Function(
    name,
    {
      description: args.description,
      code: bundleArchive(args.entry),
      handler: BUNDLE_HANDLER,
      runtime: LAMBDA_RUNTIME,
      architectures: [LAMBDA_ARCHITECTURE],
      role: role.arn,
      memorySize: args.memorySize,
      timeout: args.timeout,
      environment: { variables: args.environment },
      // Lambda's default group, /aws/lambda/{name}: the function keeps its auto-generated
      // (collision-free) name, and the group below is named from it.
      loggingConfig: { logFormat: "JSON" },
      tracingConfig: { mode: args.tracing ? "Active" : "PassThrough" },
      vpcConfig: args.vpcConfig,
      // Unset is the provider's -1 (no reservation); a reservation removed later is released.
      reservedConcurrentExecutions:
        args.reservedConcurrency !== undefined && args.reservedConcurrency > 0 ? args.reservedConcurrency : undefined,
      tags: args.tags,
    },
    // Lambda checks the network-interface permissions of a VPC function when creating it.
    { parent, dependsOn: attachments },
  );
  // Created right after the function, before anything can invoke it (its routes and
  // permissions come later), and the role may not create log groups itself: Lambda can never
  // have created this group first.
  const logGroup = new aws.cloudwatch.LogGroup(
    `${name}-logs`,
    { name: fn.name.apply(lambdaLogGroupName), retentionInDays: args.logRetentionInDays, tags: args.tags },
    { parent },
  );
  return { function: fn, role, logGroup };
}
