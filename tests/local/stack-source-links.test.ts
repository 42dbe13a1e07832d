/**
 * Sources people can click, over the wire (issue 24): the local stack's real handlers answer
 * in knowledge-base mode from the bundled documents (cited as `s3://local-documents/{file}`),
 * with bucket `local-documents` allowlisted as `npm start -- --source-link-buckets` passes it.
 * Each source of `end.sources` carries a presigned link to the local S3, which serves the
 * document to whoever holds the link, and `end.final` cites it with `[n]` markers.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { DOCUMENTS_URI_PREFIX } from "../../local/bedrock/retrieval";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { parseStartArgs, USAGE, UsageError } from "../../local/start";
import { Readable } from "node:stream";
import { main } from "../../client/cli";
import { EXIT } from "../../client/exit-codes";
import { FAST, QUIET_ENV, connect, last, postAsk } from "./stack-helpers";

const DOCUMENTS = join(__dirname, "..", "..", "local", "documents");
const QUESTION = "How does the knowledge base cite its sources?";

describe("npm start: source link flags", () => {
  it("reads --source-link-buckets and --source-link-expiry-seconds; links nothing by default; refuses bad values", () => {
    expect(parseStartArgs([])).to.deep.include({ sourceLinkBuckets: undefined, sourceLinkExpirySeconds: undefined });
    expect(parseStartArgs(["--source-link-buckets", "local-documents", "--source-link-expiry-seconds", "60"])).to.deep.include({
      sourceLinkBuckets: ["local-documents"],
      sourceLinkExpirySeconds: 60,
    });
    expect(USAGE).to.include("--source-link-buckets").and.include("--source-link-expiry-seconds");
    expect(() => parseStartArgs(["--source-link-buckets", "Local_Documents"])).to.throw(UsageError, /^--source-link-buckets: "Local_Documents" is not an S3 bucket name/);
    expect(() => parseStartArgs(["--source-link-expiry-seconds", "604801"])).to.throw(UsageError, /from 1 to 604800/);
  });
});

describe("local stack: source links", () => {
  let stack: LocalStack;

  before(async () => {
    stack = await startLocalStack({
      bedrockBehavior: FAST,
      ...parseStartArgs(["--source-link-buckets", "local-documents", "--source-link-expiry-seconds", "120"]),
      ports: undefined,
      env: QUIET_ENV,
    });
  });
  after(() => stack?.close());

  it("ends a knowledge-base answer with numbered sources whose presigned links fetch the cited documents, cited by [n] markers", async () => {
    const socket = await connect(stack, "source-links", { format: "json" });
    try {
      socket.ask("kb-1", QUESTION, "kb");
      const end = last(await socket.answer("kb-1"), "end");
      const sources = end.sources!;
      expect(sources).to.have.length.greaterThan(0);
      for (const [i, source] of sources.entries()) {
        expect(source.n).to.equal(i + 1);
        expect(source.uri.startsWith(DOCUMENTS_URI_PREFIX), source.uri).to.equal(true);
        expect(source.snippet, source.uri).to.be.a("string").and.not.equal("");
        const url = new URL(source.url!);
        expect(`${url.origin}${url.pathname}`).to.equal(`${stack.s3!.endpoint}/local-documents/${source.uri.slice(DOCUMENTS_URI_PREFIX.length)}`);
        expect(url.searchParams.get("X-Amz-Expires")).to.equal("120");
        // Anyone holding the link gets the document: no credentials of their own.
        const response = await fetch(source.url!);
        expect(response.status).to.equal(200);
        expect(await response.text()).to.equal(readFileSync(join(DOCUMENTS, source.uri.slice(DOCUMENTS_URI_PREFIX.length)), "utf8"));
        // The snippet is from the cited passage of that document.
        expect(readFileSync(join(DOCUMENTS, source.uri.slice(DOCUMENTS_URI_PREFIX.length)), "utf8").replace(/\s+/g, " ")).to.include(source.snippet!.replace(/…$/, ""));
        // The final answer cites it with a marker linking the same URL, and lists it.
        expect(end.final).to.include(`[\\[${source.n}\\]](${source.url})`);
        expect(end.final).to.include(`${source.n}. [${source.title}](${source.url})`);
      }
      // A link edited to name another document is refused by the local S3, as S3 refuses it.
      const other = sources[0].uri.endsWith("/security-model.md") ? "lex-web-ui.md" : "security-model.md";
      const refused = await fetch(sources[0].url!.replace(/\/local-documents\/[^?]+/, `/local-documents/${other}`));
      expect(refused.status).to.equal(403);
      expect(await refused.text()).to.include("<Code>SignatureDoesNotMatch</Code>");
    } finally {
      await socket.close();
    }
  });

  it("answers POST /ask with the same sources", async () => {
    const response = await postAsk(stack, { question: QUESTION, sessionId: "source-links-http", mode: "kb" });
    expect(response.status).to.equal(200);
    const sources = response.body.sources as { n: number; url?: string }[];
    expect(sources.map((s) => s.n)).to.deep.equal(sources.map((_, i) => i + 1));
    expect(sources.every((s) => s.url?.startsWith(`${stack.s3!.endpoint}/local-documents/`))).to.equal(true);
  });

  for (const door of ["WebSocket (--local)", "Server-Sent Events (--http)"]) {
    it(`qnabot-stream ask prints the numbered sources with their links: ${door}`, async () => {
      const out = { text: "", write: (t: string) => ((out.text += t), true) };
      const err = { text: "", write: (t: string) => ((err.text += t), true) };
      const target = door.includes("--http") ? ["--http", stack.functionUrl, "--region", stack.region] : ["--local", stack.pageUrl!];
      const code = await main(["ask", QUESTION, ...target, "--mode", "kb"], {
        stdout: out,
        stderr: err,
        stdin: Readable.from([]),
        env: {},
        credentials: async () => stack.chatUser,
      });
      expect(code, err.text).to.equal(EXIT.ok);
      const listed = out.text.slice(out.text.indexOf("\nSources:\n") + "\nSources:\n".length).trimEnd().split("\n");
      expect(listed.length).to.be.greaterThan(0);
      listed.forEach((line, i) => {
        expect(line).to.match(new RegExp(`^  \\[${i + 1}\\] .+ — ${stack.s3!.endpoint.replace(/[.]/g, "\\.")}/local-documents/[a-z-]+\\.md\\?X-Amz-`));
      });
    });
  }
});
