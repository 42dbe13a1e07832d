/**
 * Checks of IAM documents recorded by the mocks: every statement names its resources, and
 * `*` appears only where AWS offers nothing narrower.
 */
import { expect } from "chai";
import type { PolicyDocument, RecordedResource } from "./mocks";
import { policyOf } from "./mocks";

/**
 * The statements allowed on `*`, where AWS accepts nothing narrower:
 * - `bedrock:RetrieveAndGenerate` has no resource type in IAM ("Actions, resources, and
 *   condition keys for Amazon Bedrock":
 *   https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html#amazonbedrock-RetrieveAndGenerate);
 *   RetrieveAndGenerateStream is authorized by the same action ("This operation requires
 *   permission for the bedrock:RetrieveAndGenerate action"):
 *   https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_RetrieveAndGenerateStream.html
 * - the Lex V2 bot role's `polly:SynthesizeSpeech`, exactly what AWS's own policy for Lex V2
 *   bots grants (AmazonLexV2BotPolicy: `polly:SynthesizeSpeech` on `*`,
 *   https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonLexV2BotPolicy.html).
 */
export const WILDCARD_EXCEPTIONS = [
  { Sid: "RetrieveAndGenerate", Action: ["bedrock:RetrieveAndGenerate"] },
  { Sid: "SynthesizeSpeech", Action: ["polly:SynthesizeSpeech"] },
];

export type StatementSummary = Record<string, { Action: string[]; Resource: string[]; Condition?: unknown }>;

function asList(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

/** Fails on `*` resources (but the documented exceptions), wildcard actions, and anonymous or non-Allow statements. */
export function expectNamedResources(policy: RecordedResource): void {
  const document: PolicyDocument = policyOf(policy);
  expect(document.Version, policy.name).to.equal("2012-10-17");
  for (const statement of document.Statement) {
    const where = `${policy.name} ${statement.Sid ?? "(no Sid)"}`;
    expect(statement.Sid, `${policy.name}: every statement has a Sid`).to.be.a("string");
    expect(statement.Effect, where).to.equal("Allow");
    for (const action of asList(statement.Action)) {
      expect(action, where).to.match(/^[a-z0-9-]+:[A-Za-z]+$/);
    }
    const resources = asList(statement.Resource);
    expect(resources, where).to.have.length.greaterThan(0);
    if (resources.includes("*")) {
      expect(WILDCARD_EXCEPTIONS, `${where} uses "*"`).to.deep.include({ Sid: statement.Sid, Action: asList(statement.Action) });
      expect(resources, where).to.deep.equal(["*"]);
    }
    for (const resource of resources.filter((r) => r !== "*")) {
      expect(resource, where).to.match(/^arn:aws:[a-z0-9-]+:/);
    }
  }
}

/** Statements keyed by Sid, for exact comparisons. */
export function statementsOf(policy: RecordedResource): StatementSummary {
  const summary: StatementSummary = {};
  for (const statement of policyOf(policy).Statement) {
    summary[statement.Sid as string] = {
      Action: asList(statement.Action),
      Resource: asList(statement.Resource),
      ...(statement.Condition ? { Condition: statement.Condition } : {}),
    };
  }
  return summary;
}

/** The trust policy of a Lambda execution role: lambda.amazonaws.com may assume it, nobody else. */
export function expectLambdaTrust(role: RecordedResource): void {
  expect(JSON.parse(role.inputs.assumeRolePolicy as string), role.name).to.deep.equal({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
  });
}
