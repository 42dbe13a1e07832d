/**
 * bench/RESULTS.md is generated, never edited (issue 23): it is what bench/report.ts renders
 * from bench/results.json, and the figures that do not depend on the machine (the resources
 * the Pulumi program registers) are what the program registers today. Refresh §5 with
 * `npm run bench -- --only program`.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { countRegistered } from "../../bench/program";
import { describeRuns, renderResults, type BenchMeta, type BenchResults } from "../../bench/report";
import { parseStackConfig } from "../../components/config";
import { createStack } from "../../components/stack";
import { installMocks, registrationsSettled } from "../infra/mocks";

const ROOT = path.join(__dirname, "../..");
const results = () => JSON.parse(readFileSync(path.join(ROOT, "bench/results.json"), "utf8")) as BenchResults;

describe("docs: bench/RESULTS.md is generated from bench/results.json (issue 23)", function () {
  this.timeout(60_000);

  it("is what bench/report.ts renders from bench/results.json (refresh: npm run bench)", () => {
    expect(readFileSync(path.join(ROOT, "bench/RESULTS.md"), "utf8")).to.equal(renderResults(results()));
  });

  it("counts, in §5, the resources the Pulumi program registers today under mocks (tests/infra/lex-bot.test.ts gives each shape)", async () => {
    const program = results().program;
    expect(program, "bench/results.json has the program benchmark").not.to.equal(undefined);
    for (const run of program!.runs) {
      const recorder = await installMocks();
      createStack(parseStackConfig((key) => (key === "enableStreaming" ? String(run.streaming) : undefined)), {});
      await registrationsSettled();
      const { resources, awsResources, components } = countRegistered(recorder.resources);
      expect({ resources: run.resources, awsResources: run.awsResources, components: run.components }, `enableStreaming ${run.streaming}`).to.deep.equal({
        resources,
        awsResources,
        components,
      });
    }
  });

  it("dates each benchmark by its own run, on its own machine, once --only merged a later one", () => {
    const older = { date: "2026-11-29T10:57:00.000Z", node: "v20.20.2", platform: "linux", cpu: "AMD EPYC", cores: 2, memoryGiB: 24 };
    const newer = { ...older, date: "2026-12-07T13:00:00.000Z", cpu: "Intel Xeon" };
    const meta: BenchMeta = { ...newer, seconds: { streaming: 319, fanout: 52, program: 4 }, cpuBusyBeforePercent: {}, runs: { streaming: older, fanout: older, program: newer } };
    expect(describeRuns(meta, { platform: false })).to.equal("2026-11-29 (streaming, fanout): 2 cores (AMD EPYC), 24 GiB, Node v20.20.2; 2026-12-07 (program): 2 cores (Intel Xeon), 24 GiB, Node v20.20.2");
    expect(describeRuns({ ...meta, runs: undefined }, { platform: true })).to.equal("2026-12-07: 2 cores (Intel Xeon), 24 GiB, linux, Node v20.20.2");
  });
});
