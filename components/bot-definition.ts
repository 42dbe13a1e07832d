/**
 * The QnA bot's Lex V2 definition: its locales, intents, slot and utterances. One pure module
 * that both the deployed bot (components/lex-bot.ts) and the local Lex runtime
 * (local/lex-runtime.ts) read, so the bot `npm start` serves is the bot `pulumi up` deploys.
 *
 * Shaped like QnABot on AWS's Lex V2 bot (its lexv2-build: `QnaIntent` whose only sample
 * utterance is its `{qnaslot}` slot of the custom `QnaSlotType`, value selection
 * OriginalValue, and `FallbackIntent`), both with the fulfillment code hook on: whatever the
 * user types reaches the fulfillment function, which answers from the input transcript.
 */

export const QNA_INTENT = "QnaIntent";
export const QNA_SLOT = "qnaslot";
export const QNA_SLOT_TYPE = "QnaSlotType";
/** Lex requires every locale to have an intent based on the built-in fallback intent. */
export const FALLBACK_INTENT = "FallbackIntent";
export const FALLBACK_INTENT_SIGNATURE = "AMAZON.FallbackIntent";

/** Lex V2 locales the bot is built in; the first is Lex Web UI's default. */
export const DEFAULT_BOT_LOCALES: readonly string[] = ["en_US"];
/** A Lex V2 locale id: `en_US`, `es_419`, `de_DE` … */
export const BOT_LOCALE_PATTERN = /^[a-z]{2}_(?:[A-Z]{2}|\d{3})$/;
/** How long Lex keeps a session between turns (QnABot's bot: 300 s). Lex allows 60-86400. */
export const BOT_IDLE_SESSION_TTL_SECONDS = 300;
/**
 * Below this confidence Lex adds FallbackIntent to the alternatives; both intents fulfil
 * through the code hook, so it only decides which name the event carries.
 */
export const BOT_NLU_CONFIDENCE_THRESHOLD = 0.4;
/** The alias clients talk to (QnABot's is `live` too). */
export const BOT_ALIAS_NAME = "live";
/** The Lex V2 code hook event and response format the fulfillment function speaks. */
export const CODE_HOOK_INTERFACE_VERSION = "1.0";

/** What Lex asks when QnaIntent has no slot value (QnABot's prompt). */
export const QNA_SLOT_PROMPT = "What is the question?";
/**
 * Values of QnaSlotType. A custom slot type needs at least one; with OriginalValue the slot
 * takes what the user typed, so these only help recognition.
 */
export const QNA_SLOT_SAMPLE_VALUES: readonly string[] = [
  "What can you do?",
  "How do I reset my password?",
  "What are your opening hours?",
  "Tell me about your products",
];

export interface BotSlotDefinition {
  readonly name: string;
  readonly slotType: string;
  readonly prompt: string;
}

export interface BotIntentDefinition {
  readonly name: string;
  /** Built-in intent it is based on. */
  readonly parentIntentSignature?: string;
  readonly sampleUtterances: readonly string[];
  readonly slots: readonly BotSlotDefinition[];
  /** Lex calls the alias's code hook to fulfil the intent. */
  readonly fulfillmentCodeHook: boolean;
}

/** The intents of every locale, in the order Lex lists them. */
export const BOT_INTENTS: readonly BotIntentDefinition[] = [
  {
    name: QNA_INTENT,
    sampleUtterances: [`{${QNA_SLOT}}`],
    slots: [{ name: QNA_SLOT, slotType: QNA_SLOT_TYPE, prompt: QNA_SLOT_PROMPT }],
    fulfillmentCodeHook: true,
  },
  {
    name: FALLBACK_INTENT,
    parentIntentSignature: FALLBACK_INTENT_SIGNATURE,
    sampleUtterances: [],
    slots: [],
    fulfillmentCodeHook: true,
  },
];

/** Throws unless `locales` is a non-empty list of distinct Lex V2 locale ids. */
export function checkBotLocales(name: string, locales: readonly string[]): void {
  const bad = locales.filter((locale) => !BOT_LOCALE_PATTERN.test(locale));
  if (locales.length === 0 || bad.length > 0) {
    throw new Error(`${name} must be one or more Lex V2 locale ids such as en_US or es_419; got ${JSON.stringify(locales.join(","))}`);
  }
  if (new Set(locales).size !== locales.length) {
    throw new Error(`${name} lists a locale twice; got ${JSON.stringify(locales.join(","))}`);
  }
}
