/**
 * Every TypeScript block in README.md and docs/ compiles (issue 23): each ```ts block is a
 * module of its own, type-checked in strict mode against this package's own types, imported
 * by the names a user imports (`qnabot-streaming`, `qnabot-streaming/stream`), and against
 * the peer dependencies installed here. A block must declare what it uses: an example that
 * names something it never defines does not compile for the reader either.
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";

const ROOT = path.join(__dirname, "../..");
const FILES = ["README.md", ...readdirSync(path.join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];

interface Block {
  /** Where it is: `docs/hooks.md:244`. */
  where: string;
  code: string;
}

/** The ```ts (or ```typescript) blocks of a markdown text, with the line each starts on. */
export function typescriptBlocks(markdown: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(lines[j]); j++) body.push(lines[j].slice(indent.length));
    blocks.push({ where: `${file}:${i + 1}`, code: body.join("\n") });
    i = j;
  }
  return blocks;
}

/** Type-checks the blocks as separate modules; returns each diagnostic as `file:line: message`. */
function typeCheck(blocks: readonly Block[]): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ["lib.es2022.d.ts"],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
    baseUrl: ROOT,
    // The package's own names, resolved to its sources (package.json "exports" maps them to their build).
    paths: { "qnabot-streaming": ["components/index.ts"], "qnabot-streaming/stream": ["functions/stream/index.ts"] },
  };
  const virtual = new Map(blocks.map((block, i) => [path.join(ROOT, `.docs-block-${i}.ts`), `${block.code}\nexport {};\n`]));
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const code = virtual.get(name);
    return code !== undefined ? ts.createSourceFile(name, code, language) : getSourceFile.call(host, name, language, ...rest);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  const files = [...virtual.keys()];
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && virtual.has(d.file.fileName))
    .map((d) => {
      const block = blocks[files.indexOf(d.file!.fileName)];
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const [file, start] = block.where.split(":");
      return `${file}:${Number(start) + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
}

describe("docs: every TypeScript example compiles (issue 23)", function () {
  this.timeout(120_000);

  it("finds the blocks of a markdown text, fenced with backticks or tildes, indented in a list too", () => {
    const markdown = ["Intro", "```ts", "const a = 1;", "```", "- item", "  ~~~typescript", "  const b: string = 'x';", "  ~~~", "```bash", "npm start", "```"].join("\n");
    expect(typescriptBlocks(markdown, "x.md")).to.deep.equal([
      { where: "x.md:2", code: "const a = 1;" },
      { where: "x.md:6", code: "const b: string = 'x';" },
    ]);
  });

  // One program for all (loading the Pulumi provider's types takes most of the time): the docs'
  // blocks, and a known-bad block that shows a mistake is reported where it is.
  const SELF_CHECK: Block = { where: "self-check.md:10", code: 'import { StreamingComponent } from "qnabot-streaming";\nnew StreamingComponent("c").grantConnect(clientRole);' };
  let blocks: Block[];
  let errors: string[];

  before(() => {
    blocks = FILES.flatMap((file) => typescriptBlocks(readFileSync(path.join(ROOT, file), "utf8"), file));
    errors = typeCheck([SELF_CHECK, ...blocks]);
  });

  it("reports a block that does not compile, with the line it is on", () => {
    expect(errors.filter((e) => e.startsWith("self-check.md:"))).to.deep.equal(["self-check.md:12: Cannot find name 'clientRole'."]);
  });

  it("compiles every ```ts block of README.md and docs/ in strict mode against the package's types", () => {
    expect(blocks.length, "the docs have TypeScript examples").to.be.above(0);
    expect(errors.filter((e) => !e.startsWith("self-check.md:"))).to.deep.equal([]);
  });
});
