// The cache of a whole compile is built at the root context's next tick (contexts.ts asks for a
// 1 ms tick after such a configure), not at the VM's next configure: in Envoy the tick runs after
// the configure's event (and the ECDS ACK), so the next update's configure no longer pays for it.
// When no tick comes first (Envoy's canary clone never ticks), the next configure still builds it.
// The tick keeps releasing fault-delayed requests, and its period goes back to the delay period or 0.
import { describe, expect, it } from "vitest";
import { LogLevel, type ProxyWasmHost } from "./host.js";
import { send, startCanal } from "./canal.js";
import { lastLoadReport } from "../support/load-report.js";

/** The tick period with no work and no delays: the counters' flush (filter/assembly/metrics.ts METRIC_FLUSH_MS). */
const IDLE_TICK_MS = 1000;

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

function controllerTable(n: number, version: string, changed: Record<number, string> = {}, delayed = -1): Json {
  const vhs: Json[] = [];
  for (let i = 0; i < n; i++) {
    const fqdn = `svc-${i}.ns-${i % 4}.svc.cluster.local`;
    const cluster = `outbound|8080||${fqdn}`;
    const routes: Json[] = [
      { match: [{ uri: { prefix: "/api/" } }], route: [{ cluster: changed[i] ?? cluster, weight: 100 }], timeoutMs: 5000 },
      { route: [{ cluster, weight: 100 }] },
    ];
    if (i === delayed) routes.unshift({ match: [{ uri: { prefix: "/slow" } }], route: [{ cluster }], fault: { delay: { fixedDelayMs: 100, percentage: 100 } } });
    vhs.push({ name: `ns-${i % 4}/svc-${i}`, domains: [fqdn, `svc-${i}.ns-${i % 4}.svc`, `svc-${i}.ns-${i % 4}`, `svc-${i}`], routes });
  }
  return { format: 1, version, virtualHosts: vhs };
}


function debugLines(host: ProxyWasmHost): string[] {
  return host.logMessages(LogLevel.debug).filter((l) => l.startsWith("canal: "));
}

function lastConfigure(host: ProxyWasmHost): { how: string; reused: number; compiled: number } {
  const { how, reused, compiled } = lastLoadReport(debugLines(host));
  return { how, reused, compiled };
}

function cacheLines(host: ProxyWasmHost): string[] {
  return debugLines(host).filter((l) => l.startsWith("canal: cache of "));
}

describe("the cache of a whole compile is built at the next tick", () => {
  it("a whole compile asks for a tick; the tick builds the cache; the next configure is incremental without building it", async () => {
    const N = 1000;
    const host = await startCanal(controllerTable(N, "t1"));
    expect(lastConfigure(host)).toEqual({ how: "whole document", reused: 0, compiled: N });
    expect(host.tickPeriodMs).toBe(1);
    expect(cacheLines(host)).toEqual([]);

    host.clearLogs();
    host.tick();
    expect(cacheLines(host)).toEqual([`canal: cache of ${N} virtual hosts built at tick`]);
    // One piece of work per tick: the shared entry (shared-entry.test.ts) is written at the next.
    expect(host.tickPeriodMs).toBe(1);
    host.tick();
    expect(debugLines(host).filter((l) => l.startsWith("canal: shared entry written: "))).toHaveLength(1);
    // Nothing left to do and no delays: ticks off.
    expect(host.tickPeriodMs).toBe(IDLE_TICK_MS);

    host.clearLogs();
    expect(host.configure(JSON.stringify(controllerTable(N, "t2", { 5: "outbound|80||five" })))).toBe(true);
    expect(lastConfigure(host)).toEqual({ how: "incremental", reused: N - 1, compiled: 1 });
    expect(cacheLines(host)).toEqual([]);
    // An incremental configure leaves only the shared entry for a tick.
    expect(host.tickPeriodMs).toBe(1);
    expect(send(host, "/api/x", { ":authority": "svc-5" }).cluster).toBe("outbound|80||five");
    expect(send(host, "/api/x", { ":authority": "svc-6" }).cluster).toBe("outbound|8080||svc-6.ns-2.svc.cluster.local");

    // The tick after it has no cache to build.
    host.clearLogs();
    host.tick();
    expect(cacheLines(host)).toEqual([]);
    expect(host.tickPeriodMs).toBe(IDLE_TICK_MS);
  });

  it("without a tick in between (a canary clone), the next configure builds the cache, then compiles incrementally", async () => {
    const N = 300;
    const host = await startCanal(controllerTable(N, "c1"));
    host.clearLogs();
    expect(host.configure(JSON.stringify(controllerTable(N, "c2", { 7: "outbound|80||seven" })))).toBe(true);
    expect(cacheLines(host)).toEqual([`canal: cache of ${N} virtual hosts built at configure`]);
    expect(lastConfigure(host)).toEqual({ how: "incremental", reused: N - 1, compiled: 1 });
    // Built already: the tick asked for by the first configure finds nothing to do.
    host.clearLogs();
    host.tick();
    expect(cacheLines(host)).toEqual([]);
    expect(host.tickPeriodMs).toBe(IDLE_TICK_MS);
  });

  it("a rejected table before the tick: its configure builds the cache (it compiles against it), the tick has nothing left", async () => {
    const host = await startCanal(controllerTable(50, "r1"));
    host.clearLogs();
    expect(host.configure(`{"format":1,"version":"bad","virtualHosts":[{}]}`)).toBe(false);
    expect(cacheLines(host)).toEqual(["canal: cache of 50 virtual hosts built at configure"]);
    expect(host.tickPeriodMs).toBe(1);
    host.clearLogs();
    host.tick();
    expect(cacheLines(host)).toEqual([]);
    expect(host.tickPeriodMs).toBe(IDLE_TICK_MS);
    expect(host.configure(JSON.stringify(controllerTable(50, "r2", { 1: "outbound|80||one" })))).toBe(true);
    expect(lastConfigure(host)).toEqual({ how: "incremental", reused: 49, compiled: 1 });
  });

  it("fault delays still get released by the tick, whose period returns to the delay period", async () => {
    const host = await startCanal(controllerTable(20, "d1", {}, 3));
    expect(host.tickPeriodMs).toBe(1);
    const id = host.newHttpContext();
    expect(host.requestHeaders(id, [[":method", "GET"], [":scheme", "http"], [":path", "/slow"], [":authority", "svc-3"]], true)).toBe(1 /* StopIteration */);
    host.clearLogs();
    host.tick(); // builds the cache; the request is not due yet
    expect(cacheLines(host)).toEqual(["canal: cache of 20 virtual hosts built at tick"]);
    expect(host.getContinueCalls(id)).toEqual([]);
    host.tick(); // writes the shared entry
    expect(host.tickPeriodMs).toBe(5);
    host.advanceTime(100);
    host.tick();
    expect(host.getContinueCalls(id)).toEqual([0]);
    host.responseHeaders(id, [[":status", "200"]], true);
    host.completeRequest(id);
    expect(host.tickPeriodMs).toBe(5);

    // A table without delays: nothing held, so the ticks stop after the cache is built.
    expect(host.configure("")).toBe(true);
    for (const key of host.sharedData.keys()) host.sharedData.delete("", key); // no shared entry: a whole compile
    expect(host.configure(JSON.stringify(controllerTable(20, "d2")))).toBe(true);
    expect(lastConfigure(host).how).toBe("whole document");
    expect(host.tickPeriodMs).toBe(1);
    host.tick(); // the cache
    host.tick(); // the shared entry
    expect(host.tickPeriodMs).toBe(IDLE_TICK_MS);
  });

  it("whole compiles with the cache built at ticks keep memory flat", async () => {
    const N = 500;
    const host = await startCanal(controllerTable(N, "m0"));
    const UPDATES = 1_500;
    let growths = 0;
    let lastGrowthAt = 0;
    let last = 0;
    for (let i = 1; i <= UPDATES; i++) {
      // The empty table drops the cache, so each table is a whole compile; its cache is built at
      // the tick, and the change after it is incremental.
      expect(host.configure("")).toBe(true);
      // Without this, the VM's own shared entry would make it the canary's fast path (shared-entry.test.ts).
      for (const key of host.sharedData.keys()) host.sharedData.delete("", key);
      expect(host.configure(JSON.stringify(controllerTable(N, `m${i}`)))).toBe(true);
      if (i === 1) expect(lastConfigure(host).how).toBe("whole document");
      host.tick();
      expect(host.configure(JSON.stringify(controllerTable(N, `m${i}b`, { [(i * 37) % N]: `outbound|80||m${i}` })))).toBe(true);
      if (i === 1) expect(lastConfigure(host)).toEqual({ how: "incremental", reused: N - 1, compiled: 1 });
      // The heap grows by doubling, once, while it settles: where depends on the module's
      // layout (seen from ~100 to ~740 updates, then flat to 2,400). A leak grows it again. So at
      // most one growth after the first update, and none in the last 500.
      if (i > 1 && host.memoryBytes > last) {
        growths += 1;
        lastGrowthAt = i;
      }
      last = host.memoryBytes;
    }
    expect(cacheLines(host).some((l) => l.endsWith("at configure"))).toBe(false);
    expect(growths).toBeLessThanOrEqual(1);
    expect(lastGrowthAt, "the heap's last growth").toBeLessThanOrEqual(UPDATES - 500);
  }, 180_000);
});
