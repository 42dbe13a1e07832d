/**
 * IAM policy documents built from typed statements, so every statement the components write
 * names its actions and resources explicitly.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as aws from "@pulumi/aws";

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: "Allow";
  readonly Action: readonly string[];
  readonly Resource: pulumi.Input<readonly pulumi.Input<string>[]>;
  readonly Condition?: pulumi.Input<Record<string, Record<string, pulumi.Input<string | readonly string[]>>>>;
}

/** A policy document as the JSON string `aws.iam.RolePolicy.policy` takes. */
export function policyDocument(statements: readonly PolicyStatement[]): pulumi.Output<string> {
  return pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements });
}

/** Trust policy of a Lambda execution role. */
export const LAMBDA_ASSUME_ROLE_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/** Writing to one log group, and nothing else: the group and its streams. */
export function logWriteStatement(logGroup: aws.cloudwatch.LogGroup): PolicyStatement {
  return {
    Sid: "WriteOwnLogGroup",
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
    Resource: [logGroup.arn, pulumi.interpolate`${logGroup.arn}:log-stream:*`],
  };
}

/** Item access on a table (the tables have no secondary indexes to allow). */
export function tableStatement(sid: string, actions: readonly string[], tableArn: pulumi.Input<string>): PolicyStatement {
  return { Sid: sid, Effect: "Allow", Action: actions, Resource: [tableArn] };
}

/**
 * Using a customer managed key through DynamoDB only (the key cannot be used directly).
 * DynamoDB calls KMS with the caller's credentials for a table encrypted with a CMK.
 * `kms:ViaService` is the service's endpoint name, `dynamodb.{region}.{dnsSuffix}`: the
 * partition's suffix, `amazonaws.com.cn` in China.
 */
export function tableKeyStatement(
  kmsKeyArn: pulumi.Input<string>,
  region: pulumi.Input<string>,
  dnsSuffix: pulumi.Input<string>,
): PolicyStatement {
  return {
    Sid: "UseTableKeyThroughDynamoDb",
    Effect: "Allow",
    Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
    Resource: [kmsKeyArn],
    Condition: { StringEquals: { "kms:ViaService": pulumi.interpolate`dynamodb.${region}.${dnsSuffix}` } },
  };
}
