// One size of the controller bench, on a fresh API server: create the objects, spawn the
// controller and Envoy, time the initial sync and the changes, then the in-process breakdown.

import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { renderCanalBootstrap } from "../../envoy/bootstrap.ts";
import { ENVOY_VERSION, startEnvoy, type EnvoyProcess } from "../../test/support/envoy.ts";
import { K8S_VERSION, type KubeApi } from "../../test/support/k8s.ts";
import { LOOPBACK } from "../../test/support/ports.ts";
import { startUpstream, type Upstream } from "../../test/support/upstream.ts";
import { REPO_ROOT } from "../../test/support/wasm.ts";
import { Applier, TimedControllerLog, fmt, MetricsSampler, progress } from "../controller-support.ts";
import { inProcessBreakdown } from "./breakdown.ts";
import { runChanges, settle } from "./changes.ts";
import type { Options } from "./options.ts";
import type { SizeResult } from "./results.ts";
import { clusterOf, NODE_CLUSTER, TARGET_NS, TARGETS } from "./scenario.ts";
import { storedObjects } from "./object-store.ts";
import type { Stage } from "./stage.ts";
import { initialSync } from "./sync.ts";

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

type Cleanups = (() => Promise<void>)[];

interface Spawned {
  ctl: TimedControllerLog;
  spawnWall: number;
  ecdsPort: number;
  metricsUrl: string;
  rssAtStart: number;
  code: string;
  ecdsListeningS: number;
}

/** Phase 2: the controller, as its own process, from the code `make build` bundles now; its ECDS port and metrics URL from its log. */
async function spawnController(api: KubeApi, opts: Options, wasmPath: string, workDir: string, label: string, cleanups: Cleanups): Promise<Spawned> {
  const controllerArgs = [
    ...(opts.controllerHeapMb === undefined ? [] : [`--max-old-space-size=${opts.controllerHeapMb}`]),
    ...opts.controllerNodeArgs,
    join(REPO_ROOT, "bin/canal.mjs"),
    "controller",
    "--no-wasmplugin",
    "--ecds-address",
    `${LOOPBACK}:0`,
    "--wasm-path",
    wasmPath,
    "--kubeconfig",
    api.kubeconfigPath,
    "--metrics-address",
    `${LOOPBACK}:0`,
    "--identity",
    "bench",
    "--log-level",
    opts.controllerLogLevel,
    ...(opts.controllerHeapGrowing === undefined ? [] : ["--heap-growing-percent", String(opts.controllerHeapGrowing)]),
    ...(opts.controllerIdleGcMs === undefined ? [] : ["--idle-gc-ms", String(opts.controllerIdleGcMs)]),
  ];
  // The code as `make build` makes it now (the sources may have changed since the last build).
  execFileSync(process.execPath, [join(REPO_ROOT, "scripts/bundle-controller.mjs")], { cwd: REPO_ROOT, stdio: "ignore" });
  progress(`[${label}] spawning: node ${controllerArgs.map((a) => a.replace(REPO_ROOT + "/", "").replace(workDir, "<work>")).join(" ")}`);
  const spawnWall = Date.now();
  const ctl = TimedControllerLog.spawn(controllerArgs, join(workDir, "controller.log"), REPO_ROOT);
  cleanups.push(async () => ctl.stop());
  const ecdsLine = await ctl.waitLine("serving ECDS", 60_000);
  const ecdsAddress = String(ecdsLine.fields.address ?? "");
  const ecdsPort = Number(/:(\d+)$/.exec(ecdsAddress)?.[1] ?? NaN);
  if (!Number.isInteger(ecdsPort)) throw new Error(`cannot read the ECDS port from ${JSON.stringify(ecdsLine.fields)}`);
  const startLine = await ctl.waitLine("starting", 60_000);
  const metricsUrl = String(startLine.fields.metrics ?? "");
  if (!/^http:\/\/[^/]+\/metrics$/.test(metricsUrl)) throw new Error(`cannot read the metrics URL from ${JSON.stringify(startLine.fields)}`);
  const rssAtStart = ctl.memory().rss;
  const code = String(startLine.fields.code ?? "unknown");
  progress(`[${label}] the controller runs: ${code}`);
  const ecdsListeningS = (ecdsLine.at - ctl.spawnedAt) / 1000;
  progress(`[${label}] controller pid ${ctl.pid}: ECDS on port ${ecdsPort} after ${fmt(ecdsListeningS, 2)} s, metrics ${metricsUrl}`);
  return { ctl, spawnWall, ecdsPort, metricsUrl, rssAtStart, code, ecdsListeningS };
}

/** Phase 3: Envoy, connected to the controller (node.cluster = the InternalGateway), with clusters for the change targets. */
async function startGateway(n: number, opts: Options, wasmPath: string, workDir: string, ecdsPort: number, upstreams: Upstream[]): Promise<{ envoy: EnvoyProcess; envoyStartS: number }> {
  const e0 = performance.now();
  const envoy = await startEnvoy({
    name: `bench-gw-${n}`,
    workDir: mkdtempSync(join(workDir, "envoy-")),
    concurrency: opts.envoyConcurrency,
    logLevel: "info",
    componentLogLevel: "config:debug",
    readyTimeoutMs: 60_000,
    config: renderCanalBootstrap({
      listenerPort: 0,
      adminPort: 0,
      wasmPath,
      nodeId: `bench-gw-${n}`,
      nodeCluster: NODE_CLUSTER,
      table: { kind: "ads", adsCluster: { name: "canal-controller", host: LOOPBACK, port: ecdsPort } },
      clusters: TARGETS.map((t, k) => ({ name: clusterOf(t, TARGET_NS), host: LOOPBACK, port: upstreams[k].port })),
    }),
  });
  return { envoy, envoyStartS: (performance.now() - e0) / 1000 };
}

export async function runSize(n: number, opts: Options, wasmPath: string, workRoot: string): Promise<SizeResult> {
  const label = `${fmt(n)} VS`;
  const workDir = mkdtempSync(join(workRoot, `n${n}-`));
  progress(`[${label}] starting etcd + kube-apiserver ${K8S_VERSION}`);
  const stored = await storedObjects(n, opts, workDir, label);
  const { api, apiStartS } = stored;
  const cleanups: Cleanups = [async () => api.stop()];
  try {
    const applier = new Applier(api, opts.applyConcurrency);
    cleanups.push(async () => applier.close());

    // Upstreams the changes route to.
    const upstreams: Upstream[] = [];
    for (const t of TARGETS) upstreams.push(await startUpstream(t));
    cleanups.push(async () => {
      await Promise.all(upstreams.map((u) => u.close()));
    });

    const spawned = await spawnController(api, opts, wasmPath, workDir, label, cleanups);
    const { ctl } = spawned;
    const { envoy, envoyStartS } = await startGateway(n, opts, wasmPath, workDir, spawned.ecdsPort, upstreams);
    cleanups.push(async () => envoy.stop());
    progress(`[${label}] Envoy ${ENVOY_VERSION} ready in ${fmt(envoyStartS, 2)} s (${opts.envoyConcurrency} workers), node.cluster ${NODE_CLUSTER}`);

    const sampler = new MetricsSampler(spawned.metricsUrl, ctl);
    cleanups.push(async () => sampler.stop());
    const st: Stage = {
      n,
      label,
      opts,
      applier,
      ctl,
      envoy,
      gwPort: envoy.port("canal"),
      sampler,
      envoyDetail: (): string => `${ctl.tail()}\n${envoy.logTail(20)}`,
    };

    // Phase 4: initial sync, then quiet.
    const sync = await initialSync(st, spawned.spawnWall, CLOCK_TICKS);
    await settle(st, "after the initial sync");
    sampler.phase = "isolated changes";
    const rssSettled = ctl.memory().rss;
    const afterSync = sampler.latest?.values;
    progress(
      `[${label}] settled: translations ${afterSync?.get("canal_translations_total") ?? "?"}, syncs ${afterSync?.get('canal_reconciles_total{result="ok"}') ?? "?"}, ` +
        `RSS ${fmt(rssSettled / 2 ** 20)} MiB`,
    );

    // Phase 5: changes.
    const { changes, burst } = await runChanges(st, CLOCK_TICKS);

    // Phase 6: memory, CPU, metrics.
    const { hwm, rss: rssEnd } = ctl.memory();
    const controllerCpuS = ctl.cpuSeconds(CLOCK_TICKS);
    await sampler.stop();
    const peakByPhase = [...sampler.maxRssByPhase.entries()].map(([phase, bytes]) => ({ phase, bytes }));
    const final = await sampler.scrape();
    const metricsTableBytes = final.values.get(`canal_table_bytes{gateway="${NODE_CLUSTER}"}`) ?? Number.NaN;
    const translateSamples = sampler.translations.map((t) => t.seconds * 1000).filter((x) => Number.isFinite(x));
    const pushSamples = sampler.pushes.map((t) => t.seconds * 1000).filter((x) => Number.isFinite(x));

    // Phase 7: the same work in this process, step by step, on what the API server stores.
    await ctl.stop();
    await envoy.stop();
    progress(`[${label}] in-process breakdown of one full pass (controller and Envoy stopped)`);
    const breakdown = await inProcessBreakdown(api, wasmPath, label);

    const routes = sync.table.virtualHosts.reduce((a, v) => a + v.routes.length, 0);
    return {
      n,
      rssAtStart: spawned.rssAtStart,
      code: spawned.code,
      etcdVersion: api.etcdVersion,
      objects: stored.objects,
      createS: stored.createS,
      createRate: stored.createRate,
      objectsSource: stored.source,
      apiStartS,
      ecdsListeningS: spawned.ecdsListeningS,
      cachesSyncedS: sync.cachesSyncedS,
      envoyStartS,
      syncAckS: sync.syncAckS,
      syncPolledS: sync.syncPolledS,
      syncServedS: sync.syncServedS,
      syncReceivedS: sync.syncReceivedS,
      tableBytes: sync.bytes,
      vhosts: sync.table.virtualHosts.length,
      domains: sync.domains.size,
      routes,
      rssAfterSync: sync.rssAfterSync,
      rssSettled,
      rssEnd,
      hwm,
      peakByPhase,
      syncEnvoyMainCpuS: sync.syncEnvoyMainCpuS,
      syncControllerCpuS: sync.syncControllerCpuS,
      controllerCpuS,
      translateSamples,
      pushSamples,
      metricsTableBytes,
      changes,
      burst,
      breakdown,
    };
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        progress(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
