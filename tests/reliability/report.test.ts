import { expect } from "chai";
import { renderReport, reportFile } from "../../reliability/report";

describe("reliability: RELIABILITY.md rendering", () => {
  const context = { command: "npm run reliability", date: "2026-01-01", node: "20.20.2", cpus: 2, durationMs: 61_000 };

  it("puts every check in one table, by area, with pipes and newlines kept inside their cell", () => {
    const report = renderReport(
      [
        { section: "Security", check: "IAM | evaluated", tried: "a\nb", result: "ok" },
        { section: "Bad input", check: "$connect", tried: "1000 cases", result: "400×3" },
      ],
      context,
    );
    const rows = report.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| Area") && !line.startsWith("| ---"));
    expect(rows).to.deep.equal(["| Bad input | $connect | 1000 cases | 400×3 |", "| Security | IAM \\| evaluated | a b | ok |"]);
    expect(report).to.include("**All 2 checks held.**").and.include("`npm run reliability` on 2026-01-01");
  });

  it("states the machine load the figures were taken under (issue 21: figures must say it)", () => {
    const report = renderReport([], { ...context, load: { start: 3.24, end: 5.01 } });
    expect(report).to.include("machine load, 1-minute average: 3.2 at the start, 5.0 at the end, on 2 CPUs shared with other work");
  });

  it("marks a failed check and says how many failed", () => {
    const report = renderReport([{ section: "Load", check: "500 sessions", tried: "", result: "", failure: "hung client" }], context);
    expect(report).to.include("**1 of 1 checks FAILED**").and.include("| Load | 500 sessions |  | **FAILED**: hung client |");
  });

  it("writes the committed RELIABILITY.md only for the full budget: a test-budget run goes to test-output/ unless --out says otherwise", () => {
    expect(reportFile("/repo", "full")).to.equal("/repo/RELIABILITY.md");
    expect(reportFile("/repo", "test")).to.equal("/repo/test-output/RELIABILITY.test.md");
    expect(reportFile("/repo", "test", "/tmp/r.md")).to.equal("/tmp/r.md");
  });
});
