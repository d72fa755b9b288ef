// The canary's fast path (filter/assembly/load/shared-entry.ts, load/from-shared-entry.ts): a VM without
// a cache reads the shared entry a VM of this build wrote for the last accepted table (Proxy-Wasm
// shared data, process-wide in Envoy: here one SharedData passed to every host), compiles only the
// skeleton and the changed virtual hosts, checks the lookups with the stored keys and accepts a
// placeholder that is completed by the whole compile at the first tick, request or configure.
//
// Held to the whole compile: a seeded sequence of tables (table-sequences.ts) where each update is
// configured into a kept VM (which writes the entry at its ticks, like Envoy's thread-local VMs),
// into a FRESH VM sharing the store (Envoy's canary) and into a fresh VM with a store of its own
// (the whole compile): the same verdict and error message, and the canary, completed lazily,
// routes exactly like the whole-compiled VM. Conflicts between a changed and an unchanged virtual
// host, skeleton changes, corrupt and foreign entries, and memory are tested on their own.
import { describe, expect, it } from "vitest";
import { LogLevel, SharedData, type ProxyWasmHost } from "./host.js";
import { send, startCanal } from "./canal.js";
import { lastLoadReport } from "../support/load-report.js";
import {
  type Json, type Table, clone, controllerTable, corpus, deterministic, nextCandidate, genTable, pick, probeHosts, rejection, routing,
} from "./table-sequences.js";
import { rng } from "../unit/regex/harness.js";

function lastConfigure(host: ProxyWasmHost): { how: string; reused: number; compiled: number } {
  const { how, reused, compiled } = lastLoadReport(host.logMessages(LogLevel.debug));
  return { how, reused, compiled };
}

/** The shared entry's outcome in the last configure ("taken", "none", "invalid", "same", "declined"), or "". */
function sharedOutcome(host: ProxyWasmHost): string {
  const line = host.logMessages(LogLevel.debug).filter((l) => l.startsWith("canal: shared entry: ")).at(-1);
  return line?.slice("canal: shared entry: ".length) ?? "";
}

function debugLines(host: ProxyWasmHost, prefix: string): string[] {
  return host.logMessages(LogLevel.debug).filter((l) => l.startsWith(prefix));
}

/** Ticks until the root context has no configure work left (completion, cache, shared entry). */
function settle(host: ProxyWasmHost): void {
  for (let i = 0; i < 5 && host.tickPeriodMs === 1; i++) host.tick();
  expect(host.tickPeriodMs).not.toBe(1);
}

const ENTRY_KEY = /^canal\.accepted\.[0-9a-f]{16}$/;

/** The key of the entry (besides it, the store holds only its head). */
function entryKey(store: SharedData): string {
  const keys = store.keys().filter((k) => !k.startsWith("canal.accepted-head."));
  expect(keys).toHaveLength(1);
  expect(keys[0]).toMatch(ENTRY_KEY);
  expect(store.keys()).toHaveLength(2);
  return keys[0];
}

/** A kept VM that accepted `t` and wrote its entry into `store`. */
async function writer(store: SharedData, t: Table | string): Promise<ProxyWasmHost> {
  const host = await startCanal(t, { sharedData: store });
  settle(host);
  expect(debugLines(host, "canal: shared entry written: ")).toHaveLength(1);
  return host;
}

/** A fresh VM on `store` (Envoy's canary clone) configuring `raw`: its verdict and the host. */
async function canary(store: SharedData, raw: string): Promise<{ ok: boolean; host: ProxyWasmHost }> {
  const host = await startCanal("", { sharedData: store });
  host.clearLogs();
  return { ok: host.configure(raw), host };
}

/** A fresh VM with a store of its own: the whole compile. */
async function whole(raw: string): Promise<{ ok: boolean; host: ProxyWasmHost }> {
  const host = await startCanal("");
  host.clearLogs();
  return { ok: host.configure(raw), host };
}

describe("a fresh VM per update reading the previous table's shared entry = the whole compile", () => {
  it.each([11, 12, 13])("seed %i", async (seed) => {
    const STEPS = 120;
    const r = rng(seed);
    const bases = (): Table => {
      const y = r();
      if (y < 0.35) return deterministic(pick(r, corpus));
      return genTable(r, 5 + Math.floor(r() * (y < 0.8 ? 60 : 300)));
    };
    const store = new SharedData();
    const kept = await startCanal("", { sharedData: store });
    let cur: Table = bases();
    const stats = { accepted: 0, rejected: 0, taken: 0, declined: 0, same: 0, none: 0, reused: 0, compiled: 0 };
    for (let step = 0; step < STEPS; step++) {
      const version = `x${seed}-${step}`;
      const c = nextCandidate(r, step, cur, bases, version);
      const raw = c.raw;
      const ctx = `seed ${seed} step ${step} (${c.what})`;
      const fast = await canary(store, raw);
      const ref = await whole(raw);
      expect(fast.ok, ctx).toBe(ref.ok);
      const outcome = sharedOutcome(fast.host);
      if (raw !== "") stats[outcome as "taken" | "declined" | "same" | "none"]++;
      if (!fast.ok) {
        stats.rejected++;
        // Every rejection comes from the whole compile: the same message.
        expect(rejection(fast.host), ctx).toBe(rejection(ref.host));
        expect(outcome, ctx).not.toBe("taken");
        continue;
      }
      stats.accepted++;
      expect(fast.host.logMessages(LogLevel.info).at(-1), ctx).toBe(ref.host.logMessages(LogLevel.info).at(-1));
      if (outcome === "taken") {
        const how = lastConfigure(fast.host);
        expect(how.how, ctx).toBe("shared");
        stats.reused += how.reused;
        stats.compiled += how.compiled;
      }
      cur = raw === "" ? bases() : (JSON.parse(raw) as Table);
      const hosts = probeHosts(r, raw === "" ? null : cur);
      // The first request completes the placeholder; then it routes like the whole compile.
      expect(routing(fast.host, hosts), ctx).toEqual(routing(ref.host, hosts));
      if (outcome === "taken") expect(debugLines(fast.host, "canal: completed route table ").at(-1), ctx).toMatch(/ at request: /);
      // The kept VM (Envoy's main-thread and worker VMs) takes the table and writes the entry at its ticks.
      expect(kept.configure(raw), ctx).toBe(true);
      settle(kept);
    }
    console.info(`seed ${seed}: ${JSON.stringify(stats)}`);
    expect(stats.rejected).toBeGreaterThan(STEPS / 5);
    expect(stats.taken).toBeGreaterThan(stats.accepted / 3);
    expect(stats.declined).toBeGreaterThan(0);
    expect(stats.reused).toBeGreaterThan(stats.compiled);
  }, 600_000);
});

describe("the fast path's verdict", () => {
  const N = 60;
  const base = (): Table => controllerTable(N, "p1");

  async function entryOf(t: Table): Promise<SharedData> {
    const store = new SharedData();
    await writer(store, t);
    return store;
  }

  /** The canary's and the whole compile's verdict and message for `t`, and the canary's outcome. */
  async function judge(store: SharedData, t: Table | string): Promise<{ ok: boolean; outcome: string; message?: string }> {
    const raw = typeof t === "string" ? t : JSON.stringify(t);
    const fast = await canary(store, raw);
    const ref = await whole(raw);
    expect(fast.ok).toBe(ref.ok);
    if (!fast.ok) {
      const message = rejection(fast.host);
      expect(message).toBe(rejection(ref.host));
      return { ok: false, outcome: sharedOutcome(fast.host), message };
    }
    return { ok: true, outcome: sharedOutcome(fast.host) };
  }

  it("a one-vhost change is accepted with N-1 virtual hosts reused and 1 compiled", async () => {
    const store = await entryOf(base());
    const t = controllerTable(N, "p2", { 7: "outbound|80||seven" });
    const fast = await canary(store, JSON.stringify(t));
    expect(fast.ok).toBe(true);
    expect(sharedOutcome(fast.host)).toBe("taken");
    expect(lastConfigure(fast.host)).toEqual({ how: "shared", reused: N - 1, compiled: 1 });
    expect(fast.host.logMessages(LogLevel.info).at(-1)).toBe(`canal: loaded route table p2: ${N} virtual hosts, ${2 * N} routes`);
    // The placeholder asks for a tick; nothing was compiled whole yet.
    expect(fast.host.tickPeriodMs).toBe(1);
    expect(debugLines(fast.host, "canal: completed route table ")).toEqual([]);
  });

  it("VMs that accepted the same table write the entry once (the head names the table stored)", async () => {
    const store = new SharedData();
    const a = await writer(store, base());
    const b = await startCanal(base(), { sharedData: store });
    settle(b);
    expect(debugLines(b, "canal: shared entry written: ")).toEqual([]);
    expect(debugLines(b, "canal: shared entry already holds this table")).toHaveLength(1);
    expect(store.keys().sort()).toEqual([entryKey(store), entryKey(store).replace("accepted.", "accepted-head.")].sort());
    // A change: the first VM to tick writes it, the other finds it there.
    const t2 = JSON.stringify(controllerTable(N, "p2", { 1: "outbound|80||one" }));
    expect(a.configure(t2) && b.configure(t2)).toBe(true);
    b.clearLogs();
    settle(a);
    settle(b);
    expect(debugLines(a, "canal: shared entry written: ")).toHaveLength(2);
    expect(debugLines(b, "canal: shared entry already holds this table")).toHaveLength(1);
    const fast = await canary(store, JSON.stringify(controllerTable(N, "p3", { 1: "outbound|80||one", 2: "outbound|80||two" })));
    expect(lastConfigure(fast.host)).toEqual({ how: "shared", reused: N - 1, compiled: 1 });
  });

  it("duplicate domains between a changed and an unchanged virtual host are rejected with the whole compile's message", async () => {
    const store = await entryOf(base());
    const exact = base();
    exact.version = "p3";
    exact.virtualHosts[10].domains.push("svc-40");
    expect(await judge(store, exact)).toEqual({
      ok: false,
      outcome: "declined",
      message: 'canal: rejected route table: virtualHosts[40].domains[3]: domain "svc-40" is already used by virtualHosts[10].domains[4] (still serving table empty)',
    });
    // The other way round: the changed one comes later in the document.
    const later = base();
    later.version = "p4";
    later.virtualHosts[50].domains.push("svc-3.ns-3");
    expect((await judge(store, later)).outcome).toBe("declined");
    // Wildcards: an unchanged "*.w.example" and a changed one.
    const wildBase = base();
    wildBase.virtualHosts[5].domains.push("*.w.example");
    const wildStore = await entryOf(wildBase);
    const wild = clone(wildBase);
    wild.version = "p5";
    wild.virtualHosts[20].domains.push("*.w.example");
    expect(await judge(wildStore, wild)).toMatchObject({ ok: false, outcome: "declined" });
    // A wildcard and an exact domain with the same suffix do not conflict.
    const mixed = clone(wildBase);
    mixed.version = "p6";
    mixed.virtualHosts[20].domains.push("w.example");
    expect(await judge(wildStore, mixed)).toEqual({ ok: true, outcome: "taken" });
    // A second catch-all.
    const catchBase = base();
    catchBase.virtualHosts[0].domains.push("*");
    const catchStore = await entryOf(catchBase);
    const second = clone(catchBase);
    second.version = "p7";
    second.virtualHosts[30].domains.push("*");
    expect(await judge(catchStore, second)).toMatchObject({ ok: false, outcome: "declined" });
    // A duplicate inside the one changed virtual host.
    const inside = base();
    inside.version = "p8";
    inside.virtualHosts[12].domains.push("svc-12");
    expect(await judge(store, inside)).toMatchObject({ ok: false, outcome: "declined" });
  });

  it("ambiguousHosts against unchanged domains, and skeleton changes", async () => {
    const store = await entryOf(base());
    const amb = { ...base(), version: "a1", ambiguousHosts: [{ host: "svc-3", candidates: ["a/svc-3", "b/svc-3"] }] };
    expect(await judge(store, amb)).toEqual({
      ok: false,
      outcome: "declined",
      message: 'canal: rejected route table: ambiguousHosts: host "svc-3" is also a domain of virtualHosts[3].domains[3] (still serving table empty)',
    });
    const fine = { ...base(), version: "a2", ambiguousHosts: [{ host: "svc", candidates: ["a/svc", "b/svc"] }] };
    expect(await judge(store, fine)).toEqual({ ok: true, outcome: "taken" });
    // Only the version changed: accepted with nothing compiled.
    const version = await canary(store, JSON.stringify({ ...base(), version: "a3" }));
    expect(version.ok).toBe(true);
    expect(lastConfigure(version.host)).toEqual({ how: "shared", reused: N, compiled: 0 });
    // Skeleton errors come from the whole compile.
    expect(await judge(store, { ...base(), version: "a4", format: 2 })).toMatchObject({ ok: false, outcome: "declined" });
    expect(await judge(store, { ...base(), version: "" })).toMatchObject({ ok: false, outcome: "declined" });
    expect(await judge(store, { ...base(), version: "a5", extra: 1 } as Table)).toMatchObject({ ok: false, outcome: "declined" });
    // The same document as the entry's: compiled whole (that VM may be one Envoy keeps).
    const same = await canary(store, JSON.stringify(base()));
    expect(same.ok).toBe(true);
    expect(sharedOutcome(same.host)).toBe("same");
    expect(lastConfigure(same.host).how).toBe("whole document");
    // A broken field in a changed virtual host, invalid JSON, an empty table.
    const broken = controllerTable(N, "a6");
    broken.virtualHosts[9].routes[0].match[0].uri = { regex: "(" };
    expect(await judge(store, broken)).toMatchObject({ ok: false, outcome: "declined" });
    expect(await judge(store, JSON.stringify(controllerTable(N, "a7")).slice(0, -3))).toMatchObject({ ok: false, outcome: "declined" });
    expect(await judge(store, "")).toEqual({ ok: true, outcome: "" });
  });

  it("corrupt, truncated and foreign-build entries are ignored: the whole compile decides", async () => {
    const good = await entryOf(base());
    const key = entryKey(good);
    const value = good.get("", key)!.value;
    const t = controllerTable(N, "c1", { 4: "outbound|80||four" });
    const dupe = controllerTable(N, "c2");
    dupe.virtualHosts[4].domains.push("svc-44");
    const u32 = (v: Uint8Array, off: number, x: number): Uint8Array => {
      const c = v.slice();
      new DataView(c.buffer).setUint32(off, x, true);
      return c;
    };
    const docOffset = value.length - Number(new DataView(value.buffer, value.byteOffset).getUint32(24, true));
    const variants: Array<[string, Uint8Array]> = [
      ["bad magic", u32(value, 0, 0x12345678)],
      ["another format", u32(value, 4, 2)],
      ["wrong total size", u32(value, 8, value.length + 1)],
      ["another build's hash", u32(value, 28, 1)],
      ["truncated", value.slice(0, value.length - 10)],
      ["header only", value.slice(0, 32)],
      ["empty", new Uint8Array(0)],
      ["an element past the document", u32(value, 32, 0x7fff0000)],
      ["an element that is not an object", u32(value, 32, 1)],
      ["a key kind out of range", u32(value, 32 + 24 * N, 7)],
      ["a document byte of an element changed", (() => {
        const c = value.slice();
        c[docOffset + Number(new DataView(value.buffer, value.byteOffset).getUint32(32, true))] = 0x5b;
        return c;
      })()],
    ];
    for (const [what, bytes] of variants) {
      const store = new SharedData();
      store.set("", key, bytes);
      for (const table of [t, dupe]) {
        const raw = JSON.stringify(table);
        const fast = await canary(store, raw);
        const ref = await whole(raw);
        expect(fast.ok, what).toBe(ref.ok);
        expect(sharedOutcome(fast.host), what).toBe("invalid");
        if (fast.ok) expect(lastConfigure(fast.host).how, what).toBe("whole document");
        else expect(rejection(fast.host), what).toBe(rejection(ref.host));
      }
    }
    // A valid entry of another build (any other key) is never read.
    const foreign = new SharedData();
    foreign.set("", "canal.accepted.0123456789abcdef", value);
    const f = await canary(foreign, JSON.stringify(t));
    expect(f.ok).toBe(true);
    expect(sharedOutcome(f.host)).toBe("none");
    expect(lastConfigure(f.host).how).toBe("whole document");
    // Nor an entry under another vm_id (Envoy keeps shared data per vm_id).
    const otherVm = new SharedData();
    otherVm.set("other-vm", key, value);
    const o = await canary(otherVm, JSON.stringify(t));
    expect(sharedOutcome(o.host)).toBe("none");
  });
});

describe("completing a placeholder", () => {
  const N = 400;

  it("at the first tick: a fresh VM Envoy keeps routes like a whole-compiled one, then compiles the next update incrementally", async () => {
    const store = new SharedData();
    await writer(store, controllerTable(N, "l1"));
    const t2 = controllerTable(N, "l2", { 3: "outbound|80||three" });
    const host = await startCanal("", { sharedData: store });
    expect(host.configure(JSON.stringify(t2))).toBe(true);
    expect(lastConfigure(host).how).toBe("shared");
    expect(host.tickPeriodMs).toBe(1);
    host.clearLogs();
    host.tick();
    expect(debugLines(host, "canal: completed route table ")).toEqual([`canal: completed route table l2 at tick: ${N} virtual hosts compiled`]);
    host.tick();
    expect(debugLines(host, "canal: cache of ")).toEqual([`canal: cache of ${N} virtual hosts built at tick`]);
    host.tick();
    expect(debugLines(host, "canal: shared entry written: ")).toHaveLength(1);
    // Work done: only the counters' tick is left (filter/assembly/metrics.ts METRIC_FLUSH_MS).
    expect(host.tickPeriodMs).toBe(1000);
    const ref = await whole(JSON.stringify(t2));
    const hosts = ["svc-3", "svc-4.ns-0", "svc-399.ns-3.svc.cluster.local", "nothing.example", "svc-3.ns-3.svc"];
    expect(routing(host, hosts)).toEqual(routing(ref.host, hosts));
    expect(host.configure(JSON.stringify(controllerTable(N, "l3", { 3: "outbound|80||three", 8: "outbound|80||eight" })))).toBe(true);
    expect(lastConfigure(host)).toEqual({ how: "incremental", reused: N - 1, compiled: 1 });
    // The entry is still l2's (this VM wrote it; no tick since l3): against it, l4 differs in one virtual host.
    const l4 = JSON.stringify(controllerTable(N, "l4", { 3: "outbound|80||three", 9: "outbound|80||nine" }));
    expect(lastConfigure((await canary(store, l4)).host)).toEqual({ how: "shared", reused: N - 1, compiled: 1 });
    // After l3's ticks the entry is l3's: l4 differs from it in two.
    settle(host);
    expect(lastConfigure((await canary(store, l4)).host)).toEqual({ how: "shared", reused: N - 2, compiled: 2 });
  });

  it("at the next configure, before compiling it: the placeholder is the table a rejection keeps serving", async () => {
    const store = new SharedData();
    await writer(store, controllerTable(N, "n1"));
    const host = await startCanal("", { sharedData: store });
    expect(host.configure(JSON.stringify(controllerTable(N, "n2", { 5: "outbound|80||five" })))).toBe(true);
    expect(lastConfigure(host).how).toBe("shared");
    host.clearLogs();
    const bad = controllerTable(N, "n3");
    bad.virtualHosts[5].domains.push("svc-6");
    expect(host.configure(JSON.stringify(bad))).toBe(false);
    expect(debugLines(host, "canal: completed route table ")).toEqual([`canal: completed route table n2 at configure: ${N} virtual hosts compiled`]);
    expect(rejection(host)).toBe('canal: rejected route table: virtualHosts[6].domains[3]: domain "svc-6" is already used by virtualHosts[5].domains[4] (still serving table n2)');
    expect(send(host, "/api/x", { ":authority": "svc-5" }).cluster).toBe("outbound|80||five");
    expect(send(host, "/api/x", { ":authority": "svc-6" }).cluster).toBe("outbound|8080||svc-6.ns-2.svc.cluster.local");
    // Its cache came with it: the next table is incremental.
    expect(host.configure(JSON.stringify(controllerTable(N, "n4", { 5: "outbound|80||five", 6: "outbound|80||six" })))).toBe(true);
    expect(lastConfigure(host)).toEqual({ how: "incremental", reused: N - 1, compiled: 1 });
  });

  it("fault delays: a placeholder's table with delays completes, then holds and releases requests", async () => {
    const store = new SharedData();
    const t1 = controllerTable(20, "f1");
    await writer(store, t1);
    const t2 = clone(t1) as Table;
    t2.version = "f2";
    t2.virtualHosts[2].routes.unshift({ match: [{ uri: { prefix: "/slow" } }], route: [{ cluster: "outbound|80||slow" }], fault: { delay: { fixedDelayMs: 50, percentage: 100 } } } as Json);
    const host = await startCanal("", { sharedData: store });
    expect(host.configure(JSON.stringify(t2))).toBe(true);
    expect(lastConfigure(host).how).toBe("shared");
    const id = host.newHttpContext();
    expect(host.requestHeaders(id, [[":method", "GET"], [":scheme", "http"], [":path", "/slow"], [":authority", "svc-2"]], true)).toBe(1);
    expect(host.getRequestHeader(id, "x-canal-cluster")).toBe("outbound|80||slow");
    settle(host);
    expect(host.tickPeriodMs).toBe(5);
    host.advanceTime(60);
    host.tick();
    expect(host.getContinueCalls(id)).toEqual([0]);
  });

  it("memory stays flat: kept VMs writing entries and a VM taking the fast path and completing over and over", async () => {
    const store = new SharedData();
    const kept = await writer(store, controllerTable(300, "m0"));
    const fresh = await startCanal("", { sharedData: store });
    let keptSettled = 0;
    let freshSettled = 0;
    for (let i = 1; i <= 300; i++) {
      const t = JSON.stringify(controllerTable(300, `m${i}`, { [(i * 37) % 300]: `outbound|80||m${i}` }));
      // The empty table drops this VM's cache, so the next one goes through the shared entry.
      expect(fresh.configure("")).toBe(true);
      expect(fresh.configure(t)).toBe(true);
      if (i === 1) expect(lastConfigure(fresh).how).toBe("shared");
      if (i % 2 === 0) settle(fresh);
      else expect(send(fresh, "/api/x", { ":authority": "svc-1" }).cluster).toBeDefined();
      expect(kept.configure(t)).toBe(true);
      settle(kept);
      if (i === 150) {
        keptSettled = kept.memoryBytes;
        freshSettled = fresh.memoryBytes;
      }
    }
    expect(kept.memoryBytes).toBeLessThanOrEqual(keptSettled + 65536);
    expect(fresh.memoryBytes).toBeLessThanOrEqual(freshSettled + 65536);
  }, 300_000);
});
