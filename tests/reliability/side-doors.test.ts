import type { LocalStack } from "../../local/stack";
import { bedrockRequestLog, chatPageSideDoor, dynamoSideDoor, httpApiBodies, lambdaSideDoor, startSideDoorStack } from "./side-doors";

describe("reliability: the local stack's side doors, probed over the wire", function () {
  this.timeout(120_000);
  let stack: LocalStack;
  before(async () => {
    stack = await startSideDoorStack();
  });
  after(() => stack?.close());

  it("DynamoDB refuses any key but the stack's and never sends CORS", () => dynamoSideDoor(stack));
  it("the Lambda Invoke API refuses unsigned and unknown callers", () => lambdaSideDoor(stack));
  it("the chat page server signs only for the page's own session", () => chatPageSideDoor(stack));
  it("POST /ask refuses 20 concurrent unsigned 10 MB bodies from their headers", () => httpApiBodies(stack, 20));
  it("the Bedrock emulator keeps a bounded request log", () => bedrockRequestLog(stack, 1100));
});
