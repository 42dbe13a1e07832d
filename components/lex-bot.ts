/**
 * LexBot: the QnA bot's Amazon Lex V2 bot, as QnABot on AWS deploys it: the bot with its
 * locales, intents and slot (components/bot-definition.ts), a built version, and an alias
 * whose code hook, in every locale, is the fulfillment function, which only that alias may
 * invoke. Built with `@pulumi/aws-native` (AWS Cloud Control): the AWS provider has Lex V2
 * bots, locales and intents but no bot alias, and an alias is what a client calls.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as awsnative from "@pulumi/aws-native";
import {
  BOT_ALIAS_NAME,
  BOT_IDLE_SESSION_TTL_SECONDS,
  BOT_INTENTS,
  BOT_NLU_CONFIDENCE_THRESHOLD,
  checkBotLocales,
  CODE_HOOK_INTERFACE_VERSION,
  DEFAULT_BOT_LOCALES,
  QNA_SLOT_SAMPLE_VALUES,
  QNA_SLOT_TYPE,
  type BotIntentDefinition,
} from "./bot-definition";
import { policyDocument } from "./iam";

export interface LexBotArgs {
  /** The function Lex calls as the alias's code hook (QnaBot's `functionArn`). */
  readonly fulfillmentFunctionArn: pulumi.Input<string>;
  /** Lex V2 locale ids the bot is built in (`en_US`, `de_DE`, `es_419` …); the first is the default. @default ["en_US"] */
  readonly locales?: readonly string[];
  /** Seconds Lex keeps a session between turns, 60-86400. @default 300 */
  readonly idleSessionTtlInSeconds?: number;
  /** Tags of the bot role. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Trust policy of the bot's runtime role: Lex V2 alone may assume it. */
export const LEX_ASSUME_ROLE_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lexv2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/** One locale of the bot, as AWS::Lex::Bot's BotLocale takes it. */
export function botLocale(localeId: string): awsnative.types.input.lex.BotLocaleArgs {
  return {
    localeId,
    nluConfidenceThreshold: BOT_NLU_CONFIDENCE_THRESHOLD,
    slotTypes: [
      {
        name: QNA_SLOT_TYPE,
        slotTypeValues: QNA_SLOT_SAMPLE_VALUES.map((value) => ({ sampleValue: { value } })),
        // The slot keeps what the user typed (QnABot: resolutionStrategy OriginalValue).
        valueSelectionSetting: { resolutionStrategy: "ORIGINAL_VALUE" },
      },
    ],
    intents: BOT_INTENTS.map(botIntent),
  };
}

function botIntent(intent: BotIntentDefinition): awsnative.types.input.lex.BotIntentArgs {
  return {
    name: intent.name,
    ...(intent.parentIntentSignature ? { parentIntentSignature: intent.parentIntentSignature } : {}),
    ...(intent.sampleUtterances.length > 0 ? { sampleUtterances: intent.sampleUtterances.map((utterance) => ({ utterance })) } : {}),
    ...(intent.slots.length > 0
      ? {
          slots: intent.slots.map((slot) => ({
            name: slot.name,
            slotTypeName: slot.slotType,
            valueElicitationSetting: {
              slotConstraint: "Optional",
              promptSpecification: {
                maxRetries: 4,
                messageGroupsList: [{ message: { plainTextMessage: { value: slot.prompt } } }],
              },
            },
          })),
          slotPriorities: intent.slots.map((slot, index) => ({ priority: index + 1, slotName: slot.name })),
        }
      : {}),
    fulfillmentCodeHook: { enabled: intent.fulfillmentCodeHook },
  };
}

/**
 * A digest of what a version is built from: a new one whenever the definition or the locales
 * change, so the alias always serves what the program says.
 */
export function botDefinitionDigest(locales: readonly string[]): string {
  const definition = JSON.stringify({ locales, locale: locales.map(botLocale) });
  return createHash("sha256").update(definition).digest("hex").slice(0, 16);
}

export class LexBot extends pulumi.ComponentResource {
  static readonly TYPE = "qnabot-streaming:index:LexBot";

  readonly botId: pulumi.Output<string>;
  readonly botArn: pulumi.Output<string>;
  /** The version the alias serves (`1`, `2` …). */
  readonly botVersion: pulumi.Output<string>;
  readonly aliasId: pulumi.Output<string>;
  /** `arn:{partition}:lex:{region}:{account}:bot-alias/{botId}/{aliasId}`: what clients are granted. */
  readonly aliasArn: pulumi.Output<string>;
  readonly localeIds: readonly string[];

  constructor(name: string, args: LexBotArgs, opts?: pulumi.ComponentResourceOptions) {
    const locales = args.locales ?? DEFAULT_BOT_LOCALES;
    const ttl = args.idleSessionTtlInSeconds ?? BOT_IDLE_SESSION_TTL_SECONDS;
    // Bad args fail before anything is registered.
    checkBotLocales("locales", locales);
    if (!Number.isSafeInteger(ttl) || ttl < 60 || ttl > 86400) {
      throw new Error(`idleSessionTtlInSeconds must be an integer from 60 to 86400; got ${JSON.stringify(ttl)}`);
    }
    super(LexBot.TYPE, name, {}, opts);
    const parent = { parent: this };

    const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: LEX_ASSUME_ROLE_POLICY, tags: args.tags }, parent);
    new aws.iam.RolePolicy(
      `${name}-role-policy`,
      {
        role: role.name,
        // What AWS's own Lex V2 bot policy (AmazonLexV2BotPolicy) grants: spoken answers for
        // RecognizeUtterance. Polly's SynthesizeSpeech on voices has no narrower resource.
        policy: policyDocument([{ Sid: "SynthesizeSpeech", Effect: "Allow", Action: ["polly:SynthesizeSpeech"], Resource: ["*"] }]),
      },
      parent,
    );

    const bot = new awsnative.lex.Bot(
      `${name}-bot`,
      {
        description: "QnA bot: every utterance is fulfilled by the qnabot-streaming fulfillment function",
        roleArn: role.arn,
        dataPrivacy: { childDirected: false },
        idleSessionTtlInSeconds: ttl,
        botLocales: locales.map(botLocale),
        // A version can only be made of built locales.
        autoBuildBotLocales: true,
      },
      parent,
    );
    const digest = botDefinitionDigest(locales);
    const version = new awsnative.lex.BotVersion(
      `${name}-version`,
      {
        botId: bot.awsId,
        botVersionLocaleSpecification: locales.map((localeId) => ({ localeId, botVersionLocaleDetails: { sourceBotVersion: "DRAFT" } })),
        description: `qnabot-streaming bot definition ${digest}`,
      },
      // A version is a snapshot: a changed definition needs a new one, made before the alias
      // moves to it and the old one goes.
      { parent: this, replaceOnChanges: ["description"] },
    );
    const alias = new awsnative.lex.BotAlias(
      `${name}-alias`,
      {
        botId: bot.awsId,
        botAliasName: BOT_ALIAS_NAME,
        botVersion: version.botVersion,
        botAliasLocaleSettings: locales.map((localeId) => ({
          localeId,
          botAliasLocaleSetting: {
            enabled: true,
            codeHookSpecification: {
              lambdaCodeHook: { lambdaArn: args.fulfillmentFunctionArn, codeHookInterfaceVersion: CODE_HOOK_INTERFACE_VERSION },
            },
          },
        })),
      },
      parent,
    );
    // Lex invokes the code hook as lexv2.amazonaws.com on behalf of this alias alone.
    new aws.lambda.Permission(
      `${name}-permission`,
      { action: "lambda:InvokeFunction", function: args.fulfillmentFunctionArn, principal: "lexv2.amazonaws.com", sourceArn: alias.arn },
      parent,
    );

    this.botId = bot.awsId;
    this.botArn = bot.arn;
    this.botVersion = version.botVersion;
    this.aliasId = alias.botAliasId;
    this.aliasArn = alias.arn;
    this.localeIds = locales;
    this.registerOutputs({
      botId: this.botId,
      botArn: this.botArn,
      botVersion: this.botVersion,
      aliasId: this.aliasId,
      aliasArn: this.aliasArn,
    });
  }
}
