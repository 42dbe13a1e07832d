import { expect } from "chai";
import { request } from "node:http";
import { PAGE_COOKIE, PAGE_IDLE_MS, PageSessions, startChatServer, type ChatServer, type UrlSigner } from "../../client/chat-server";
import { fetchSignedUrl, SignedUrlError } from "../../client/web/signed-url";
import { chatPage } from "./helpers/page";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, so tests can send any method and Host header. */
function get(server: ChatServer, path: string, options: { method?: string; host?: string; cookie?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.host) headers.host = options.host;
    if (options.cookie) headers.cookie = options.cookie;
    const req = request(
      { host: "127.0.0.1", port: server.port, path, method: options.method ?? "GET", headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Loads the page as a browser would and returns the cookie it set (`name=value`). */
async function loadPage(server: ChatServer): Promise<string> {
  const page = await get(server, "/");
  const setCookie = page.headers["set-cookie"];
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  if (!first) throw new Error("the page set no cookie");
  return first.split(";")[0];
}

describe("client: chat page server", () => {
  const servers: ChatServer[] = [];
  const signed: string[] = [];
  const sign: UrlSigner = async (sessionId) => {
    if (sessionId === "explode") throw new Error("no credentials in the chain");
    signed.push(sessionId);
    return `ws://127.0.0.1:9/Prod?sessionId=${sessionId}&format=json&X-Amz-Date=20250102T030405Z&X-Amz-Expires=120&X-Amz-Signature=abc`;
  };

  async function serve(options: { label?: string } = {}): Promise<ChatServer> {
    const server = await startChatServer({ sign, page: await chatPage(), ...options });
    servers.push(server);
    return server;
  }

  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  it("serves the page, its script and stylesheet on loopback, with a strict CSP", async () => {
    const server = await serve();
    expect(server.url).to.equal(`http://127.0.0.1:${server.port}/`);
    const page = await chatPage();
    const html = await get(server, "/");
    expect(html.status).to.equal(200);
    expect(html.headers["content-type"]).to.match(/^text\/html/);
    expect(html.body).to.equal(page.html);
    expect(html.headers["content-security-policy"]).to.include("script-src 'self'").and.include("connect-src 'self' ws: wss:");
    const js = await get(server, "/app.js");
    expect(js.headers["content-type"]).to.match(/^text\/javascript/);
    expect(js.body).to.equal(page.js);
    expect((await get(server, "/app.css")).body).to.equal(page.css);
    expect((await get(server, "/nope")).status).to.equal(404);
    const head = await get(server, "/", { method: "HEAD" });
    expect(head.status).to.equal(200);
    expect(head.body).to.equal("");
  });

  it("answers /api/signed-url with the injected signer's URL, the session, its expiry and the label", async () => {
    const server = await serve({ label: "offline stand-in model" });
    const cookie = await loadPage(server);
    const reply = await get(server, "/api/signed-url?sessionId=us-east-1:tab.1", { cookie });
    expect(reply.status).to.equal(200);
    expect(reply.headers["cache-control"]).to.equal("no-store");
    expect(JSON.parse(reply.body)).to.deep.equal({
      url: "ws://127.0.0.1:9/Prod?sessionId=us-east-1:tab.1&format=json&X-Amz-Date=20250102T030405Z&X-Amz-Expires=120&X-Amz-Signature=abc",
      sessionId: "us-east-1:tab.1",
      expiresAt: "2025-01-02T03:06:05.000Z",
      label: "offline stand-in model",
    });
    expect(signed).to.include("us-east-1:tab.1");

    const fresh = JSON.parse((await get(server, "/api/signed-url", { cookie })).body) as { sessionId: string };
    expect(fresh.sessionId).to.match(/^web-[0-9a-f]{32}$/);
  });

  it("keeps an open tab's session through 1,001 cookieless page loads: they displace only pages that own no session (issue 21, finding 7)", async function () {
    this.timeout(60_000);
    const server = await serve();
    const owner = await loadPage(server);
    expect((await get(server, "/api/signed-url?sessionId=owned-session", { cookie: owner })).status).to.equal(200);
    for (let i = 0; i < 1001; i++) expect((await get(server, "/")).status).to.equal(200);
    // The owner's cookie still works, and the session is still its own: nobody else can claim it.
    expect((await get(server, "/api/signed-url?sessionId=owned-session", { cookie: owner })).status).to.equal(200);
    const intruder = await loadPage(server);
    expect((await get(server, "/api/signed-url?sessionId=owned-session", { cookie: intruder })).status).to.equal(403);
  });

  it("refuses a new page (503) rather than forget a live page's sessions when every page slot owns one", () => {
    let now = 0;
    const pages = new PageSessions(() => now);
    const secrets: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const secret = pages.issue()!;
      pages.claim(secret, `s-${i}`);
      secrets.push(secret);
    }
    expect(pages.issue(), "every page owns a session and is in use").to.equal(undefined);
    expect(pages.claim(secrets[0], "s-0")).to.equal(true);
    // Past PAGE_IDLE_MS without use, the least recently used page gives way; one used meanwhile stays.
    now += PAGE_IDLE_MS - 1;
    expect(pages.known(secrets[0])).to.equal(true);
    now += 1;
    const newcomer = pages.issue()!;
    expect(newcomer).to.be.a("string");
    expect(pages.known(secrets[1]), "the idle page was forgotten").to.equal(false);
    expect(pages.claim(newcomer, "s-1"), "its session is free again").to.equal(true);
    expect(pages.claim(newcomer, "s-0"), "the page in use keeps its session").to.equal(false);
  });

  it("refuses bad session ids, reports signer failures, and serves only GET/HEAD", async () => {
    const server = await serve();
    const cookie = await loadPage(server);
    const bad = await get(server, "/api/signed-url?sessionId=" + encodeURIComponent("<script>"), { cookie });
    expect(bad.status).to.equal(400);
    expect(JSON.parse(bad.body).error).to.match(/sessionId is required/);
    const failed = await get(server, "/api/signed-url?sessionId=explode", { cookie });
    expect(failed.status).to.equal(502);
    expect(JSON.parse(failed.body).error).to.equal("could not sign a WebSocket URL: no credentials in the chain");
    const post = await get(server, "/api/signed-url", { method: "POST" });
    expect(post.status).to.equal(405);
    expect(post.headers.allow).to.equal("GET, HEAD");
  });

  it("refuses requests addressed to another host name (DNS rebinding)", async () => {
    const server = await serve();
    expect((await get(server, "/api/signed-url", { host: `evil.example:${server.port}` })).status).to.equal(403);
    expect((await get(server, "/", { host: `localhost:${server.port}` })).status).to.equal(200);
  });

  it("signs with AWS credentials server-side and never sends the secret to the browser", async () => {
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const server = await startChatServer({
      endpoint: "wss://abc123def4.execute-api.us-east-1.amazonaws.com/Prod",
      region: "us-east-1",
      credentials: async () => ({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret }),
      page: await chatPage(),
    });
    servers.push(server);
    const cookie = await loadPage(server);
    const replies = await Promise.all(["/", "/app.js", "/app.css", "/api/signed-url?sessionId=s1"].map((path) => get(server, path, { cookie })));
    for (const reply of replies) {
      expect(reply.body).not.to.include(secret);
      expect(reply.body).not.to.include(encodeURIComponent(secret));
    }
    const { url, expiresAt } = JSON.parse(replies[3].body) as { url: string; expiresAt: string };
    const query = new URL(url).searchParams;
    expect(url).to.match(/^wss:\/\/abc123def4\.execute-api\.us-east-1\.amazonaws\.com\/Prod\?/);
    expect(query.get("sessionId")).to.equal("s1");
    expect(query.get("format")).to.equal("json");
    expect(query.get("X-Amz-Credential")).to.match(/^AKIDEXAMPLE\/\d{8}\/us-east-1\/execute-api\/aws4_request$/);
    expect(query.get("X-Amz-Signature")).to.match(/^[0-9a-f]{64}$/);
    expect(Date.parse(expiresAt)).to.be.greaterThan(Date.now());
  });

  describe("signs only for the page's own sessions (issue 11: it signed any session for any caller)", () => {
    it("sets the page's secret in an HttpOnly, SameSite=Strict cookie, once per browser", async () => {
      const server = await serve();
      const page = await get(server, "/");
      const setCookie = String(page.headers["set-cookie"]);
      expect(setCookie).to.match(new RegExp(`^${PAGE_COOKIE}=[A-Za-z0-9_-]{43}; `));
      expect(setCookie).to.include("HttpOnly").and.include("SameSite=Strict");
      const cookie = setCookie.split(";")[0];
      expect((await get(server, "/", { cookie })).headers["set-cookie"], "a reload keeps its cookie").to.equal(undefined);
      expect((await get(server, "/app.js")).headers["set-cookie"], "only the page sets one").to.equal(undefined);
    });

    it("refuses a caller that never loaded the page, or brings a made-up cookie (403), and signs nothing", async () => {
      const server = await serve();
      const before = signed.length;
      const anonymous = await get(server, "/api/signed-url?sessionId=victim-session");
      expect(anonymous.status).to.equal(403);
      expect(JSON.parse(anonymous.body).error).to.match(/load the page first/);
      expect((await get(server, "/api/signed-url", { cookie: `${PAGE_COOKIE}=made-up` })).status).to.equal(403);
      expect(signed.length).to.equal(before);
    });

    it("keeps a session to the page that first asked for it: another page gets 403 for it, and its own sessions", async () => {
      const server = await serve();
      const owner = await loadPage(server);
      const other = await loadPage(server);
      expect(other).to.not.equal(owner);
      expect((await get(server, "/api/signed-url?sessionId=tab-owner", { cookie: owner })).status).to.equal(200);
      const stolen = await get(server, "/api/signed-url?sessionId=tab-owner", { cookie: other });
      expect(stolen.status).to.equal(403);
      expect(JSON.parse(stolen.body).error).to.match(/belongs to another page/);
      expect((await get(server, "/api/signed-url?sessionId=tab-owner", { cookie: owner })).status, "the owner reconnects").to.equal(200);
      expect((await get(server, "/api/signed-url?sessionId=tab-other", { cookie: other })).status).to.equal(200);
    });

    it("lets a program (the CLI's --local) in the way a browser comes in: it loads the page, then asks with its cookie", async () => {
      const server = await serve();
      const first = await fetchSignedUrl(server.url, "cli-session");
      expect(first.sessionId).to.equal("cli-session");
      // Reconnecting asks again for the same session: the same cookie is still its own.
      expect((await fetchSignedUrl(server.url, "cli-session")).sessionId).to.equal("cli-session");
      // Someone else's session stays someone else's.
      const owner = await loadPage(server);
      expect((await get(server, "/api/signed-url?sessionId=browser-tab", { cookie: owner })).status).to.equal(200);
      const refused = await fetchSignedUrl(server.url, "browser-tab").then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).to.be.instanceOf(SignedUrlError);
      expect((refused as SignedUrlError).status).to.equal(403);
    });
  });

  describe("POST api/sign-ask: SigV4 headers for the function URL, for the page's own session only (issue 15)", () => {
    const signedBodies: string[] = [];
    async function serveWithSignAsk(): Promise<ChatServer> {
      const server = await startChatServer({
        sign,
        page: await chatPage(),
        signAsk: async (body) => {
          signedBodies.push(body);
          return { url: "http://127.0.0.1:9/", headers: { authorization: "AWS4-HMAC-SHA256 Credential=AKID/…", "x-amz-date": "20250102T030405Z" } };
        },
      });
      servers.push(server);
      return server;
    }

    function post(server: ChatServer, body: string, headers: Record<string, string>): Promise<Reply> {
      return new Promise((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: server.port, path: "/api/sign-ask", method: "POST", headers }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        });
        req.on("error", reject);
        req.end(body);
      });
    }

    const ask = (sessionId: string) => JSON.stringify({ question: "q", sessionId, requestId: "r1", mode: "llm" });

    it("signs exactly the body for a page that loaded, and its own session", async () => {
      const server = await serveWithSignAsk();
      const cookie = await loadPage(server);
      const reply = await post(server, ask("sse-tab"), { cookie, "content-type": "application/json" });
      expect(reply.status).to.equal(200);
      expect(JSON.parse(reply.body)).to.deep.equal({ url: "http://127.0.0.1:9/", headers: { authorization: "AWS4-HMAC-SHA256 Credential=AKID/…", "x-amz-date": "20250102T030405Z" } });
      expect(signedBodies[signedBodies.length - 1]).to.equal(ask("sse-tab"));
    });

    it("refuses without the page cookie, another page's session, a non-JSON type, a bad body, a GET, and a server without a signer", async () => {
      const server = await serveWithSignAsk();
      const before = signedBodies.length;
      expect((await post(server, ask("x"), { "content-type": "application/json" })).status).to.equal(403);
      const owner = await loadPage(server);
      const other = await loadPage(server);
      expect((await get(server, "/api/signed-url?sessionId=owned-tab", { cookie: owner })).status).to.equal(200);
      const stolen = await post(server, ask("owned-tab"), { cookie: other, "content-type": "application/json" });
      expect(stolen.status).to.equal(403);
      expect(JSON.parse(stolen.body).error).to.match(/belongs to another page/);
      // A cross-site form can only send simple content types: refused.
      expect((await post(server, ask("x"), { cookie: owner, "content-type": "text/plain" })).status).to.equal(415);
      expect((await post(server, "{not json", { cookie: owner, "content-type": "application/json" })).status).to.equal(400);
      expect((await post(server, JSON.stringify({ question: "q" }), { cookie: owner, "content-type": "application/json" })).status).to.equal(400);
      expect((await post(server, "x".repeat(70 * 1024), { cookie: owner, "content-type": "application/json" })).status).to.equal(413);
      expect((await get(server, "/api/sign-ask", { cookie: owner })).status).to.equal(405);
      expect(signedBodies.length).to.equal(before);
      const plain = await serve();
      expect((await post(plain, ask("x"), { cookie: await loadPage(plain), "content-type": "application/json" })).status).to.equal(404);
    });
  });
});
