import { expect } from "chai";
import { answerSources, formatAnswer } from "../../functions/fulfillment/format";
import { parseS3Uri, parseSourceLinkBuckets, snippetOf, webLink } from "../../functions/fulfillment/source-links";
import { insertMarkers, placeMarkers } from "../../functions/fulfillment/source-markers";
import { SourceLinker } from "../../functions/fulfillment/source-presign";

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const signedAt = Date.UTC(2031, 0, 2, 3, 4, 5);

describe("source links: allowlist, URIs, web links, snippets (functions/fulfillment/source-links.ts)", () => {
  it("reads the bucket allowlist and refuses a name S3 would refuse", () => {
    expect(parseSourceLinkBuckets(undefined)).to.deep.equal([]);
    expect(parseSourceLinkBuckets(" docs-bucket, kb.example.com,docs-bucket ")).to.deep.equal(["docs-bucket", "kb.example.com"]);
    for (const bad of ["Docs", "ab", "-docs", "docs..x", "s3://docs", "docs/"]) {
      expect(() => parseSourceLinkBuckets(bad), bad).to.throw("is not an S3 bucket name");
    }
  });

  it("splits s3:// URIs into bucket and key, and nothing else", () => {
    expect(parseS3Uri("s3://docs-bucket/guides/a b.md")).to.deep.equal({ bucket: "docs-bucket", key: "guides/a b.md" });
    expect(parseS3Uri("s3://docs-bucket/")).to.equal(undefined);
    expect(parseS3Uri("https://docs-bucket/a")).to.equal(undefined);
  });

  it("links web sources only when http(s), with what would break out of the link encoded", () => {
    expect(webLink("https://docs.example.com/a?b=c#d")).to.equal("https://docs.example.com/a?b=c#d");
    expect(webLink("http://docs.example.com/a (b)")).to.equal("http://docs.example.com/a%20%28b%29");
    expect(webLink('https://e.com/"onmouseover="x')).to.equal("https://e.com/%22onmouseover=%22x");
    for (const text of ["s3://bucket/key", "javascript:alert(1)", "ftp://e.com/a", "https://", "data:text/html,x"]) expect(webLink(text), text).to.equal(undefined);
    // The operator's link policy decides too: without http(s) among the schemes, nothing is a link.
    expect(webLink("https://docs.example.com/a", { linkSchemes: ["mailto"], imageHosts: [] })).to.equal(undefined);
  });

  it("shortens a passage to a one-line snippet at a word boundary", () => {
    expect(snippetOf(undefined)).to.equal(undefined);
    expect(snippetOf("  \n ")).to.equal(undefined);
    expect(snippetOf("A  short\npassage.")).to.equal("A short passage.");
    const long = snippetOf("word ".repeat(100), 40)!;
    expect(long).to.equal(`${"word ".repeat(7).trim()}…`);
    expect(long.length).to.be.at.most(40);
  });
});

describe("source markers: [n] after the text a citation supports (functions/fulfillment/source-markers.ts)", () => {
  const numbers = new Map([
    ["s3://b/one.md", 1],
    ["s3://b/two.md", 2],
  ]);
  const numberOf = (uri: string) => numbers.get(uri);

  it("places each citation's numbers after its text, in answer order, grouping citations that end together", () => {
    const text = "Streams go over WebSocket. Each frame is a JSON envelope. Done.";
    const placements = placeMarkers(
      text,
      [
        { text: "Streams go over WebSocket.", sources: [{ uri: "s3://b/two.md" }] },
        { text: " Each frame is a JSON envelope. ", sources: [{ uri: "s3://b/one.md" }] },
        { text: "Each frame is a JSON envelope.", sources: [{ uri: "s3://b/two.md" }, { uri: "s3://b/unknown.md" }] },
        { text: "Not in the answer.", sources: [{ uri: "s3://b/one.md" }] },
        { text: "", sources: [{ uri: "s3://b/one.md" }] },
      ],
      numberOf,
    );
    expect(placements).to.deep.equal([
      { end: 26, numbers: [2] },
      { end: 57, numbers: [1, 2] },
    ]);
    expect(insertMarkers(text, placements, (n) => `[${n}]`)).to.equal("Streams go over WebSocket. [2] Each frame is a JSON envelope. [1][2] Done.");
  });

  it("finds text the output sanitizer changed by sanitizing the cited text too", () => {
    const placements = placeMarkers("Use a \\<b> tag.", [{ text: "Use a <b> tag.", sources: [{ uri: "s3://b/one.md" }] }], numberOf);
    expect(placements).to.deep.equal([{ end: 15, numbers: [1] }]);
  });

  it("numbers sources from 1 in the order first cited; the final answer's markers link where the source does", () => {
    const citations = [
      { text: "Alpha.", sources: [{ uri: "https://docs.example.com/alpha", title: "Alpha", snippet: "Alpha is first." }] },
      { text: "Beta.", sources: [{ uri: "s3://b/beta.md" }] },
    ];
    const sources = answerSources(citations);
    expect(sources).to.deep.equal([
      { n: 1, title: "Alpha", uri: "https://docs.example.com/alpha", url: "https://docs.example.com/alpha", snippet: "Alpha is first." },
      { n: 2, title: "beta.md", uri: "s3://b/beta.md" },
    ]);
    const { markdown, plainText } = formatAnswer("Alpha. Beta.", citations, { sources });
    expect(markdown).to.equal(
      "Alpha. [\\[1\\]](https://docs.example.com/alpha) Beta. \\[2\\]\n\n**Sources**\n1. [Alpha](https://docs.example.com/alpha)\n2. beta.md (s3://b/beta.md)",
    );
    expect(plainText).to.equal("Alpha. [1] Beta. [2]\n\nSources:\n1. Alpha: https://docs.example.com/alpha\n2. beta.md: s3://b/beta.md");
  });

  it("links a presigned object where its links map has one", () => {
    const url = "https://b.s3.us-east-1.amazonaws.com/beta.md?X-Amz-Signature=abc";
    const sources = answerSources([{ text: "Beta.", sources: [{ uri: "s3://b/beta.md" }] }], new Map([["s3://b/beta.md", url]]));
    expect(sources).to.deep.equal([{ n: 1, title: "beta.md", uri: "s3://b/beta.md", url }]);
    expect(formatAnswer("Beta.", [{ text: "Beta.", sources: [{ uri: "s3://b/beta.md" }] }], { sources }).markdown).to.equal(
      `Beta. [\\[1\\]](${url})\n\n**Sources**\n1. [beta.md](${url})`,
    );
  });
});

describe("source links: presigned GetObject URLs (functions/fulfillment/source-presign.ts)", () => {
  const linker = (buckets: string[], expirySeconds = 900) => new SourceLinker({ buckets, expirySeconds, region: "eu-west-1", credentials, now: () => signedAt });

  it("addresses a bucket as S3's virtual host, a dotted one on path-style, keys escaped once", async () => {
    const url = new URL((await linker(["docs-bucket"]).presign("s3://docs-bucket/guides/a b+c.md"))!);
    expect(`${url.origin}${url.pathname}`).to.equal("https://docs-bucket.s3.eu-west-1.amazonaws.com/guides/a%20b%2Bc.md");
    expect(Object.fromEntries(url.searchParams)).to.deep.include({
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
      "X-Amz-Credential": "AKIDEXAMPLE/20310102/eu-west-1/s3/aws4_request",
      "X-Amz-Date": "20310102T030405Z",
      "X-Amz-Expires": "900",
      "X-Amz-SignedHeaders": "host",
    });
    expect(url.searchParams.get("X-Amz-Signature")).to.match(/^[0-9a-f]{64}$/);
    const dotted = (await linker(["kb.example.com"]).presign("s3://kb.example.com/a%20b.md"))!;
    expect(dotted).to.match(/^https:\/\/s3\.eu-west-1\.amazonaws\.com\/kb\.example\.com\/a%20b\.md\?/);
  });

  it("links only allowlisted buckets; other sources keep their web link or none", async () => {
    const only = linker(["docs-bucket"]);
    expect(await only.link("s3://other-bucket/a.md")).to.equal(undefined);
    expect(await only.link("https://docs.example.com/a")).to.equal("https://docs.example.com/a");
    expect(await only.link("s3://docs-bucket/a.md")).to.match(/^https:\/\/docs-bucket\.s3\.eu-west-1\.amazonaws\.com\/a\.md\?X-Amz-/);
    // A policy without https keeps no presigned link either.
    expect(await only.link("s3://docs-bucket/a.md", { linkSchemes: ["mailto"], imageHosts: [] })).to.equal(undefined);
  });

  it("refuses an expiry SigV4 cannot sign (1 to 604800 seconds) and a missing Region", () => {
    expect(() => linker(["b-1"], 604_801)).to.throw("source link expiry must be an integer from 1 to 604800 seconds; got 604801");
    expect(() => linker(["b-1"], 0)).to.throw("from 1 to 604800");
    expect(() => new SourceLinker({ buckets: [], expirySeconds: 900, region: "", credentials })).to.throw("need a Region");
  });
});
