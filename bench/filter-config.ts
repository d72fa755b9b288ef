// Benchmarks what a route table update costs the filter: its onConfigure (parse, validate,
// compile), for tables shaped like the controller's (bench/controller.ts: per virtual host its
// FQDN + 3 short names, an `/api/` prefix route with a timeout and a catch-all), each update a new
// version with one virtual host changed (what the controller sends when one VirtualService
// changes).
//
//   (1) emulator: build/canal.wasm in the Node Proxy-Wasm emulator (test/emulator), CPU time of
//       one configure, in ms and ms per MiB of table: the table in a fresh VM (the whole compile
//       every filter does first), in a fresh VM whose shared data holds the entry the kept VM
//       wrote for the previous table (what Envoy's canary clone does on every update: the shared
//       entry's fast path since it exists, the whole compile before), and a one-vhost change in
//       the kept VM that loaded the previous table (the incremental configure) plus the ticks it
//       asks for afterwards (writing the shared entry);
//   (2) real Envoy 1.40 (2 workers) with the table delivered over ADS by the controller's ECDS
//       server (controller/src/sinks/ecds): per update, the
//       CPU time of Envoy's main thread and of its workers (/proc/<pid>/task), and the wall time
//       from publishing to the ECDS ACK (update_success) and to the workers serving it.
//
// Each figure is measured for the current filter and, in the same run and alternating with it,
// for a baseline filter built from `git show <ref>:filter/assembly/…` (default: the last commit
// before the canary's fast path through shared data), so before/after share the machine's load.
//
//   npm run bench:filter-config [-- --sizes 1000,10000 --updates 5 --baseline REF|none --no-write]
//
// Writes only the "## Filter configure" section of docs/benchmarks.md; the figures are the last
// lines printed.

import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EcdsServer } from "../controller/src/sinks/ecds/index.ts";
import { renderCanalBootstrap } from "../envoy/bootstrap.ts";
import type { RouteTable, VirtualHost } from "../schema/route-table.ts";
import { compileAs } from "../test/emulator/compile.ts";
import { ProxyWasmHost, SharedData } from "../test/emulator/host.ts";
import { ENVOY_VERSION, startEnvoy, type EnvoyProcess } from "../test/support/envoy.ts";
import { PROBE_HOST, PROBE_PATH } from "../test/support/gateway.ts";
import { writeBenchmarkSection } from "./benchmarks-doc.ts";
import { request } from "../test/support/http.ts";
import { LOOPBACK } from "../test/support/ports.ts";
import { pollUntil } from "../test/support/processes.ts";
import { ensureCanalWasm, REPO_ROOT } from "../test/support/wasm.ts";

/**
 * The last commit before the canary's fast path (its filter: the incremental configure, the cache
 * built at a tick; Envoy's canary clone compiles every table whole). 359d3b6 is the last one
 * that compiled every table whole everywhere.
 */
const DEFAULT_BASELINE = "c853594";
const SECTION = "## Filter configure";

interface Options {
  sizes: number[];
  updates: number;
  emulatorRuns: number;
  baseline: string | null;
  write: boolean;
}

function parseOptions(argv: string[]): Options {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write("usage: npm run bench:filter-config [-- --sizes 1000,10000 --updates N --emulator-runs N --baseline REF|none --no-write]\n(results: the Filter configure section of docs/benchmarks.md)\n");
    process.exit(0);
  }
  const opts: Options = { sizes: [1000, 10000], updates: 5, emulatorRuns: 5, baseline: DEFAULT_BASELINE, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === "--sizes") opts.sizes = (argv[++i] ?? "").split(",").map(Number);
    else if (a === "--updates") opts.updates = next();
    else if (a === "--emulator-runs") opts.emulatorRuns = next();
    else if (a === "--baseline") {
      const ref = argv[++i] ?? "";
      opts.baseline = ref === "none" ? null : ref;
    } else if (a === "--no-write") opts.write = false;
    else throw new Error(`unknown option ${a}; options: --sizes 1000,10000 --updates N --emulator-runs N --baseline REF|none --no-write`);
  }
  if (opts.sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error("--sizes needs positive integers");
  return opts;
}

/** A table like the controller's for `n` VirtualServices (one per Service, 4 namespaces). */
export function controllerShapedTable(n: number, version: string): RouteTable {
  const virtualHosts: VirtualHost[] = [];
  for (let i = 0; i < n; i++) {
    const ns = `bench-${i % 4}`;
    const svc = `svc-${i}`;
    const fqdn = `${svc}.${ns}.svc.cluster.local`;
    const cluster = `outbound|8080||${fqdn}`;
    virtualHosts.push({
      name: `${ns}/${svc}`,
      domains: [fqdn, `${svc}.${ns}.svc`, `${svc}.${ns}`, svc],
      routes: [
        { name: `${ns}/${svc}.api`, match: [{ uri: { prefix: "/api/" } }], route: [{ cluster, weight: 100 }], timeoutMs: 5000 },
        { name: `${ns}/${svc}.default`, route: [{ cluster, weight: 100 }] },
      ],
    });
  }
  return { format: 1, version, virtualHosts };
}

function progress(line: string): void {
  process.stdout.write(`${line}\n`);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}

const MIB = 1024 * 1024;

interface Filter {
  label: string;
  path: string;
}

/** Builds the baseline filter from git into a temp dir inside build/ (so packages resolve). */
async function buildBaseline(ref: string): Promise<Filter> {
  const commit = execFileSync("git", ["rev-parse", "--short", ref], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  const dir = join(REPO_ROOT, "build", "bench-filter-config", commit);
  const files = execFileSync("git", ["ls-tree", "-r", "--name-only", commit, "filter/assembly"], { cwd: REPO_ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "");
  for (const f of files) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), execFileSync("git", ["show", `${commit}:${f}`], { cwd: REPO_ROOT, maxBuffer: 64 << 20 }));
  }
  const out = join(dir, "canal.wasm");
  // Filters since the shared entry import a generated build id (filter/build-id.mjs).
  if (files.some((f) => /from "\.{1,2}\/build-id"/.test(readFileSync(join(dir, f), "utf8")))) {
    execFileSync(process.execPath, [join(REPO_ROOT, "filter", "build-id.mjs"), join(dir, "filter", "assembly")], { cwd: REPO_ROOT });
  }
  progress(`building the baseline filter of ${commit} (${files.length} files)`);
  await compileAs(join(dir, "filter", "assembly", "index.ts"), out, { extraArgs: ["--shrinkLevel", "1"] });
  return { label: `before (${commit})`, path: out };
}

// ---------------------------------------------------------------------------------------------
// (1) emulator

interface EmulatorResult {
  /** The table in a fresh VM without a shared entry (a whole compile). */
  wholeMs: number;
  /** The table in a fresh VM whose shared data holds what the kept VM stored for the previous table (Envoy's canary). */
  canaryMs: number;
  /** A one-vhost change in a VM that loaded the previous table. */
  changeMs: number;
  /** The kept VM's ticks after that change (since the shared entry: writing it). */
  ticksMs: number;
  memoryMiB: number;
}

async function emulatorHost(filter: Filter, sharedData?: SharedData): Promise<ProxyWasmHost> {
  const host = await ProxyWasmHost.load(new Uint8Array(readFileSync(filter.path)), { rootId: "canal", pluginConfig: "", sharedData });
  if (!host.startVm() || !host.configure()) throw new Error(`${filter.label}: the filter did not start`);
  return host;
}

/** CPU ms of the ticks a root context asks for after a configure (1 ms ticks: its configure work), at most 5. */
function timeTicks(host: ProxyWasmHost): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < 5 && host.tickPeriodMs === 1; i++) host.tick();
  const used = process.cpuUsage(t0);
  return (used.user + used.system) / 1000;
}

/** CPU ms of one configure of `bytes` (asserting it was accepted). */
function timeConfigure(host: ProxyWasmHost, bytes: Uint8Array, label: string): number {
  const t0 = process.cpuUsage();
  const ok = host.configure(bytes);
  const used = process.cpuUsage(t0);
  if (!ok) throw new Error(`${label}: the table was rejected: ${host.logMessages().slice(-3).join("\n")}`);
  return (used.user + used.system) / 1000;
}

/** The controller-shaped table of `n` vhosts as update `u` sends it: version u, one vhost's /api/ cluster changed. */
function updatedTable(n: number, u: number, version: string): RouteTable {
  const base = controllerShapedTable(n, version);
  const k = (u * 7919) % n;
  const vh = base.virtualHosts[k];
  base.virtualHosts[k] = { ...vh, routes: [{ ...vh.routes[0], route: [{ cluster: `outbound|8080||change-${u}.bench.svc.cluster.local`, weight: 100 }] }, vh.routes[1]] };
  return base;
}

async function measureEmulator(filters: Filter[], n: number, runs: number): Promise<EmulatorResult[]> {
  const tables: Uint8Array[] = [];
  for (let u = 0; u <= runs + 1; u++) tables.push(new TextEncoder().encode(JSON.stringify(updatedTable(n, u, `sha256:emulator-${n}-${u}`))));
  // One shared data store per filter, as Envoy keeps one per process (and vm_id).
  const stores = filters.map(() => new SharedData());
  const hosts = await Promise.all(filters.map((f, i) => emulatorHost(f, stores[i])));
  const whole: number[][] = filters.map(() => []);
  const canary: number[][] = filters.map(() => []);
  const change: number[][] = filters.map(() => []);
  const ticks: number[][] = filters.map(() => []);
  // One warm-up each (V8 tiers the module up; fresh VMs of the same bytes share its code), then
  // alternating runs: the next table in a fresh VM without and with the shared entry the kept VM
  // wrote for the previous table, then in the kept VM (and its ticks).
  filters.forEach((f, i) => {
    timeConfigure(hosts[i], tables[0], f.label);
    timeTicks(hosts[i]);
  });
  for (let r = 1; r <= runs; r++) {
    const order = r % 2 === 0 ? filters.map((_, i) => i) : filters.map((_, i) => filters.length - 1 - i);
    for (const i of order) {
      const fresh = await emulatorHost(filters[i]);
      whole[i].push(timeConfigure(fresh, tables[r], filters[i].label));
      const clone = await emulatorHost(filters[i], stores[i]);
      canary[i].push(timeConfigure(clone, tables[r], filters[i].label));
      change[i].push(timeConfigure(hosts[i], tables[r], filters[i].label));
      ticks[i].push(timeTicks(hosts[i]));
    }
  }
  return filters.map((f, i) => {
    const list = (xs: number[]): string => `${xs.map((s) => s.toFixed(1)).join(", ")} ms → median ${median(xs).toFixed(1)} ms`;
    progress(
      `  emulator ${f.label}, ${fmt(n)} vhosts: fresh VM ${list(whole[i])}; canary (fresh VM, shared entry) ${list(canary[i])}; ` +
        `one vhost changed ${list(change[i])}; its ticks ${list(ticks[i])}`,
    );
    return { wholeMs: median(whole[i]), canaryMs: median(canary[i]), changeMs: median(change[i]), ticksMs: median(ticks[i]), memoryMiB: hosts[i].memoryBytes / MIB };
  });
}

// ---------------------------------------------------------------------------------------------
// (2) real Envoy

interface ThreadCpu {
  main: number;
  workers: number;
  other: number;
}

/** CPU seconds per thread group of an Envoy process: main (tid = pid), workers (wrk:*), other. */
function threadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = { main: 0, workers: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let sched: string;
    let comm: string;
    try {
      sched = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8");
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    } catch {
      continue; // the thread ended
    }
    // schedstat's first field: nanoseconds on a CPU (finer than stat's clock ticks).
    const s = Number(sched.split(" ")[0]) / 1e9;
    if (Number(tid) === pid) out.main += s;
    else if (comm.startsWith("wrk:")) out.workers += s;
    else out.other += s;
  }
  return out;
}

interface UpdateSample {
  mainMs: number;
  workersMs: number;
  otherMs: number;
  ackMs: number;
  servedMs: number;
}

interface EnvoyResult {
  samples: UpdateSample[];
  rssMiB: number;
}

const ECDS_SUCCESS = "extension_config_discovery.http_filter.canal.update_success";
const ECDS_REJECTED = "extension_config_discovery.http_filter.canal.update_rejected";

class EcdsEnvoy {
  private constructor(
    readonly envoy: EnvoyProcess,
    readonly server: EcdsServer,
  ) {}

  /** Envoy (2 workers) fed over ADS by the controller's ECDS server (binary protobuf, as in production). */
  static async start(filter: Filter, name: string): Promise<EcdsEnvoy> {
    const server = new EcdsServer({ code: { local: filter.path } });
    const { port } = await server.start(`${LOOPBACK}:0`);
    try {
      const envoy = await startEnvoy({
        name,
        concurrency: 2,
        logLevel: "warning",
        readyTimeoutMs: 120_000,
        config: renderCanalBootstrap({
          listenerPort: 0,
          adminPort: 0,
          wasmPath: filter.path,
          nodeId: name,
          table: { kind: "ads", adsCluster: { name: "canal-controller", host: LOOPBACK, port } },
          clusters: [{ name: "outbound|8080||unused.bench.svc.cluster.local", host: LOOPBACK, port: 9 }],
        }),
      });
      return new EcdsEnvoy(envoy, server);
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  async servingVersion(): Promise<string | undefined> {
    const res = await request({ port: this.envoy.port("canal"), host: PROBE_HOST, path: PROBE_PATH, timeoutMs: 10_000 });
    const v = res.headers["x-canal-table"];
    return Array.isArray(v) ? v[0] : v;
  }

  /** Publishes `json` (a table with `version`) and measures until served and the CPU is quiet. */
  async update(json: string, version: string): Promise<UpdateSample> {
    const before = await this.envoy.stat(ECDS_SUCCESS);
    const rejectedBefore = await this.envoy.stat(ECDS_REJECTED);
    const cpu0 = threadCpu(this.envoy.pid);
    const t0 = performance.now();
    this.server.publish({ version, json });
    const ackMs = await pollUntil(
      `Envoy to accept table ${version}`,
      async () => {
        if ((await this.envoy.stat(ECDS_REJECTED)) > rejectedBefore) return -1;
        return (await this.envoy.stat(ECDS_SUCCESS)) > before ? performance.now() - t0 : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 5, onTimeout: () => this.envoy.logTail() },
    );
    if (ackMs < 0) throw new Error(`Envoy rejected table ${version}\n${this.envoy.logTail()}`);
    const servedMs = await pollUntil(
      `the workers to serve ${version}`,
      async () => ((await this.servingVersion()) === version ? performance.now() - t0 : undefined),
      { timeoutMs: 120_000, intervalMs: 5, onTimeout: () => this.envoy.logTail() },
    );
    // Every worker builds its own copy: wait until Envoy's CPU stops moving (two quiet 200 ms
    // windows), so late workers are counted too.
    let last = threadCpu(this.envoy.pid);
    for (let quiet = 0; quiet < 2; ) {
      await new Promise((r) => setTimeout(r, 200));
      const now = threadCpu(this.envoy.pid);
      const moved = now.main + now.workers + now.other - (last.main + last.workers + last.other);
      quiet = moved < 0.02 ? quiet + 1 : 0;
      last = now;
    }
    return {
      mainMs: (last.main - cpu0.main) * 1000,
      workersMs: (last.workers - cpu0.workers) * 1000,
      otherMs: (last.other - cpu0.other) * 1000,
      ackMs,
      servedMs,
    };
  }

  async stop(): Promise<void> {
    await this.envoy.stop();
    await this.server.stop();
  }
}

async function measureEnvoy(filters: Filter[], n: number, updates: number): Promise<EnvoyResult[]> {
  const envoys: EcdsEnvoy[] = [];
  try {
    for (const [i, f] of filters.entries()) envoys.push(await EcdsEnvoy.start(f, `fc-${i}-${n}`));
    const results: UpdateSample[][] = filters.map(() => []);
    // Update 0 is the first table (from the empty default); it is a warm-up and not counted.
    for (let u = 0; u <= updates; u++) {
      const order = u % 2 === 0 ? filters.map((_, i) => i) : filters.map((_, i) => filters.length - 1 - i);
      for (const i of order) {
        const version = `sha256:fc-${n}-${u}-${i}`;
        // A real change each time: the version and one virtual host's /api/ cluster.
        const s = await envoys[i].update(JSON.stringify(updatedTable(n, u, version)), version);
        progress(
          `  envoy ${filters[i].label}, ${fmt(n)} vhosts, update ${u}${u === 0 ? " (first table, not counted)" : ""}: ` +
            `main ${fmt(s.mainMs)} ms CPU, workers ${fmt(s.workersMs)} ms CPU, other ${fmt(s.otherMs)} ms; ACK ${fmt(s.ackMs)} ms, served ${fmt(s.servedMs)} ms`,
        );
        if (u > 0) results[i].push(s);
      }
    }
    return results.map((samples, i) => ({ samples, rssMiB: envoys[i].envoy.rssBytes() / MIB }));
  } finally {
    for (const e of envoys) await e.stop();
  }
}

// ---------------------------------------------------------------------------------------------

interface Row {
  filter: Filter;
  n: number;
  tableBytes: number;
  emulator: EmulatorResult;
  envoy: EnvoyResult;
}

function machine(): string {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const m = /^model name\s*:\s*(.+)$/m.exec(info);
  const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
  return `${cpus().length} CPUs, ${m?.[1]?.trim() ?? "unknown"}, Linux ${kernel}`;
}

function loadavg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}


async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const loadBefore = loadavg();
  const current: Filter = { label: "after", path: ensureCanalWasm() };
  const filters: Filter[] = [];
  if (opts.baseline !== null) filters.push(await buildBaseline(opts.baseline));
  filters.push(current);
  const gitHead = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  progress(`bench: Envoy ${ENVOY_VERSION}, Node.js ${process.version}, ${machine()}; filters: ${filters.map((f) => `${f.label} ${f.path}`).join(", ")}`);

  const rows: Row[] = [];
  for (const n of opts.sizes) {
    const tableBytes = Buffer.byteLength(JSON.stringify(controllerShapedTable(n, `sha256:fc-${n}-0-0`)));
    progress(`${fmt(n)} virtual hosts: table ${fmt(tableBytes / 1024)} KiB`);
    const em = await measureEmulator(filters, n, opts.emulatorRuns);
    const ev = await measureEnvoy(filters, n, opts.updates);
    filters.forEach((f, i) => rows.push({ filter: f, n, tableBytes, emulator: em[i], envoy: ev[i] }));
  }

  const table: string[] = [
    "| filter | vhosts | table | emulator: fresh VM, whole compile | emulator: canary (fresh VM, shared entry) | emulator: one vhost changed (+ its ticks) | Envoy main thread CPU / update | main ms/MiB | workers CPU / update (2) | other threads | → ACK | → served | Envoy RSS |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const figures: string[] = [];
  for (const r of rows) {
    const mib = r.tableBytes / MIB;
    const m = (f: (s: UpdateSample) => number): number => median(r.envoy.samples.map(f));
    table.push(
      `| ${r.filter.label} | ${fmt(r.n)} | ${fmt(r.tableBytes / 1024)} KiB | ${fmt(r.emulator.wholeMs, 1)} ms | ${fmt(r.emulator.canaryMs, 1)} ms | ${fmt(r.emulator.changeMs, 1)} (+ ${fmt(r.emulator.ticksMs, 1)}) ms | ` +
        `${fmt(m((s) => s.mainMs))} ms | ${fmt(m((s) => s.mainMs) / mib, 1)} | ${fmt(m((s) => s.workersMs))} ms | ${fmt(m((s) => s.otherMs))} ms | ` +
        `${fmt(m((s) => s.ackMs))} ms | ${fmt(m((s) => s.servedMs))} ms | ${fmt(r.envoy.rssMiB)} MiB |`,
    );
    figures.push(
      `filter-config ${r.filter.label} ${fmt(r.n)} vhosts (${fmt(r.tableBytes / 1024)} KiB): emulator fresh VM ${fmt(r.emulator.wholeMs, 1)} ms = ${fmt(r.emulator.wholeMs / mib, 1)} ms/MiB, ` +
        `canary ${fmt(r.emulator.canaryMs, 1)} ms, one vhost changed ${fmt(r.emulator.changeMs, 1)} ms + ticks ${fmt(r.emulator.ticksMs, 1)} ms; ` +
        `Envoy main thread ${fmt(m((s) => s.mainMs))} ms CPU = ${fmt(m((s) => s.mainMs) / mib, 1)} ms/MiB, workers ${fmt(m((s) => s.workersMs))} ms CPU; ` +
        `ACK ${fmt(m((s) => s.ackMs))} ms, served ${fmt(m((s) => s.servedMs))} ms; RSS ${fmt(r.envoy.rssMiB)} MiB`,
    );
  }
  const loadAfter = loadavg();
  const command = `npm run bench:filter-config${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const body = [
    `Generated by \`${command}\` (bench/filter-config.ts) on ${new Date().toISOString().slice(0, 10)} at commit ${gitHead}. Rerun it to refresh this section.`,
    "",
    `- Envoy ${ENVOY_VERSION} (2 workers, V8), Node.js ${process.version} for the emulator; machine: ${machine()}; load average (1/5/15 min) ${loadBefore} before, ${loadAfter} after`,
    "  (shared with other work; the before/after filters alternate run by run so both see the same load)",
    "- tables shaped like the controller's for N VirtualServices: per virtual host its FQDN + 3 short names, an `/api/` prefix route with `timeoutMs` and a catch-all route, each to one cluster",
    `- emulator: process CPU time of one configure, median of ${opts.emulatorRuns}: **fresh VM, whole compile** = the table in a newly started filter with nothing in shared data (a VM's first table), ` +
      "**canary** = the table in a newly started filter whose shared data (one store per filter, as Envoy's is per process) holds what the kept filter stored for the previous table (Envoy's canary clone on every update: the shared entry's fast path; a filter without it compiles whole), " +
      "**one vhost changed** = the next update in the kept filter that loaded the previous one (the incremental configure), **+ its ticks** = the 1 ms ticks that filter asks for after it (writing the shared entry)",
    `- Envoy: ECDS over ADS from the controller's \`EcdsServer\` (controller/src/sinks/ecds; \`renderCanalBootstrap\`, \`table: {kind: "ads"}\`), one server and one Envoy per filter; the first table is a warm-up, then ${opts.updates} updates, each a new version with one virtual host changed; ` +
      "CPU from /proc/<pid>/task/<tid>/schedstat per thread (main = Envoy's main thread: the canary clone's configure, the main VM's configure and its ticks, workers = `wrk:*`, other = the rest) from the publish until Envoy's CPU was quiet for 400 ms; " +
      "**ACK** = `update_success` moved (polled every 5 ms), **served** = a probe request's `x-canal-table` shows the new version; medians; **Envoy RSS** after the last update (each VM that keeps a table also keeps its JSON for the next update's compare; since the canary's fast path, Envoy's shared data also holds the last accepted table's entry, ~4.8 MB at 10,000 virtual hosts)",
    ...(opts.baseline === null ? [] : [`- "before" is the filter of ${filters[0].label.replace(/^before \((.*)\)$/, "$1")} built from git with the same compiler and flags`]),
    "",
    ...table,
    "",
    "```",
    ...figures,
    "```",
  ].join("\n");
  if (opts.write) {
    writeBenchmarkSection(`${SECTION}\n\n${body}`);
    progress(`\nwrote the "${SECTION}" section of docs/benchmarks.md`);
  }
  progress("");
  for (const l of table) progress(l);
  progress("");
  for (const f of figures) progress(f);
  rmSync(join(REPO_ROOT, "build", "bench-filter-config"), { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
