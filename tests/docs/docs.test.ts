/**
 * The README and docs/ say only what is true: every `npm run` script exists, every flag they
 * give `npm start`, `npx qnabot-stream`, `npm run chat`, `npm run bench` or `npm run
 * reliability` is one the command accepts (through its own parser; no process is spawned),
 * every relative link and anchor resolves, the figures come from bench/results.json, and the
 * README stays a front page.
 */
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseBenchArgs } from "../../bench/run";
import { parseChatArgs } from "../../client/chat-args";
import { parseCliArgs } from "../../client/cli-args";
import { MAX_QUESTION_CHARS } from "../../functions/shared/protocol";
import { parseStartArgs, PORT_FLAGS, USAGE } from "../../local/start";
import { DEFAULT_LOCAL_MODEL_ID } from "../../local/stack";
import { PERFORMANCE_DOC, readResults, renderPerformanceFigures, BEGIN, END } from "./performance-figures";

const ROOT = path.join(__dirname, "../..");
const README = path.join(ROOT, "README.md");
const DOCS = path.join(ROOT, "docs");
const FILES = [README, ...readdirSync(DOCS).filter((name) => name.endsWith(".md")).map((name) => path.join(DOCS, name))];
const text = (file: string) => readFileSync(file, "utf8");
const rel = (file: string) => path.relative(ROOT, file);

/** Code blocks and inline code spans: where commands are written. */
function codeOf(markdown: string): string[] {
  const pieces: string[] = [];
  const withoutBlocks = markdown.replace(/^```[^\n]*\n([\s\S]*?)^```/gm, (_block, body: string) => {
    pieces.push(...body.split("\n"));
    return "";
  });
  for (const match of withoutBlocks.matchAll(/`([^`\n]+)`/g)) pieces.push(match[1]);
  return pieces;
}

/**
 * The words of a shell command line, as the shell would pass them: quotes removed, stopping
 * at a comment, a pipe, `&&` or `;`.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? "") + c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if ((c === "#" && word === undefined) || c === "|" || c === ";" || (c === "&" && line[i + 1] === "&")) {
      break;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The arguments given to `prefix` (e.g. ["npm", "start", "--"]) wherever a code line runs it. */
function invocations(prefix: readonly string[]): { file: string; args: string[] }[] {
  const found: { file: string; args: string[] }[] = [];
  for (const file of FILES) {
    for (const line of codeOf(text(file))) {
      const words = shellWords(line);
      for (let i = 0; i + prefix.length <= words.length; i += 1) {
        if (prefix.every((word, k) => words[i + k] === word)) found.push({ file: rel(file), args: words.slice(i + prefix.length) });
      }
    }
  }
  return found;
}

/** A word that stands for a value the reader fills in. */
const PLACEHOLDER = /[<>…[\]$]|PORT|^N$|^r$|^p$|\.\.\./;

/** Flags named by `args`, each with the value after it (when the flag takes one). */
function flags(args: readonly string[]): string[] {
  return args.filter((arg) => /^--?[a-z]/i.test(arg)).map((arg) => arg.split("=")[0]);
}

/** True when `parse` knows the flag (it may still want a better value than "x"). */
function knowsFlag(parse: (argv: string[]) => unknown, flag: string): boolean {
  try {
    parse([flag, "x"]);
    return true;
  } catch (error) {
    return !/Unknown option/i.test((error as Error).message);
  }
}

interface Command {
  readonly name: string;
  readonly prefixes: readonly (readonly string[])[];
  readonly parse: (argv: string[]) => unknown;
}

const COMMANDS: readonly Command[] = [
  { name: "npm start", prefixes: [["npm", "start", "--"]], parse: (argv) => parseStartArgs(argv) },
  { name: "qnabot-stream", prefixes: [["npx", "qnabot-stream"]], parse: (argv) => parseCliArgs(argv, { AWS_REGION: "us-east-1" }) },
  { name: "npm run chat", prefixes: [["npm", "run", "chat", "--"]], parse: (argv) => parseChatArgs(argv) },
  { name: "npm run bench", prefixes: [["npm", "run", "bench", "--"]], parse: (argv) => parseBenchArgs(argv) },
];

/** Sections that list a command's flags in a table or prose, without the command before each. */
const FLAG_SECTIONS: readonly { file: string; heading: string; command: string }[] = [
  { file: "docs/local-stack.md", heading: "## Flags", command: "npm start" },
  { file: "docs/clients.md", heading: "## `npm run chat`: the page for a deployed stack", command: "npm run chat" },
  { file: "docs/clients.md", heading: "## The `qnabot-stream` CLI", command: "qnabot-stream" },
];

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`no section ${heading}`);
  const next = markdown.indexOf("\n## ", start + heading.length);
  return markdown.slice(start, next < 0 ? undefined : next);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/`/g, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const withoutBlocks = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return new Set([...withoutBlocks.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1].trim())));
}

/** Pulumi.yaml's `config:` block: each key with its type and default, as the project declares them. */
export function pulumiConfigKeys(yaml: string): { key: string; type: string; default: string }[] {
  const block = yaml.slice(yaml.indexOf("\nconfig:\n"));
  const keys: { key: string; type: string; default: string }[] = [];
  for (const match of block.matchAll(/^ {2}(\w+):\n((?: {4}.*\n?)+)/gm)) {
    const field = (name: string) => new RegExp(`^ {4}${name}: (.*)$`, "m").exec(match[2])?.[1].trim();
    const raw = field("default");
    if (raw === undefined) throw new Error(`Pulumi.yaml: ${match[1]} has no default`);
    keys.push({ key: match[1], type: field("type") ?? "", default: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw });
  }
  return keys;
}

/** The rows `| \`key\` | type | \`default\` … |` of a markdown section, by key. */
function configRows(markdown: string): Map<string, { type: string; default: string }> {
  const rows = new Map<string, { type: string; default: string }>();
  for (const match of markdown.matchAll(/^\| `(\w+)` \| (\w+) \| `([^`]*)`/gm)) rows.set(match[1], { type: match[2], default: match[3] });
  return rows;
}

describe("docs: README.md and docs/ (issue 12)", () => {
  const packageJson = JSON.parse(text(path.join(ROOT, "package.json"))) as { scripts: Record<string, string> };

  it("parses shell words and anchors as the shell and GitHub do", () => {
    expect(shellWords(`npx qnabot-stream ask "How does it work?" --local http://x/   # a comment`)).to.deep.equal(["npx", "qnabot-stream", "ask", "How does it work?", "--local", "http://x/"]);
    expect(shellWords("printf 'a' | npx qnabot-stream chat && echo")).to.deep.equal(["printf", "a"]);
    expect(slug("Client → server")).to.equal("client--server");
    expect(slug("`npm run chat`: the page for a deployed stack")).to.equal("npm-run-chat-the-page-for-a-deployed-stack");
  });

  it("keeps the README a front page of at most 250 lines", () => {
    expect(text(README).split("\n").length).to.be.at.most(250);
  });

  it("names only npm scripts that exist in package.json", () => {
    const named = new Set<string>();
    for (const file of FILES) for (const line of codeOf(text(file))) for (const match of line.matchAll(/\bnpm run ([\w:-]+)/g)) named.add(match[1]);
    expect(named.size).to.be.greaterThan(4);
    const missing = [...named].filter((script) => !(script in packageJson.scripts));
    expect(missing, "npm run scripts named in the docs but missing from package.json").to.deep.equal([]);
    for (const builtin of ["start", "test"]) expect(packageJson.scripts).to.have.property(builtin);
  });

  for (const command of COMMANDS) {
    it(`gives ${command.name} only flags and command lines it accepts`, () => {
      const uses = command.prefixes.flatMap((prefix) => invocations(prefix));
      expect(uses, `${command.name} is documented`).not.to.have.length(0);
      for (const { file, args } of uses) {
        for (const flag of flags(args)) expect(knowsFlag(command.parse, flag), `${file}: ${command.name} ${args.join(" ")}: ${flag}`).to.equal(true);
        // A line without placeholders must parse as it is written.
        if (!args.some((arg) => PLACEHOLDER.test(arg))) {
          expect(() => command.parse(args), `${file}: ${command.name} ${args.join(" ")}`).not.to.throw();
        }
      }
    });
  }

  it("lists, in each flags section, only flags the command accepts", () => {
    for (const { file, heading, command } of FLAG_SECTIONS) {
      const parse = COMMANDS.find((c) => c.name === command)!.parse;
      const named = [...section(text(path.join(ROOT, file)), heading).matchAll(/`(--[a-z][\w-]*)/g)].map((match) => match[1]);
      expect(named, `${file} ${heading}`).not.to.have.length(0);
      for (const flag of named) expect(knowsFlag(parse, flag), `${file} ${heading}: ${flag}`).to.equal(true);
    }
  });

  it("lists in docs/deploy-and-configuration.md exactly the config keys Pulumi.yaml declares, with their types and defaults", () => {
    const declared = pulumiConfigKeys(text(path.join(ROOT, "Pulumi.yaml")));
    expect(declared.length, "Pulumi.yaml config keys").to.be.greaterThan(20);
    const documented = configRows(section(text(path.join(DOCS, "deploy-and-configuration.md")), "## Configuration"));
    expect([...documented.keys()].sort()).to.deep.equal(declared.map((k) => k.key).sort());
    for (const { key, type, default: value } of declared) {
      expect(documented.get(key), key).to.deep.equal({ type, default: value === "" ? '""' : value });
    }
  });

  it("lists in docs/deploy-and-configuration.md exactly the stack outputs components/stack.ts exports", () => {
    const source = text(path.join(ROOT, "components/stack.ts"));
    const body = /export interface StackOutputs \{([\s\S]*?)\n\}/.exec(source)![1];
    const declared = [...body.matchAll(/readonly (\w+)\??: pulumi\.Output/g)].map((match) => match[1]).sort();
    expect(declared.length).to.be.greaterThan(5);
    const documented = [...section(text(path.join(DOCS, "deploy-and-configuration.md")), "## Outputs").matchAll(/^\| `(\w+)` \|/gm)].map((match) => match[1]).sort();
    expect(documented).to.deep.equal(declared);
  });

  it("lists in docs/component.md every StreamingComponentArgs field", () => {
    const source = text(path.join(ROOT, "components/streaming.ts"));
    const body = /export interface StreamingComponentArgs \{([\s\S]*?)\n\}/.exec(source)![1];
    const declared = [...body.matchAll(/^ {2}readonly (\w+)\??:/gm)].map((match) => match[1]).sort();
    expect(declared.length).to.be.greaterThan(10);
    const table = section(text(path.join(DOCS, "component.md")), "## `StreamingComponent` arguments, outputs and methods");
    const documented = new Set([...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((row) => [...row[1].matchAll(/`(\w+)`/g)].map((match) => match[1])));
    expect(declared.filter((field) => !documented.has(field)), "fields missing from the table").to.deep.equal([]);
  });

  it("lists in docs/local-stack.md every flag npm start's usage line names", () => {
    const usageFlags = [...USAGE.matchAll(/\[(--[a-z][\w-]*)/g)].map((match) => match[1]);
    expect(usageFlags).to.include.members(Object.values(PORT_FLAGS).map((flag) => `--${flag}`));
    const listed = new Set([...section(text(path.join(DOCS, "local-stack.md")), "## Flags").matchAll(/^\| `(--[a-z][\w-]*)/gm)].map((match) => match[1]));
    expect([...listed].sort()).to.deep.equal([...new Set(usageFlags)].sort());
  });

  it("names npm run reliability flags that reliability/run.ts declares", () => {
    const source = text(path.join(ROOT, "reliability/run.ts"));
    for (const { file, args } of invocations(["npm", "run", "reliability", "--"])) {
      for (const flag of flags(args)) expect(source, `${file}: ${flag}`).to.match(new RegExp(`\\b${flag.slice(2)}: \\{ type:`));
    }
  });

  it("lists every benchmark --only accepts", () => {
    const sentence = /The benchmark names for `--only` are ([^.]+)\./.exec(text(PERFORMANCE_DOC).replace(/\n/g, " "));
    expect(sentence, "docs/performance.md names the benchmarks").not.to.equal(null);
    const named = [...sentence![1].matchAll(/`([a-z]+)`/g)].map((match) => match[1]);
    expect(named).to.deep.equal(parseBenchArgs([]).only);
  });

  it("states the defaults the code has: npm start's model, the question limit", () => {
    const all = FILES.map(text).join("\n");
    expect(text(path.join(DOCS, "local-stack.md"))).to.include(`| \`--model <id>\` | \`${DEFAULT_LOCAL_MODEL_ID}\` |`);
    expect(text(README)).to.include(`model \`${DEFAULT_LOCAL_MODEL_ID}\``);
    expect(parseStartArgs([]).ports.page).to.equal(3000);
    expect(all).to.include(MAX_QUESTION_CHARS.toLocaleString("en-US"));
  });

  it("links only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const file of FILES) {
      const markdown = text(file).replace(/^```[\s\S]*?^```/gm, "");
      for (const match of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1];
        if (/^[a-z]+:/i.test(target)) continue;
        const [pathPart, anchor] = target.split("#");
        const resolved = pathPart === "" ? file : path.resolve(path.dirname(file), pathPart);
        if (!existsSync(resolved)) {
          broken.push(`${rel(file)}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md") && !anchorsOf(text(resolved)).has(anchor)) {
          broken.push(`${rel(file)}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it("gives every docs/ page a table of contents of its own sections", () => {
    for (const file of FILES.filter((f) => f !== README)) {
      const markdown = text(file);
      const lines = markdown.split("\n");
      expect(lines[0], rel(file)).to.match(/^# /);
      const toc = [...markdown.slice(0, markdown.indexOf("\n## ")).matchAll(/^- \[[^\]]+\]\(#([^)]+)\)/gm)].map((m) => m[1]);
      expect(toc.length, `${rel(file)} table of contents`).to.be.at.least(3);
    }
  });

  it("renders only the benchmarks a results file holds, each from its own figures", () => {
    const summary = (p50: number) => ({ n: 20, p50, p95: p50 + 10, p99: p50 + 12, min: p50 - 5, max: p50 + 15, mean: p50 });
    const meta = { date: "2026-11-29T10:00:00.000Z", node: "v20.20.2", platform: "linux", cpu: "AMD EPYC", cores: 2, memoryGiB: 24, seconds: {}, cpuBusyBeforePercent: { firsttoken: 50 } };
    const firstToken = {
      options: { deltas: 40, rate: 150, firstTokenDelayMs: 100, runs: 20 },
      cases: [
        { door: "floor" as const, runs: 20, intact: 20, ttftMs: summary(110) },
        { door: "lex" as const, runs: 20, intact: 20, ttftMs: summary(125), addedTtftMs: summary(15) },
      ],
    };
    const block = renderPerformanceFigures({ meta, firstToken });
    expect(block).to.include("Other work kept the machine busy before firsttoken: those figures are skewed.");
    expect(block).to.include("| Bedrock alone (floor) | 110 ms | 120 ms | – |");
    expect(block).to.include("| Lex code hook | 125 ms | 135 ms | 15.0 ms |");
    expect(block).not.to.include("### Streaming path");
    expect(block.startsWith(BEGIN) && block.endsWith(END)).to.equal(true);
  });

  it("quotes the performance figures of the latest bench/results.json (refresh: npx tsx tests/docs/performance-figures.ts)", () => {
    const document = text(PERFORMANCE_DOC);
    const block = document.slice(document.indexOf(BEGIN), document.indexOf(END) + END.length);
    expect(block).to.equal(renderPerformanceFigures(readResults()));
  });
});
