// The changes of one size: each applies one edited VirtualService and waits for Envoy's ACK and
// for a request routed by it; isolated changes wait for the controller to go quiet first.

import { jsonBody, request } from "../../test/support/http.ts";
import type { Echo } from "../../test/support/upstream.ts";
import { ecdsLogEvents, envoyThreadCpu, fmt, progress, sleep, withDeadline, type EcdsLogEvent } from "../controller-support.ts";
import { ecdsStats, ecdsStatsOrBusy } from "./envoy-watch.ts";
import type { ChangeResult } from "./results.ts";
import { CHANGE_HEADER, fqdn, nsOf, STRIDE, TARGETS, virtualService } from "./scenario.ts";
import { VS_TRANSLATED, type Stage } from "./stage.ts";

/** Quiet: no translation or sync for a while (the controller reacts to its own status writes). */
export async function settle(st: Stage, what: string, timeoutMs = 60_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let prev: string | undefined;
  let prevAt = 0;
  while (performance.now() < deadline) {
    const s = await st.sampler.scrape();
    const key = `${s.values.get("canal_translations_total") ?? 0}/${s.values.get('canal_reconciles_total{result="ok"}') ?? 0}`;
    if (s.ms > 200) prev = undefined; // the event loop was busy
    else if (key === prev && performance.now() - prevAt >= 1000) return true;
    else if (key !== prev) {
      prev = key;
      prevAt = performance.now();
    }
    await sleep(100);
  }
  progress(`[${st.label}]   (the controller was not quiet within ${fmt(timeoutMs / 1000)} s ${what}; going on)`);
  return false;
}

/** Change number `c`: apply, then wait for Envoy's ACK and for a request routed by it. */
async function runChange(st: Stage, c: number, isolated: boolean, of: string, clockTicks: number): Promise<ChangeResult> {
  const { n, label, opts, applier, ctl, envoy, sampler } = st;
  const j = (c * STRIDE + 1) % n;
  const ns = nsOf(j, opts.namespaces);
  const obj = virtualService(j, opts.namespaces, c);
  const path = await applier.pathOf(obj);
  const target = TARGETS[c % 2];
  const before = await ecdsStats(envoy);
  const translationsBefore = sampler.latest?.values.get("canal_translations_total") ?? 0;
  const vsTranslatedBefore = sampler.latest?.values.get(VS_TRANSLATED) ?? 0;
  const envoyCpu0 = envoyThreadCpu(envoy.pid, clockTicks);
  const ctlCpu0 = ctl.cpuSeconds(clockTicks);
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
          const res = await request({ port: st.gwPort, host: fqdn(`svc-${j}`, ns), path: "/api/bench", timeoutMs: 10_000 }).catch(() => undefined);
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
    st.envoyDetail,
  );
  const envoyCpu1 = envoyThreadCpu(envoy.pid, clockTicks);
  const controllerCpuMs = (ctl.cpuSeconds(clockTicks) - ctlCpu0) * 1000;
  let translations = Number.NaN;
  let vsTranslated = Number.NaN;
  let controllerCpuUntilQuietMs = Number.NaN;
  if (isolated) {
    await settle(st, `after change ${c + 1}`);
    translations = (sampler.latest?.values.get("canal_translations_total") ?? 0) - translationsBefore;
    vsTranslated = (sampler.latest?.values.get(VS_TRANSLATED) ?? 0) - vsTranslatedBefore;
    controllerCpuUntilQuietMs = (ctl.cpuSeconds(clockTicks) - ctlCpu0) * 1000;
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
}

/** Isolated changes (each after the controller went quiet), then back-to-back ones; Envoy's timestamps matched to each. */
export async function runChanges(st: Stage, clockTicks: number): Promise<{ changes: ChangeResult[]; burst: ChangeResult[] }> {
  const { opts, label, sampler } = st;
  const changes: ChangeResult[] = [];
  for (let k = 0; k < opts.changes; k++) changes.push(await runChange(st, k, true, `${k + 1}/${opts.changes}`, clockTicks));
  // Back-to-back: the next change right after the previous one is served (the controller may
  // still be busy with the translations its own status writes trigger).
  const burst: ChangeResult[] = [];
  if (opts.burst > 0) {
    progress(`[${label}] ${opts.burst} back-to-back changes`);
    sampler.phase = "back-to-back changes";
    for (let k = 0; k < opts.burst; k++) burst.push(await runChange(st, opts.changes + k, false, `${k + 1}/${opts.burst}`, clockTicks));
  }
  matchEnvoyTimestamps(ecdsLogEvents(st.envoy.log()), [...changes, ...burst]);
  return { changes, burst };
}

/** Envoy's own timestamps: the first received/accepted ECDS response after each change started. */
function matchEnvoyTimestamps(events: EcdsLogEvent[], all: ChangeResult[]): void {
  for (let k = 0; k < all.length; k++) {
    const ch = all[k];
    const end = k + 1 < all.length ? all[k + 1].startWall : Number.POSITIVE_INFINITY;
    const inWindow = (e: EcdsLogEvent): boolean => e.wall >= ch.startWall - 1 && e.wall < end;
    const rec = events.find((e) => e.kind === "received" && inWindow(e));
    const acc = events.find((e) => e.kind === "accepted" && inWindow(e));
    ch.receivedMs = rec === undefined ? undefined : rec.wall - ch.startWall;
    ch.ackMs = acc === undefined ? undefined : acc.wall - ch.startWall;
  }
}
