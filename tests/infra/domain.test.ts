import { expect } from "chai";
import { StreamingComponent } from "../../components/streaming";
import { installMocks, registrationsSettled, TYPES, valueOf, type Recorder } from "./mocks";

const certificateArn = "arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab";

/**
 * Custom domains for WebSocket APIs are regional API Gateway domain names mapped to a stage;
 * Route 53 points at them with an alias A record to the domain's target name and zone
 * (aws.apigatewayv2.DomainName domainNameConfiguration.targetDomainName / hostedZoneId).
 */
describe("custom domain (components/domain.ts)", function () {
  this.timeout(60_000);

  describe("with a hosted zone and a base path", () => {
    let recorder: Recorder;
    let component: StreamingComponent;
    before(async () => {
      recorder = await installMocks();
      component = new StreamingComponent("chat", {
        stageName: "live",
        domain: { name: "chat.example.com", certificateArn, hostedZoneId: "Z0123456789ABC", basePath: "v1" },
      });
      await registrationsSettled();
    });

    it("creates a regional TLS 1.2 domain name with the certificate", () => {
      const domain = recorder.named("chat-domain");
      expect(domain.type).to.equal(TYPES.domainName);
      expect(domain.inputs).to.deep.equal({
        domainName: "chat.example.com",
        domainNameConfiguration: { certificateArn, endpointType: "REGIONAL", securityPolicy: "TLS_1_2" },
      });
    });

    it("maps the stage under the base path", () => {
      expect(recorder.named("chat-domain-mapping").inputs).to.deep.equal({
        apiId: "chat-api-id",
        domainName: "chat-domain-id",
        stage: "live",
        apiMappingKey: "v1",
      });
    });

    it("points an alias A record at the domain's regional target", () => {
      expect(recorder.named("chat-domain-record").inputs).to.deep.equal({
        zoneId: "Z0123456789ABC",
        name: "chat.example.com",
        type: "A",
        aliases: [
          {
            name: "d-chat-domain-id.execute-api.eu-west-1.amazonaws.com",
            zoneId: "ZREGIONALAPIGW",
            evaluateTargetHealth: false,
          },
        ],
      });
    });

    it("gives clients wss://{domain}/{basePath}/, and keeps @connections calls on execute-api", async () => {
      // The trailing slash: API Gateway answers a base path without one with Not Found (SST's
      // apigateway-websocket.ts appends it for that reason).
      expect(await valueOf(component.webSocketEndpoint)).to.equal("wss://chat.example.com/v1/");
      expect(await valueOf(component.managementEndpoint)).to.equal("https://chat-api-id.execute-api.eu-west-1.amazonaws.com/live");
    });
  });

  it("without a zone or base path: maps the root, creates no record, endpoint wss://{domain}", async () => {
    const recorder = await installMocks();
    const component = new StreamingComponent("chat", { domain: { name: "ws.example.org", certificateArn } });
    await registrationsSettled();
    expect(recorder.ofType(TYPES.record)).to.deep.equal([]);
    expect(recorder.named("chat-domain-mapping").inputs).not.to.have.property("apiMappingKey");
    expect(await valueOf(component.webSocketEndpoint)).to.equal("wss://ws.example.org");
  });

  it("refuses a malformed domain name or base path before registering anything", async () => {
    const recorder = await installMocks();
    expect(() => new StreamingComponent("a", { domain: { name: "Chat.Example.com", certificateArn } })).to.throw(
      /domain.name must be a lower-case fully qualified domain name/,
    );
    expect(() => new StreamingComponent("b", { domain: { name: "localhost", certificateArn } })).to.throw(/domain.name/);
    expect(() => new StreamingComponent("c", { domain: { name: "a.example.com", certificateArn, basePath: "a/b" } })).to.throw(
      /domain.basePath must be/,
    );
    // API mappings allow letters, numbers and $-_.+!*'() only: no ~ ("Map API stages to a custom
    // domain name for WebSocket APIs", Restrictions).
    expect(() => new StreamingComponent("d", { domain: { name: "a.example.com", certificateArn, basePath: "~v1" } })).to.throw(
      'domain.basePath must be 1-300 characters of A-Z a-z 0-9 . _ -; got "~v1"',
    );
    await registrationsSettled();
    expect(recorder.resources).to.deep.equal([]);
  });
});
