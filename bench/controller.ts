// Benchmarks `canal controller` against a REAL API server (etcd + kube-apiserver from
// test/support/k8s.ts) and a REAL Envoy fed over ECDS, at N = 1,000 and 10,000 VirtualServices
// (each with its own Service, spread over a few namespaces, all bound to one Gateway through
// one InternalGateway). Per size, on a fresh API server:
//   1. initial sync: from spawning the controller process until Envoy has ACKed a table with
//      all N virtual hosts (Envoy's config dump is checked; the time is Envoy's own log
//      timestamp of "accepted"), and until the workers serve it (x-canal-table of a probe);
//   2. change → ACK / serving latency: sequential VirtualService changes (route destination
//      blue ↔ green plus a request header naming the change); from the start of the apply
//      request until Envoy ACKed (its ECDS update_success stat and log) and until a request for
//      that host is answered by the new destination carrying the change's number;
//   3. the controller's RSS after sync and its peak (VmHWM), table size, and its /metrics
//      (canal_translate_seconds, canal_push_seconds, canal_table_bytes); plus an in-process
//      breakdown of one full pass (parse, translate, JSON, protobuf encode) on the same objects.
//
//   npm run bench:controller [-- --sizes 1000,10000 --changes 50 --burst 20 --no-write]
//
// Results go to the "Controller" section of docs/benchmarks.md; the figures are the last lines.

import { tmpdir } from "node:os";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENVOY_VERSION, envoyBinary } from "../test/support/envoy.ts";
import { ETCD_VERSION, K8S_VERSION } from "../test/support/k8s.ts";
import { ensureCanalWasm } from "../test/support/wasm.ts";
import { writeBenchmarkSection } from "./benchmarks-doc.ts";
import { runBench } from "./run-main.ts";
import { fmt, progress } from "./controller-support.ts";
import { type Options, parseOptions } from "./controller/options.ts";
import type { SizeResult } from "./controller/results.ts";
import { runSize } from "./controller/run-size.ts";
import { moduleBaseline } from "./controller/breakdown.ts";
import { machine, report, type RunMeta } from "./controller/report.ts";

/** What --save-json writes and --render-json reads. */
interface SavedRun {
  format: "canal-bench-controller/1";
  opts: Options;
  meta: RunMeta;
  results: SizeResult[];
}

function readSavedRun(path: string): SavedRun {
  const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (typeof parsed !== "object" || parsed === null || (parsed as { format?: unknown }).format !== "canal-bench-controller/1") {
    throw new Error(`${path}: not a file written by --save-json`);
  }
  return parsed as SavedRun;
}

function publish(run: SavedRun, write: boolean): void {
  const { section, figures } = report(run.results, run.opts, run.meta);
  if (write) {
    writeBenchmarkSection(section);
    progress("\nwrote the Controller section of docs/benchmarks.md");
  }
  progress("");
  progress(section.slice(0, section.indexOf("### Figures and targets")).trimEnd());
  progress("");
  for (const f of figures) progress(f);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.renderJson !== undefined) {
    publish(readSavedRun(opts.renderJson), opts.write);
    return;
  }
  envoyBinary();
  const wasmPath = ensureCanalWasm();
  const mach = machine();
  const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const date = new Date().toISOString().slice(0, 10);
  progress(
    `bench: controller vs kube-apiserver ${K8S_VERSION} + etcd ${ETCD_VERSION}, Envoy ${ENVOY_VERSION}, Node ${process.version}; ` +
      `${mach.nproc} CPUs (${mach.cpu}); sizes ${opts.sizes.map((n) => fmt(n)).join(", ")}; ${opts.changes} changes each`,
  );
  const workRoot = mkdtempSync(join(tmpdir(), "canal-bench-controller-"));
  let ok = false;
  // On success the work dir goes; on failure or Ctrl-C the logs stay but etcd's data (large) goes.
  process.on("exit", () => {
    if (opts.keep) return;
    if (ok) {
      rmSync(workRoot, { recursive: true, force: true });
      return;
    }
    for (const d of readdirSync(workRoot)) rmSync(join(workRoot, d, "k8s", "etcd"), { recursive: true, force: true });
    process.stderr.write(`logs kept in ${workRoot}\n`);
  });
  try {
    const results: SizeResult[] = [];
    for (const n of opts.sizes) results.push(await runSize(n, opts, wasmPath, workRoot));
    const etcd = results[0]?.etcdVersion ?? ETCD_VERSION;
    const loadAfter = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    progress("module baseline: RSS of Node.js processes that only load code");
    const baseline = moduleBaseline();
    const command = `npm run bench:controller${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
    const run: SavedRun = {
      format: "canal-bench-controller/1",
      opts,
      meta: { baseline, command, date, load: `${loadBefore} before, ${loadAfter} after`, mach, etcd },
      results,
    };
    if (opts.saveJson !== undefined) {
      writeFileSync(opts.saveJson, JSON.stringify(run, null, 1));
      progress(`saved the results to ${opts.saveJson}`);
    }
    publish(run, opts.write);
    ok = true;
  } finally {
    if (opts.keep) progress(`kept ${workRoot}`);
  }
}

runBench(main);
