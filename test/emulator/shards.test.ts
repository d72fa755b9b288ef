// Sharded WasmPlugin mode (ADR 0005) in the emulator: carriers copy shard and manifest documents
// into shared data (never refusing one), and the router serves the union of the shards only when
// the manifest's every shard is there at exactly its version (controller/src/translate/
// shards-union.ts's rule); otherwise it keeps its complete table, or answers 503 naming what is
// missing. Each carrier and the router are separate VMs sharing one SharedData store, as plugins
// with different istiod resourceVersions are in Envoy (test/envoy/wasm-vm-key.test.ts).
import { describe, expect, it } from "vitest";
import { unionShards } from "../../controller/src/translate/shards-union.ts";
import type { RouteTableManifest, RouteTableShard } from "../../schema/route-table-shards.ts";
import { LogLevel } from "./host.js";
import {
  KEY, SharedData, carry, carryPlan, loads, logsAt, manifestDataKey, plan, probe, routeOf, router, services, shardDataKey, tableOf, tick,
} from "./shards-harness.ts";
import { rng } from "../unit/regex/harness.js";

const TEN = tableOf("sha256:table-ten", services(10));

describe("carrier mode", () => {
  it("copies each shard and the manifest into shared data under the key they name, byte for byte", async () => {
    const store = new SharedData();
    const p = plan(TEN, 4);
    await carryPlan(store, p);
    const dec = new TextDecoder();
    for (const s of p.shards) expect(dec.decode(store.get("", shardDataKey(KEY, s.index))?.value)).toBe(JSON.stringify(s));
    expect(dec.decode(store.get("", manifestDataKey(KEY))?.value)).toBe(JSON.stringify(p.manifest));
    expect(store.keys().sort()).toEqual([manifestDataKey(KEY), ...p.shards.map((s) => shardDataKey(KEY, s.index))].sort());
  });

  it("accepts members in any order and does nothing per request (404, probe 503)", async () => {
    const store = new SharedData();
    const s = plan(TEN, 2).shards[1] as RouteTableShard;
    const reordered = JSON.stringify({ virtualHosts: s.virtualHosts, version: s.version, count: s.count, index: s.index, key: s.key, format: 1, kind: s.kind });
    const c = await carry(store, reordered);
    expect(new TextDecoder().decode(store.get("", shardDataKey(KEY, 1))?.value)).toBe(reordered);
    expect(routeOf(c, "svc-1.ns")).toMatch(/^404 canal: no route/);
    expect(probe(c).status).toBe(503);
  });
});

describe("router mode", () => {
  it("without a manifest answers 503 to requests and to the probe, naming the manifest", async () => {
    const r = await router(new SharedData());
    expect(routeOf(r, "svc-1.ns")).toBe(`503 canal: table incomplete (manifest missing: ${KEY}/manifest)`);
    const pr = probe(r);
    expect(pr.status).toBe(503);
    expect(pr.body).toContain("table incomplete");
    expect(r.tickPeriodMs).toBe(100);
  });

  it("serves the union of complete shards: every host routes, the probe reports the manifest version", async () => {
    const store = new SharedData();
    const p = plan(TEN, 4);
    await carryPlan(store, p);
    const r = await router(store);
    for (let i = 0; i < 10; i++) {
      expect(routeOf(r, `svc-${i}.ns`)).toBe(`outbound|80||svc-${i}-v1.test.svc.cluster.local`);
      expect(routeOf(r, `svc-${i}.ns.svc.cluster.local`, "/")).toBe(`outbound|80||svc-${i}.test.svc.cluster.local`);
    }
    expect(routeOf(r, "nobody.example")).toBe('404 canal: no route for host "nobody.example" path "/api/x"');
    expect(probe(r)).toMatchObject({ status: 200, version: TEN.version });
    expect(loads(r)).toEqual([[TEN.version, 4, 4]]);
  });

  it("waits for a missing shard (503 naming it), then serves it after a tick", async () => {
    const store = new SharedData();
    const p = plan(TEN, 4);
    await carryPlan(store, p, [0, 1, 3]);
    const r = await router(store);
    expect(routeOf(r, "svc-0.ns")).toBe(`503 canal: table incomplete (shards missing: 2; manifest ${TEN.version} of 4 shards)`);
    expect(probe(r).status).toBe(503);
    tick(r);
    expect(probe(r).status).toBe(503);
    (await carry(store, p.shards[2] as RouteTableShard)).shutdown();
    tick(r);
    expect(probe(r)).toMatchObject({ status: 200, version: TEN.version });
    expect(routeOf(r, "svc-0.ns")).toMatch(/^outbound/);
    // The three it had were not compiled again.
    expect(loads(r)).toEqual([[TEN.version, 4, 1]]);
  });

  it("keeps its complete table while a new manifest names a stale shard, and a one-shard change compiles one shard", async () => {
    const store = new SharedData();
    const p1 = plan(TEN, 4);
    await carryPlan(store, p1);
    const r = await router(store);
    // svc-3 changes: its shard gets a new version; the manifest is written before the shard arrives.
    const changed = tableOf("sha256:table-ten-2", TEN.virtualHosts.map((v) => (v.name === "ns/svc-3" ? services(10, "v2")[3]! : v)));
    const p2 = plan(changed, 4);
    const moved = p2.shards.filter((s, i) => s.version !== p1.shards[i]?.version);
    expect(moved).toHaveLength(1);
    const idx = moved[0]!.index;
    (await carry(store, p2.manifest)).shutdown();
    tick(r);
    expect(probe(r)).toMatchObject({ status: 200, version: TEN.version });
    expect(routeOf(r, "svc-3.ns")).toBe("outbound|80||svc-3-v1.test.svc.cluster.local");
    expect(logsAt(r, LogLevel.warn, "canal: table incomplete")).toEqual([
      `canal: table incomplete (shards stale: ${idx}; manifest ${changed.version} of 4 shards) (still serving table ${TEN.version})`,
    ]);
    (await carry(store, moved[0]!)).shutdown();
    tick(r);
    expect(probe(r)).toMatchObject({ status: 200, version: changed.version });
    expect(routeOf(r, "svc-3.ns")).toBe("outbound|80||svc-3-v2.test.svc.cluster.local");
    expect(loads(r)).toEqual([[TEN.version, 4, 4], [changed.version, 4, 1]]);
  });

  it("a shard whose routes do not compile is invalid (named with the table's message) and is not compiled again", async () => {
    const store = new SharedData();
    const p = plan(TEN, 2);
    const bad = structuredClone(p.shards[1]!) as RouteTableShard;
    (bad.virtualHosts[0]!.routes[0]!.match![0]!.uri as { prefix?: string; regex?: string }) = { regex: "(" };
    await carryPlan(store, { ...p, shards: [p.shards[0]!, bad] });
    const r = await router(store);
    const body = routeOf(r, "svc-0.ns");
    expect(body).toMatch(/^503 canal: table incomplete \(shards invalid: 1 \(virtualHosts\[0\]\.routes\[0\]\.match\[0\]\.uri\.regex: .+\); manifest /);
    tick(r);
    tick(r);
    expect(routeOf(r, "svc-0.ns")).toBe(body);
  });

  it("a carrier's invalid marker is reported by the router with its reason", async () => {
    const store = new SharedData();
    const p = plan(TEN, 2);
    await carryPlan(store, p);
    const truncated = JSON.stringify(p.shards[0]).slice(0, 300);
    const c = await carry(store, truncated);
    expect(logsAt(c, LogLevel.error, "canal: carrier: invalid shard 0, stored as invalid under")).toHaveLength(1);
    const r = await router(store);
    expect(routeOf(r, "svc-0.ns")).toMatch(/^503 canal: table incomplete \(shards invalid: 0 \(truncated or invalid JSON: the value at offset \d+ never ends\); manifest /);
  });

  it("refuses a union where two shards claim one domain, keeping the table it serves", async () => {
    const store = new SharedData();
    const p1 = plan(TEN, 2);
    await carryPlan(store, p1);
    const r = await router(store);
    // A foreign shard 1 at the version a forged manifest names, claiming a domain of shard 0.
    const victim = p1.shards[0]!.virtualHosts[0]!;
    const forged: RouteTableShard = { ...p1.shards[1]!, version: "sha256:forged", virtualHosts: [...p1.shards[1]!.virtualHosts, { ...victim, name: "evil/x" }] };
    const manifest: RouteTableManifest = { ...p1.manifest, version: "sha256:forged-table", shards: [p1.shards[0]!.version, "sha256:forged"] };
    (await carry(store, forged)).shutdown();
    (await carry(store, manifest)).shutdown();
    tick(r);
    expect(probe(r)).toMatchObject({ status: 200, version: TEN.version });
    const refused = logsAt(r, LogLevel.error, "canal: refused route table sha256:forged-table");
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain(`domain "${victim.domains[0]}" of virtual host "evil/x" (shard 1) is already used by virtual host "${victim.name}" of shard 0`);
    tick(r);
    expect(logsAt(r, LogLevel.error, "canal: refused")).toHaveLength(1);
    // With no table yet, the refusal is the 503.
    const fresh = await router(store);
    expect(routeOf(fresh, "svc-0.ns")).toMatch(/^503 canal: table incomplete \(refused: domain /);
  });

  it("after K shrinks, left-over shards past the count are ignored", async () => {
    const store = new SharedData();
    await carryPlan(store, plan(TEN, 4));
    const r = await router(store);
    const smaller = tableOf("sha256:table-six", services(6));
    const p2 = plan(smaller, 2);
    await carryPlan(store, p2);
    expect(store.keys()).toContain(shardDataKey(KEY, 3));
    tick(r);
    expect(probe(r)).toMatchObject({ status: 200, version: smaller.version });
    expect(routeOf(r, "svc-7.ns")).toMatch(/^404/);
    expect(routeOf(r, "svc-5.ns")).toMatch(/^outbound/);
    const fresh = await router(store);
    expect(probe(fresh)).toMatchObject({ status: 200, version: smaller.version });
  });

  it("ignores a manifest or shards of another key", async () => {
    const store = new SharedData();
    const other = "canal.io/other/gw";
    await carryPlan(store, plan(TEN, 2, other));
    const r = await router(store);
    expect(routeOf(r, "svc-0.ns")).toMatch(/^503 canal: table incomplete \(manifest missing/);
    // A manifest stored under our key that names another key, and shards of the other key under ours.
    store.set("", manifestDataKey(KEY), store.get("", manifestDataKey(other))!.value);
    tick(r);
    expect(routeOf(r, "svc-0.ns")).toBe(`503 canal: table incomplete (manifest invalid: its key "${other}" is not "${KEY}")`);
    const p = plan(TEN, 2);
    store.set("", manifestDataKey(KEY), new TextEncoder().encode(JSON.stringify(p.manifest)));
    store.set("", shardDataKey(KEY, 0), store.get("", shardDataKey(other, 0))!.value);
    (await carry(store, p.shards[1]!)).shutdown();
    tick(r);
    expect(routeOf(r, "svc-0.ns")).toMatch(/^503 canal: table incomplete \(shards stale: 0;/);
  });

  it("refuses a router configuration with a bad key (NACK), accepts a good one", async () => {
    await expect(router(new SharedData(), "bad key")).rejects.toThrow(/rejected sharded router configuration: key must be/);
    await expect(router(new SharedData(), "x".repeat(401))).rejects.toThrow(/key must be 1-400/);
  });
});

describe("the router's memory", () => {
  it("stays flat over 300 one-shard updates, with incomplete manifests between", async () => {
    const store = new SharedData();
    const N = 300;
    const base = services(N);
    let p = plan(tableOf("m0", base), 8);
    await carryPlan(store, p);
    const r = await router(store);
    const enc = new TextEncoder();
    let settled = 0;
    for (let i = 1; i <= 300; i++) {
      const vhosts = base.slice();
      vhosts[(i * 37) % N] = services(N, `m${i}`)[(i * 37) % N]!;
      const next = plan(tableOf(`m${i}`, vhosts), 8);
      for (const s of next.shards) if (s.version !== p.shards[s.index]!.version) store.set("", shardDataKey(KEY, s.index), enc.encode(JSON.stringify(s)));
      if (i % 10 === 0) {
        // A manifest naming a shard version nobody wrote: incomplete for a tick.
        store.set("", manifestDataKey(KEY), enc.encode(JSON.stringify({ ...next.manifest, shards: next.manifest.shards.map((v, j) => (j === 3 ? "sha256:nowhere" : v)) })));
        tick(r);
      }
      store.set("", manifestDataKey(KEY), enc.encode(JSON.stringify(next.manifest)));
      tick(r);
      expect(probe(r).version).toBe(`m${i}`);
      p = next;
      if (i === 100) settled = r.memoryBytes;
    }
    expect(loads(r).at(-1)).toEqual(["m300", 8, 1]);
    expect(r.memoryBytes).toBeLessThanOrEqual(settled + 65536);
  }, 120_000);
});

describe("the router follows shards-union.ts's rule", () => {
  it("serves exactly when unionShards says complete, over random missing and stale shards", async () => {
    const random = rng(14);
    const t = tableOf("sha256:table-rule", services(24));
    const p = plan(t, 8);
    const older = plan(tableOf("sha256:table-old", services(24, "old")), 8);
    for (let round = 0; round < 40; round++) {
      const store = new SharedData();
      const found = new Map<number, RouteTableShard>();
      for (const s of p.shards) {
        const r = random();
        if (r < 0.1) continue;
        const doc = r < 0.2 ? older.shards[s.index]! : s;
        found.set(s.index, doc);
        (await carry(store, doc)).shutdown();
      }
      (await carry(store, p.manifest)).shutdown();
      const expected = unionShards(p.manifest, (i) => found.get(i));
      const r = await router(store);
      const pr = probe(r);
      if (expected.complete) {
        expect(pr.status, `round ${round}`).toBe(200);
        expect(pr.version).toBe(t.version);
      } else {
        expect(pr.status, `round ${round}`).toBe(503);
        const parts: string[] = [];
        if (expected.missing.length) parts.push(`missing: ${expected.missing.join(", ")}`);
        if (expected.stale.length) parts.push(`stale: ${expected.stale.join(", ")}`);
        expect(pr.body).toBe(`canal: table incomplete (shards ${parts.join("; ")}; manifest ${t.version} of 8 shards)\n`);
      }
    }
  });
});

describe("hostile carrier documents never trap and never NACK", () => {
  const shard = (over: Record<string, unknown>): string => JSON.stringify({ kind: "canal.io/route-table-shard", format: 1, key: KEY, index: 0, count: 2, version: "v", virtualHosts: [], ...over });
  const cases: [string, string, RegExp, string | null][] = [
    ["a huge index", shard({ index: 99999999999999 }), /index must be an integer 0-255/, null],
    ["an index past the count", shard({ index: 5 }), /index 5 is not below count 2/, shardDataKey(KEY, 5)],
    ["a negative index", shard({ index: -1 }), /index must be/, null],
    ["a fractional count", shard({ count: 1.5 }), /count must be/, shardDataKey(KEY, 0)],
    ["a count past 256", shard({ count: 257 }), /count must be an integer 1-256/, shardDataKey(KEY, 0)],
    ["a wrong kind", shard({ kind: "canal.io/route-table-shart" }), /kind must be/, null],
    ["a kind that is not a string", shard({ kind: 7 }), /kind must be/, null],
    ["a key too long", shard({ key: "k".repeat(401) }), /key must be 1-400/, null],
    ["a key with a space", shard({ key: "canal.io/a b" }), /key must be/, null],
    ["an escaped version", shard({ version: "v\\u0041" }), /version must be/, shardDataKey(KEY, 0)],
    ["format 2", shard({ format: 2 }), /unsupported format/, shardDataKey(KEY, 0)],
    ["an unknown member", shard({ extra: true }), /unknown member "extra"/, shardDataKey(KEY, 0)],
    ["virtualHosts not an array", shard({ virtualHosts: {} }), /virtualHosts must be an array/, shardDataKey(KEY, 0)],
    ["truncated JSON", shard({}).slice(0, -10), /truncated/, shardDataKey(KEY, 0)],
    ["a repeated member", shard({}).replace('"index":0', '"index":0,"index":1'), /appears twice/, shardDataKey(KEY, 0)],
    ["bytes after the document", `${shard({})} x`, /bytes after the document/, shardDataKey(KEY, 0)],
    ["unbalanced brackets", shard({}).replace('"virtualHosts":[]', '"virtualHosts":[[[[') , /truncated|invalid JSON/, shardDataKey(KEY, 0)],
    ["a manifest with 257 shards", JSON.stringify({ kind: "canal.io/route-table-manifest", format: 1, key: KEY, version: "v", shards: Array(257).fill("v") }), /more than 256 shards/, manifestDataKey(KEY)],
    ["a manifest with no shards", JSON.stringify({ kind: "canal.io/route-table-manifest", format: 1, key: KEY, version: "v", shards: [] }), /non-empty/, manifestDataKey(KEY)],
    ["a manifest with a number as a version", JSON.stringify({ kind: "canal.io/route-table-manifest", format: 1, key: KEY, version: "v", shards: ["a", 7] }), /shards\[1\] must be/, manifestDataKey(KEY)],
    ["a shard of 2 MB", shard({ virtualHosts: [{ name: "x".repeat(2_000_000) }] }), /larger than 1572864/, shardDataKey(KEY, 0)],
  ];
  for (const [name, doc, reason, key] of cases) {
    it(name, async () => {
      const store = new SharedData();
      const c = await carry(store, doc);
      const errors = c.logMessages(LogLevel.error);
      expect(errors.join("\n")).toMatch(reason);
      if (key === null) expect(store.keys()).toEqual([]);
      else {
        expect(store.keys()).toEqual([key]);
        expect(new TextDecoder().decode(store.get("", key)!.value)).toMatch(/^canal-invalid: /);
      }
      expect(routeOf(c, "svc-0.ns")).toMatch(/^404/);
    });
  }

  it("a router reading garbage under its keys never traps", async () => {
    const store = new SharedData();
    const r = await router(store);
    const enc = new TextEncoder();
    const garbage = ["", "{", "[]", "canal-invalid: ", "\u0000\u0001", '{"kind":"canal.io/route-table-manifest"}', "x".repeat(70_000)];
    for (const g of garbage) {
      store.set("", manifestDataKey(KEY), enc.encode(g));
      tick(r);
      expect(probe(r).status).toBe(503);
    }
    const p = plan(TEN, 2);
    store.set("", manifestDataKey(KEY), enc.encode(JSON.stringify(p.manifest)));
    for (const g of garbage) {
      store.set("", shardDataKey(KEY, 0), enc.encode(g));
      tick(r);
      expect(probe(r).status).toBe(503);
    }
  });
});
