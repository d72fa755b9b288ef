// One size of the controller bench, on a fresh API server: create the objects, spawn the
// controller and Envoy, time the initial sync and the changes, then the in-process breakdown.

import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { renderCanalBootstrap } from "../../envoy/bootstrap.ts";
import { ENVOY_VERSION, startEnvoy } from "../../test/support/envoy.ts";
import { jsonBody, request } from "../../test/support/http.ts";
import { K8S_VERSION, startKubeApi, type KubeObject } from "../../test/support/k8s.ts";
import { LOOPBACK } from "../../test/support/ports.ts";
import { startUpstream, type Echo, type Upstream } from "../../test/support/upstream.ts";
import { REPO_ROOT } from "../../test/support/wasm.ts";
import { Applier, ControllerProcess, ecdsLogEvents, envoyThreadCpu, fmt, MetricsSampler, progress, sleep, withDeadline, type EcdsLogEvent } from "../controller-support.ts";
import type { Options } from "./options.ts";
import { IG_NS, NODE_CLUSTER, TARGETS, TARGET_NS, CHANGE_HEADER, STRIDE, nsOf, fqdn, clusterOf, baseObjects, service, virtualService } from "./scenario.ts";
import { ecdsStats, ecdsStatsOrBusy, envoyTable, servingVersion } from "./envoy-watch.ts";
import type { ChangeResult, SizeResult } from "./results.ts";
import { inProcessBreakdown } from "./breakdown.ts";

const VS_TRANSLATED = 'canal_memo_virtualservices{result="translated"}';

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

export async function runSize(n: number, opts: Options, wasmPath: string, workRoot: string): Promise<SizeResult> {
  const label = `${fmt(n)} VS`;
  const workDir = mkdtempSync(join(workRoot, `n${n}-`));
  progress(`[${label}] starting etcd + kube-apiserver`);
  const t0 = performance.now();
  const api = await startKubeApi({ name: `bench-controller-${n}`, workDir: join(workDir, "k8s"), keepWorkDir: opts.keep });
  const cleanups: (() => Promise<void>)[] = [async () => api.stop()];
  try {
    await api.installCanalCrds();
    await api.applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${IG_NS}}\n`);
    const apiStartS = (performance.now() - t0) / 1000;
    progress(`[${label}] API server ready with CRDs in ${fmt(apiStartS, 1)} s (kube-apiserver ${K8S_VERSION}, etcd ${api.etcdVersion})`);

    // 1. Objects: server-side applies in parallel (bounded), Services before VirtualServices.
    const applier = new Applier(api, opts.applyConcurrency);
    cleanups.push(async () => applier.close());
    for (const o of baseObjects(opts.namespaces)) await applier.apply(o);
    const objects: KubeObject[] = [];
    for (let i = 0; i < n; i++) objects.push(service(i, opts.namespaces));
    for (let i = 0; i < n; i++) objects.push(virtualService(i, opts.namespaces));
    const c0 = performance.now();
    await withDeadline(`creating ${fmt(objects.length)} objects`, opts.createTimeoutS * 1000, () =>
      applier.applyAll(objects, opts.applyConcurrency, (done) => {
        const s = (performance.now() - c0) / 1000;
        progress(`[${label}]   applied ${fmt(done)}/${fmt(objects.length)} objects (${fmt(done / s)}/s)`);
      }),
    );
    const createS = (performance.now() - c0) / 1000;
    progress(`[${label}] created ${fmt(n)} Services + ${fmt(n)} VirtualServices in ${fmt(opts.namespaces)} namespaces in ${fmt(createS, 1)} s (${fmt(objects.length / createS)}/s, concurrency ${opts.applyConcurrency})`);

    // Upstreams the changes route to.
    const upstreams: Upstream[] = [];
    for (const t of TARGETS) upstreams.push(await startUpstream(t));
    cleanups.push(async () => {
      await Promise.all(upstreams.map((u) => u.close()));
    });

    // 2. The controller, as its own process.
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
    const ctl = ControllerProcess.spawn(controllerArgs, join(workDir, "controller.log"), REPO_ROOT);
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

    // 3. Envoy, connected to the controller (node.cluster = the InternalGateway).
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
    cleanups.push(async () => envoy.stop());
    const envoyStartS = (performance.now() - e0) / 1000;
    const gwPort = envoy.port("canal");
    progress(`[${label}] Envoy ${ENVOY_VERSION} ready in ${fmt(envoyStartS, 2)} s (${opts.envoyConcurrency} workers), node.cluster ${NODE_CLUSTER}`);

    const sampler = new MetricsSampler(metricsUrl, ctl);
    cleanups.push(async () => sampler.stop());

    // 4. Initial sync: Envoy ACKed a table with every virtual host.
    const envoyDetail = (): string => `${ctl.tail()}\n${envoy.logTail(20)}`;
    let lastSuccess = 0;
    let lastReport = performance.now();
    const synced = await withDeadline(
      `the initial sync of ${label} (spawn → Envoy ACK of all ${fmt(n)} routes)`,
      Math.max(0, opts.syncTimeoutS * 1000 - (performance.now() - ctl.spawnedAt)), // counted from the spawn
      async () => {
        for (;;) {
          if (!ctl.alive) throw new Error(`the controller exited (code ${ctl.child.exitCode}, signal ${ctl.child.signalCode})\n${ctl.tail()}`);
          const s = await ecdsStatsOrBusy(envoy);
          const seenAt = performance.now();
          if (s === undefined) {
            await sleep(50);
            continue;
          }
          if (s.rejected > 0) throw new Error(`Envoy rejected (NACKed) a table\n${envoy.logTail(30)}`);
          if (s.success > lastSuccess) {
            lastSuccess = s.success;
            const got = await envoyTable(envoy);
            const count = got?.table.virtualHosts.length ?? 0;
            progress(`[${label}]   Envoy ACKed a table with ${fmt(count)} virtual hosts (${fmt((got?.bytes ?? 0) / 1024)} KiB) at ${fmt((seenAt - ctl.spawnedAt) / 1000, 2)} s`);
            if (got !== undefined && count === n) return { ...got, seenAt };
          }
          if (performance.now() - lastReport > 10_000) {
            lastReport = performance.now();
            progress(`[${label}]   waiting for the table: ${fmt((performance.now() - ctl.spawnedAt) / 1000)} s since spawn, controller RSS ${fmt(ctl.memory().rss / 2 ** 20)} MiB`);
          }
          await sleep(50);
        }
      },
      envoyDetail,
      `${fmt(opts.syncTimeoutS)} s of the spawn (--sync-timeout)`,
    );
    const version = synced.table.version;
    // Every VirtualService's host is a domain (not just the count).
    const domains = new Set(synced.table.virtualHosts.flatMap((v) => v.domains));
    for (let i = 0; i < n; i++) {
      const host = fqdn(`svc-${i}`, nsOf(i, opts.namespaces));
      if (!domains.has(host)) throw new Error(`Envoy's table ${version} has ${fmt(synced.table.virtualHosts.length)} virtual hosts but not ${host}`);
    }
    const rssAfterSync = ctl.memory().rss;
    await withDeadline("the workers to serve the initial table", 120_000, async () => {
      while ((await servingVersion(gwPort)) !== version) await sleep(10);
    });
    const servedAt = performance.now();
    const envoyCpuAtSync = envoyThreadCpu(envoy.pid, CLOCK_TICKS);
    const syncEnvoyMainCpuS = envoyCpuAtSync.main; // from Envoy's start: it may have the table before /ready
    const syncControllerCpuS = ctl.cpuSeconds(CLOCK_TICKS);
    const events0 = ecdsLogEvents(envoy.log());
    const accepted0 = events0.find((e) => e.kind === "accepted" && e.version === version);
    const received0 = events0.find((e) => e.kind === "received" && e.version === version);
    const syncPolledS = (synced.seenAt - ctl.spawnedAt) / 1000;
    const syncAckS = accepted0 !== undefined ? (accepted0.wall - spawnWall) / 1000 : syncPolledS;
    const syncServedS = (servedAt - ctl.spawnedAt) / 1000;
    const cachesSynced = ctl.lines.find((l) => l.msg === "caches synced; campaigning for leadership");
    const cachesSyncedS = cachesSynced !== undefined ? (cachesSynced.at - ctl.spawnedAt) / 1000 : Number.NaN;
    progress(
      `[${label}] initial sync: caches synced + first translation ${fmt(cachesSyncedS, 2)} s, Envoy received ${received0 ? fmt((received0.wall - spawnWall) / 1000, 2) : "?"} s, ` +
        `ACKed ${fmt(syncAckS, 2)} s (poll saw it at ${fmt(syncPolledS, 2)} s), workers serve ${fmt(syncServedS, 2)} s after spawn; ` +
        `table ${fmt(synced.bytes / 1024)} KiB; controller RSS ${fmt(rssAfterSync / 2 ** 20)} MiB; CPU: controller ${fmt(syncControllerCpuS, 2)} s, Envoy main thread ${fmt(syncEnvoyMainCpuS, 2)} s`,
    );

    // Quiet: no translation or sync for a while (the controller reacts to its own status writes).
    const settle = async (what: string, timeoutMs = 60_000): Promise<boolean> => {
      const deadline = performance.now() + timeoutMs;
      let prev: string | undefined;
      let prevAt = 0;
      while (performance.now() < deadline) {
        const s = await sampler.scrape();
        const key = `${s.values.get("canal_translations_total") ?? 0}/${s.values.get('canal_reconciles_total{result="ok"}') ?? 0}`;
        if (s.ms > 200) prev = undefined; // the event loop was busy
        else if (key === prev && performance.now() - prevAt >= 1000) return true;
        else if (key !== prev) {
          prev = key;
          prevAt = performance.now();
        }
        await sleep(100);
      }
      progress(`[${label}]   (the controller was not quiet within ${fmt(timeoutMs / 1000)} s ${what}; going on)`);
      return false;
    };
    await settle("after the initial sync");
    sampler.phase = "isolated changes";
    const rssSettled = ctl.memory().rss;
    const afterSync = sampler.latest?.values;
    progress(
      `[${label}] settled: translations ${afterSync?.get("canal_translations_total") ?? "?"}, syncs ${afterSync?.get('canal_reconciles_total{result="ok"}') ?? "?"}, ` +
        `RSS ${fmt(rssSettled / 2 ** 20)} MiB`,
    );

    // 5. Changes, one at a time, each after the controller went quiet.
    // One change: apply, then wait for Envoy's ACK and for a request routed by it.
    let changeNo = 0;
    const runChange = async (isolated: boolean, of: string): Promise<ChangeResult> => {
      const c = changeNo++;
      const j = (c * STRIDE + 1) % n;
      const ns = nsOf(j, opts.namespaces);
      const obj = virtualService(j, opts.namespaces, c);
      const path = await applier.pathOf(obj);
      const target = TARGETS[c % 2];
      const before = await ecdsStats(envoy);
      const translationsBefore = sampler.latest?.values.get("canal_translations_total") ?? 0;
      const vsTranslatedBefore = sampler.latest?.values.get(VS_TRANSLATED) ?? 0;
      const envoyCpu0 = envoyThreadCpu(envoy.pid, CLOCK_TICKS);
      const ctlCpu0 = ctl.cpuSeconds(CLOCK_TICKS);
      const startWall = Date.now();
      const start = performance.now();
      let applyMs = Number.NaN;
      let ackPolledMs = Number.NaN;
      let servedMs = Number.NaN;
      let done = false;
      await withDeadline(
        `change ${c + 1} (VirtualService ${ns}/svc-${j} → ${target})`,
        opts.changeTimeoutS * 1000,
        async () => {
          const applied = applier.patch(path, obj).then(() => {
            applyMs = performance.now() - start;
          });
          const acked = (async (): Promise<void> => {
            while (!done) {
              const s = await ecdsStatsOrBusy(envoy);
              if (s === undefined) {
                await sleep(50);
                continue;
              }
              if (s.rejected > before.rejected) throw new Error(`Envoy rejected (NACKed) the table of change ${c + 1}\n${envoy.logTail(30)}`);
              if (s.success > before.success) {
                ackPolledMs = performance.now() - start;
                return;
              }
              await sleep(50);
            }
          })();
          const served = (async (): Promise<void> => {
            for (;;) {
              const res = await request({ port: gwPort, host: fqdn(`svc-${j}`, ns), path: "/api/bench", timeoutMs: 10_000 }).catch(() => undefined);
              if (res !== undefined && res.status === 200 && res.headers["x-upstream"] === target) {
                const echo = jsonBody<Echo>(res);
                if (echo.headers[CHANGE_HEADER] === String(c)) {
                  servedMs = performance.now() - start;
                  return;
                }
              }
              await sleep(5);
            }
          })();
          try {
            await Promise.all([applied, served, acked]);
          } finally {
            done = true;
          }
        },
        envoyDetail,
      );
      const envoyCpu1 = envoyThreadCpu(envoy.pid, CLOCK_TICKS);
      const controllerCpuMs = (ctl.cpuSeconds(CLOCK_TICKS) - ctlCpu0) * 1000;
      let translations = Number.NaN;
      let vsTranslated = Number.NaN;
      let controllerCpuUntilQuietMs = Number.NaN;
      if (isolated) {
        await settle(`after change ${c + 1}`);
        translations = (sampler.latest?.values.get("canal_translations_total") ?? 0) - translationsBefore;
        vsTranslated = (sampler.latest?.values.get(VS_TRANSLATED) ?? 0) - vsTranslatedBefore;
        controllerCpuUntilQuietMs = (ctl.cpuSeconds(CLOCK_TICKS) - ctlCpu0) * 1000;
      }
      const envoyMainCpuMs = (envoyCpu1.main - envoyCpu0.main) * 1000;
      const envoyWorkersCpuMs = (envoyCpu1.workers - envoyCpu0.workers) * 1000;
      progress(
        `[${label}]   ${isolated ? "change" : "back-to-back change"} ${of}: ${ns}/svc-${j} → ${target}: apply ${fmt(applyMs)} ms, ACK seen ${fmt(ackPolledMs)} ms, ` +
          `served ${fmt(servedMs)} ms; CPU until served: Envoy main ${fmt(envoyMainCpuMs)} ms, workers ${fmt(envoyWorkersCpuMs)} ms, controller ${fmt(controllerCpuMs)} ms` +
          `${isolated ? `; until quiet: ${translations} translations (${vsTranslated} VirtualServices translated anew), controller CPU ${fmt(controllerCpuUntilQuietMs)} ms` : ""}`,
      );
      // Envoy's timestamps of this change's response are matched after all changes, by time.
      return {
        index: c,
        vs: `${ns}/svc-${j}`,
        applyMs,
        ackPolledMs,
        servedMs,
        ackMs: undefined,
        receivedMs: undefined,
        translations,
        vsTranslated,
        envoyMainCpuMs,
        envoyWorkersCpuMs,
        controllerCpuMs,
        controllerCpuUntilQuietMs,
        startWall,
      };
    };

    // 5a. Isolated changes: each after the controller went quiet.
    const changes: ChangeResult[] = [];
    for (let k = 0; k < opts.changes; k++) changes.push(await runChange(true, `${k + 1}/${opts.changes}`));
    // 5b. Back-to-back: the next change right after the previous one is served (the controller
    // may still be busy with the translations its own status writes trigger).
    const burst: ChangeResult[] = [];
    if (opts.burst > 0) {
      progress(`[${label}] ${opts.burst} back-to-back changes`);
      sampler.phase = "back-to-back changes";
      for (let k = 0; k < opts.burst; k++) burst.push(await runChange(false, `${k + 1}/${opts.burst}`));
    }
    // Envoy's own timestamps: the first received/accepted ECDS response after each change started.
    const events = ecdsLogEvents(envoy.log());
    const all = [...changes, ...burst];
    for (let k = 0; k < all.length; k++) {
      const ch = all[k];
      const end = k + 1 < all.length ? all[k + 1].startWall : Number.POSITIVE_INFINITY;
      const inWindow = (e: EcdsLogEvent): boolean => e.wall >= ch.startWall - 1 && e.wall < end;
      const rec = events.find((e) => e.kind === "received" && inWindow(e));
      const acc = events.find((e) => e.kind === "accepted" && inWindow(e));
      ch.receivedMs = rec === undefined ? undefined : rec.wall - ch.startWall;
      ch.ackMs = acc === undefined ? undefined : acc.wall - ch.startWall;
    }

    // 6. Memory, CPU, metrics.
    const { hwm, rss: rssEnd } = ctl.memory();
    const controllerCpuS = ctl.cpuSeconds(CLOCK_TICKS);
    await sampler.stop();
    const peakByPhase = [...sampler.maxRssByPhase.entries()].map(([phase, bytes]) => ({ phase, bytes }));
    const final = await sampler.scrape();
    const metricsTableBytes = final.values.get(`canal_table_bytes{gateway="${NODE_CLUSTER}"}`) ?? Number.NaN;
    const translateSamples = sampler.translations.map((t) => t.seconds * 1000).filter((x) => Number.isFinite(x));
    const pushSamples = sampler.pushes.map((t) => t.seconds * 1000).filter((x) => Number.isFinite(x));

    // 7. The same work in this process, step by step, on what the API server stores.
    await ctl.stop();
    await envoy.stop();
    progress(`[${label}] in-process breakdown of one full pass (controller and Envoy stopped)`);
    const breakdown = await inProcessBreakdown(api, wasmPath);

    const routes = synced.table.virtualHosts.reduce((a, v) => a + v.routes.length, 0);
    return {
      n,
      rssAtStart,
      code,
      etcdVersion: api.etcdVersion,
      objects: objects.length,
      createS,
      createRate: objects.length / createS,
      apiStartS,
      ecdsListeningS,
      cachesSyncedS,
      envoyStartS,
      syncAckS,
      syncPolledS,
      syncServedS,
      syncReceivedS: received0 === undefined ? undefined : (received0.wall - spawnWall) / 1000,
      tableBytes: synced.bytes,
      vhosts: synced.table.virtualHosts.length,
      domains: domains.size,
      routes,
      rssAfterSync,
      rssSettled,
      rssEnd,
      hwm,
      peakByPhase,
      syncEnvoyMainCpuS,
      syncControllerCpuS,
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
