import { expect } from "chai";
import { PassThrough } from "node:stream";
import { quietHandlerLogs, summarizeLogLine } from "../../local/terminal-log";

const entry = (fields: Record<string, unknown>) => JSON.stringify({ timestamp: "2026-12-07T05:00:00.000Z", service: "qnabot-streaming", ...fields });

describe("local: npm start's terminal, quiet by default (issue 23)", () => {
  it("turns an answer's log entries into one line each, keeps warnings short, drops the rest", () => {
    expect(summarizeLogLine(entry({ level: "INFO", message: "answer finished", requestId: "f2591ca34a77", mode: "llm", stopReason: "end_turn", durationMs: 812, outputTokens: 48 }))).to.equal(
      "answer f2591ca3 (llm): end_turn in 812 ms, 48 tokens",
    );
    expect(summarizeLogLine(entry({ level: "WARN", message: "answer failed", requestId: "0123456789", mode: "kb", code: "model_error", detail: "ValidationException: The provided model identifier is invalid." }))).to.equal(
      "answer 01234567 (kb) failed: model_error (ValidationException: The provided model identifier is invalid.)",
    );
    expect(summarizeLogLine(entry({ level: "ERROR", message: "stream writer failed on a connection" }))).to.equal("error: stream writer failed on a connection");
    expect(summarizeLogLine(entry({ level: "INFO", message: "route handled" }))).to.equal(undefined);
    expect(summarizeLogLine('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"StreamPosts":3}')).to.equal(undefined);
  });

  it("folds handler log writes and passes every other write through unchanged", () => {
    const stream = new PassThrough();
    let written = "";
    stream.on("data", (chunk: Buffer) => (written += chunk.toString()));
    quietHandlerLogs(stream);
    stream.write("qnabot-streaming local stack ready\n");
    stream.write(`${entry({ level: "INFO", message: "route handled" })}\n`);
    stream.write(`${entry({ level: "INFO", message: "answer finished", requestId: "abcdef0123", mode: "llm", stopReason: "cancelled", durationMs: 5 })}\n`);
    stream.write('{"v":1,"type":"delta","requestId":"r","seq":1,"text":"level"}\n');
    expect(written).to.equal('qnabot-streaming local stack ready\nanswer abcdef01 (llm): cancelled in 5 ms\n{"v":1,"type":"delta","requestId":"r","seq":1,"text":"level"}\n');
  });
});
