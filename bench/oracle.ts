// The Istio oracle as a long seeded run (issue 11): the same generator and comparison as
// `npm run test:oracle` (test/oracle/), over many more configurations. Prints the summary and
// every unexplained divergence and every split whose draws do not fit its weights; exits 1 when
// there is one. The printed summary goes into docs/istio-compat.md by hand.
//
//   npm run bench:oracle [-- --configs 500 --seed 1 --draws 200]

import { parseArgs } from "node:util";
import { describeDivergence, misfits, Oracle, runOracle, summarize } from "../test/oracle/run.ts";
import { SAMPLES } from "../test/oracle/samples.ts";
import { runBench } from "./run-main.ts";

const USAGE = `usage: npm run bench:oracle [-- --configs N --seed S --draws D]

Runs Istio's own routing (istiod's native gateway and client sidecars) against Canal's gateway
for the rewritten Istio samples and N seeded random configurations, and compares every request.

  --configs N   random configurations after the samples (default 500)
  --seed S      generator seed (default 1)
  --draws D     requests per side for each weighted route's distribution check (default 200)
  -h, --help    this help`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      configs: { type: "string", default: "500" },
      seed: { type: "string", default: "1" },
      draws: { type: "string", default: "200" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const configs = Number(values.configs);
  const seed = Number(values.seed);
  const draws = Number(values.draws);
  for (const [name, v] of [["--configs", configs], ["--seed", seed], ["--draws", draws]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number, got ${String(v)}`);
  }
  const oracle = await Oracle.start("oracle-bench");
  try {
    const report = await runOracle(oracle, {
      seed,
      configs,
      samples: SAMPLES,
      draws,
      log: (line) => process.stderr.write(`oracle: ${line}\n`),
    });
    console.log(`seed ${seed}\n${summarize(report)}`);
    for (const d of report.unexplained) console.log(`\n${describeDivergence(d)}`);
    for (const d of misfits(report)) console.log(`\nweights not met: ${JSON.stringify(d)}`);
    return report.unexplained.length === 0 && misfits(report).length === 0 ? 0 : 1;
  } finally {
    await oracle.stop();
  }
}

runBench(main);
