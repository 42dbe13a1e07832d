import { expect } from "chai";
import { actionMatches, evaluate, resourceMatches, type PolicyDocument } from "./iam-eval";
import { captureDeployedPolicies, checkLeastPrivilege, type Principals } from "./policies";

describe("reliability: the IAM evaluator", () => {
  const doc = (...Statement: PolicyDocument["Statement"][]): PolicyDocument => ({ Version: "2012-10-17", Statement: Statement.flat() });

  it("matches actions case-insensitively with * and ?", () => {
    expect(actionMatches("dynamodb:Get*", "dynamodb:GetItem")).to.equal(true);
    expect(actionMatches("DynamoDB:getitem", "dynamodb:GetItem")).to.equal(true);
    expect(actionMatches("dynamodb:?etItem", "dynamodb:GetItem")).to.equal(true);
    expect(actionMatches("dynamodb:?etItem", "dynamodb:BatchGetItem")).to.equal(false);
    expect(actionMatches("dynamodb:Get*", "dynamodb:BatchGetItem")).to.equal(false);
  });

  it("matches ARNs segment by segment: wildcards never cross the segment colons, but do cross / and : in the resource", () => {
    expect(resourceMatches("arn:aws:execute-api:eu-west-1:1:api/Prod/POST/@connections/*", "arn:aws:execute-api:eu-west-1:1:api/Prod/POST/@connections/a/b")).to.equal(true);
    expect(resourceMatches("arn:aws:execute-api:*:1:api/*", "arn:aws:execute-api:eu-west-1:1:api/x")).to.equal(true);
    expect(resourceMatches("arn:aws:execute-api:*:1:api/*", "arn:aws:execute-api:eu-west-1:2:api/x")).to.equal(false);
    expect(resourceMatches("arn:aws:bedrock:*::foundation-model/m:0", "arn:aws:bedrock:us-east-1::foundation-model/m:0")).to.equal(true);
    expect(resourceMatches("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/ab")).to.equal(false);
    expect(resourceMatches("arn:aws:dynamodb:r:1:table/T", "arn:aws:dynamodb:r:1:table/t")).to.equal(false);
    expect(resourceMatches("*", "anything")).to.equal(true);
  });

  it("lets an explicit Deny win, falls back to the implicit deny, supports NotAction/NotResource, and flags conditions", () => {
    const allowAll = { Effect: "Allow", Action: "s3:*", Resource: "*" };
    const deny = { Effect: "Deny", Action: "s3:DeleteObject", Resource: "arn:aws:s3:::b/*" };
    expect(evaluate([doc(allowAll, deny)], { action: "s3:DeleteObject", resource: "arn:aws:s3:::b/k" }).decision).to.equal("deny");
    expect(evaluate([doc(allowAll, deny)], { action: "s3:GetObject", resource: "arn:aws:s3:::b/k" }).decision).to.equal("allow");
    expect(evaluate([doc(deny)], { action: "s3:GetObject", resource: "arn:aws:s3:::b/k" }).decision).to.equal("implicit-deny");
    const notAction = { Effect: "Allow", NotAction: "iam:*", NotResource: "arn:aws:s3:::secret/*" };
    expect(evaluate([doc(notAction)], { action: "s3:GetObject", resource: "arn:aws:s3:::b/k" }).decision).to.equal("allow");
    expect(evaluate([doc(notAction)], { action: "iam:PassRole", resource: "*" }).decision).to.equal("implicit-deny");
    expect(evaluate([doc(notAction)], { action: "s3:GetObject", resource: "arn:aws:s3:::secret/k" }).decision).to.equal("implicit-deny");
    const conditional = { Sid: "ViaDynamo", Effect: "Allow", Action: "kms:Decrypt", Resource: "*", Condition: { StringEquals: { "kms:ViaService": "x" } } };
    expect(evaluate([doc(conditional)], { action: "kms:Decrypt", resource: "k" })).to.deep.equal({ decision: "conditional-allow", statements: ["ViaDynamo"] });
  });
});

describe("reliability: the deployed IAM policies, evaluated", function () {
  // The first program run bundles both functions.
  this.timeout(120_000);
  let principals: Principals;
  before(async () => {
    principals = await captureDeployedPolicies();
  });

  it("allow each role exactly what it needs, on its own resources, and deny every near miss", () => {
    const figure = checkLeastPrivilege(principals);
    expect(figure.conditional.length, "the KMS statements are conditional").to.be.greaterThan(0);
  });
});
