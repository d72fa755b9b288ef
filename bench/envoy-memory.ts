// Gateway Envoy memory in ECDS mode (issue 14 item 4), no API server or controller process:
//   (a) per size, the RSS of an Envoy fed the table over ECDS by the controller's EcdsServer
//       beside an Envoy with the same routes as native route config (renderNativeBootstrap, as
//       bench:filter's section (a)), both with the same workers and clusters, side by side;
//   (b) at one size, U table updates in a row (each a new version with one virtual host
//       changed, as a VirtualService change makes), every one ACKed and served before the next;
//       every S updates Envoy's RSS, admin /memory (tcmalloc), its Wasm VM gauges and its
//       thread count are sampled, so a growth that does not level off shows where it goes.
//
//   npm run bench:envoy-memory [-- --sizes 10000,50000 --updates 1000 --update-size 10000 --sample-every 50 --max-seconds 1800 --save-json PATH]
//
// Results are written by hand into docs/benchmarks.md, "ECDS at 50,000 (issue 14)".

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { EcdsServer } from "../controller/src/sinks/ecds/index.ts";
import { renderCanalBootstrap, renderNativeBootstrap } from "../envoy/bootstrap.ts";
import type { RouteTable, VirtualHost } from "../schema/route-table.ts";
import { ENVOY_VERSION, startEnvoy, type EnvoyProcess } from "../test/support/envoy.ts";
import { PROBE_HOST, PROBE_PATH } from "../test/support/gateway.ts";
import { request } from "../test/support/http.ts";
import { LOOPBACK } from "../test/support/ports.ts";
import { pollUntil } from "../test/support/processes.ts";
import { ensureCanalWasm } from "../test/support/wasm.ts";
import { CLUSTER_COUNT, clusterOf, fmt, progress } from "./filter-measure.ts";
import { runBench } from "./run-main.ts";

interface Options {
  sizes: number[];
  updates: number;
  updateSize: number;
  sampleEvery: number;
  maxSeconds: number;
  workers: number;
  saveJson: string | undefined;
}

const USAGE = "options: --sizes 10000,50000 --updates 1000 --update-size 10000 --sample-every 50 --max-seconds 1800 --workers 2 --save-json PATH";

function parseOptions(argv: string[]): Options {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`usage: npm run bench:envoy-memory [-- options]\n${USAGE}\n`);
    process.exit(0);
  }
  const opts: Options = { sizes: [10000, 50000], updates: 1000, updateSize: 10000, sampleEvery: 50, maxSeconds: 1800, workers: 2, saveJson: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (min = 1): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) throw new Error(`${a} needs a whole number ≥ ${min}; ${USAGE}`);
      return v;
    };
    if (a === "--sizes") {
      opts.sizes = (argv[++i] ?? "").split(",").filter((x) => x !== "").map(Number);
      if (opts.sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes needs positive whole numbers; ${USAGE}`);
    } else if (a === "--updates") opts.updates = next(0);
    else if (a === "--update-size") opts.updateSize = next();
    else if (a === "--sample-every") opts.sampleEvery = next();
    else if (a === "--max-seconds") opts.maxSeconds = next();
    else if (a === "--workers") opts.workers = next();
    else if (a === "--save-json") opts.saveJson = argv[++i];
    else throw new Error(`unknown option ${a}; ${USAGE}`);
  }
  return opts;
}

/**
 * The table the controller makes for bench:controller's objects (per host its FQDN + 3 short
 * names, an /api/ prefix route with a timeout and a catch-all), routed to bench:filter's 10
 * clusters so native config can name them all; `changed` routes one host elsewhere.
 */
function gatewayTable(n: number, version: string, changed = -1): RouteTable {
  const virtualHosts: VirtualHost[] = [];
  for (let i = 0; i < n; i++) {
    const ns = `bench-${i % 4}`;
    const cluster = clusterOf(i + (i === changed ? 1 : 0));
    virtualHosts.push({
      name: `${ns}/svc-${i}`,
      domains: [`svc-${i}.${ns}.svc.cluster.local`, `svc-${i}.${ns}.svc`, `svc-${i}.${ns}`, `svc-${i}`],
      routes: [
        { name: `${ns}/svc-${i}.api`, match: [{ uri: { prefix: "/api/" } }], route: [{ cluster, weight: 100 }], timeoutMs: 5000 },
        { name: `${ns}/svc-${i}.default`, route: [{ cluster, weight: 100 }] },
      ],
    });
  }
  return { format: 1, version, virtualHosts };
}

const CLUSTERS = Array.from({ length: CLUSTER_COUNT }, (_, i) => ({ name: clusterOf(i), host: LOOPBACK, port: 9 }));
const ECDS_SUCCESS = "extension_config_discovery.http_filter.canal.update_success";
const ECDS_REJECTED = "extension_config_discovery.http_filter.canal.update_rejected";
const MIB = 2 ** 20;

interface MemorySample {
  update: number;
  atS: number;
  rss: number;
  /** tcmalloc: bytes in use by the application / heap reserved (admin /memory). */
  allocated: number;
  heapSize: number;
  pageheapFree: number;
  pageheapUnmapped: number;
  /** Wasm gauges: VMs alive (envoy.wasm.runtime.*.active) and created so far. */
  wasmActive: number;
  wasmCreated: number;
  threads: number;
  /** Address-space regions of ≥ 1 GiB: V8 reserves one per Wasm memory (with its guard pages), so ≈ Wasm memories alive. */
  wasmMemories: number;
  /** RSS − tcmalloc's resident heap (heap_size − pageheap_unmapped): V8's side (Wasm linear memories, V8 heaps, code) plus binary and stacks. */
  outsideTcmalloc: number;
}

/** How many ≥ 1 GiB mappings `pid` has (V8's Wasm memory reservations). */
function largeMappings(pid: number): number {
  let count = 0;
  for (const m of readFileSync(`/proc/${pid}/smaps`, "utf8").matchAll(/^Size:\s+(\d+) kB/gm)) if (Number(m[1]) >= 1024 * 1024) count++;
  return count;
}

async function sample(envoy: EnvoyProcess, update: number, t0: number): Promise<MemorySample> {
  const m = JSON.parse(await envoy.admin("/memory")) as Record<string, string>;
  const rss = envoy.rssBytes();
  const wasm = await envoy.stats("^wasm\\.");
  let wasmActive = 0;
  let wasmCreated = 0;
  for (const [k, v] of wasm) {
    if (k.endsWith(".active")) wasmActive += v;
    if (k.endsWith(".created")) wasmCreated += v;
  }
  return {
    update,
    atS: (performance.now() - t0) / 1000,
    rss,
    allocated: Number(m.allocated),
    heapSize: Number(m.heap_size),
    pageheapFree: Number(m.pageheap_free),
    pageheapUnmapped: Number(m.pageheap_unmapped),
    wasmActive,
    wasmCreated,
    threads: readdirSync(`/proc/${envoy.pid}/task`).length,
    wasmMemories: largeMappings(envoy.pid),
    outsideTcmalloc: rss - (Number(m.heap_size) - Number(m.pageheap_unmapped)),
  };
}

async function servingVersion(envoy: EnvoyProcess): Promise<string | undefined> {
  const res = await request({ port: envoy.port("canal"), host: PROBE_HOST, path: PROBE_PATH, timeoutMs: 30_000 });
  const v = res.headers["x-canal-table"];
  return Array.isArray(v) ? v[0] : v;
}

/** Publishes a table and waits until Envoy ACKed it and a worker serves it; ms to each. */
async function publishAndWait(server: EcdsServer, envoy: EnvoyProcess, table: RouteTable): Promise<{ ackMs: number; servedMs: number; bytes: number }> {
  const json = JSON.stringify(table);
  const before = await envoy.stat(ECDS_SUCCESS);
  const rejected = await envoy.stat(ECDS_REJECTED);
  const t0 = performance.now();
  server.publish({ version: table.version, json });
  const ackMs = await pollUntil(
    `Envoy to accept ${table.version}`,
    async () => {
      if ((await envoy.stat(ECDS_REJECTED)) > rejected) throw new Error(`Envoy rejected ${table.version}\n${envoy.logTail()}`);
      return (await envoy.stat(ECDS_SUCCESS)) > before ? performance.now() - t0 : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 10, onTimeout: () => envoy.logTail() },
  );
  const servedMs = await pollUntil(
    `the workers to serve ${table.version}`,
    async () => ((await servingVersion(envoy)) === table.version ? performance.now() - t0 : undefined),
    { timeoutMs: 300_000, intervalMs: 10, onTimeout: () => envoy.logTail() },
  );
  return { ackMs, servedMs, bytes: Buffer.byteLength(json) };
}

async function ecdsEnvoy(wasmPath: string, name: string, workers: number): Promise<{ server: EcdsServer; envoy: EnvoyProcess }> {
  const server = new EcdsServer({ code: { local: wasmPath } });
  const { port } = await server.start(`${LOOPBACK}:0`);
  try {
    const envoy = await startEnvoy({
      name,
      concurrency: workers,
      logLevel: "warning",
      readyTimeoutMs: 300_000,
      config: renderCanalBootstrap({
        listenerPort: 0,
        adminPort: 0,
        wasmPath,
        nodeId: name,
        table: { kind: "ads", adsCluster: { name: "canal-controller", host: LOOPBACK, port } },
        clusters: CLUSTERS,
      }),
    });
    return { server, envoy };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface SizeRow {
  n: number;
  tableBytes: number;
  canalEmpty: MemorySample;
  canal: MemorySample;
  canalAckMs: number;
  canalServedMs: number;
  native: MemorySample;
  nativeStartMs: number;
  nativeEmptyRss: number;
}

/** (a): the ECDS-fed gateway and native routes side by side at `n` virtual hosts. */
async function compareNative(n: number, wasmPath: string, opts: Options): Promise<SizeRow> {
  const table = gatewayTable(n, `sha256:mem-${n}-0`);
  const { server, envoy } = await ecdsEnvoy(wasmPath, `mem-canal-${n}`, opts.workers);
  try {
    await settle(1000);
    const t0 = performance.now();
    const canalEmpty = await sample(envoy, 0, t0);
    const first = await publishAndWait(server, envoy, table);
    await settle(3000);
    const canal = await sample(envoy, 0, t0);
    progress(`(a) ${fmt(n)} vhosts, Canal over ECDS: table ${fmt(first.bytes / 1024)} KiB, ACK ${fmt(first.ackMs)} ms, served ${fmt(first.servedMs)} ms; RSS ${fmt(canalEmpty.rss / MIB)} MiB before the table, ${fmt(canal.rss / MIB)} MiB after; tcmalloc allocated ${fmt(canal.allocated / MIB)} MiB; Wasm VMs ${canal.wasmActive}, Wasm memories ${canal.wasmMemories}, outside tcmalloc ${fmt(canal.outsideTcmalloc / MIB)} MiB`);
    const emptyNative = await startEnvoy({ name: `mem-native0-${n}`, concurrency: opts.workers, logLevel: "warning", config: renderNativeBootstrap({ listenerPort: 0, adminPort: 0, table: gatewayTable(0, "empty"), clusters: CLUSTERS }) });
    await settle(1000);
    const nativeEmptyRss = emptyNative.rssBytes();
    await emptyNative.stop();
    const s0 = performance.now();
    const nativeEnvoy = await startEnvoy({
      name: `mem-native-${n}`,
      concurrency: opts.workers,
      logLevel: "warning",
      readyTimeoutMs: 300_000,
      config: renderNativeBootstrap({ listenerPort: 0, adminPort: 0, table, clusters: CLUSTERS }),
    });
    try {
      const nativeStartMs = performance.now() - s0;
      await settle(3000);
      const native = await sample(nativeEnvoy, 0, s0);
      progress(`(a) ${fmt(n)} vhosts, native routes: ready in ${fmt(nativeStartMs)} ms; RSS ${fmt(nativeEmptyRss / MIB)} MiB with no routes, ${fmt(native.rss / MIB)} MiB with them; tcmalloc allocated ${fmt(native.allocated / MIB)} MiB`);
      progress(`(a) ${fmt(n)} vhosts: Canal RSS ÷ native RSS = ${(canal.rss / native.rss).toFixed(2)}`);
      return { n, tableBytes: first.bytes, canalEmpty, canal, canalAckMs: first.ackMs, canalServedMs: first.servedMs, native, nativeStartMs, nativeEmptyRss };
    } finally {
      await nativeEnvoy.stop();
    }
  } finally {
    await envoy.stop();
    await server.stop();
  }
}

interface UpdateRun {
  n: number;
  updates: number;
  samples: MemorySample[];
  ackMs: number[];
  servedMs: number[];
  stoppedByTime: boolean;
}

/** (b): `opts.updates` updates at `opts.updateSize` virtual hosts, memory sampled every `opts.sampleEvery`. */
async function manyUpdates(wasmPath: string, opts: Options): Promise<UpdateRun> {
  const n = opts.updateSize;
  const { server, envoy } = await ecdsEnvoy(wasmPath, `mem-updates-${n}`, opts.workers);
  const deadline = performance.now() + opts.maxSeconds * 1000;
  try {
    const t0 = performance.now();
    await publishAndWait(server, envoy, gatewayTable(n, `sha256:upd-${n}-0`));
    const samples = [await sample(envoy, 0, t0)];
    const ackMs: number[] = [];
    const servedMs: number[] = [];
    let u = 1;
    for (; u <= opts.updates && performance.now() < deadline; u++) {
      const r = await publishAndWait(server, envoy, gatewayTable(n, `sha256:upd-${n}-${u}`, (u * 7919) % n));
      ackMs.push(r.ackMs);
      servedMs.push(r.servedMs);
      if (u % opts.sampleEvery === 0) {
        const s = await sample(envoy, u, t0);
        samples.push(s);
        progress(
          `(b) update ${u}/${opts.updates} at ${fmt(s.atS)} s: RSS ${fmt(s.rss / MIB, 1)} MiB, tcmalloc allocated ${fmt(s.allocated / MIB, 1)} / heap ${fmt(s.heapSize / MIB, 1)} MiB ` +
            `(pageheap free ${fmt(s.pageheapFree / MIB, 1)}, unmapped ${fmt(s.pageheapUnmapped / MIB, 1)}), Wasm VMs active ${s.wasmActive} created ${s.wasmCreated}, Wasm memories ${s.wasmMemories}, outside tcmalloc ${fmt(s.outsideTcmalloc / MIB, 1)} MiB, threads ${s.threads}; last ACK ${fmt(r.ackMs)} ms`,
        );
      }
    }
    const done = u - 1;
    if (done % opts.sampleEvery !== 0) samples.push(await sample(envoy, done, t0));
    return { n, updates: done, samples, ackMs, servedMs, stoppedByTime: done < opts.updates };
  } finally {
    await envoy.stop();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const wasmPath = ensureCanalWasm();
  const load = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const loadBefore = load();
  progress(`bench: gateway Envoy memory, Envoy ${ENVOY_VERSION}, ${opts.workers} workers; sizes ${opts.sizes.map((n) => fmt(n)).join(", ")}; ${opts.updates} updates at ${fmt(opts.updateSize)}; load ${loadBefore}`);
  const rows: SizeRow[] = [];
  for (const n of opts.sizes) rows.push(await compareNative(n, wasmPath, opts));
  const updates = opts.updates > 0 ? await manyUpdates(wasmPath, opts) : undefined;
  const result = { date: new Date().toISOString(), envoy: ENVOY_VERSION, opts, load: `${loadBefore} before, ${load()} after`, rows, updates };
  if (opts.saveJson !== undefined) writeFileSync(opts.saveJson, JSON.stringify(result, null, 1));
  for (const r of rows) {
    progress(
      `envoy-memory ${fmt(r.n)} vhosts (${fmt(r.tableBytes / 1024)} KiB): Canal RSS ${fmt(r.canal.rss / MIB)} MiB (empty ${fmt(r.canalEmpty.rss / MIB)}), ` +
        `native ${fmt(r.native.rss / MIB)} MiB (no routes ${fmt(r.nativeEmptyRss / MIB)}); ratio ${(r.canal.rss / r.native.rss).toFixed(2)}; ` +
        `Canal first ACK ${fmt(r.canalAckMs)} ms, native ready ${fmt(r.nativeStartMs)} ms`,
    );
  }
  if (updates !== undefined) {
    const first = updates.samples[0];
    const last = updates.samples[updates.samples.length - 1];
    progress(
      `envoy-memory ${fmt(updates.n)} vhosts, ${updates.updates} updates${updates.stoppedByTime ? " (stopped by --max-seconds)" : ""}: RSS ${fmt(first.rss / MIB, 1)} → ${fmt(last.rss / MIB, 1)} MiB, ` +
        `tcmalloc allocated ${fmt(first.allocated / MIB, 1)} → ${fmt(last.allocated / MIB, 1)} MiB, Wasm VMs active ${first.wasmActive} → ${last.wasmActive}`,
    );
  }
}

runBench(main);
