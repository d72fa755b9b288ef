// Benchmarks VirtualService apply → served through a REAL istiod (test/istio/world.ts: kube-apiserver
// + etcd, istiod, both charts, the controller as a process, upstream Envoy 1.40 gateway pods
// bootstrapped to istiod), Canal against istiod's own routing, at N = 1,000 and 10,000
// VirtualServices. Per delivery mode (wasmplugin, envoyfilter = ECDS) and size, a fresh world with
// two gateways that istiod programs: the Canal gateway of the charts and a native gateway
// (startNativeGateway: istiod's own RDS, no Canal). Every VirtualService names both Gateways, so
// one change is measured on both sides at once:
//   1. populate: N Services (no endpoints) + N VirtualServices, server-side applies in parallel,
//      before any gateway runs (the controller too, so its first table has everything);
//   2. the controller: spawn → its status shows the table (or why it cannot deliver it);
//   3. initial sync: both gateway pods start together; time until each serves the probe
//      VirtualService (the last one: its /api/ route goes to blue with a marker header);
//   4. changes, one at a time: a VirtualService's /api/ route alternates blue ↔ green and sets
//      x-bench-change: <k>; from the start of the apply request until a request through each
//      gateway is answered by that backend with that header (both polled every few ms, at once);
//      istiod is let settle (every proxy ACKed) before the next change; each gateway's xDS
//      updates (Envoy's update_success counters) are counted over the changes;
//   5. memory: istiod's RSS and peak, the controller's peak, both Envoys' RSS;
//   6. WasmPlugin mode, with the controller stopped: one WasmPlugin write of the table timed in
//      the API server, and at the largest size the wall: what the controller's guard and the
//      real API server + etcd accept as one WasmPlugin, found by binary search over N.
// The filter is a private copy of build/canal.wasm and the controller the fresh bundle, so
// work in the same tree during the run does not change what is measured.
//
//   npm run bench:istio [-- --sizes 1000,10000 --modes wasmplugin,envoyfilter --changes 20 --no-write]
//
// Results go to the "istiod delivery" section of docs/benchmarks.md.

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeObject, KubeWatch } from "../test/support/k8s.ts";
import { ENVOY_VERSION, envoyBinary, type EnvoyProcess } from "../test/support/envoy.ts";
import { ISTIO_RELEASE, ISTIO_VERSION } from "../test/support/istiod.ts";
import { K8S_VERSION } from "../test/support/k8s.ts";
import { startCoreDns, type CoreDns } from "../test/support/coredns.ts";
import { freePort } from "../test/support/ports.ts";
import { ensureCanalWasm, REPO_ROOT } from "../test/support/wasm.ts";
import { nativeGatewayYaml, PILOT_AGENT_LOGGING, startIstioWorld, SYSTEM_NS, type DeliveryMode, type GatewayPod, type IstioWorld, type NativeProxy } from "../test/istio/world.ts";
import { loadRegexValidator } from "../controller/src/translate/regex-validator.ts";
import { MAX_PLUGIN_CONFIG_BYTES } from "../controller/src/sinks/wasmplugin.ts";
import { writeBenchmarkSection } from "./benchmarks-doc.ts";
import { runBench } from "./run-main.ts";
import { report, xdsText, type ChangeSample, type Options, type SavedRun, type WorldResult, type XdsCounts } from "./istio-report.ts";
import { Applier, CANAL_INPUT_KINDS, fmt, httpGet, median, parsePrometheus, percentile, sleep, withDeadline } from "./controller-support.ts";
import {
  benchObjects,
  changedIndex,
  hostOf,
  INITIAL_MARK,
  loadAverage,
  machine,
  measureWall,
  namespaceObjects,
  note,
  probe,
  procMemory,
  side,
  SVC_PORT,
  TableSizer,
  TARGET_NS,
  timePluginWrites,
  TARGETS,
  targetOf,
  untilIstiodHolds,
  untilIstiodQuiet,
  untilServed,
  virtualService,
  type Machine,
  type Side,
  type WallResult,
} from "./istio-support.ts";

// ---------------------------------------------------------------------------------------------
// Options


type NumberOption = "changes" | "namespaces" | "applyConcurrency" | "intervalMs" | "createTimeoutS" | "syncTimeoutS" | "changeTimeoutS" | "quietMs";

/** Flags that take a positive whole number, and the option each sets. */
const NUMBER_FLAGS: Record<string, NumberOption> = {
  "--changes": "changes",
  "--namespaces": "namespaces",
  "--apply-concurrency": "applyConcurrency",
  "--interval-ms": "intervalMs",
  "--create-timeout": "createTimeoutS",
  "--sync-timeout": "syncTimeoutS",
  "--change-timeout": "changeTimeoutS",
  "--quiet-ms": "quietMs",
};

const USAGE =
  "options: --sizes 1000,10000 --modes wasmplugin,envoyfilter --changes 20 --namespaces 4 --apply-concurrency 16 --interval-ms 5 " +
  "--create-timeout S --sync-timeout S --change-timeout S --quiet-ms 300 --no-wall --save-json PATH --render-json PATH --no-write --help";

const DEFAULTS: Options = {
  sizes: [1000, 10000],
  modes: ["wasmplugin", "envoyfilter"],
  changes: 20,
  namespaces: 4,
  applyConcurrency: 16,
  intervalMs: 5,
  createTimeoutS: 1200,
  syncTimeoutS: 600,
  changeTimeoutS: 120,
  quietMs: 300,
  wall: true,
  write: true,
  saveJson: undefined,
  renderJson: undefined,
};

function parseOptions(argv: string[]): Options {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(
      "usage: npm run bench:istio [-- options]\n" +
        "VirtualService apply → served through a real istiod: Canal (WasmPlugin and ECDS delivery) against istiod's native routing,\n" +
        "and the WasmPlugin size wall. Results: the \"istiod delivery\" section of docs/benchmarks.md; progress on stderr.\n" +
        `${USAGE}\n`,
    );
    process.exit(0);
  }
  const opts: Options = { ...DEFAULTS };
  const value = (i: number): string => {
    const v = argv[i];
    if (v === undefined) throw new Error(`${argv[i - 1]} needs a value; ${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const numeric = NUMBER_FLAGS[flag];
    if (numeric !== undefined) {
      const v = Number(value(++i));
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} needs a positive whole number; ${USAGE}`);
      opts[numeric] = v;
    } else if (flag === "--sizes") {
      opts.sizes = value(++i).split(",").map(Number);
      if (opts.sizes.some((n) => !Number.isInteger(n) || n < 2)) throw new Error("--sizes needs whole numbers ≥ 2, e.g. 1000,10000");
    } else if (flag === "--modes") {
      const modes = value(++i).split(",");
      if (modes.some((m) => m !== "wasmplugin" && m !== "envoyfilter")) throw new Error("--modes takes wasmplugin and/or envoyfilter");
      opts.modes = modes as DeliveryMode[];
    } else if (flag === "--save-json") opts.saveJson = value(++i);
    else if (flag === "--render-json") opts.renderJson = value(++i);
    else if (flag === "--no-wall") opts.wall = false;
    else if (flag === "--no-write") opts.write = false;
    else throw new Error(`unknown option ${flag}; ${USAGE}`);
  }
  return opts;
}

type IgStatus = KubeObject & { status?: { tableVersion?: string; conditions?: { type: string; status: string; reason: string; message: string }[] } };

const IG_PATH = `/apis/canal.io/v1alpha1/namespaces/${SYSTEM_NS}/internalgateways/canal`;
const WASMPLUGINS_PATH = `/apis/extensions.istio.io/v1alpha1/namespaces/${SYSTEM_NS}/wasmplugins`;

/** Programmed reasons that mean the controller made its first table and did what it could with it. */
const SETTLED_REASONS: Record<DeliveryMode, string[]> = {
  wasmplugin: ["WasmPluginApplied", "TableTooLarge"],
  // No gateway is connected yet in ECDS mode when the controller has its first table.
  envoyfilter: ["NoGateways", "Pending", "Acknowledged", "TableTooLarge"],
};

/** Times of the WasmPlugin events a watch saw (performance.now()). */
class PluginEvents {
  readonly at: number[] = [];
  private closed = false;
  constructor(private readonly watch: KubeWatch) {
    void this.run();
  }
  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        // MODIFIED only: a watch opened without a resourceVersion first replays the existing plugin as ADDED.
        const e = await this.watch.next(3_600_000);
        if (e.type === "MODIFIED") this.at.push(performance.now());
      } catch {
        return; // the stream ended
      }
    }
  }
  firstAfter(t: number): number | undefined {
    return this.at.find((x) => x >= t);
  }
  close(): void {
    this.closed = true;
    this.watch.close();
  }
}

async function runWorld(mode: DeliveryMode, n: number, opts: Options, wasm: string, wallMax: number | undefined): Promise<WorldResult> {
  const label = `[${mode} ${fmt(n)} VS]`;
  const started = performance.now();
  note(`${label} starting kube-apiserver + etcd and istiod`);
  const world = await startIstioWorld(`bench-istio-${mode}-${n}`);
  let ok = false;
  // The Envoys' work dirs (config, log) go after a good run; after a failure their logs stay.
  const dropEnvoyDirs = (): void => {
    if (!ok) return;
    for (const p of [...world.gateways, ...world.natives]) rmSync(p.envoy.workDir, { recursive: true, force: true });
  };
  const cleanups: (() => Promise<void> | void)[] = [dropEnvoyDirs, () => world.stop()];
  try {
    // The filter from the bench's own copy (filterCopy), so a rebuild of build/canal.wasm during the run changes nothing.
    const install = await world.installCharts(mode, {
      controlSets: mode === "wasmplugin" ? { "wasm.url": `file://${wasm}` } : { "ecds.wasmPath": wasm },
      gatewaySets: mode === "envoyfilter" ? { "ecds.wasmPath": wasm } : {},
    });
    let dns: CoreDns | undefined;
    if (mode === "envoyfilter") {
      // The cluster DNS as the gateway pod sees it: the controller's ECDS Service name → loopback.
      dns = await startCoreDns({ name: `bench-istio-dns-${n}`, mainBlockExtra: `hosts {\n    127.0.0.1 canal-ecds.${SYSTEM_NS}.svc.cluster.local\n    fallthrough\n}` });
      const d = dns;
      cleanups.push(() => d.stop());
    }
    // The native Gateway exists before any VirtualService names it (the controller reports
    // Gateways that exist nowhere, istiod would drop the binding).
    const nativePort = await freePort();
    await world.api.applyYaml(nativeGatewayYaml(nativePort));
    for (const t of TARGETS) await world.addBackend(t, TARGET_NS, SVC_PORT);
    const applier = new Applier(world.api, opts.applyConcurrency);
    cleanups.push(() => applier.close());
    for (const o of namespaceObjects(opts.namespaces)) await applier.apply(o);

    // What Canal reads besides the bench's objects, for the in-process translate (table sizes, the wall).
    const base = await listCanalInputs(world);
    const sizer = new TableSizer(base, opts.namespaces, loadRegexValidator());

    // 1. Objects, before any proxy or the controller runs.
    const objects = benchObjects(n, opts.namespaces);
    const c0 = performance.now();
    await withDeadline(`creating ${fmt(objects.length)} objects`, opts.createTimeoutS * 1000, () =>
      applier.applyAll(objects, opts.applyConcurrency, (done) => note(`${label}   applied ${fmt(done)}/${fmt(objects.length)} (${fmt(done / ((performance.now() - c0) / 1000))}/s)`), 10_000),
    );
    const createS = (performance.now() - c0) / 1000;
    note(`${label} created ${fmt(n)} Services + ${fmt(n)} VirtualServices in ${fmt(createS, 1)} s`);
    // istiod has them all before anything connects, so the sync below is not its catching up.
    const h0 = performance.now();
    await untilIstiodHolds(world.istiod, n, opts.syncTimeoutS * 1000);
    note(`${label} istiod holds them all ${fmt((performance.now() - h0) / 1000, 1)} s after the last apply`);

    // 2. The controller: the code as `make build` makes it now (bin/canal.mjs runs the bundle when it is current).
    execFileSync(process.execPath, [join(REPO_ROOT, "scripts/bundle-controller.mjs")], { cwd: REPO_ROOT, stdio: "ignore" });
    const ctl0 = performance.now();
    const ctl = await world.startController();
    const code = controllerCode(ctl.output());
    const ig = await (async () => {
      const deadline = performance.now() + opts.syncTimeoutS * 1000;
      while (performance.now() < deadline) {
        if (!ctl.alive) throw new Error(`the controller exited: ${ctl.tail()}`);
        const o = await world.api.get<IgStatus>(IG_PATH).catch(() => undefined);
        const p = o?.status?.conditions?.find((c) => c.type === "Programmed");
        if (o !== undefined && p !== undefined && o.status?.tableVersion !== undefined && SETTLED_REASONS[mode].includes(p.reason)) return { o, p };
        await sleep(50);
      }
      throw new Error(`${label} the controller's status did not show its first table within ${opts.syncTimeoutS} s\n${ctl.tail()}`);
    })();
    const controllerReadyS = (performance.now() - ctl0) / 1000;
    const programmed = { status: ig.p.status, reason: ig.p.reason, message: ig.p.message };
    const tableVersion = ig.o.status?.tableVersion;
    // The in-process table orders virtual hosts by name, the controller by creation: same bytes, another version hash.
    const inProcessBytes = sizer.bytes(n);
    const tableBytes = (await controllerTableBytes(ctl.output())) ?? inProcessBytes;
    const canalServes = programmed.status === "True" || programmed.reason === "NoGateways";
    note(
      `${label} controller: ${programmed.reason} after ${fmt(controllerReadyS, 2)} s (spawn → status); table ${fmt(tableBytes)} bytes ` +
        `(in-process translate: ${fmt(inProcessBytes)} bytes)` +
        (canalServes ? "" : `; Canal cannot serve: ${programmed.message}`),
    );

    // 3. Initial sync: both gateway pods at once.
    const probeHost = hostOf(n - 1, opts.namespaces);
    const t0 = performance.now();
    const syncDeadline = t0 + opts.syncTimeoutS * 1000;
    let stopSync = false;
    const listenerAt = { canal: Number.NaN, native: Number.NaN };
    const pods: { gw?: GatewayPod; native?: NativeProxy } = {};
    const podsUp = Promise.all([
      // Both pods log as pilot-agent starts Envoy with Istio's defaults: at info, the native one
      // would write a deprecation warning per route (istiod sets max_grpc_timeout) on every RDS update.
      world.startGateway("canal-gateway-0", { dnsPort: dns?.port, ...PILOT_AGENT_LOGGING }).then((g) => {
        listenerAt.canal = performance.now();
        pods.gw = g;
      }),
      world.startNativeGateway(nativePort, PILOT_AGENT_LOGGING).then((p) => {
        listenerAt.native = performance.now();
        pods.native = p;
      }),
    ]);
    const canal = side("canal", install.port);
    const nat = side("native", nativePort);
    cleanups.push(() => destroy(canal.agent, nat.agent));
    const [canalAt, nativeAt] = await Promise.all([
      canalServes ? untilServed(canal, probeHost, INITIAL_MARK, syncDeadline, 10, () => stopSync) : Promise.resolve(undefined),
      untilServed(nat, probeHost, INITIAL_MARK, syncDeadline, 10, () => stopSync),
      podsUp.catch((err: unknown) => {
        stopSync = true;
        throw err;
      }),
    ]);
    if (nativeAt === undefined || (canalServes && canalAt === undefined)) {
      throw new Error(`${label} initial sync: not served within ${opts.syncTimeoutS} s (canal ${canalAt ?? "no"}, native ${nativeAt ?? "no"})\n${pods.gw?.envoy.logTail(20) ?? ""}\n${ctl.tail()}`);
    }
    const syncS = { canal: canalAt === undefined ? undefined : (canalAt - t0) / 1000, native: (nativeAt - t0) / 1000 };
    const listenerS = { canal: (listenerAt.canal - t0) / 1000, native: (listenerAt.native - t0) / 1000 };
    let canalAnswer: string | undefined;
    if (!canalServes) {
      const r = await probe(canal, probeHost);
      // Envoy's router counts requests whose route names no cluster (here: no filter set x-canal-cluster).
      const noCluster = [...((await pods.gw?.envoy.stats("no_cluster$").catch(() => undefined)) ?? new Map<string, number>()).entries()].filter(([k, v]) => k.startsWith("http.") && v > 0);
      canalAnswer =
        (r === undefined ? "no answer" : `HTTP ${r.status} with ${r.body === "" ? "an empty body" : `the body ${JSON.stringify(r.body.slice(0, 120))}`}`) +
        (noCluster.length === 0 ? "" : ` (Envoy's ${noCluster.map(([k, v]) => `${k} = ${v}`).join(", ")})`);
    }
    note(
      `${label} initial sync (both pods started together): listeners ${fmt(listenerS.canal, 2)} s / ${fmt(listenerS.native, 2)} s; ` +
        `served: Canal ${syncS.canal === undefined ? `never (${canalAnswer})` : `${fmt(syncS.canal, 2)} s`}, native ${fmt(syncS.native, 2)} s`,
    );
    const routedSample = await sampleRouted(canalServes ? canal : undefined, nat, n, opts.namespaces);
    note(`${label} routed hosts (sample of ${routedSample.asked}): Canal ${routedSample.canal}, native ${routedSample.native}`);
    if (mode === "wasmplugin") note(`${label} WasmPlugins after the initial sync: ${await pluginSummary(world)}`);
    if ((await untilIstiodQuiet(world.istiod, opts.quietMs, 120_000)) === undefined) note(`${label} (istiod did not settle within 120 s after the sync; going on)`);
    const istiodAfterSync = procMemory(world.istiod.child.pid);
    const clusters = { canal: await activeClusters(pods.gw?.envoy), native: await activeClusters(pods.native?.envoy) };

    // 4. Changes, one at a time.
    const plugins = mode === "wasmplugin" ? new PluginEvents(await world.api.watch(WASMPLUGINS_PATH)) : undefined;
    if (plugins !== undefined) cleanups.push(() => plugins.close());
    const changes: ChangeSample[] = [];
    const xds0 = { canal: await xdsUpdates(pods.gw?.envoy), native: await xdsUpdates(pods.native?.envoy) };
    for (let k = 0; k < opts.changes; k++) changes.push(await runChange(k, n, opts, applier, canalServes ? canal : undefined, nat, world, plugins, label));
    const xds1 = { canal: await xdsUpdates(pods.gw?.envoy), native: await xdsUpdates(pods.native?.envoy) };
    if (plugins !== undefined) note(`${label} WasmPlugin writes (MODIFIED events) per change: ${fmt(plugins.at.length / Math.max(1, opts.changes), 2)}`);
    const perChange = (a: XdsCounts, b: XdsCounts): XdsCounts => ({ cds: (b.cds - a.cds) / opts.changes, lds: (b.lds - a.lds) / opts.changes, rds: (b.rds - a.rds) / opts.changes, ecds: (b.ecds - a.ecds) / opts.changes });
    const xdsPerChange = { canal: perChange(xds0.canal, xds1.canal), native: perChange(xds0.native, xds1.native) };
    note(`${label} xDS updates each gateway accepted per change (CDS/LDS/RDS/ECDS): Canal ${xdsText(xdsPerChange.canal)}, native ${xdsText(xdsPerChange.native)}`);

    // 5. Memory.
    const memory = {
      istiod: procMemory(world.istiod.child.pid),
      istiodAfterSync,
      controller: procMemory(ctl.child.pid),
      canalEnvoy: procMemory(pods.gw?.envoy.pid),
      nativeEnvoy: procMemory(pods.native?.envoy.pid),
    };

    // 6. WasmPlugin writes, with the controller stopped (it removes WasmPlugins it did not write).
    let pluginWrite: { getMs: number[]; applyMs: number[] } | undefined;
    if (mode === "wasmplugin") await ctl.stop();
    // A sharded table (ADR 0005) is never one object: there is no single write to time.
    if (mode === "wasmplugin" && canalServes && tableBytes <= MAX_PLUGIN_CONFIG_BYTES) {
      pluginWrite = await timePluginWrites(world.api, `file://${wasm}`, sizer.table(n), 5);
      note(`${label} one WasmPlugin write of this table, as the controller does it: GET p50 ${fmt(median(pluginWrite.getMs))} ms, server-side apply p50 ${fmt(median(pluginWrite.applyMs))} ms (5 writes)`);
    }
    let wall: WallResult | undefined;
    if (wallMax !== undefined) {
      note(`${label} the WasmPlugin wall: binary search over N up to ${fmt(wallMax)} (translate in this process, real server-side applies)`);
      wall = await measureWall(world.api, sizer, `file://${wasm}`, wallMax);
    }
    ok = true;
    return {
      mode,
      n,
      etcdVersion: world.api.etcdVersion,
      objects: objects.length,
      createS,
      controllerReadyS,
      programmed,
      tableVersion,
      tableBytes,
      inProcessBytes,
      pluginWrite,
      code,
      xdsPerChange,
      clusters,
      canalServes,
      canalAnswer,
      listenerS,
      syncS,
      routedSample,
      changes,
      memory,
      wall,
      totalS: (performance.now() - started) / 1000,
    };
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        note(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Canal's WasmPlugins: how many, their JSON bytes (total, largest) and the manifest's shard count. */
async function pluginSummary(world: IstioWorld): Promise<string> {
  const list = await world.api.list<KubeObject & { spec?: { pluginConfig?: { shards?: unknown[] } } }>(WASMPLUGINS_PATH);
  const sizes = list.items.map((o) => Buffer.byteLength(JSON.stringify(o)));
  const manifest = list.items.find((o) => o.metadata.name?.endsWith("-manifest"));
  const k = manifest?.spec?.pluginConfig?.shards?.length;
  return `${list.items.length} objects, ${fmt(sizes.reduce((a, b) => a + b, 0))} bytes (largest ${fmt(Math.max(0, ...sizes))})` + (k === undefined ? ", one table object" : `, K = ${k} shards`);
}

function destroy(...agents: Agent[]): void {
  for (const a of agents) a.destroy();
}

/** The objects Canal reads that exist before the bench's own (charts, native Gateway, blue/green). */
async function listCanalInputs(world: IstioWorld): Promise<KubeObject[]> {
  const kinds = CANAL_INPUT_KINDS;
  const out: KubeObject[] = [];
  for (const [apiVersion, kind, path] of kinds) for (const o of (await world.api.list(path)).items) out.push({ ...o, apiVersion, kind });
  return out;
}

/** Envoy's update_success counters summed per xDS type (zeros when the proxy is gone or busy). */
async function xdsUpdates(envoy: EnvoyProcess | undefined): Promise<XdsCounts> {
  const out: XdsCounts = { cds: 0, lds: 0, rds: 0, ecds: 0 };
  const all = (await envoy?.stats("update_success$").catch(() => undefined)) ?? new Map<string, number>();
  for (const [k, v] of all) {
    if (k.startsWith("cluster_manager.cds.")) out.cds += v;
    else if (k.startsWith("listener_manager.lds.")) out.lds += v;
    else if (k.includes(".rds.")) out.rds += v;
    else if (k.startsWith("extension_config_discovery.")) out.ecds += v;
  }
  return out;
}

async function activeClusters(envoy: EnvoyProcess | undefined): Promise<number> {
  return (await envoy?.stat("cluster_manager.active_clusters").catch(() => undefined)) ?? Number.NaN;
}

/** The `code` field of the controller's "starting" log line. */
function controllerCode(log: string): string {
  for (const line of log.split("\n")) {
    if (!line.includes('"msg":"starting"')) continue;
    try {
      const parsed = JSON.parse(line) as { code?: unknown };
      if (typeof parsed.code === "string") return parsed.code;
    } catch {
      // not a JSON line
    }
  }
  return "unknown";
}

/**
 * A private copy of build/canal.wasm (built first if stale) for the whole run: the tree is shared,
 * and every filter config update makes Envoy read the file again.
 */
function filterCopy(): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "canal-bench-istio-"));
  const path = join(dir, "canal.wasm");
  copyFileSync(ensureCanalWasm(), path);
  return { path, dir };
}

/** HEAD and whether the code under test has uncommitted changes (the tree may be shared). */
function treeState(): string {
  const git = (...args: string[]): string => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  const head = git("rev-parse", "--short", "HEAD");
  const dirty = git("status", "--porcelain", "--", "filter", "controller", "envoy", "schema", "charts", "asconfig.json").split("\n").filter((l) => l !== "");
  return dirty.length === 0 ? head : `${head} plus uncommitted changes in ${[...new Set(dirty.map((l) => l.slice(3).split("/")[0]))].join(", ")}`;
}

/** canal_table_bytes of the gateway, from the controller's /metrics (its URL is in its log). */
async function controllerTableBytes(log: string): Promise<number | undefined> {
  const url = /"metrics":"(http:\/\/[^"]+\/metrics)"/.exec(log)?.[1];
  if (url === undefined) return undefined;
  const r = await httpGet(url, 30_000).catch(() => undefined);
  if (r === undefined || r.status !== 200) return undefined;
  const v = parsePrometheus(r.body).get(`canal_table_bytes{gateway="${SYSTEM_NS}/canal"}`);
  return v === undefined || v === 0 ? undefined : v;
}

/** Hosts spread over the table that each side routes (to the host's own Service: 503 "no healthy upstream", not a 404). */
async function sampleRouted(canal: Side | undefined, nat: Side, n: number, namespaces: number): Promise<{ canal: number; native: number; asked: number }> {
  const picks = Array.from({ length: Math.min(20, n - 1) }, (_, k) => Math.floor((k * (n - 1)) / Math.min(20, n - 1)));
  const routed = async (s: Side, i: number): Promise<boolean> => {
    const r = await probe(s, hostOf(i, namespaces));
    return r !== undefined && r.status === 503 && r.body.includes("no healthy upstream");
  };
  let c = 0;
  let nn = 0;
  for (const i of picks) {
    if (canal !== undefined && (await routed(canal, i))) c++;
    if (await routed(nat, i)) nn++;
  }
  return { canal: c, native: nn, asked: picks.length };
}

async function runChange(
  k: number,
  n: number,
  opts: Options,
  applier: Applier,
  canal: Side | undefined,
  nat: Side,
  world: IstioWorld,
  plugins: PluginEvents | undefined,
  label: string,
): Promise<ChangeSample> {
  const j = changedIndex(k, n);
  const mark = String(k);
  const obj = virtualService(j, opts.namespaces, mark);
  const path = await applier.pathOf(obj);
  const host = hostOf(j, opts.namespaces);
  const start = performance.now();
  const deadline = start + opts.changeTimeoutS * 1000;
  let applyMs = Number.NaN;
  const [, canalAt, nativeAt] = await Promise.all([
    applier.patch(path, obj).then(() => {
      applyMs = performance.now() - start;
    }),
    canal === undefined ? Promise.resolve(undefined) : untilServed(canal, host, mark, deadline, opts.intervalMs),
    untilServed(nat, host, mark, deadline, opts.intervalMs),
  ]);
  const settledAt = await untilIstiodQuiet(world.istiod, opts.quietMs, 60_000);
  const settledMs = settledAt === undefined ? undefined : settledAt - start;
  const pluginAt = plugins?.firstAfter(start);
  const sample: ChangeSample = {
    index: k,
    vs: `${obj.metadata.namespace}/${obj.metadata.name}`,
    target: targetOf(mark),
    applyMs,
    canalMs: canalAt === undefined ? undefined : canalAt - start,
    nativeMs: nativeAt === undefined ? undefined : nativeAt - start,
    pluginMs: pluginAt === undefined ? undefined : pluginAt - start,
    settledMs,
  };
  const ms = (v: number | undefined): string => (v === undefined ? "—" : `${fmt(v)} ms`);
  note(
    `${label}   change ${k + 1}/${opts.changes} ${sample.vs} → ${sample.target}: apply ${ms(applyMs)}, ` +
      `Canal ${canal === undefined ? "n/a" : ms(sample.canalMs)}${plugins !== undefined ? ` (WasmPlugin written ${ms(sample.pluginMs)})` : ""}, native ${ms(sample.nativeMs)}` +
      `, istiod all ACKed ${settledAt === undefined ? "— (not within 60 s)" : ms(settledMs)}`,
  );
  return sample;
}

// ---------------------------------------------------------------------------------------------

function readSavedRun(path: string): SavedRun {
  const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (typeof parsed !== "object" || parsed === null || (parsed as { format?: unknown }).format !== "canal-bench-istio/1") throw new Error(`${path}: not a file written by --save-json`);
  return parsed as SavedRun;
}

function publish(run: SavedRun, write: boolean): void {
  const { section, figures } = report(run);
  if (write) {
    writeBenchmarkSection(section);
    note("wrote the \"istiod delivery\" section of docs/benchmarks.md");
  }
  process.stdout.write(`${section}\n`);
  for (const f of figures) note(f);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.renderJson !== undefined) {
    publish(readSavedRun(opts.renderJson), opts.write);
    return;
  }
  envoyBinary();
  const filter = filterCopy();
  process.on("exit", () => rmSync(filter.dir, { recursive: true, force: true }));
  const tree = treeState();
  const mach = machine();
  const loadBefore = loadAverage();
  const t0 = performance.now();
  note(`bench:istio: istiod ${ISTIO_VERSION}, kube-apiserver ${K8S_VERSION}, Envoy ${ENVOY_VERSION}; ${mach.nproc} CPUs; sizes ${opts.sizes.map((n) => fmt(n)).join(", ")}; modes ${opts.modes.join(", ")}; ${opts.changes} changes each`);
  const results: WorldResult[] = [];
  const maxSize = Math.max(...opts.sizes);
  for (const n of opts.sizes) {
    for (const mode of opts.modes) {
      // The wall search once: in the WasmPlugin world of the largest size, up to at least 10,000.
      const wallMax = opts.wall && mode === "wasmplugin" && n === maxSize ? Math.max(n, 10_000) : undefined;
      const r = await runWorld(mode, n, opts, filter.path, wallMax);
      results.push(r);
      note(`[${mode} ${fmt(n)} VS] done in ${fmt(r.totalS / 60, 1)} min`);
    }
  }
  const command = `npm run bench:istio${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const run: SavedRun = {
    format: "canal-bench-istio/1",
    opts,
    meta: { command, date: new Date().toISOString().slice(0, 10), load: `${loadBefore} before, ${loadAverage()} after`, mach, node: process.version, totalS: (performance.now() - t0) / 1000, tree },
    results,
  };
  if (opts.saveJson !== undefined) {
    writeFileSync(opts.saveJson, JSON.stringify(run, null, 1));
    note(`saved the results to ${opts.saveJson}`);
  }
  publish(run, opts.write);
}

runBench(main);
