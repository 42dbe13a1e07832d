/**
 * Every document a source file, test or doc names by path is in the repository (issue 23): a
 * comment pointing at a file that was renamed away (SESSION-MODEL.md) or that lives outside the
 * clone (../shared/clients.md) sends a reader nowhere.
 */
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "../..");
const SOURCE_DIRS = ["bench", "client", "components", "docs", "functions", "local", "reliability", "scripts", "tests"];
const ROOT_FILES = ["README.md", "RELIABILITY.md", "index.ts", "Pulumi.yaml", "package.json"];
const EXTENSIONS = /\.(ts|js|md|yaml|json|html|css)$/;

/** Where a named document would be: the repository's top-level directories and root documents. */
const TOP_LEVEL = new RegExp(`^(?:\\.\\./)*(?:${[...SOURCE_DIRS, "shared"].join("|")})/|^[A-Z][A-Z-]*\\.md$`);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === "node_modules" || name.startsWith(".")) return [];
    return statSync(full).isDirectory() ? filesUnder(full) : EXTENSIONS.test(name) ? [full] : [];
  });
}

/** Paths to a markdown document named in `text`, skipping URLs and `s3://` sources (they name no file here). */
export function namedDocuments(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?<![\w/:.-])((?:\.\.\/)*[\w./-]*[\w-]+\.md)\b/g)) {
    if (TOP_LEVEL.test(match[1])) found.push(match[1]);
  }
  return found;
}

/**
 * Where `name`, written in `file`, may point: relative to the file when it climbs (`../`), else
 * from the root; a bare root-style name (`RESULTS.md`) also beside the file or in a top-level
 * directory, as a table row about `bench/` names its files.
 */
function candidates(file: string, name: string): string[] {
  if (name.startsWith("../")) return [path.resolve(path.dirname(file), name)];
  if (name.includes("/")) return [path.join(ROOT, name)];
  return [path.join(ROOT, name), path.join(path.dirname(file), name), ...SOURCE_DIRS.map((dir) => path.join(ROOT, dir, name))];
}

describe("docs: every document named by path exists (issue 23)", () => {
  it("finds the names a reader would follow, not URLs", () => {
    expect(namedDocuments("see SESSION-MODEL.md and ../shared/clients.md, docs/clients.md; s3://docs/streaming.md, https://x/docs/a.md")).to.deep.equal([
      "SESSION-MODEL.md",
      "../shared/clients.md",
      "docs/clients.md",
    ]);
  });

  it("names only documents that exist in the repository", () => {
    const files = [...ROOT_FILES.map((name) => path.join(ROOT, name)), ...SOURCE_DIRS.flatMap((dir) => filesUnder(path.join(ROOT, dir)))];
    const self = path.relative(ROOT, __filename);
    const missing: string[] = [];
    for (const file of files) {
      const rel = path.relative(ROOT, file);
      if (rel === self) continue;
      for (const name of namedDocuments(readFileSync(file, "utf8"))) {
        if (!candidates(file, name).some((c) => c.startsWith(ROOT + path.sep) && existsSync(c))) missing.push(`${rel}: ${name}`);
      }
    }
    expect([...new Set(missing)]).to.deep.equal([]);
  });
});
