// The filter's incremental configure in real Envoy over ECDS: Envoy reuses its VMs across
// config updates (a new root context per update, FACTS.md "ECDS"), so the main thread's and the
// workers' VMs keep the previous table's compiled virtual hosts and compile only the changed one.
// The throwaway canary clone starts empty: it reads the shared entry those VMs wrote for the
// previous table (Proxy-Wasm shared data, process-wide) and takes the fast path (docs/filter.md).
// A sequence of updates — one virtual host changed, a rejected table, another change — must
// route correctly after each step (and be ACKed / NACKed as before), and the filter's debug lines
// must show the reuse and the canary's fast path.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteTable, VirtualHost } from "../../schema/route-table.ts";
import type { EcdsServer } from "../../controller/src/sinks/ecds/index.ts";
import { loadReports } from "../support/load-report.ts";
import { pollUntil } from "../support/processes.ts";
import { table, to, vhost } from "../support/tables.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { gatewayStatus, startAdsGateway, startEcdsServer, tableJson, Upstreams, type AdsGateway } from "./harness.ts";

const SERVICES = ["alpha", "beta", "gamma"];
const N = 300;

/** N virtual hosts; host i goes to SERVICES[i % 3] unless `moved` says otherwise. */
function hosts(version: string, moved: Record<number, string> = {}): RouteTable {
  const vhs: VirtualHost[] = [];
  for (let i = 0; i < N; i++) {
    const svc = `svc-${i}`;
    vhs.push(vhost(`inc/${svc}`, [`${svc}.inc.svc.cluster.local`, `${svc}.inc`], [
      { name: `inc/${svc}.api`, match: [{ uri: { prefix: "/api/" } }], route: to(moved[i] ?? SERVICES[i % 3]), timeoutMs: 5000 },
      { name: `inc/${svc}.default`, route: to(SERVICES[i % 3]) },
    ]));
  }
  return table(version, vhs);
}


describe("incremental configure in real Envoy (ECDS, 2 workers)", () => {
  let upstreams: Upstreams;
  let server: EcdsServer;
  let gw: AdsGateway;
  let logMark = 0;

  /** The filter's configure lines since the last call. */
  function configureLines(): Array<{ how: string; reused: number; compiled: number }> {
    const log = gw.envoy.log();
    const fresh = log.slice(logMark);
    return loadReports(fresh).map(({ how, reused, compiled }) => ({ how, reused, compiled }));
  }

  async function publish(t: RouteTable): Promise<void> {
    logMark = gw.envoy.log().length;
    server.publish(tableJson(t));
    await gatewayStatus(server, "gw-inc", `acked ${t.version}`, (x) => x.lastAcked?.version === t.version, () => gw.envoy.logTail());
    await gw.waitServing(t.version);
  }

  /** Waits for the main thread's VM and both workers' VMs to have configured the update. */
  async function incrementalConfigures(): Promise<Array<{ how: string; reused: number; compiled: number }>> {
    return pollUntil(
      "three incremental configures (main thread + 2 workers)",
      () => {
        const lines = configureLines();
        return lines.filter((l) => l.how === "incremental").length >= 3 ? lines : undefined;
      },
      { timeoutMs: 20_000, onTimeout: () => JSON.stringify(configureLines()) + "\n" + gw.envoy.logTail() },
    );
  }

  /**
   * Envoy's debug log of the update shows the canary on the fast path: on the main thread, between
   * the clone's creation ("Thread-Local Wasm created") and its destruction ("~Wasm"), the filter's
   * "configure shared" line (N-1 reused, 1 compiled) and no whole compile (no placeholder is ever
   * completed: the clone is gone first, and the VMs Envoy keeps compiled incrementally). The VMs
   * Envoy keeps then write the new shared entry at a tick.
   */
  async function canaryTookFastPath(): Promise<void> {
    const log = await pollUntil(
      "the shared entry written after the update",
      () => {
        const l = gw.envoy.log().slice(logMark);
        return l.includes("canal: shared entry written: ") ? l : undefined;
      },
      { timeoutMs: 20_000, onTimeout: () => gw.envoy.logTail() },
    );
    const lines = log.split("\n");
    const thread = (l: string): string | undefined => /^\[[^\]]*\]\[(\d+)\]/.exec(l)?.[1];
    const shared = lines.findIndex((l) => {
      const r = loadReports(l)[0];
      return r !== undefined && r.how === "shared" && r.reused === N - 1 && r.compiled === 1;
    });
    expect(shared, log).toBeGreaterThan(0);
    let created = shared - 1;
    while (created >= 0 && !lines[created].includes("Thread-Local Wasm created")) created--;
    const destroyed = shared + lines.slice(shared).findIndex((l) => l.includes("~Wasm"));
    expect(created, log).toBeGreaterThanOrEqual(0);
    expect(destroyed, log).toBeGreaterThan(shared);
    const tid = thread(lines[shared]);
    expect(tid).toBeDefined();
    expect(thread(lines[created])).toBe(tid);
    expect(thread(lines[destroyed])).toBe(tid);
    const clone = lines.slice(created, destroyed + 1).filter((l) => l.includes("canal: "));
    expect(clone.filter((l) => /canal: configure /.test(l)), log).toHaveLength(1);
    expect(clone.some((l) => l.includes("canal: shared entry: taken")), log).toBe(true);
    expect(log).not.toContain("canal: completed route table");
    expect(log).not.toContain("canal: configure whole document");
  }

  beforeAll(async () => {
    const wasm = ensureCanalWasm();
    upstreams = await Upstreams.start(SERVICES);
    let port: number;
    ({ server, port } = await startEcdsServer({ code: { local: wasm } }));
    gw = await startAdsGateway({ nodeId: "gw-inc", wasmPath: wasm, adsPort: port, upstreams, componentLogLevel: "wasm:debug" });
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await server?.stop();
    await upstreams?.close();
  });

  it("first table: compiled whole in every VM", async () => {
    await publish(hosts("sha256:inc-1"));
    expect(await gw.upstreamOf("svc-7.inc", "/api/x")).toBe("beta");
    expect(await gw.upstreamOf("svc-50.inc.svc.cluster.local", "/api/x")).toBe("gamma");
    const lines = await pollUntil("configure lines", () => (configureLines().length >= 3 ? configureLines() : undefined), { timeoutMs: 20_000 });
    expect(lines.every((l) => l.how === "whole document" && l.compiled === N)).toBe(true);
    // The VMs Envoy keeps (main thread + 2 workers) build their cache at the tick they ask for
    // after the whole compile, not at the next update's configure.
    const ticks = await pollUntil(
      "the cache built at a tick in 3 VMs",
      () => {
        const n = gw.envoy.log().slice(logMark).split(`canal: cache of ${N} virtual hosts built at tick`).length - 1;
        return n >= 3 ? n : undefined;
      },
      { timeoutMs: 20_000, onTimeout: () => gw.envoy.logTail() },
    );
    expect(ticks).toBe(3);
  }, 60_000);

  it("one virtual host changed: routes per the new table; the VMs Envoy keeps compile only that one", async () => {
    await publish(hosts("sha256:inc-2", { 7: "gamma" }));
    await gw.waitRoute("svc-7.inc", "/api/x", "gamma");
    expect(await gw.upstreamOf("svc-7.inc", "/other")).toBe("beta");
    expect(await gw.upstreamOf("svc-8.inc", "/api/x")).toBe("gamma");
    expect(await gw.upstreamOf("svc-50.inc.svc.cluster.local", "/api/x")).toBe("gamma");
    const lines = await incrementalConfigures();
    console.log(`one vhost changed, Envoy's configures: ${JSON.stringify(lines)}`);
    for (const l of lines.filter((x) => x.how === "incremental")) expect(l).toEqual({ how: "incremental", reused: N - 1, compiled: 1 });
    // The canary clone (a fresh VM) took the shared entry's fast path: nothing compiles the whole table.
    expect(lines.filter((l) => l.how === "whole document")).toEqual([]);
    await canaryTookFastPath();
    // The caches were built at the first table's ticks: no configure of this update built one.
    expect(gw.envoy.log().slice(logMark)).not.toContain("virtual hosts built at configure");
  }, 60_000);

  it("a rejected table (NACK) changes nothing: the previous table keeps routing", async () => {
    const bad = hosts("sha256:inc-bad", { 7: "alpha", 100: "alpha" });
    (bad.virtualHosts[100].routes[0].match as Array<{ uri: unknown }>)[0].uri = { regex: "(" };
    logMark = gw.envoy.log().length;
    server.publish(tableJson(bad));
    const g = await gatewayStatus(server, "gw-inc", "NACK", (x) => x.lastNack?.version === bad.version, () => gw.envoy.logTail());
    expect(g.lastAcked?.version).toBe("sha256:inc-2");
    const log = gw.envoy.log().slice(logMark);
    expect(log).toContain("canal: rejected route table: virtualHosts[100].routes[0].match[0].uri.regex: missing closing ): at offset 1");
    // The canary tried the shared entry, which left the verdict (and its message) to the whole compile.
    expect(log).toContain("canal: shared entry: declined");
    expect(log).not.toContain("canal: configure shared:");
    expect(await gw.servingVersion()).toBe("sha256:inc-2");
    expect(await gw.upstreamOf("svc-7.inc", "/api/x")).toBe("gamma");
    expect(await gw.upstreamOf("svc-100.inc", "/api/x")).toBe("beta");
  }, 60_000);

  it("a domain of an unchanged virtual host added to a changed one (NACK): the canary's key check declines, the whole compile rejects", async () => {
    const bad = hosts("sha256:inc-dup", { 7: "gamma" });
    bad.virtualHosts[10].domains.push("svc-40.inc");
    logMark = gw.envoy.log().length;
    server.publish(tableJson(bad));
    const g = await gatewayStatus(server, "gw-inc", "NACK", (x) => x.lastNack?.version === bad.version, () => gw.envoy.logTail());
    expect(g.lastAcked?.version).toBe("sha256:inc-2");
    const log = gw.envoy.log().slice(logMark);
    expect(log).toContain('canal: rejected route table: virtualHosts[40].domains[1]: domain "svc-40.inc" is already used by virtualHosts[10].domains[2]');
    expect(log).toContain("canal: shared entry: declined");
    expect(log).not.toContain("canal: configure shared:");
    expect(await gw.upstreamOf("svc-40.inc", "/api/x")).toBe("beta");
    expect(await gw.upstreamOf("svc-10.inc", "/api/x")).toBe("beta");
  }, 60_000);

  it("another change after the rejection: compiled on top of the last accepted table, routes correctly", async () => {
    await publish(hosts("sha256:inc-3", { 7: "gamma", 50: "alpha" }));
    await gw.waitRoute("svc-50.inc.svc.cluster.local", "/api/x", "alpha");
    expect(await gw.upstreamOf("svc-7.inc", "/api/x")).toBe("gamma");
    expect(await gw.upstreamOf("svc-100.inc", "/api/x")).toBe("beta");
    expect(await gw.upstreamOf("svc-50.inc", "/other")).toBe("gamma");
    expect(await gw.upstreamOf("nothing.inc", "/")).toBe("404");
    const lines = await incrementalConfigures();
    for (const l of lines.filter((x) => x.how === "incremental")) expect(l).toEqual({ how: "incremental", reused: N - 1, compiled: 1 });
    expect(lines.filter((l) => l.how === "whole document")).toEqual([]);
    // The entry is still inc-2's (the rejected table never reached the kept VMs): inc-3 differs from it in one virtual host.
    await canaryTookFastPath();
    expect(await gw.ecdsStats()).toMatchObject({ success: 3, rejected: 2 });
  }, 60_000);
});
