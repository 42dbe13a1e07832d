import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InvokeCommand } from "@aws-sdk/client-lambda";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "chai";
import { documentClient, lambdaClient, optionalIntEnv, requiredEnv, resetAwsClients } from "../../functions/shared/aws";
import { ENV } from "../../functions/shared/env";
import { LOCAL_DYNAMO_CREDENTIALS, startLocalDynamo, type LocalDynamo } from "../../local/dynamo";
import { applyEnv } from "../../local/process-env";

describe("shared AWS clients and environment (functions/shared/aws.ts)", () => {
  describe("requiredEnv", () => {
    it("returns a set variable and refuses an unset or empty one, naming it", () => {
      const restore = applyEnv({ [ENV.connectionsTable]: "connections-table" });
      try {
        expect(requiredEnv(ENV.connectionsTable)).to.equal("connections-table");
        process.env[ENV.connectionsTable] = "";
        expect(() => requiredEnv(ENV.connectionsTable)).to.throw(/CONNECTIONS_TABLE is not set.*misconfigured/);
        delete process.env[ENV.connectionsTable];
        expect(() => requiredEnv(ENV.connectionsTable)).to.throw(/CONNECTIONS_TABLE is not set.*misconfigured/);
      } finally {
        restore();
      }
    });
  });

  describe("optionalIntEnv", () => {
    const read = (raw: string | undefined) => {
      const restore = applyEnv({ [ENV.connectionTtlSeconds]: raw });
      try {
        return optionalIntEnv(ENV.connectionTtlSeconds, 7200, { min: 1, max: 86_400 });
      } finally {
        restore();
      }
    };

    it("falls back to the default when unset or blank", () => {
      expect(read(undefined)).to.equal(7200);
      expect(read("")).to.equal(7200);
      expect(read("  ")).to.equal(7200);
    });

    it("reads decimal integers within the range", () => {
      expect(read("60")).to.equal(60);
      expect(read(" 86400 ")).to.equal(86_400);
      expect(read("1")).to.equal(1);
    });

    it("refuses anything else, naming the variable, the range and the value", () => {
      for (const raw of ["0", "86401", "-5", "1.5", "1e3", "0x10", "two hours", "12abc"]) {
        expect(() => read(raw), raw).to.throw(
          `environment variable CONNECTION_TTL_SECONDS must be an integer from 1 to 86400, got ${JSON.stringify(raw)}`,
        );
      }
    });
  });

  describe("clients", () => {
    let local: LocalDynamo;
    let lambdaEndpoint: Server;
    const lambdaRequests: string[] = [];
    let restore: () => void;

    before(async () => {
      local = await startLocalDynamo();
      lambdaEndpoint = createServer((request, response) => {
        lambdaRequests.push(`${request.method} ${request.url}`);
        request.resume();
        request.on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("{}"));
      });
      await new Promise<void>((resolve) => lambdaEndpoint.listen(0, "127.0.0.1", resolve));
      restore = applyEnv({
        AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
        AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${(lambdaEndpoint.address() as AddressInfo).port}`,
        AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: LOCAL_DYNAMO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMO_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
      });
      resetAwsClients();
    });

    after(async () => {
      resetAwsClients();
      restore();
      lambdaEndpoint.closeAllConnections();
      await new Promise((resolve) => lambdaEndpoint.close(resolve));
      await local.close();
    });

    it("builds one document client per process, until reset", () => {
      const first = documentClient();
      expect(documentClient()).to.equal(first);
      resetAwsClients();
      expect(documentClient()).to.not.equal(first);
      const lambda = lambdaClient();
      expect(lambdaClient()).to.equal(lambda);
    });

    it("takes the region from AWS_REGION and the DynamoDB endpoint from AWS_ENDPOINT_URL_DYNAMODB, and drops undefined attributes", async () => {
      expect(await documentClient().config.region()).to.equal("eu-west-1");
      const item = { sessionId: "aws-test", connectionId: "c=", format: undefined };
      await documentClient().send(new PutCommand({ TableName: local.connectionsTable, Item: item }));
      const read = await DynamoDBDocumentClient.from(local.client).send(
        new GetCommand({ TableName: local.connectionsTable, Key: { sessionId: "aws-test" } }),
      );
      expect(read.Item).to.deep.equal({ sessionId: "aws-test", connectionId: "c=" });
    });

    it("sends Lambda calls to AWS_ENDPOINT_URL_LAMBDA", async () => {
      await lambdaClient().send(new InvokeCommand({ FunctionName: "fulfillment", InvocationType: "Event", Payload: "{}" }));
      expect(lambdaRequests).to.deep.equal(["POST /2015-03-31/functions/fulfillment/invocations"]);
    });
  });
});
