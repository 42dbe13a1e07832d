/**
 * The Lex V2 bot and the web clients' Cognito identity pool, as the stack deploys them by
 * default (components/lex-bot.ts, components/web-identity.ts), under Pulumi mocks.
 *
 * Shapes follow the AWS CloudFormation resources the aws-native provider drives
 * (AWS::Lex::Bot BotLocales/Intents/SlotTypes, AWS::Lex::BotVersion
 * BotVersionLocaleSpecification, AWS::Lex::BotAlias BotAliasLocaleSettings
 * CodeHookSpecification.LambdaCodeHook) and QnABot on AWS's Lex V2 bot (lexv2-build:
 * `QnaIntent` with the sole sample utterance `{qnaslot}` of the custom `QnaSlotType`, value
 * selection OriginalValue, fulfillment code hook on; alias `live`). Lex Web UI's Cognito roles
 * get lex:RecognizeText, RecognizeUtterance, PutSession and DeleteSession on the alias
 * (templates/cognito.yaml; lib/lex/client.js calls them), and execute-api:Invoke on $connect.
 */
import { expect } from "chai";
import {
  BOT_INTENTS,
  DEFAULT_BOT_LOCALES,
  FALLBACK_INTENT,
  QNA_INTENT,
  QNA_SLOT,
  QNA_SLOT_TYPE,
} from "../../components/bot-definition";
import { parseStackConfig, type ConfigKey } from "../../components/config";
import { botDefinitionDigest, LexBot } from "../../components/lex-bot";
import { createStack, reservationNotice, type StackOutputs } from "../../components/stack";
import { WebClientIdentity } from "../../components/web-identity";
import { codeHookEvent, DEFAULT_LOCAL_BOT } from "../../local/lex-runtime";
import { evaluate } from "../reliability/iam-eval";
import { expectNamedResources, statementsOf } from "./iam";
import {
  ACCOUNT,
  installMocks,
  MOCK_ARNS,
  mockLexId,
  policyOf,
  REGION,
  registrationsSettled,
  TYPES,
  valueOf,
  type Recorder,
} from "./mocks";

const ALIAS_ARN = `arn:aws:lex:${REGION}:${ACCOUNT}:bot-alias/${mockLexId("lex-bot")}/${mockLexId("lex-alias")}`;
const EXISTING_ALIAS_ARN = `arn:aws:lex:${REGION}:${ACCOUNT}:bot-alias/ABCDEFGHIJ/KLMNOPQRST`;

async function deploy(values: Partial<Record<ConfigKey, string>>): Promise<{ recorder: Recorder; outputs: StackOutputs }> {
  const recorder = await installMocks();
  const outputs = createStack(parseStackConfig((key) => values[key]), {});
  await registrationsSettled();
  return { recorder, outputs };
}

describe("the Lex V2 bot and the web clients' identity pool (components/lex-bot.ts, web-identity.ts)", function () {
  this.timeout(60_000);

  describe("by default (lexBot create, streaming on)", () => {
    let recorder: Recorder;
    let outputs: StackOutputs;
    before(async () => {
      ({ recorder, outputs } = await deploy({ enableStreaming: "true" }));
    });

    it("creates a bot shaped like QnABot's: QnaIntent with its free-text slot and FallbackIntent, both fulfilled by the code hook", () => {
      const bot = recorder.named("lex-bot").inputs;
      expect(bot).to.deep.include({
        roleArn: "arn:aws:iam::123456789012:role/lex-role",
        dataPrivacy: { childDirected: false },
        idleSessionTtlInSeconds: 300,
        autoBuildBotLocales: true,
      });
      expect(bot.botLocales).to.deep.equal([
        {
          localeId: "en_US",
          nluConfidenceThreshold: 0.4,
          slotTypes: [
            {
              name: QNA_SLOT_TYPE,
              slotTypeValues: [
                { sampleValue: { value: "What can you do?" } },
                { sampleValue: { value: "How do I reset my password?" } },
                { sampleValue: { value: "What are your opening hours?" } },
                { sampleValue: { value: "Tell me about your products" } },
              ],
              valueSelectionSetting: { resolutionStrategy: "ORIGINAL_VALUE" },
            },
          ],
          intents: [
            {
              name: "QnaIntent",
              sampleUtterances: [{ utterance: "{qnaslot}" }],
              slots: [
                {
                  name: "qnaslot",
                  slotTypeName: "QnaSlotType",
                  valueElicitationSetting: {
                    slotConstraint: "Optional",
                    promptSpecification: {
                      maxRetries: 4,
                      messageGroupsList: [{ message: { plainTextMessage: { value: "What is the question?" } } }],
                    },
                  },
                },
              ],
              slotPriorities: [{ priority: 1, slotName: "qnaslot" }],
              fulfillmentCodeHook: { enabled: true },
            },
            // Lex refuses a locale without an intent based on AMAZON.FallbackIntent (AWS::Lex::Bot).
            { name: "FallbackIntent", parentIntentSignature: "AMAZON.FallbackIntent", fulfillmentCodeHook: { enabled: true } },
          ],
        },
      ]);
    });

    it("deploys the bot with an aws-native provider in the AWS provider's Region (no separate aws-native:region)", () => {
      const providers = recorder.resources.filter((r) => r.type === "pulumi:providers:aws-native");
      expect(providers.map((p) => [p.name, p.inputs.region])).to.deep.equal([["aws-native", REGION]]);
      for (const name of ["lex-bot", "lex-version", "lex-alias"]) expect(recorder.named(name).provider, name).to.equal("aws-native");
    });

    it("runs the bot under a role only Lex V2 can assume, with AWS's own Lex V2 bot policy (Polly speech)", () => {
      expect(JSON.parse(recorder.named("lex-role").inputs.assumeRolePolicy as string)).to.deep.equal({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lexv2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      });
      const policy = recorder.named("lex-role-policy");
      expect(policy.inputs.role).to.equal("lex-role");
      expectNamedResources(policy);
      expect(statementsOf(policy)).to.deep.equal({ SynthesizeSpeech: { Action: ["polly:SynthesizeSpeech"], Resource: ["*"] } });
    });

    it("builds a version of every locale from the draft, named by the definition's digest", () => {
      expect(recorder.named("lex-version").inputs).to.deep.equal({
        botId: mockLexId("lex-bot"),
        botVersionLocaleSpecification: [{ localeId: "en_US", botVersionLocaleDetails: { sourceBotVersion: "DRAFT" } }],
        description: `qnabot-streaming bot definition ${botDefinitionDigest(["en_US"])}`,
      });
    });

    it("serves that version from the alias `live`, whose code hook in every locale is the fulfillment function", () => {
      expect(recorder.named("lex-alias").inputs).to.deep.equal({
        botId: mockLexId("lex-bot"),
        botAliasName: "live",
        botVersion: "1",
        botAliasLocaleSettings: [
          {
            localeId: "en_US",
            botAliasLocaleSetting: {
              enabled: true,
              codeHookSpecification: {
                lambdaCodeHook: { lambdaArn: MOCK_ARNS.function("qnabot-fulfillment"), codeHookInterfaceVersion: "1.0" },
              },
            },
          },
        ],
      });
    });

    it("lets that alias, and only it, invoke the fulfillment function", () => {
      expect(recorder.named("lex-permission").inputs).to.deep.equal({
        action: "lambda:InvokeFunction",
        function: MOCK_ARNS.function("qnabot-fulfillment"),
        principal: "lexv2.amazonaws.com",
        sourceArn: ALIAS_ARN,
      });
      // No unscoped Lex permission besides it.
      expect(recorder.ofType(TYPES.permission).filter((p) => p.inputs.principal === "lexv2.amazonaws.com").map((p) => p.name)).to.deep.equal([
        "lex-permission",
      ]);
    });

    it("gives guests of a Cognito identity pool (enhanced flow only) the guest role", () => {
      expect(recorder.named("web-pool").inputs).to.deep.equal({
        identityPoolName: "qnabot streaming test",
        allowUnauthenticatedIdentities: true,
        allowClassicFlow: false,
      });
      expect(recorder.named("web-roles").inputs).to.deep.equal({
        identityPoolId: "web-pool-id",
        roles: { unauthenticated: "arn:aws:iam::123456789012:role/web-guest-role" },
      });
      expect(JSON.parse(recorder.named("web-guest-role").inputs.assumeRolePolicy as string)).to.deep.equal({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Federated: "cognito-identity.amazonaws.com" },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
              StringEquals: { "cognito-identity.amazonaws.com:aud": "web-pool-id" },
              "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": "unauthenticated" },
            },
          },
        ],
      });
    });

    it("lets the guest role call what Lex Web UI calls on this alias, and open connections on $connect, nothing else (IAM evaluated)", () => {
      const lexPolicy = recorder.named("web-guest-policy");
      const connectPolicy = recorder.named("streaming-connect-grant-1");
      for (const policy of [lexPolicy, connectPolicy]) {
        expectNamedResources(policy);
        expect(policy.inputs.role, policy.name).to.equal("web-guest-role");
      }
      const documents = [policyOf(lexPolicy), policyOf(connectPolicy)];
      const decide = (action: string, resource: string) => evaluate(documents, { action, resource }).decision;
      for (const action of ["lex:RecognizeText", "lex:RecognizeUtterance", "lex:PutSession", "lex:DeleteSession"]) {
        expect(decide(action, ALIAS_ARN), action).to.equal("allow");
        expect(decide(action, EXISTING_ALIAS_ARN), `${action} on another alias`).to.equal("implicit-deny");
        expect(decide(action, `arn:aws:lex:${REGION}:${ACCOUNT}:bot-alias/${mockLexId("lex-bot")}/TSTALIASID`), `${action} on the test alias`).to.equal(
          "implicit-deny",
        );
      }
      for (const action of ["lex:StartConversation", "lex:GetSession", "lex:UpdateBotAlias", "lambda:InvokeFunction"]) {
        expect(decide(action, ALIAS_ARN), action).to.equal("implicit-deny");
      }
      const api = MOCK_ARNS.executeApi("streaming-api");
      expect(decide("execute-api:Invoke", `${api}/Prod/$connect`)).to.equal("allow");
      for (const route of ["ask", "$default", "POST/@connections/abc"]) {
        expect(decide("execute-api:Invoke", `${api}/Prod/${route}`), route).to.equal("implicit-deny");
      }
      expect(decide("execute-api:ManageConnections", `${api}/Prod/POST/@connections/abc`)).to.equal("implicit-deny");
    });

    it("exports what Lex Web UI's template takes, under its parameter names", async () => {
      expect(await valueOf(outputs.LexV2BotId)).to.equal(mockLexId("lex-bot"));
      expect(await valueOf(outputs.LexV2BotAliasId)).to.equal(mockLexId("lex-alias"));
      expect(await valueOf(outputs.LexV2BotLocaleId)).to.equal("en_US");
      expect(await valueOf(outputs.LexV2BotAliasArn)).to.equal(ALIAS_ARN);
      expect(await valueOf(outputs.CognitoIdentityPoolId)).to.equal("web-pool-id");
      expect(await valueOf(outputs.Region)).to.equal(REGION);
      expect(outputs).not.to.have.property("CognitoUserPoolId");
    });
  });

  it("builds every configured locale, the first the default, into the bot, the version and the alias", async () => {
    const { recorder, outputs } = await deploy({ lexBotLocales: "en_US,es_US,de_DE" });
    const locales = ["en_US", "es_US", "de_DE"];
    expect(recorder.named("lex-bot").inputs.botLocales.map((l: { localeId: string }) => l.localeId)).to.deep.equal(locales);
    for (const locale of recorder.named("lex-bot").inputs.botLocales as { intents: { name: string }[] }[]) {
      expect(locale.intents.map((i) => i.name)).to.deep.equal([QNA_INTENT, FALLBACK_INTENT]);
    }
    expect(recorder.named("lex-version").inputs.botVersionLocaleSpecification.map((l: { localeId: string }) => l.localeId)).to.deep.equal(locales);
    expect(recorder.named("lex-version").inputs.description).to.equal(`qnabot-streaming bot definition ${botDefinitionDigest(locales)}`);
    expect(recorder.named("lex-alias").inputs.botAliasLocaleSettings.map((l: { localeId: string }) => l.localeId)).to.deep.equal(locales);
    expect(await valueOf(outputs.LexV2BotLocaleId)).to.equal("en_US,es_US,de_DE");
  });

  it("makes a new version whenever the definition or the locales change", () => {
    expect(botDefinitionDigest(["en_US"])).to.match(/^[0-9a-f]{16}$/);
    expect(botDefinitionDigest(["en_US", "es_US"])).not.to.equal(botDefinitionDigest(["en_US"]));
    expect(botDefinitionDigest(["es_US", "en_US"])).not.to.equal(botDefinitionDigest(["en_US", "es_US"]));
  });

  it("with an existing bot (lexBotAliasArn): creates no bot, lets that alias invoke the function, and grants clients that alias", async () => {
    const { recorder, outputs } = await deploy({ lexBotAliasArn: EXISTING_ALIAS_ARN, lexBotLocales: "en_GB" });
    for (const type of [TYPES.lexBot, TYPES.lexBotVersion, TYPES.lexBotAlias]) expect(recorder.ofType(type), type).to.deep.equal([]);
    expect(recorder.named("qnabot-lex-permission").inputs).to.deep.include({ principal: "lexv2.amazonaws.com", sourceArn: EXISTING_ALIAS_ARN });
    expect(statementsOf(recorder.named("web-guest-policy")).TalkToBotAlias.Resource).to.deep.equal([EXISTING_ALIAS_ARN]);
    expect(await valueOf(outputs.LexV2BotId)).to.equal("ABCDEFGHIJ");
    expect(await valueOf(outputs.LexV2BotAliasId)).to.equal("KLMNOPQRST");
    expect(await valueOf(outputs.LexV2BotLocaleId)).to.equal("en_GB");
  });

  it("with lexBot none: no bot, no identity pool, no Lex permission; only the Region among the client outputs", async () => {
    const { recorder, outputs } = await deploy({ enableStreaming: "true", lexBot: "none" });
    for (const type of [TYPES.lexBot, TYPES.lexBotVersion, TYPES.lexBotAlias, TYPES.identityPool, TYPES.identityPoolRoles]) {
      expect(recorder.ofType(type), type).to.deep.equal([]);
    }
    expect(recorder.ofType(TYPES.permission).filter((p) => p.inputs.principal === "lexv2.amazonaws.com")).to.deep.equal([]);
    expect(recorder.ofType(TYPES.rolePolicy).filter((p) => p.name.startsWith("streaming-connect-grant"))).to.deep.equal([]);
    for (const key of ["LexV2BotId", "LexV2BotAliasId", "LexV2BotLocaleId", "CognitoIdentityPoolId"]) {
      expect(outputs, key).not.to.have.property(key);
    }
    expect(await valueOf(outputs.Region)).to.equal(REGION);
  });

  it("with cognitoUserPool: signed-in users of a user pool get the user role (authenticated), guests stay on unless turned off", async () => {
    const { recorder, outputs } = await deploy({ enableStreaming: "true", cognitoUserPool: "true", cognitoGuestAccess: "false" });
    expect(recorder.named("web-user-pool-client").inputs).to.deep.include({
      userPoolId: "web-user-pool-id",
      generateSecret: false,
      explicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    });
    expect(recorder.named("web-pool").inputs).to.deep.include({
      allowUnauthenticatedIdentities: false,
      cognitoIdentityProviders: [
        { clientId: "web-user-pool-client-id", providerName: `cognito-idp.${REGION}.amazonaws.com/web-user-pool-id`, serverSideTokenCheck: true },
      ],
    });
    expect(recorder.named("web-roles").inputs.roles).to.deep.equal({ authenticated: "arn:aws:iam::123456789012:role/web-user-role" });
    const trust = JSON.parse(recorder.named("web-user-role").inputs.assumeRolePolicy as string);
    expect(trust.Statement[0].Condition["ForAnyValue:StringLike"]).to.deep.equal({ "cognito-identity.amazonaws.com:amr": "authenticated" });
    expect(recorder.ofType(TYPES.role).map((r) => r.name)).not.to.include("web-guest-role");
    expect(recorder.named("streaming-connect-grant-1").inputs.role).to.equal("web-user-role");
    expect(await valueOf(outputs.CognitoUserPoolId)).to.equal("web-user-pool-id");
    expect(await valueOf(outputs.CognitoAppUserPoolClientId)).to.equal("web-user-pool-client-id");
  });

  it("refuses bad bot settings before registering anything, naming each", async () => {
    const recorder = await installMocks();
    const parseError = (values: Partial<Record<ConfigKey, string>>) => {
      try {
        parseStackConfig((key) => values[key]);
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    };
    expect(parseError({ lexBot: "maybe" })).to.include('qnabot-streaming:lexBot must be one of create, existing, none; got "maybe"');
    expect(parseError({ lexBot: "existing" })).to.include("qnabot-streaming:lexBotAliasArn is required with lexBot existing");
    expect(parseError({ lexBot: "create", lexBotAliasArn: EXISTING_ALIAS_ARN })).to.include(
      "qnabot-streaming:lexBotAliasArn only applies with lexBot existing (lexBot is create)",
    );
    expect(parseError({ lexBotLocales: "en-US" })).to.include("qnabot-streaming:lexBotLocales must be distinct Lex V2 locale ids");
    expect(parseError({ lexBotLocales: "en_US,en_US" })).to.include("qnabot-streaming:lexBotLocales must be distinct Lex V2 locale ids");
    expect(parseError({ cognitoGuestAccess: "false" })).to.include("qnabot-streaming:cognitoGuestAccess must be true unless cognitoUserPool is");
    expect(() => new LexBot("a", { fulfillmentFunctionArn: "arn", locales: [] })).to.throw("locales must be one or more Lex V2 locale ids");
    expect(() => new LexBot("b", { fulfillmentFunctionArn: "arn", idleSessionTtlInSeconds: 30 })).to.throw(
      "idleSessionTtlInSeconds must be an integer from 60 to 86400",
    );
    expect(() => new WebClientIdentity("c", { botAliasArn: ALIAS_ARN, guests: false })).to.throw("needs guests or a user pool");
    await registrationsSettled();
    expect(recorder.resources).to.deep.equal([]);
  });

  it("says before deploying what quota a reservation needs, and nothing when nothing is reserved (the default)", () => {
    // PutFunctionConcurrency: "as long as you leave at least 100 simultaneous executions unreserved".
    const notice = (values: Partial<Record<ConfigKey, string>>) => reservationNotice(parseStackConfig((key) => values[key]));
    expect(notice({ enableStreaming: "true" })).to.equal(undefined);
    expect(notice({ enableStreaming: "true", fulfillmentReservedConcurrency: "50", streamingHttpReservedConcurrency: "20" })).to.equal(
      "reserving 70 Lambda executions needs an account concurrency quota of at least 170 plus every other reservation in the Region (Lambda keeps 100 unreserved: PutFunctionConcurrency); the quota: aws lambda get-account-settings --query AccountLimit.ConcurrentExecutions",
    );
    // The door's reservation counts only where the door exists.
    expect(notice({ fulfillmentReservedConcurrency: "10", streamingHttpReservedConcurrency: "20" })).to.match(/^reserving 10 Lambda executions needs .* at least 110 /);
  });

  it("has the resource counts docs/deploy-and-configuration.md gives for each shape", async () => {
    const domain = {
      streamingDomainName: "chat.example.com",
      streamingCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab",
      streamingHostedZoneId: "Z0123456789ABC",
      monitoring: "true",
      guardrailId: "abcd1234efgh",
      guardrailVersion: "1",
    };
    const shapes: [Partial<Record<ConfigKey, string>>, number][] = [
      // Feedback (issue 24) added POST /feedback and its permission (+2), and with streaming the feedback route, integration and permission (+3).
      [{ enableStreaming: "true" }, 65],
      [{}, 23],
      [{ lexBot: "none" }, 13],
      [{ enableStreaming: "true", lexBot: "none" }, 54],
      [{ enableStreaming: "true", cognitoIdentityPool: "false" }, 60],
      [{ enableStreaming: "true", cognitoUserPool: "true" }, 70],
      [{ enableStreaming: "true", streamingHttpEndpoint: "false" }, 59],
      [{ enableStreaming: "true", apiGatewayCloudWatchRole: "existing" }, 62],
      [{ enableStreaming: "true", apiGatewayCloudWatchRole: "none" }, 61],
      [{ enableStreaming: "true", ...domain }, 77],
    ];
    for (const [values, count] of shapes) {
      const { recorder } = await deploy(values);
      const resources = recorder.resources.filter((r) => r.type.startsWith("aws:") || r.type.startsWith("aws-native:"));
      expect(resources, JSON.stringify(values)).to.have.length(count);
    }
    // auto where the Region has another role: as existing.
    const recorder = await installMocks();
    createStack(parseStackConfig((key) => ({ enableStreaming: "true" })[key as string]), { roleArn: "arn:aws:iam::123456789012:role/org-logs" });
    await registrationsSettled();
    expect(recorder.resources.filter((r) => r.type.startsWith("aws:") || r.type.startsWith("aws-native:"))).to.have.length(62);
  });

  it("is the bot the local Lex runtime serves: same intents, slot and default locale (components/bot-definition.ts)", () => {
    expect(DEFAULT_LOCAL_BOT.localeId).to.equal(DEFAULT_BOT_LOCALES[0]);
    const event = codeHookEvent({
      bot: DEFAULT_LOCAL_BOT,
      sessionId: "s",
      text: "What is QnABot?",
      sessionAttributes: {},
      requestAttributes: {},
      originatingRequestId: "r",
    });
    expect(event.interpretations.map((i) => i.intent.name)).to.deep.equal(BOT_INTENTS.map((i) => i.name));
    expect(event.sessionState.intent.name).to.equal(QNA_INTENT);
    expect(Object.keys(event.sessionState.intent.slots)).to.deep.equal([QNA_SLOT]);
    expect(BOT_INTENTS[0].slots.map((s) => s.name)).to.deep.equal([QNA_SLOT]);
  });
});
