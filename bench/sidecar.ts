// Benchmarks the headline comparison with istiod-generated configuration (issue 14 item 2): a
// sidecar pair as Istio runs it (client → client sidecar → server sidecar → app) against Canal's
// centralized path (client → Canal gateway with the filter → app), side by side in one world where
// a real istiod configures every proxy (bench/sidecar-world.ts). Per path: p50/p99 and proxy CPU
// per request for the whole path at each connection count (closed loop, alternating rounds), then
// each proxy's vCPU per 1,000 requests/s and RSS under a paced load near a fixed rate, beside
// Istio's published sidecar figure, and what that saves for N pods.
//
//   npm run bench:sidecar [-- --rounds 5 --duration 5 --connections 1,32 --rate 1000 --no-write]
//
// Results go to section "(b) Centralized gateway vs sidecar-style path" of docs/benchmarks.md.

import { readFileSync, writeFileSync } from "node:fs";
import { getPriority } from "node:os";
import { ENVOY_VERSION, envoyBinary } from "../test/support/envoy.ts";
import { ISTIO_RELEASE, ISTIO_VERSION, istiodBinary } from "../test/support/istiod.ts";
import { K8S_VERSION } from "../test/support/k8s.ts";
import { wrkBinary } from "../test/support/wrk.ts";
import { ensureCanalWasm } from "../test/support/wasm.ts";
import { BENCHMARKS_DOC, writeBenchmarkSection } from "./benchmarks-doc.ts";
import { cpuPlan } from "./filter-measure.ts";
import { loadAverage, machine, note } from "./istio-support.ts";
import { runBench } from "./run-main.ts";
import { alternate, calibrateDelay, summarise, type RunSample, type WrkRun } from "./sidecar-measure.ts";
import { historyOf, renderSection, sectionOf, type SidecarOptions, type SidecarRun } from "./sidecar-report.ts";
import { proxyConfigFacts, startPairWorld } from "./sidecar-world.ts";

interface Options extends SidecarOptions {
  write: boolean;
  saveJson?: string;
  renderJson?: string;
}

const USAGE = `usage: npm run bench:sidecar [-- flags]

A sidecar pair as Istio runs it (client → client sidecar → server sidecar → app) against Canal's
gateway (client → gateway + filter → app), every proxy configured by a real istiod, side by side.

flags:
  --rounds N            alternating rounds per cell (default 5, at most 50)
  --duration S          seconds per path and round, closed loop (default 5)
  --warmup S            warm-up seconds per path and cell (default 2)
  --connections 1,32    wrk connection counts, closed loop (default 1,32)
  --rate R              paced load: target requests/s (default 1000)
  --rate-connections N  paced load: wrk connections (default 20)
  --rate-seconds S      paced load: seconds per path and round (default 5)
  --services N          filler Services + VirtualServices on the mesh and the gateway (default 100)
  --rps-per-pod R       N-pods table: requests/s each pod receives (default 100)
  --pods 100,1000       N-pods table: pod counts (default 100,1000,10000)
  --save-json PATH      also save the raw results
  --render-json PATH    render a saved run into docs/benchmarks.md, measure nothing
  --no-write            do not touch docs/benchmarks.md
  -h, --help            this help
(results: section "(b) Centralized gateway vs sidecar-style path" of docs/benchmarks.md; progress on stderr)
`;

function parseOptions(argv: string[]): Options {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const o: Options = {
    rounds: 5,
    durationS: 5,
    warmupS: 2,
    connections: [1, 32],
    rate: 1000,
    rateConnections: 20,
    rateSeconds: 5,
    services: 100,
    rpsPerPod: 100,
    pods: [100, 1000, 10000],
    gatewayReplicaVcpu: 1,
    minGatewayReplicas: 2,
    write: true,
  };
  const list = (flag: string, v: string | undefined): number[] => {
    const xs = (v ?? "").split(",").map(Number);
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`${flag} needs a comma-separated list of positive whole numbers`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === "--rounds") o.rounds = num();
    else if (a === "--duration") o.durationS = num();
    else if (a === "--warmup") o.warmupS = num();
    else if (a === "--connections") o.connections = list(a, argv[++i]);
    else if (a === "--rate") o.rate = num();
    else if (a === "--rate-connections") o.rateConnections = num();
    else if (a === "--rate-seconds") o.rateSeconds = num();
    else if (a === "--services") o.services = Math.floor(num());
    else if (a === "--rps-per-pod") o.rpsPerPod = num();
    else if (a === "--pods") o.pods = list(a, argv[++i]);
    else if (a === "--save-json") o.saveJson = argv[++i];
    else if (a === "--render-json") o.renderJson = argv[++i];
    else if (a === "--no-write") o.write = false;
    else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  if (!Number.isInteger(o.rounds) || o.rounds < 1 || o.rounds > 50) throw new Error("--rounds needs a whole number from 1 to 50");
  if (o.rateConnections * 1000 < o.rate) throw new Error("--rate-connections too few for --rate: each connection sends at most ~1,000 requests/s when paced by whole milliseconds");
  return o;
}

/** Writes the section (keeping its plain-router history) and returns the summary lines. */
function publish(run: SidecarRun, write: boolean): string[] {
  const { section, summary } = renderSection(run, historyOf(sectionOf(readFileSync(BENCHMARKS_DOC, "utf8"))));
  if (write) {
    writeBenchmarkSection(section);
    note(`wrote section (b) of ${BENCHMARKS_DOC}`);
  } else process.stdout.write(`${section}\n`);
  return summary;
}

/** A sample without wrk's raw report (kept out of saved runs). */
const lean = (s: RunSample): RunSample => ({ ...s, wrk: { ...s.wrk, raw: "" } });

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.renderJson !== undefined) {
    const run = JSON.parse(readFileSync(opts.renderJson, "utf8")) as SidecarRun;
    for (const l of publish(run, opts.write)) process.stdout.write(`${l}\n`);
    return 0;
  }
  // Every tool up front: a missing one fails here with the fix, before a world is started.
  envoyBinary();
  istiodBinary();
  wrkBinary();
  ensureCanalWasm();
  const plan = cpuPlan();
  const loadBefore = loadAverage();
  note(`bench:sidecar: Envoy ${ENVOY_VERSION}, istio ${ISTIO_RELEASE}; proxies on CPU ${plan.proxies}, the rest on CPU ${plan.load}; load average ${loadBefore}`);
  const pw = await startPairWorld({ services: opts.services, proxiesCpu: plan.proxies, loadCpu: plan.load, note });
  try {
    const targets = [pw.sidecarPath, pw.canalPath];
    const config: NonNullable<SidecarRun["config"]> = [];
    for (const p of [...pw.canalPath.proxies, ...pw.sidecarPath.proxies]) config.push({ role: p.role, facts: await proxyConfigFacts(p.envoy) });
    const closed: SidecarRun["closed"] = [];
    for (const c of opts.connections) {
      note(`closed loop, ${c} connection(s)`);
      const [sidecar, canal] = await alternate(targets, { connections: c, durationS: opts.durationS, cpuList: plan.load }, opts.rounds, opts.warmupS, note, `c=${c}`);
      closed.push({ connections: c, sidecar: sidecar.map(lean), canal: canal.map(lean) });
    }
    // Pace each connection so the rate lands near the target: period = connections / rate,
    // less the path's one-connection latency when it was measured (wrk waits, then sends).
    const one = closed.find((x) => x.connections === 1);
    const latencyMs = one === undefined ? 0 : Math.max(summarise(one.sidecar).p50.median, summarise(one.canal).p50.median);
    const guessMs = Math.max(0, Math.round((opts.rateConnections * 1000) / opts.rate - latencyMs));
    const delays: number[] = [];
    for (const t of targets) delays.push(await calibrateDelay(t, opts.rate, opts.rateConnections, opts.warmupS, plan.load, guessMs));
    note(`paced near ${opts.rate} req/s: ${opts.rateConnections} connections, delay ${delays.join(" / ")} ms (${targets.map((t) => t.label).join(" / ")})`);
    const paced = (k: number): WrkRun => ({ connections: opts.rateConnections, durationS: opts.rateSeconds, delayMs: delays[k], cpuList: plan.load });
    const [pacedSidecar, pacedCanal] = await alternate(targets, paced, opts.rounds, opts.warmupS, note, "paced");
    const run: SidecarRun = {
      date: new Date().toISOString().slice(0, 10),
      command: `npm run bench:sidecar${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
      machine: machine(),
      loadBefore,
      loadAfter: loadAverage(),
      nice: getPriority(),
      versions: { envoy: ENVOY_VERSION, istio: ISTIO_VERSION, istioRelease: ISTIO_RELEASE, k8s: K8S_VERSION },
      plan,
      opts: { ...opts },
      roles: { sidecar: pw.sidecarPath.proxies.map((p) => p.role), canal: pw.canalPath.proxies.map((p) => p.role) },
      config,
      closed,
      paced: { delayMs: delays, sidecar: pacedSidecar.map(lean), canal: pacedCanal.map(lean) },
    };
    if (opts.saveJson !== undefined) writeFileSync(opts.saveJson, `${JSON.stringify(run, null, 1)}\n`);
    for (const l of publish(run, opts.write)) process.stdout.write(`${l}\n`);
    return 0;
  } finally {
    await pw.stop();
  }
}

runBench(main);
