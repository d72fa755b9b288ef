// bench:filter --floors: Canal beside native routes and the three cost floors (floors/build.ts) at
// each table size, every Envoy side by side and measured in the same alternating rounds; with
// --compare-wasm also another build of Canal ("before"). Writes "## Cost floors".
import { readFileSync } from "node:fs";
import type { UpstreamCluster } from "../../envoy/bootstrap.ts";
import { renderCanalBootstrap, renderNativeBootstrap, type EnvoyConfig } from "../../envoy/bootstrap.ts";
import type { EnvoyProcess } from "../../test/support/envoy.ts";
import { writeBenchmarkSection } from "../benchmarks-doc.ts";
import {
  benchHosts, benchTable, checkRoutes, fmt, measureSides, progress, withEnvoy, type Measured, type RoundPlan, type Side,
} from "../filter-measure.ts";
import { renderCanalWithModule, renderNativeWithModule } from "./bootstrap.ts";
import { buildFloors } from "./build.ts";
import { floorsReport, SIDES, type FloorRow, type SideName } from "./report.ts";

export interface FloorsArgs {
  opts: RoundPlan & { sizes: number[]; write: boolean };
  wasmPath: string;
  /** Another Canal build measured as "before" beside the current one. */
  before?: string;
  clusters: UpstreamCluster[];
  /** CPUs for the Envoys under test, and for wrk and the upstream. */
  plan: { proxies: string; load: string };
  /** The provenance lines of the report (command, versions, machine, load). */
  header: (loadAfter: string) => string[];
}

/** Starts every config in turn, all running together, then `fn` with them in the same order. */
async function withEnvoys<T>(configs: { name: string; config: EnvoyConfig }[], cpu: string, fn: (es: EnvoyProcess[]) => Promise<T>): Promise<T> {
  const started: EnvoyProcess[] = [];
  const next = (i: number): Promise<T> =>
    i === configs.length ? fn(started) : withEnvoy(configs[i].name, configs[i].config, cpu, (e) => (started.push(e), next(i + 1)));
  return next(0);
}

export async function runFloors(args: FloorsArgs): Promise<void> {
  const { opts, clusters, plan } = args;
  const mods = await buildFloors(clusters[0].name);
  progress(`floors built: ${mods.platform}, ${mods.sdk}, ${mods.read}, ${mods.hostcalls}`);
  const names = SIDES.filter((s) => s !== "before" || args.before !== undefined);
  const rows: FloorRow[] = [];
  for (const n of opts.sizes) {
    const table = benchTable(n);
    const hosts = benchHosts(table);
    progress(`floors ${fmt(n)} virtual hosts`);
    const config = (s: SideName): EnvoyConfig => {
      if (s === "native") return renderNativeBootstrap({ listenerPort: 0, adminPort: 0, table, clusters });
      if (s === "platform") return renderNativeWithModule({ wasmPath: mods.platform, table, clusters });
      if (s === "sdk") return renderNativeWithModule({ wasmPath: mods.sdk, table, clusters });
      if (s === "read") return renderNativeWithModule({ wasmPath: mods.read, table, clusters });
      if (s === "hostcalls") return renderCanalWithModule({ wasmPath: mods.hostcalls, clusters });
      const wasmPath = s === "before" && args.before !== undefined ? args.before : args.wasmPath;
      return renderCanalBootstrap({ listenerPort: 0, adminPort: 0, wasmPath, table: { kind: "inline", table }, clusters });
    };
    const measured = await withEnvoys(names.map((s) => ({ name: `bench-floor-${s}-${n}`, config: config(s) })), plan.proxies, async (es) => {
      for (const e of es) await checkRoutes(e.port(), hosts);
      const sides: Side[] = es.map((e, i) => ({ label: `${names[i].padEnd(9)} ${fmt(n)} vhosts`, url: `http://127.0.0.1:${e.port()}`, pids: [e.pid] }));
      return measureSides(sides, hosts, opts, plan.load);
    });
    const bySide = new Map<SideName, Measured>(names.map((s, i) => [s, measured[i]]));
    rows.push({ vhosts: n, sides: bySide });
  }
  const loadAfter = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const { section, summary } = floorsReport({ rows, header: args.header(loadAfter), rounds: opts.rounds });
  if (opts.write) {
    writeBenchmarkSection(section);
    progress('wrote the "## Cost floors" section of docs/benchmarks.md');
  }
  for (const l of summary) progress(l);
}
