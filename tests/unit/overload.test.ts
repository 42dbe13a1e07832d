import { expect } from "chai";
import { isOverload } from "../../functions/shared/overload";

const named = (name: string, status?: number) => Object.assign(new Error("x"), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }) });

describe("isOverload (issue 21, finding 6: overload is busy, not internal)", () => {
  it("is true for the throttling answers of DynamoDB and Lambda, any 429, and a request timeout", () => {
    for (const name of ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "TimeoutError"]) {
      expect(isOverload(named(name)), name).to.equal(true);
    }
    expect(isOverload(named("SomethingNew", 429))).to.equal(true);
  });

  it("is false for failures that are not overload: a 5xx, a reset connection, a bad request, a non-error", () => {
    expect(isOverload(named("InternalServerError", 500))).to.equal(false);
    expect(isOverload(Object.assign(new Error("reset"), { code: "ECONNRESET" }))).to.equal(false);
    expect(isOverload(named("ValidationException", 400))).to.equal(false);
    expect(isOverload("TooManyRequestsException")).to.equal(false);
    expect(isOverload(undefined)).to.equal(false);
  });
});
