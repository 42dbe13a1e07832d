// Run only by tests/setup.test.ts (not a *.test.ts file): a test that does what noisy
// tests do, logging through the handlers' logger and creating an AWS SDK client.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { logger } from "../../functions/shared/observability";

describe("a test that runs handler code", () => {
  it("logs as the handlers do and creates an SDK client", () => {
    logger.info("route handled", { route: "$connect", status: 200 });
    logger.error("could not register the connection");
    process.stdout.write('{"v":1,"type":"delta","requestId":"r","seq":1,"text":"not a log"}\n');
    new DynamoDBClient({ region: "us-east-1" }).destroy();
  });
});
