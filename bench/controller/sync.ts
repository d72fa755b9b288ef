// The initial sync of one size: from the controller's spawn until Envoy ACKed a table with every
// virtual host and its workers serve it.

import type { RouteTable } from "../../schema/route-table.ts";
import { ecdsLogEvents, envoyThreadCpu, fmt, progress, sleep, withDeadline } from "../controller-support.ts";
import { ecdsStatsOrBusy, envoyTable, servingVersion } from "./envoy-watch.ts";
import { fqdn, nsOf } from "./scenario.ts";
import type { Stage } from "./stage.ts";

export interface SyncResult {
  table: RouteTable;
  bytes: number;
  /** Every domain of the table. */
  domains: Set<string>;
  rssAfterSync: number;
  syncEnvoyMainCpuS: number;
  syncControllerCpuS: number;
  syncAckS: number;
  syncPolledS: number;
  syncServedS: number;
  syncReceivedS: number | undefined;
  cachesSyncedS: number;
}

export async function initialSync(st: Stage, spawnWall: number, clockTicks: number): Promise<SyncResult> {
  const { n, label, opts, ctl, envoy } = st;
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
    st.envoyDetail,
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
    while ((await servingVersion(st.gwPort)) !== version) await sleep(10);
  });
  const servedAt = performance.now();
  const envoyCpuAtSync = envoyThreadCpu(envoy.pid, clockTicks);
  const syncEnvoyMainCpuS = envoyCpuAtSync.main; // from Envoy's start: it may have the table before /ready
  const syncControllerCpuS = ctl.cpuSeconds(clockTicks);
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
  return {
    table: synced.table,
    bytes: synced.bytes,
    domains,
    rssAfterSync,
    syncEnvoyMainCpuS,
    syncControllerCpuS,
    syncAckS,
    syncPolledS,
    syncServedS,
    syncReceivedS: received0 === undefined ? undefined : (received0.wall - spawnWall) / 1000,
    cachesSyncedS,
  };
}
