import { expect } from "chai";
import { request } from "node:http";
import { startChatServer, type ChatServer, type UrlSigner } from "../../client/chat-server";
import { chatPage } from "./helpers/page";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, so tests can send any method and Host header. */
function get(server: ChatServer, path: string, options: { method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: server.port, path, method: options.method ?? "GET", headers: options.host ? { host: options.host } : {} },
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
    const reply = await get(server, "/api/signed-url?sessionId=us-east-1:tab.1");
    expect(reply.status).to.equal(200);
    expect(reply.headers["cache-control"]).to.equal("no-store");
    expect(JSON.parse(reply.body)).to.deep.equal({
      url: "ws://127.0.0.1:9/Prod?sessionId=us-east-1:tab.1&format=json&X-Amz-Date=20250102T030405Z&X-Amz-Expires=120&X-Amz-Signature=abc",
      sessionId: "us-east-1:tab.1",
      expiresAt: "2025-01-02T03:06:05.000Z",
      label: "offline stand-in model",
    });
    expect(signed).to.include("us-east-1:tab.1");

    const fresh = JSON.parse((await get(server, "/api/signed-url")).body) as { sessionId: string };
    expect(fresh.sessionId).to.match(/^web-[0-9a-f]{32}$/);
  });

  it("refuses bad session ids, reports signer failures, and serves only GET/HEAD", async () => {
    const server = await serve();
    const bad = await get(server, "/api/signed-url?sessionId=" + encodeURIComponent("<script>"));
    expect(bad.status).to.equal(400);
    expect(JSON.parse(bad.body).error).to.match(/sessionId is required/);
    const failed = await get(server, "/api/signed-url?sessionId=explode");
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
    const replies = await Promise.all(["/", "/app.js", "/app.css", "/api/signed-url?sessionId=s1"].map((path) => get(server, path)));
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
});
