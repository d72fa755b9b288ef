// Istio's routing as the oracle for Canal's (issue 11): the same Istio objects and the same
// requests through istiod's native gateway and client sidecars, and through the Canal gateway.
// At least 50 configurations and 1,000 compared requests; every divergence must be explained
// by a documented, on-purpose difference (docs/istio-compat.md).
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { caseNames } from "../../controller/src/translate/testing/cases.ts";
import { runGolden, type GoldenSummary } from "./golden-run.ts";
import { describeDivergence, emptyReport, misfits, Oracle, runOracle, summarize, type OracleReport } from "./run.ts";
import { SAMPLES } from "./samples.ts";

const SEED = Number(process.env.ORACLE_SEED ?? 11);
const CONFIGS = Number(process.env.ORACLE_CONFIGS ?? 50);

let oracle: Oracle;
let report: OracleReport;
let golden: GoldenSummary;

beforeAll(async () => {
  oracle = await Oracle.start();
  report = emptyReport();
  const t0 = Date.now();
  // The golden cases first: their Services would collide with the pool's.
  golden = await runGolden(oracle, report);
  report.ms = Date.now() - t0;
  const goldenCompared = report.compared;
  report = await runOracle(oracle, { seed: SEED, configs: CONFIGS, samples: SAMPLES, draws: 200, report });
  console.log(`golden cases: ${golden.compared.length} compared (${goldenCompared} requests), ${golden.excluded.size} excluded`);
  for (const [name, why] of golden.excluded) console.log(`  golden ${name} excluded: ${why}`);
  for (const n of golden.notCompared) console.log(`  golden ${n}`);
  for (const [reason, n] of golden.refusals) console.log(`  golden: ${n} differences on objects Canal refuses with ${reason}`);
  console.log(summarize(report));
  // ORACLE_REPORT=<file>: every unexplained divergence, for study.
  if (process.env.ORACLE_REPORT) writeFileSync(process.env.ORACLE_REPORT, report.unexplained.map(describeDivergence).join("\n\n"));
}, 1_200_000);

afterAll(async () => {
  await oracle?.stop();
});

it(`compares at least 1,000 requests over at least 50 configurations (seed ${SEED})`, () => {
  expect(report.configs).toBeGreaterThanOrEqual(50);
  expect(report.compared).toBeGreaterThanOrEqual(1000);
  // Most requests must agree outright: a harness that compares nothing cannot pass.
  expect(report.equal / report.compared).toBeGreaterThan(0.8);
});

it("every golden translate case is compared, or excluded with a reason", () => {
  expect(golden.compared.length).toBeGreaterThanOrEqual(20);
  for (const name of caseNames()) {
    const excluded = golden.excluded.get(name);
    expect(golden.compared.includes(name) || (excluded !== undefined && excluded.length > 0), name).toBe(true);
  }
});

it("has no unexplained divergence", () => {
  expect(report.unexplained.map(describeDivergence).slice(0, 20).join("\n\n")).toBe("");
});

it("weighted routes: both sides' draws fit the configured weights (chi-square, p = 0.00001)", () => {
  expect(report.distributions.length).toBeGreaterThan(0);
  expect(misfits(report).map((d) => JSON.stringify(d))).toEqual([]);
});

it("explained divergences are only the documented classes", () => {
  for (const reason of report.explained.keys()) expect(reason).toMatch(/istio-compat\.md/);
});
