import { expect } from "chai";
import { parseChatArgs } from "../../client/chat-args";
import { parseCliArgs } from "../../client/cli-args";
import { regionFromEndpoint } from "../../client/endpoint";
import { EXIT, UsageError } from "../../client/exit-codes";

const AWS = "wss://abc123def4.execute-api.eu-west-1.amazonaws.com/Prod";

function usage(run: () => unknown, message: RegExp): void {
  expect(run).to.throw(UsageError, message);
  try {
    run();
  } catch (error) {
    expect((error as UsageError).exitCode).to.equal(EXIT.usage);
  }
}

describe("client: qnabot-stream arguments", () => {
  it("parses ask against a deployed endpoint, taking the region from its host name", () => {
    expect(parseCliArgs(["ask", "What is QnABot?", "--endpoint", `${AWS}/`])).to.deep.equal({
      kind: "ask",
      question: "What is QnABot?",
      target: { kind: "aws", endpoint: AWS, region: "eu-west-1" },
      mode: "llm",
      json: false,
      reasoning: false,
      timeoutMs: 90_000,
    });
  });

  it("parses every option, and joins an unquoted question", () => {
    const command = parseCliArgs(
      ["ask", "what", "is", "it", "--local", "http://127.0.0.1:8080", "-m", "kb", "--json", "--reasoning", "--session-id", "us-east-1:abc", "--timeout", "2.5"],
      {},
    );
    expect(command).to.deep.equal({
      kind: "ask",
      question: "what is it",
      target: { kind: "local", baseUrl: "http://127.0.0.1:8080/" },
      mode: "kb",
      json: true,
      reasoning: true,
      sessionId: "us-east-1:abc",
      timeoutMs: 2500,
    });
    expect(parseCliArgs(["ask", "--local", "http://127.0.0.1:1", "--", "-weird question"])).to.have.property("question", "-weird question");
  });

  it("takes the region from --region, then AWS_REGION, for custom domains", () => {
    const custom = "wss://chat.example.com/Prod";
    expect(parseCliArgs(["chat", "--endpoint", custom, "--region", "us-west-2"])).to.deep.include({
      kind: "chat",
      target: { kind: "aws", endpoint: custom, region: "us-west-2" },
    });
    expect(parseCliArgs(["chat", "--endpoint", custom], { AWS_REGION: "ap-south-1" })).to.have.nested.property("target.region", "ap-south-1");
    usage(() => parseCliArgs(["chat", "--endpoint", custom]), /--region is required/);
  });

  it("answers help", () => {
    expect(parseCliArgs(["--help"])).to.deep.equal({ kind: "help" });
    expect(parseCliArgs(["help"])).to.deep.equal({ kind: "help" });
    expect(parseCliArgs(["ask", "-h"])).to.deep.equal({ kind: "help" });
  });

  it("refuses bad usage with a message that says what to do", () => {
    usage(() => parseCliArgs([]), /a command is required/);
    usage(() => parseCliArgs(["tell", "--local", "http://x"]), /unknown command "tell"/);
    // A bare --local is npm start's default address (issue 23: the URL had to be typed every time).
    for (const argv of [["ask", "q", "--local"], ["ask", "--local", "q"], ["chat", "--local"], ["ask", "--local", "--http", "q"]]) {
      expect(parseCliArgs(argv), argv.join(" ")).to.have.nested.property("target.baseUrl", "http://127.0.0.1:3000/");
    }
    usage(() => parseCliArgs(["ask", "q"]), /--endpoint wss:\/\/… .* or --local/);
    usage(() => parseCliArgs(["ask", "--local", "http://127.0.0.1:1"]), /ask needs a question/);
    usage(() => parseCliArgs(["ask", "q", "--endpoint", AWS, "--local", "http://x"]), /not both/);
    usage(() => parseCliArgs(["ask", "q", "--endpoint", "https://x.example/Prod"]), /must start with wss:\/\//);
    usage(() => parseCliArgs(["ask", "q", "--endpoint", `${AWS}?sessionId=x`]), /query string/);
    usage(() => parseCliArgs(["ask", "q", "--local", "ftp://x"]), /http:\/\/ or https:\/\//);
    usage(() => parseCliArgs(["ask", "q", "--local", "http://x", "--region", "us-east-1"]), /--region goes with --endpoint/);
    usage(() => parseCliArgs(["ask", "q", "--local", "http://x", "--mode", "sql"]), /mode must be one of: llm, kb/);
    usage(() => parseCliArgs(["ask", "q", "--local", "http://x", "--session-id", "a b"]), /--session-id: sessionId/);
    usage(() => parseCliArgs(["ask", "q", "--local", "http://x", "--timeout", "0"]), /--timeout must be a positive number/);
    usage(() => parseCliArgs(["ask", "q", "--local", "http://x", "--verbose"]), /Unknown option '--verbose'/);
    usage(() => parseCliArgs(["chat", "extra", "--local", "http://x"]), /chat takes no question/);
    usage(() => parseCliArgs(["ask", "x".repeat(4001), "--local", "http://x"]), /longer than 4000 characters/);
  });

  it("says what is wrong with a flag in one line, without parseArgs' advice about --", () => {
    const message = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error("expected a usage error");
    };
    expect(message(() => parseCliArgs(["ask", "q", "--local", "http://x", "--verbose"]))).to.equal("Unknown option '--verbose'");
    expect(message(() => parseCliArgs(["ask", "q", "--local", "http://x", "--timeout", "-1"]))).to.equal(
      "Option '--timeout' argument is ambiguous: to give a value that starts with a dash, write --timeout=<value>",
    );
    expect(message(() => parseCliArgs(["ask", "q", "--local", "127.0.0.1:3000"]))).to.match(/^--local "127\.0\.0\.1:3000" is not a URL/);
    expect(message(() => parseChatArgs(["--stack", "dev", "--port", "-1"]))).to.equal(
      "Option '--port' argument is ambiguous: to give a value that starts with a dash, write --port=<value>",
    );
    expect(message(() => parseChatArgs(["--stack", "dev", "extra"]))).to.equal("Unexpected argument 'extra'. This command does not take positional arguments");
  });
});

describe("client: npm run chat arguments", () => {
  it("parses --stack and --endpoint with defaults", () => {
    expect(parseChatArgs(["--stack", "dev"])).to.deep.equal({
      kind: "serve",
      source: { kind: "stack", stack: "dev" },
      region: undefined,
      port: 8787,
      host: "127.0.0.1",
    });
    expect(parseChatArgs(["--endpoint", AWS, "--region", "eu-west-1", "--port", "0"])).to.deep.equal({
      kind: "serve",
      source: { kind: "endpoint", endpoint: AWS },
      region: "eu-west-1",
      port: 0,
      host: "127.0.0.1",
    });
    expect(parseChatArgs(["-h"])).to.deep.equal({ kind: "help" });
  });

  it("refuses bad usage", () => {
    usage(() => parseChatArgs([]), /exactly one of --stack/);
    usage(() => parseChatArgs(["--stack", "dev", "--endpoint", AWS]), /exactly one of --stack/);
    usage(() => parseChatArgs(["--stack", "dev", "--port", "70000"]), /--port must be 0-65535/);
    usage(() => parseChatArgs(["--endpoint", "not a url"]), /is not a URL/);
    usage(() => parseChatArgs(["--stack", "dev", "extra"]), /positional/i);
  });

  it("finds the region in execute-api host names only", () => {
    expect(regionFromEndpoint(AWS)).to.equal("eu-west-1");
    expect(regionFromEndpoint("wss://abc.execute-api.cn-north-1.amazonaws.com.cn/Prod")).to.equal("cn-north-1");
    expect(regionFromEndpoint("wss://abc.execute-api.us-gov-west-1.amazonaws.com/Prod")).to.equal("us-gov-west-1");
    expect(regionFromEndpoint("wss://chat.example.com/Prod")).to.equal(undefined);
    expect(regionFromEndpoint("ws://127.0.0.1:8080/Prod")).to.equal(undefined);
  });

  describe("--http (Server-Sent Events over the function URL, issue 15)", () => {
    const URL_ = "https://abcdefghij1234567890.lambda-url.eu-west-1.on.aws/";

    it("takes the function URL after --http or --http=, with its region from the host name or --region", () => {
      expect(parseCliArgs(["ask", "q", "--http", URL_]).kind === "ask" && parseCliArgs(["ask", "q", "--http", URL_])).to.deep.include({
        target: { kind: "http", url: URL_, region: "eu-west-1" },
      });
      expect(parseCliArgs(["ask", "q", `--http=${URL_}`, "--region", "us-west-2"])).to.deep.include({ target: { kind: "http", url: URL_, region: "us-west-2" } });
      expect(parseCliArgs(["ask", "q", "--http", "https://streaming.example.com/"], { AWS_REGION: "ap-south-1" })).to.deep.include({
        target: { kind: "http", url: "https://streaming.example.com/", region: "ap-south-1" },
      });
    });

    it("with --local takes no URL: the local stack signs for its own function URL", () => {
      expect(parseCliArgs(["ask", "q", "--local", "http://127.0.0.1:8080", "--http"])).to.deep.include({
        target: { kind: "http-local", baseUrl: "http://127.0.0.1:8080/" },
      });
      expect(parseCliArgs(["ask", "--http", "--local", "http://127.0.0.1:8080", "q"])).to.deep.include({ question: "q" });
    });

    it("refuses --http without a URL or --local, with --endpoint, without a region, and for chat", () => {
      usage(() => parseCliArgs(["ask", "q", "--http"]), /--http needs the function URL/);
      usage(() => parseCliArgs(["ask", "q", "--http", URL_, "--endpoint", AWS]), /not the WebSocket --endpoint/);
      usage(() => parseCliArgs(["ask", "q", "--http", "https://streaming.example.com/"]), /--region is required/);
      usage(() => parseCliArgs(["ask", "q", "--http", URL_, "--local", "http://127.0.0.1:1"]), /--http takes no URL/);
      usage(() => parseCliArgs(["chat", "--local", "http://127.0.0.1:1", "--http"]), /--http is for ask/);
    });
  });
});
