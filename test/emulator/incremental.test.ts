// The incremental configure (filter/assembly/load/incremental.ts, load/cache.ts): a VM
// that has loaded a table compiles only the virtual hosts whose bytes changed. These tests hold it
// to the whole-document compile: a long seeded sequence of tables configured one after another
// into ONE VM is compared, table by table, with a FRESH VM per table (which has no cache, so it
// compiles the whole document): the same verdict, the same error message, and the same routing
// of a set of probe requests. Other tests prove the fast path is really taken, that a rejected
// table leaves the cache alone, that a hash collision cannot swap a virtual host, and that
// memory stays flat.
import { describe, expect, it } from "vitest";
import { LogLevel, type ProxyWasmHost } from "./host.js";
import { send, startCanal } from "./canal.js";
import {
  type Json, type Table, corpus, controllerTable, deterministic, nextCandidate, genTable, howCompiled, pick, probeHosts, rejection, routing,
} from "./table-sequences.js";
// mulberry32, so a failure reproduces from its seed.
import { rng } from "../unit/regex/harness.js";

// ---------------------------------------------------------------------------------------------

describe("one VM across a sequence of tables = a fresh VM per table", () => {
  const SEEDS = [1, 2, 3];
  const STEPS = 140;

  it.each(SEEDS)("seed %i", async (seed) => {
    const r = rng(seed);
    const bases = (): Table => {
      const y = r();
      if (y < 0.35) return deterministic(pick(r, corpus));
      return genTable(r, 5 + Math.floor(r() * (y < 0.8 ? 60 : 400)));
    };
    const seq = await startCanal("");
    let cur: Table = bases();
    let served = "empty";
    let servedFresh: ProxyWasmHost = await startCanal("");
    const stats = { accepted: 0, rejected: 0, incremental: 0, reused: 0, compiled: 0 };
    for (let step = 0; step < STEPS; step++) {
      const version = `s${seed}-${step}`;
      const c = nextCandidate(r, step, cur, bases, version);
      const raw = c.raw;
      const ctx = `seed ${seed} step ${step} (${c.what})`;
      seq.clearLogs();
      const seqOk = seq.configure(raw);
      const fresh = await startCanal("");
      fresh.clearLogs();
      const freshOk = fresh.configure(raw);
      expect(seqOk, ctx).toBe(freshOk);
      if (seqOk) {
        stats.accepted++;
        const how = howCompiled(seq);
        if (how.incremental) stats.incremental++;
        stats.reused += how.reused;
        stats.compiled += how.compiled;
        expect(seq.logMessages(LogLevel.info).at(-1), ctx).toBe(fresh.logMessages(LogLevel.info).at(-1));
        served = raw === "" ? "empty" : version;
        servedFresh = fresh;
        if (raw === "") cur = bases();
        else cur = JSON.parse(raw) as Table;
        const hosts = probeHosts(r, raw === "" ? null : cur);
        expect(routing(seq, hosts), ctx).toEqual(routing(fresh, hosts));
      } else {
        stats.rejected++;
        const seqError = rejection(seq);
        const freshError = rejection(fresh);
        expect(seqError, ctx).toBe(freshError.replace("(still serving table empty)", `(still serving table ${served})`));
        // The sequence VM still serves its last accepted table, exactly as that table's own VM does.
        const hosts = probeHosts(r, raw === "" ? null : cur).slice(0, 8);
        expect(routing(seq, hosts), ctx).toEqual(routing(servedFresh, hosts));
      }
    }
    console.info(`seed ${seed}: ${JSON.stringify(stats)}`);
    // The comparison means something only if both paths ran a lot.
    expect(stats.accepted).toBeGreaterThan(STEPS / 4);
    expect(stats.rejected).toBeGreaterThan(STEPS / 5);
    expect(stats.incremental).toBeGreaterThan(stats.accepted / 3);
    expect(stats.reused).toBeGreaterThan(stats.compiled);
  }, 600_000);
});

/** A controller-shaped table of n virtual hosts; `changed` virtual hosts get another cluster. */

describe("the fast path", () => {
  it("after a one-vhost change, N-1 virtual hosts are reused and 1 is compiled; a rejected table leaves the cache as it was", async () => {
    const N = 2000;
    const host = await startCanal(controllerTable(N, "v1"));
    expect(howCompiled(host)).toEqual({ incremental: false, reused: 0, compiled: N, collisions: 0 });

    expect(host.configure(JSON.stringify(controllerTable(N, "v2", { 17: "outbound|8080||new.svc" })))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: N - 1, compiled: 1, collisions: 0 });
    expect(send(host, "/api/x", { ":authority": "svc-17" }).cluster).toBe("outbound|8080||new.svc");
    expect(send(host, "/api/x", { ":authority": "svc-18.ns-2" }).cluster).toBe("outbound|8080||svc-18.ns-2.svc.cluster.local");

    // Rejected: vhost 900 broken (and 17 changed again). The cache still holds v2's elements.
    const bad = controllerTable(N, "v3", { 17: "outbound|8080||newer.svc" });
    bad.virtualHosts[900].routes[0].match[0].uri = { regex: "(" };
    host.clearLogs();
    expect(host.configure(JSON.stringify(bad))).toBe(false);
    expect(rejection(host)).toBe("canal: rejected route table: virtualHosts[900].routes[0].match[0].uri.regex: missing closing ): at offset 1 (still serving table v2)");
    expect(send(host, "/api/x", { ":authority": "svc-17" }).cluster).toBe("outbound|8080||new.svc");

    // v4 differs from v2 in vhost 5 only (from the rejected v3 in three): one compile.
    expect(host.configure(JSON.stringify(controllerTable(N, "v4", { 17: "outbound|8080||new.svc", 5: "outbound|8080||five.svc" })))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: N - 1, compiled: 1, collisions: 0 });
    expect(send(host, "/api/x", { ":authority": "svc-5.ns-1.svc.cluster.local" }).cluster).toBe("outbound|8080||five.svc");
    expect(send(host, "/api/x", { ":authority": "svc-17" }).cluster).toBe("outbound|8080||new.svc");
    expect(host.logMessages(LogLevel.info).at(-1)).toBe(`canal: loaded route table v4: ${N} virtual hosts, ${2 * N} routes`);

    // Added, removed and moved virtual hosts are found by their bytes wherever they are.
    const moved = controllerTable(N, "v5", { 17: "outbound|8080||new.svc", 5: "outbound|8080||five.svc" });
    const [first] = moved.virtualHosts.splice(0, 1);
    moved.virtualHosts.splice(1000, 1);
    moved.virtualHosts.push(first);
    moved.virtualHosts.splice(500, 0, { name: "ns/extra", domains: ["extra.test"], routes: [{ route: [{ cluster: "outbound|80||extra" }] }] });
    expect(host.configure(JSON.stringify(moved))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: N - 1, compiled: 1, collisions: 0 });
    expect(send(host, "/", { ":authority": "extra.test" }).cluster).toBe("outbound|80||extra");
    expect(send(host, "/", { ":authority": "svc-1001" }).local?.status).toBe(404);
    expect(send(host, "/", { ":authority": "svc-0" }).cluster).toBe("outbound|8080||svc-0.ns-0.svc.cluster.local");

    // The empty table drops the cache: the next table is compiled whole.
    expect(host.configure("")).toBe(true);
    expect(host.configure(JSON.stringify(controllerTable(N, "v6")))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: false, reused: 0, compiled: N, collisions: 0 });
  }, 120_000);

  it("a conflict between a new and a reused virtual host is the whole compile's error", async () => {
    const host = await startCanal(controllerTable(50, "v1"));
    const t = controllerTable(50, "v2");
    t.virtualHosts[10].domains.push("svc-40");
    host.clearLogs();
    expect(host.configure(JSON.stringify(t))).toBe(false);
    expect(rejection(host)).toBe('canal: rejected route table: virtualHosts[40].domains[3]: domain "svc-40" is already used by virtualHosts[10].domains[4] (still serving table v1)');
    const amb = { ...controllerTable(50, "v3"), ambiguousHosts: [{ host: "svc-3", candidates: ["a/svc-3", "b/svc-3"] }] };
    host.clearLogs();
    expect(host.configure(JSON.stringify(amb))).toBe(false);
    expect(rejection(host)).toBe('canal: rejected route table: ambiguousHosts: host "svc-3" is also a domain of virtualHosts[3].domains[3] (still serving table v1)');
  });

  it("repeated one-vhost changes keep memory flat (the cache holds the last table only)", async () => {
    const N = 500;
    const host = await startCanal(controllerTable(N, "m0"));
    let settled = 0;
    for (let i = 1; i <= 400; i++) {
      expect(host.configure(JSON.stringify(controllerTable(N, `m${i}`, { [(i * 37) % N]: `outbound|80||m${i}` })))).toBe(true);
      if (i % 5 === 0) expect(host.configure(`{"format":1,"version":"bad","virtualHosts":[{}]}`)).toBe(false);
      if (i === 100) settled = host.memoryBytes;
    }
    expect(howCompiled(host).incremental).toBe(true);
    expect(host.memoryBytes).toBeLessThanOrEqual(settled + 65536);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// Hash collisions

/** load/cache.ts spanHash, in JavaScript. */
function spanHash(b: Uint8Array): number {
  let h = (0x811c9dc5 ^ b.length) >>> 0;
  let i = 0;
  for (; i + 4 <= b.length; i += 4) {
    const w = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
    h = Math.imul(h ^ w, 0x01000193) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  for (; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Two virtual hosts (same length, different clusters) whose elements hash the same. */
function collidingPair(): [Json, Json] {
  const enc = new TextEncoder();
  const seen = new Map<number, string>();
  const r = rng(42);
  const vh = (suffix: string): Json => ({ name: "ns/collide", domains: ["collide.test"], routes: [{ route: [{ cluster: `outbound|80||c-${suffix}` }] }] });
  for (;;) {
    const suffix = Math.floor(r() * 2 ** 32).toString(16).padStart(8, "0");
    const h = spanHash(enc.encode(JSON.stringify(vh(suffix))));
    const other = seen.get(h);
    if (other !== undefined && other !== suffix) return [vh(other), vh(suffix)];
    seen.set(h, suffix);
  }
}

describe("hash collisions", () => {
  it("an element whose hash (and length) equals a cached one's but whose bytes differ is compiled, not swapped", async () => {
    const [a, b] = collidingPair();
    const enc = new TextEncoder();
    expect(spanHash(enc.encode(JSON.stringify(a)))).toBe(spanHash(enc.encode(JSON.stringify(b))));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(b));
    expect(JSON.stringify(a).length).toBe(JSON.stringify(b).length);
    const withVh = (version: string, x: Json): Table => {
      const t = controllerTable(40, version);
      t.virtualHosts.splice(10, 0, x);
      return t;
    };
    const host = await startCanal(withVh("h1", a));
    expect(host.configure(JSON.stringify(withVh("h2", a)))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: 41, compiled: 0, collisions: 0 });
    expect(send(host, "/", { ":authority": "collide.test" }).cluster).toBe(a.routes[0].route[0].cluster);
    // b has a's hash and length: the filter finds a's entry by hash and must reject it on the bytes.
    // (Moved to the end, so it is not the element the scan expects next and goes through the hash.)
    const t3 = controllerTable(40, "h3");
    t3.virtualHosts.push(b);
    expect(host.configure(JSON.stringify(t3))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: 40, compiled: 1, collisions: 1 });
    expect(send(host, "/", { ":authority": "collide.test" }).cluster).toBe(b.routes[0].route[0].cluster);
    // And back: a, at the end again, is found by the hash, and b (cached now) is rejected on the bytes.
    const t4 = controllerTable(40, "h4");
    t4.virtualHosts.push(a);
    expect(host.configure(JSON.stringify(t4))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: 40, compiled: 1, collisions: 1 });
    expect(send(host, "/", { ":authority": "collide.test" }).cluster).toBe(a.routes[0].route[0].cluster);
  }, 60_000);
});
