/**
 * `npm start`'s answers to a user's mistakes (issue 12): each is one line that names the fix,
 * never a stack trace; a bad command line adds the usage line. The parser is checked
 * directly, and each message as the user sees it, from a real `npm start` process.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { resolve } from "node:path";
import { expect } from "chai";
import { PORT_FLAGS, USAGE, UsageError, parseStartArgs, setupErrorLine } from "../../local/start";
import { PortInUseError, startLocalStack, MissingAwsCredentialsError } from "../../local/stack";
import { listenOnLoopback } from "../../local/loopback";
import { QUIET_ENV } from "./stack-helpers";

const ROOT = resolve(__dirname, "../..");

/** Runs `npm start`'s script with `args` and `env`, to its exit. */
function runStart(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "local/start.ts", ...args], { cwd: ROOT, env: { ...env, FORCE_COLOR: "0" } });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((done) => child.once("exit", (code) => done({ code, stdout, stderr })));
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

function usageError(argv: string[]): UsageError {
  try {
    parseStartArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

/** A port another process holds for the duration of `use`. */
async function withBusyPort<T>(use: (port: number) => Promise<T>): Promise<T> {
  const holder: Server = createServer();
  const port = await listenOnLoopback(holder);
  try {
    return await use(port);
  } finally {
    await new Promise((done) => holder.close(done));
  }
}

describe("npm start: user mistakes get one line naming the fix", function () {
  describe("the command line", function () {
    it("answers an unknown flag or a stray argument with one line and the usage line", function () {
      expect(usageError(["--bogus"]).message).to.equal(`Unknown option '--bogus'\n${USAGE}`);
      expect(lines(usageError(["stray"]).message)).to.deep.equal(["Unexpected argument 'stray'", USAGE]);
      expect(lines(usageError(["--port"]).message)[1]).to.equal(USAGE);
    });

    it("rejects --model and --region without --bedrock aws, as --knowledge-base already was", function () {
      expect(lines(usageError(["--model", "amazon.nova-pro-v1:0"]).message)).to.deep.equal(["--model only applies to real Bedrock: add --bedrock aws", USAGE]);
      expect(lines(usageError(["--region", "eu-west-1"]).message)[0]).to.equal("--region only applies to real Bedrock: add --bedrock aws");
      expect(lines(usageError(["--bedrock", "emulator", "--region", "eu-west-1", "--model", "m"]).message)[0]).to.equal("--region and --model only apply to real Bedrock: add --bedrock aws");
      expect(lines(usageError(["--knowledge-base", "KB1"]).message)[0]).to.equal("--knowledge-base only applies to real Bedrock: add --bedrock aws");
      expect(parseStartArgs(["--bedrock", "aws", "--region", "eu-west-1", "--model", "m", "--knowledge-base", "KB1"])).to.deep.include({
        bedrock: "aws",
        region: "eu-west-1",
        model: "m",
        knowledgeBase: "KB1",
      });
    });

    it("throttles the WebSocket stage as deployed by default (50/s, burst 100), or as --throttle-rate/--throttle-burst say, or not at all with --no-throttle", function () {
      expect(parseStartArgs([]).throttle).to.deep.equal({ rateLimit: 50, burstLimit: 100 });
      expect(parseStartArgs(["--throttle-rate", "2.5", "--throttle-burst", "5"]).throttle).to.deep.equal({ rateLimit: 2.5, burstLimit: 5 });
      expect(parseStartArgs(["--throttle-burst", "7"]).throttle).to.deep.equal({ rateLimit: 50, burstLimit: 7 });
      expect(parseStartArgs(["--no-throttle"]).throttle).to.equal(false);
      expect(parseStartArgs([]).unboundSessionStreaming, "guests' unbound ids do not stream by default").to.equal(false);
      expect(parseStartArgs(["--unbound-session-streaming"]).unboundSessionStreaming).to.equal(true);
      expect(lines(usageError(["--throttle-rate", "0"]).message)).to.deep.equal(['--throttle-rate must be a positive number of messages per second, not "0"', USAGE]);
      expect(lines(usageError(["--throttle-rate", "fast"]).message)[0]).to.match(/^--throttle-rate must be a positive number/);
      expect(lines(usageError(["--throttle-burst", "1.5"]).message)[0]).to.equal('--throttle-burst must be a whole number of at least 1, not "1.5"');
      expect(lines(usageError(["--no-throttle", "--throttle-rate", "5"]).message)[0]).to.equal("--no-throttle cannot be combined with --throttle-rate or --throttle-burst");
    });

    it("takes --route-throttling as Pulumi config routeThrottling takes it (route=rate:burst pairs), with the parser's message, and not with --no-throttle", function () {
      expect(parseStartArgs([]).routeThrottles).to.equal(undefined);
      expect(parseStartArgs(["--route-throttling", "ping=1:2,$default=0.5:3"]).routeThrottles).to.deep.equal({
        ping: { rateLimit: 1, burstLimit: 2 },
        $default: { rateLimit: 0.5, burstLimit: 3 },
      });
      expect(lines(usageError(["--route-throttling", "ping=10:20,=5:10"]).message)).to.deep.equal([
        '--route-throttling: "=5:10" names route ""; only ping and $default have a throttle of their own (in a shell, quote the value: $default expands to nothing)',
        USAGE,
      ]);
      expect(lines(usageError(["--route-throttling", "ask=1:1"]).message)[0]).to.match(/^--route-throttling: "ask=1:1" names route "ask"/);
      expect(lines(usageError(["--route-throttling", "ping=1:2", "--no-throttle"]).message)[0]).to.equal("--route-throttling cannot be combined with --no-throttle");
    });

    it("pins every service's port with its own flag; the page defaults to 3000, the rest to OS-assigned", function () {
      expect(parseStartArgs([]).ports).to.deep.equal({ page: 3000, gateway: 0, httpApi: 0, lambda: 0, dynamo: 0, bedrock: 0, cognito: 0, lex: 0, functionUrl: 0 });
      const argv = Object.values(PORT_FLAGS).flatMap((flag, i) => [`--${flag}`, String(4100 + i)]);
      expect(parseStartArgs(argv).ports).to.deep.equal({ page: 4100, gateway: 4101, httpApi: 4102, lambda: 4103, dynamo: 4104, bedrock: 4105, cognito: 4106, lex: 4107, functionUrl: 4108 });
      for (const bad of ["abc", "70000", "-1", "80.5", ""]) {
        expect(lines(usageError([`--lex-port=${bad}`]).message)[0], bad).to.match(/^--lex-port must be a port number from 0 to 65535/);
      }
      // node's own multi-line complaint is cut to its first sentence.
      expect(lines(usageError(["--lex-port", "-1"]).message)).to.deep.equal(["Option '--lex-port' argument is ambiguous", USAGE]);
      for (const flag of Object.values(PORT_FLAGS)) expect(USAGE, flag).to.include(`--${flag}`);
    });

    it("prints the one line and the usage line from a real npm start, and exits 2", async function () {
      const { code, stdout, stderr } = await runStart(["--bogus"]);
      expect(code).to.equal(2);
      expect(stdout).to.equal("");
      expect(lines(stderr)).to.deep.equal(["Unknown option '--bogus'", USAGE]);
    });
  });

  describe("a busy port", function () {
    it("names the port, the service and the flag that pins it", function () {
      expect(setupErrorLine(new PortInUseError("page", 3000))).to.equal("port 3000 is in use (the chat page): pick a free one with --port <port>, or --port 0 to let the OS choose");
      expect(setupErrorLine(new PortInUseError("gateway", 8081))).to.equal(
        "port 8081 is in use (the WebSocket gateway): pick a free one with --gateway-port <port>, or --gateway-port 0 to let the OS choose",
      );
      expect(setupErrorLine(new Error("something else"))).to.equal(undefined);
    });

    it("is reported by the stack as a PortInUseError, after closing what had started", async function () {
      await withBusyPort(async (port) => {
        let error: unknown;
        try {
          await startLocalStack({ page: false, ports: { cognito: port }, env: QUIET_ENV });
        } catch (caught) {
          error = caught;
        }
        expect(error).to.be.instanceOf(PortInUseError);
        expect(error).to.include({ service: "cognito", port });
        // Everything that had started was closed: the same stack starts again on free ports.
        const stack = await startLocalStack({ page: false, env: QUIET_ENV });
        await stack.close();
      });
    });

    it("prints one line, no stack trace, from a real npm start, and exits 1", async function () {
      await withBusyPort(async (port) => {
        const { code, stderr } = await runStart(["--port", "0", "--lex-port", String(port)]);
        expect(code).to.equal(1);
        expect(stderr).to.not.match(/^\s+at /m);
        expect(lines(stderr).at(-1)).to.equal(`port ${port} is in use (the Lex V2 runtime): pick a free one with --lex-port <port>, or --lex-port 0 to let the OS choose`);
      });
    });
  });

  describe("--bedrock aws without AWS credentials", function () {
    /** An environment in which the default credential chain finds nothing and asks no metadata service. */
    function noCredentials(): NodeJS.ProcessEnv {
      const env: NodeJS.ProcessEnv = {};
      for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("AWS_")) env[name] = value;
      return { ...env, AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials", AWS_CONFIG_FILE: "/nonexistent/config", AWS_EC2_METADATA_DISABLED: "true" };
    }

    it("prints one line naming the fix, no stack trace, and exits 1", async function () {
      const { code, stdout, stderr } = await runStart(["--bedrock", "aws", "--port", "0"], noCredentials());
      expect(code).to.equal(1);
      expect(stdout).to.equal("");
      expect(stderr).to.not.match(/^\s+at /m);
      expect(lines(stderr).at(-1)).to.equal(new MissingAwsCredentialsError().message);
      expect(new MissingAwsCredentialsError().message).to.match(/aws configure/).and.match(/AWS_ACCESS_KEY_ID/);
    });
  });
});
