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
import { writeBenchmarkSection } from "./benchmarks-doc.ts";
import { Applier, fmt, httpGet, median, parsePrometheus, percentile, sleep, withDeadline } from "./controller-support.ts";
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

interface Options {
  sizes: number[];
  modes: DeliveryMode[];
  changes: number;
  namespaces: number;
  applyConcurrency: number;
  /** Poll interval per gateway while waiting for a change (ms). */
  intervalMs: number;
  createTimeoutS: number;
  syncTimeoutS: number;
  changeTimeoutS: number;
  /** istiod counts as settled once every proxy ACKed everything for this long (ms). */
  quietMs: number;
  /** Search the WasmPlugin wall (WasmPlugin mode, at the largest size). */
  wall: boolean;
  write: boolean;
  saveJson: string | undefined;
  renderJson: string | undefined;
}

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

// ---------------------------------------------------------------------------------------------
// One world: one delivery mode, one size

interface ChangeSample {
  index: number;
  vs: string;
  target: string;
  applyMs: number;
  /** Apply start → served through the Canal gateway; undefined: not within the deadline (or Canal cannot serve). */
  canalMs: number | undefined;
  /** The same through the native gateway. */
  nativeMs: number | undefined;
  /** WasmPlugin mode: apply start → the controller's WasmPlugin write reached a watch. */
  pluginMs: number | undefined;
  /** istiod had ACKs for everything again (ms after apply start), or undefined when it did not settle. */
  settledMs: number | undefined;
}

interface Memory {
  rss: number;
  hwm: number;
}

interface WorldResult {
  mode: DeliveryMode;
  n: number;
  etcdVersion: string;
  objects: number;
  createS: number;
  /** Controller spawn → its status named the table (or why it cannot deliver it). */
  controllerReadyS: number;
  programmed: { status: string; reason: string; message: string };
  tableVersion: string | undefined;
  /** The controller's table bytes (canal_table_bytes); the in-process translate of the same objects gave the same size. */
  tableBytes: number;
  inProcessBytes: number;
  /** WasmPlugin mode, when the table fits: one write of it as the controller does it (GET, server-side apply), ms. */
  pluginWrite: { getMs: number[]; applyMs: number[] } | undefined;
  /** Envoy's cluster_manager.active_clusters of each gateway after the initial sync (what istiod's CDS gave it). */
  clusters: { canal: number; native: number };
  /** Updates each gateway accepted per change, by xDS type (Envoy's update_success counters over all changes ÷ changes). */
  xdsPerChange: { canal: XdsCounts; native: XdsCounts };
  /** What bin/canal.mjs ran (its "starting" log line): "bundle", or "sources (why)". */
  code: string;
  /** False when the controller could not deliver (e.g. TableTooLarge). */
  canalServes: boolean;
  /** What the Canal gateway answered the probe once the native one served (when Canal cannot serve). */
  canalAnswer: string | undefined;
  /** Both gateway pods started at once: their listeners up, then the probe served (s from the start). */
  listenerS: { canal: number; native: number };
  syncS: { canal: number | undefined; native: number };
  /** Spread over the table: hosts routed (own Service, no endpoints: 503 "no healthy upstream") / asked. */
  routedSample: { canal: number; native: number; asked: number };
  changes: ChangeSample[];
  memory: { istiod?: Memory; controller?: Memory; canalEnvoy?: Memory; nativeEnvoy?: Memory; istiodAfterSync?: Memory };
  wall: WallResult | undefined;
  totalS: number;
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
    const code = controllerCode(ctl.output.join(""));
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
    const tableBytes = (await controllerTableBytes(ctl.output.join(""))) ?? inProcessBytes;
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
    if (mode === "wasmplugin" && canalServes) {
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

function destroy(...agents: Agent[]): void {
  for (const a of agents) a.destroy();
}

/** The objects Canal reads that exist before the bench's own (charts, native Gateway, blue/green). */
async function listCanalInputs(world: IstioWorld): Promise<KubeObject[]> {
  const kinds = [
    ["canal.io/v1alpha1", "InternalGateway", "/apis/canal.io/v1alpha1/internalgateways"],
    ["networking.istio.io/v1", "Gateway", "/apis/networking.istio.io/v1/gateways"],
    ["networking.istio.io/v1", "VirtualService", "/apis/networking.istio.io/v1/virtualservices"],
    ["networking.istio.io/v1", "DestinationRule", "/apis/networking.istio.io/v1/destinationrules"],
    ["v1", "Service", "/api/v1/services"],
  ] as const;
  const out: KubeObject[] = [];
  for (const [apiVersion, kind, path] of kinds) for (const o of (await world.api.list(path)).items) out.push({ ...o, apiVersion, kind });
  return out;
}

interface XdsCounts {
  cds: number;
  lds: number;
  rds: number;
  ecds: number;
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

function xdsText(x: XdsCounts): string {
  return [x.cds, x.lds, x.rds, x.ecds].map((v) => fmt(v, 1)).join("/");
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
// Report

const MiB = 2 ** 20;

interface Stats {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

function stats(values: readonly (number | undefined)[]): Stats | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { p50: percentile(v, 0.5), p99: percentile(v, 0.99), max: Math.max(...v), count: v.length };
}

function statText(s: Stats | undefined, of: number, unit = ""): string {
  if (s === undefined) return "—";
  return `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)}${unit}${s.count < of ? ` (${of - s.count} of ${of} not served in time)` : ""}`;
}

/** Median of Canal ÷ native over the changes served on both sides (paired: the same change). */
function pairedRatio(ch: readonly ChangeSample[]): number | undefined {
  const r = ch.filter((c) => c.canalMs !== undefined && c.nativeMs !== undefined && c.nativeMs > 0).map((c) => (c.canalMs as number) / (c.nativeMs as number));
  return r.length === 0 ? undefined : median(r);
}

/** One world's change figures: Canal, native, their paired ratio, WasmPlugin written, istiod all ACKed. */
function summarize(r: WorldResult): { c?: Stats; nt?: Stats; ratio?: number; pw?: Stats; settled?: Stats } {
  const of = (pick: (x: ChangeSample) => number | undefined): Stats | undefined => stats(r.changes.map(pick));
  return { c: of((x) => x.canalMs), nt: of((x) => x.nativeMs), ratio: pairedRatio(r.changes), pw: of((x) => x.pluginMs), settled: of((x) => x.settledMs) };
}

function mem(m: Memory | undefined, which: "rss" | "hwm"): string {
  return m === undefined ? "—" : fmt(m[which] / MiB);
}

interface RunMeta {
  command: string;
  date: string;
  load: string;
  mach: Machine;
  node: string;
  totalS: number;
  /** The commit measured (treeState). */
  tree: string;
}

interface SavedRun {
  format: "canal-bench-istio/1";
  opts: Options;
  meta: RunMeta;
  results: WorldResult[];
}

const MODE_NAME: Record<DeliveryMode, string> = { wasmplugin: "WasmPlugin", envoyfilter: "ECDS (EnvoyFilter)" };
const SHORT: Record<DeliveryMode, string> = { wasmplugin: "WasmPlugin", envoyfilter: "ECDS" };

function report(run: SavedRun): { section: string; figures: string[] } {
  const { meta, opts, results } = run;
  const L: string[] = [];
  const etcd = results[0]?.etcdVersion ?? "?";
  L.push("## istiod delivery");
  L.push("");
  L.push(
    `Generated by \`${meta.command}\` (bench/istio.ts) on ${meta.date} at ${meta.tree}; the whole run took ${fmt(meta.totalS / 60, 1)} min. Rerun it to refresh this section.`,
  );
  L.push("");
  L.push(
    `- istiod: pilot-discovery built from istio.io/istio ${ISTIO_VERSION} (Istio ${ISTIO_RELEASE}; test/support/istiod.ts, \`PILOT_DEBOUNCE_AFTER=10ms\`, ` +
      `\`PILOT_DEBOUNCE_MAX=1s\`); kube-apiserver ${K8S_VERSION} + etcd ${etcd} (test/support/k8s.ts, etcd's default request limit); ` +
      `Envoy ${ENVOY_VERSION} (upstream, one worker per gateway pod); Node.js ${meta.node} for the bench and the controller (bin/canal.mjs ran: ` +
      `${[...new Set(results.map((r) => r.code))].join("; ")}); the filter: build/canal.wasm copied once at the start of the run`,
  );
  L.push(
    `- machine: ${meta.mach.nproc} CPUs, ${meta.mach.cpu}, ${fmt(meta.mach.memBytes / 2 ** 30, 1)} GiB, Linux ${meta.mach.kernel}; ` +
      `load average (1/5/15 min) ${meta.load}. Shared and noisy: etcd, kube-apiserver, istiod, the controller, two Envoys, ` +
      "the echo backends and the bench share the CPUs, unpinned. Compare Canal with native by the ratio of the same changes, not across runs.",
  );
  L.push(
    `- a fresh world per delivery mode and size (test/istio/world.ts): both charts applied as \`helm template\` renders them (\`delivery.mode\` wasmplugin or envoyfilter), ` +
      "the controller as a process with the chart's Deployment args and ServiceAccount, the Canal gateway pod (upstream Envoy bootstrapped to istiod as pilot-agent would, " +
      "from the chart's Deployment) and a native gateway pod (`startNativeGateway`: the Gateway `istio-system/native`, istiod's own routes, no Canal); in ECDS mode a CoreDNS answers the chart's ECDS Service name. " +
      `Both gateway Envoys log as pilot-agent starts them with Istio's default values (\`-l ${PILOT_AGENT_LOGGING.logLevel} --component-log-level ${PILOT_AGENT_LOGGING.componentLogLevel}\`): ` +
      "at the harness's default (info) the native one logs Envoy's deprecation warning for every route on every RDS update (istiod sets the deprecated `max_grpc_timeout` on each route: " +
      "2 × N lines of ~670 bytes per update), which slows its updates down and is not what a real gateway pod does",
  );
  L.push(
    `- objects: N Services (no endpoints) and N VirtualServices in ${opts.namespaces} namespaces, each VirtualService with its own FQDN host, ` +
      "`gateways: [istio-system/canal, istio-system/native]` and two routes (`/api/` prefix with a 5 s timeout, catch-all) to its own Service; " +
      `two echo backends \`blue\` and \`green\` (Services with WorkloadEntries on 127.0.0.1). Created by server-side applies (${opts.applyConcurrency} in flight) ` +
      "before the controller and the gateway pods start, with istiod running",
  );
  L.push("");
  L.push("How each figure is measured:");
  L.push("");
  L.push(
    "- **controller ready**: spawning the controller → its InternalGateway status names the table (`tableVersion`) with Programmed " +
      "`WasmPluginApplied` (WasmPlugin mode; the WasmPlugin is written) or `NoGateways` (ECDS mode: table built, no gateway yet), or says why it cannot deliver (`TableTooLarge`).",
  );
  L.push(
    "- **initial sync**: both gateway pods start at the same moment, with the controller ready and istiod holding all objects; the time until each serves the last " +
      "VirtualService (its `/api/` route goes to `blue` with a marker header: the echo must show both), polled every 10 ms. Every VirtualService arrives at once on both sides " +
      "(one table; one RDS route configuration), and 20 hosts spread over the table are then checked to be routed (a 503 `no healthy upstream` from the host's own Service, not a 404).",
  );
  L.push(
    `- **change → served**: ${opts.changes} changes per world, one at a time, on VirtualServices spread over the table: the \`/api/\` route goes to \`blue\` or \`green\` ` +
      "(alternately) and sets `x-bench-change: <k>`. Time zero is just before the server-side apply request; **served** = a request through that gateway for the host and `/api/bench` " +
      `is answered by that backend echoing that header (each gateway polled every ${opts.intervalMs} ms over a keep-alive connection; both at the same time). ` +
      "Before the next change istiod must have every proxy's ACK for everything it sent, unchanged for " +
      `${opts.quietMs} ms; **istiod all ACKed** = when that state began (polled every 50 ms on /debug/syncz): istiod's whole push for the change (both gateways, every type it re-sent) was done. ` +
      `"WasmPlugin written" = a watch on WasmPlugins saw the controller's write. Percentiles are nearest-rank (p99 of ${opts.changes} samples is the largest). ` +
      "**ratio** = median over the changes of Canal's time ÷ native's time for the same change.",
  );
  L.push(
    "- **xDS updates per change**: each gateway's Envoy `update_success` counters (CDS, LDS, RDS, ECDS) after the changes minus before, ÷ the number of changes: " +
      "what istiod (and, in ECDS mode, the controller) made each gateway accept for one VirtualService change.",
  );
  L.push(
    "- **memory**: VmRSS and VmHWM (peak) from /proc of istiod and the controller at the end of the changes; the gateway Envoys' VmRSS at the same moment.",
  );
  L.push("");
  L.push("### Change → served (ms), Canal and native side by side");
  L.push("");
  L.push("| VS | Canal delivery | changes | Canal p50 / p99 / max | native p50 / p99 / max | ratio Canal ÷ native (median of pairs) | WasmPlugin written p50 / max | apply p50 | istiod all ACKed p50 / max | xDS updates per change Canal · native (CDS/LDS/RDS/ECDS) |");
  L.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const r of results) {
    const { c, nt, ratio, pw, settled } = summarize(r);
    L.push(
      `| ${fmt(r.n)} | ${MODE_NAME[r.mode]} | ${r.changes.length} | ${r.canalServes ? statText(c, r.changes.length) : `not served: ${r.programmed.reason}`} | ${statText(nt, r.changes.length)} | ` +
        `${ratio === undefined ? "—" : `${fmt(ratio, 2)}×`} | ${r.mode === "wasmplugin" && pw !== undefined ? `${fmt(pw.p50)} / ${fmt(pw.max)}` : "—"} | ${fmt(median(r.changes.map((x) => x.applyMs)))} | ` +
        `${settled === undefined ? "—" : `${fmt(settled.p50)} / ${fmt(settled.max)}`} | ${xdsText(r.xdsPerChange.canal)} · ${xdsText(r.xdsPerChange.native)} |`,
    );
  }
  L.push("");
  L.push("### Initial sync and memory");
  L.push("");
  L.push("| VS | Canal delivery | objects created | controller ready | table | gateway pods' listeners Canal / native | served: Canal / native | routed sample Canal / native | istiod RSS after sync / end / peak | controller RSS / peak | Envoy RSS Canal / native |");
  L.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const m = r.memory;
    L.push(
      `| ${fmt(r.n)} | ${MODE_NAME[r.mode]} | ${fmt(r.objects)} in ${fmt(r.createS)} s | ${fmt(r.controllerReadyS, 2)} s (${r.programmed.reason}) | ${fmt(r.tableBytes / 1024)} KiB | ` +
        `${fmt(r.listenerS.canal, 2)} / ${fmt(r.listenerS.native, 2)} s | ${r.syncS.canal === undefined ? "never" : `${fmt(r.syncS.canal, 2)} s`} / ${fmt(r.syncS.native, 2)} s | ` +
        `${r.canalServes ? r.routedSample.canal : "—"} / ${r.routedSample.native} of ${r.routedSample.asked} | ` +
        `${mem(m.istiodAfterSync, "rss")} / ${mem(m.istiod, "rss")} / ${mem(m.istiod, "hwm")} MiB | ${mem(m.controller, "rss")} / ${mem(m.controller, "hwm")} MiB | ${mem(m.canalEnvoy, "rss")} / ${mem(m.nativeEnvoy, "rss")} MiB |`,
    );
  }
  L.push("");
  L.push("### The WasmPlugin wall");
  L.push("");
  L.push(...wallLines(results));
  L.push("");
  L.push("### Findings");
  L.push("");
  L.push(...findings(results));
  const figures = figureLines(results);
  L.push("");
  L.push("```");
  L.push(...figures);
  L.push("```");
  return { section: `${L.join("\n")}\n`, figures };
}

function wallLines(results: readonly WorldResult[]): string[] {
  const out: string[] = [];
  for (const r of results.filter((x) => x.mode === "wasmplugin" && !x.canalServes)) {
    out.push(
      `- **What happens at ${fmt(r.n)} VirtualServices in WasmPlugin mode.** The controller's table is ${fmt(r.tableBytes)} bytes; its status says ` +
        `Programmed=${r.programmed.status} \`${r.programmed.reason}\`: "${r.programmed.message}". No WasmPlugin is written, so the Canal gateway has no filter config: ` +
        `it answered the probe with ${r.canalAnswer ?? "?"} (native served the same VirtualService after ${fmt(r.syncS.native, 2)} s).`,
    );
  }
  const w = results.find((x) => x.wall !== undefined)?.wall;
  if (w === undefined) {
    out.push("- The wall search did not run (`--no-wall`, or no WasmPlugin-mode world).");
    return out;
  }
  const same = results.every((r) => r.inProcessBytes === r.tableBytes);
  out.push(
    `- The search translates the bench's objects for each N in the bench process (the controller's \`translate\`); at the sizes measured it gave ${same ? "exactly" : "NOT"} the controller's table bytes (` +
      results.map((r) => `${fmt(r.n)} ${r.mode}: ${fmt(r.inProcessBytes)} vs \`canal_table_bytes\` ${fmt(r.tableBytes)}`).join("; ") +
      ").",
  );
  const ans = (a: { status: number; message: string; bodyBytes: number }): string => `HTTP ${a.status}${a.message === "" ? "" : ` "${a.message}"`} (request ${fmt(a.bodyBytes)} bytes)`;
  out.push(
    `- **The API server's real limit.** The bench applied, as the controller would (\`WasmPluginWriter.render\`, server-side apply with its field manager), WasmPlugins carrying the ` +
      `table of N of these VirtualServices (${fmt(w.bytesPerVs)} bytes per VirtualService), binary search over N (${fmt(w.searchS)} s). The largest the API server stored: ` +
      `**N = ${fmt(w.apiMaxN)}**, a ${fmt(w.apiMaxTableBytes)}-byte table (${fmt(w.apiMaxTableBytes / MiB, 2)} MiB), stored as ${fmt(w.apiMaxAnswer.storedBytes ?? 0)} bytes of JSON ` +
      `of which ${fmt(w.apiMaxAnswer.managedFieldsBytes ?? 0)} are managedFields. N = ${fmt(w.refusedN)} (${fmt(w.refusedTableBytes)} bytes): ${ans(w.refusedAnswer)}. ` +
      `At ${fmt(w.atSize.n)} (${fmt(w.atSize.tableBytes)} bytes): ${ans(w.atSize.answer)}.`,
  );
  out.push(
    "- Every write of the search, by N (table bytes): " +
      w.tried.map((t) => `${fmt(t.n)} (${fmt(t.tableBytes)}): ${t.status}${t.message === "" ? "" : ` ${t.message}`}`).join("; ") +
      `. The refusals: ${refusalKinds(w).join("; ")}. The first is the wall.`,
  );
  out.push(
    `- **The controller's guard** (\`MAX_PLUGIN_CONFIG_BYTES\` = ${fmt(w.guardBytes)} bytes, controller/src/sinks/wasmplugin.ts) lets tables through up to ` +
      `**N = ${fmt(w.guardMaxN)}** (${fmt(w.guardMaxTableBytes)} bytes): ${w.guardMaxN <= w.apiMaxN ? `${fmt(w.apiMaxN - w.guardMaxN)} VirtualServices (${fmt(w.apiMaxTableBytes - w.guardMaxTableBytes)} bytes) below what the API server really takes, so it refuses before etcd would` : "above what the API server really takes: it would let a write fail"}. ` +
      "The wall scales with bytes, not VirtualServices: longer hosts, more routes or header operations per VirtualService lower N. Beyond it, ECDS mode (no etcd in the path) is the way.",
  );
  return out;
}

/** Which limit each distinct refusal of the wall search is (read from the answers, not assumed), in order of N. */
function refusalKinds(w: WallResult): string[] {
  const kindOf = (status: number, message: string): string =>
    /request is too large/.test(message)
      ? "etcd's request size limit (etcd's default `--max-request-bytes`, 1.5 MiB = 1,572,864 bytes; test/support/k8s.ts sets none)"
      : /ResourceExhausted/.test(message)
        ? "the size limit of kube-apiserver's gRPC client to etcd (the 2 MiB in the message)"
        : status === 413
          ? "kube-apiserver's request body limit (the 3 MiB in the message)"
          : `HTTP ${status} ${message}`;
  const seen = new Map<string, number>();
  const all = [...w.tried, { n: w.atSize.n, tableBytes: w.atSize.tableBytes, status: w.atSize.answer.status, message: w.atSize.answer.message }];
  for (const t of all.sort((a, b) => a.n - b.n)) {
    if (t.status >= 200 && t.status < 300) continue;
    const k = kindOf(t.status, t.message);
    if (!seen.has(k)) seen.set(k, t.n);
  }
  return [...seen.entries()].map(([k, n]) => `${k} (smallest N tried with this answer: ${fmt(n)})`);
}

function findings(results: readonly WorldResult[]): string[] {
  const out: string[] = [];
  const verdicts = results.map((r) => {
    const ratio = summarize(r).ratio;
    return r.canalServes ? `${MODE_NAME[r.mode]} at ${fmt(r.n)}: ${ratio === undefined ? "?" : `${fmt(ratio, 2)}×`} native's time` : `${MODE_NAME[r.mode]} at ${fmt(r.n)}: not served (${r.programmed.reason})`;
  });
  out.push(`- **In short** (Canal's change → served time ÷ istiod's native routes', the same changes): ${verdicts.join("; ")}.`);
  for (const r of results) {
    const { c, nt, ratio, pw } = summarize(r);
    const head = `- **${fmt(r.n)} VS, ${MODE_NAME[r.mode]}.**`;
    if (!r.canalServes) {
      out.push(`${head} Canal cannot serve this size in this mode (${r.programmed.reason}); native served changes in p50 ${nt === undefined ? "—" : fmt(nt.p50)} ms.`);
      continue;
    }
    if (c === undefined || nt === undefined) continue;
    const sync = r.syncS.canal === undefined ? "" : ` Initial sync: Canal ${fmt(r.syncS.canal, 2)} s, native ${fmt(r.syncS.native, 2)} s after both pods started.`;
    out.push(
      `${head} A change was served by Canal in p50 ${fmt(c.p50)} ms and by istiod's native routes in p50 ${fmt(nt.p50)} ms; Canal took ${ratio === undefined ? "?" : `${fmt(ratio, 2)}×`} native's time ` +
        `(median of the same changes).` +
        (r.mode === "wasmplugin" && pw !== undefined
          ? ` The controller's WasmPlugin write was seen after p50 ${fmt(pw.p50)} ms; the rest (${fmt(Math.max(0, c.p50 - pw.p50))} ms at the medians) is istiod turning it into ECDS and Envoy loading the ${fmt(r.tableBytes / 1024)} KiB table.` +
            (r.xdsPerChange.native.lds > 1.5
              ? ` The WasmPlugin write is a second config event for istiod: both gateways, the native one included, accepted ${fmt(r.xdsPerChange.native.lds, 1)} LDS updates per change instead of 1.`
              : "") +
            (r.pluginWrite === undefined
              ? ""
              : ` One write of this WasmPlugin as the controller does it costs the API server ${fmt(median(r.pluginWrite.getMs))} ms (GET) + ${fmt(median(r.pluginWrite.applyMs))} ms (server-side apply), medians of ${r.pluginWrite.applyMs.length} writes timed separately with the controller stopped.`)
          : r.mode === "envoyfilter"
            ? ` The table goes from the controller to the gateway over its own ECDS stream; istiod is not in that path, yet it still made the Canal gateway accept ` +
              `${fmt(r.xdsPerChange.canal.cds, 1)} CDS and ${fmt(r.xdsPerChange.canal.lds, 1)} LDS updates per change (the native one: ${fmt(r.xdsPerChange.native.cds, 1)} CDS, ` +
              `${fmt(r.xdsPerChange.native.lds, 1)} LDS, ${fmt(r.xdsPerChange.native.rds, 1)} RDS), work on the same main thread that loads the table.`
            : "") +
        sync,
    );
  }
  for (const n of [...new Set(results.map((r) => r.n))]) {
    const at = results.filter((r) => r.n === n);
    const envoy = (r: WorldResult): string => `Canal ${mem(r.memory.canalEnvoy, "rss")} MiB, native ${mem(r.memory.nativeEnvoy, "rss")} MiB`;
    out.push(
      `- **${fmt(n)} VS, memory.** istiod peaked at ${at.map((r) => `${mem(r.memory.istiod, "hwm")} MiB (${SHORT[r.mode]} world)`).join(", ")}; the controller at ` +
        `${at.map((r) => `${mem(r.memory.controller, "hwm")} MiB (${SHORT[r.mode]})`).join(", ")}. Envoy RSS: ${at.map((r) => `${envoy(r)} (${SHORT[r.mode]} world)`).join("; ")}. ` +
        `Active clusters istiod's CDS gave the gateways for the ${fmt(n)} bench Services: ${at.map((r) => `Canal ${fmt(r.clusters?.canal ?? Number.NaN)}, native ${fmt(r.clusters?.native ?? Number.NaN)} (${SHORT[r.mode]} world)`).join("; ")} ` +
        "(Canal's routes name istiod's clusters, so its gateway gets them too).",
    );
  }
  return out;
}

function figureLines(results: readonly WorldResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const { c, nt, ratio } = summarize(r);
    out.push(
      `istiod ${r.mode} ${fmt(r.n)} VS: change → served Canal ${r.canalServes ? statText(c, r.changes.length, " ms") : `not served (${r.programmed.reason})`}, native ${statText(nt, r.changes.length, " ms")} (p50/p99/max)` +
        `${ratio === undefined ? "" : `, Canal ÷ native ${fmt(ratio, 2)}×`}; sync Canal ${r.syncS.canal === undefined ? "never" : `${fmt(r.syncS.canal, 2)} s`}, native ${fmt(r.syncS.native, 2)} s; ` +
        `istiod peak ${mem(r.memory.istiod, "hwm")} MiB, controller peak ${mem(r.memory.controller, "hwm")} MiB; world ${fmt(r.totalS / 60, 1)} min`,
    );
  }
  const w = results.find((x) => x.wall !== undefined)?.wall;
  if (w !== undefined) {
    out.push(
      `istiod wall: API server stores a WasmPlugin up to N = ${fmt(w.apiMaxN)} (${fmt(w.apiMaxTableBytes)} bytes table), refuses N = ${fmt(w.refusedN)}: HTTP ${w.refusedAnswer.status} ${w.refusedAnswer.message}; ` +
        `controller guard up to N = ${fmt(w.guardMaxN)}`,
    );
  }
  return out;
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

// Ctrl-C / SIGTERM: exit through process.exit so test/support's exit hooks kill every child
// process group (API server, etcd, istiod, controller, Envoys, CoreDNS).
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: stopping every process this bench started\n`);
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
