/** `marked` 4 (the version Lex Web UI 0.24.1 pins, installed as the `marked4` alias): only what the tests call. */
declare module "marked4" {
  interface InlineToken {
    type: string;
    raw: string;
    [key: string]: unknown;
  }
  interface InlineExtension {
    name: string;
    level: "inline";
    start(src: string): number | undefined;
    tokenizer(src: string): InlineToken | undefined;
    renderer(token: InlineToken): string;
  }
  interface Marked {
    parse(markdown: string): string;
    use(options: { renderer?: Record<string, (...args: never[]) => string>; extensions?: InlineExtension[] }): void;
  }
  export const marked: Marked;
}
