// The shard planner (ADR 0005) and the union the filter will follow: sizes against the bound,
// stable assignment, one change → one shard + the manifest, count growth by splitting, and the
// hostile cases (one virtual host larger than a shard, a table past every shard, bad inputs).
import { describe, expect, it } from "vitest";
import type { AmbiguousHost, RouteTable, VirtualHost } from "../../../schema/route-table.ts";
import type { RouteTableShard } from "../../../schema/route-table-shards.ts";
import { shardDataKey } from "../../../schema/route-table-shards.ts";
import { unionShards } from "./shards-union.ts";
import { MAX_SHARDS, planShards, SHARD_BOUND_BYTES, shardHash, TableTooLargeForShardsError, VirtualHostTooLargeError, type ShardPlan } from "./shards.ts";
import { assembleTable } from "./assemble-table.ts";

const KEY = "canal.io/istio-system/canal";

/** A VirtualService's virtual host as translate writes it: FQDN + short aliases, a header match and a split. */
function vhost(i: number, extraRoutes = 0, ns = `team-${i % 50}`): VirtualHost {
  const name = `svc-${i}`;
  const fqdn = `${name}.${ns}.svc.cluster.local`;
  const cluster = (v: string) => `outbound|8080|${v}|${fqdn}`;
  const routes: VirtualHost["routes"] = [
    { name: `${ns}/${name}.http[0]`, match: [{ headers: { "x-canary": { exact: "1" } } }], route: [{ cluster: cluster("v2") }] },
    { name: `${ns}/${name}.http[1]`, route: [{ cluster: cluster("v1"), weight: 90 }, { cluster: cluster("v2"), weight: 10 }], timeoutMs: 5000 },
  ];
  for (let r = 0; r < extraRoutes; r++) routes.push({ name: `${ns}/${name}.http[${r + 2}]`, match: [{ uri: { prefix: `/p${r}/` } }], route: [{ cluster: cluster("v1") }] });
  return { name: `${ns}/${name}`, domains: [fqdn, `${name}.${ns}.svc`, `${name}.${ns}`], routes };
}

function table(n: number, opts: { ambiguous?: AmbiguousHost[]; edit?: (vhs: VirtualHost[]) => void } = {}): RouteTable {
  const vhs = Array.from({ length: n }, (_, i) => vhost(i));
  opts.edit?.(vhs);
  return assembleTable(vhs, opts.ambiguous ?? []);
}

function bytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v), "utf8");
}

function changedShards(a: ShardPlan, b: ShardPlan): number[] {
  return b.shards.filter((s, i) => a.shards[i]?.version !== s.version).map((s) => s.index);
}

function complete(plan: ShardPlan) {
  return unionShards(plan.manifest, (i) => plan.shards[i]);
}

describe("planShards: sizes and the union", () => {
  it("an empty table is one empty shard; the manifest carries the table's version", () => {
    const t = table(0);
    const p = planShards(t, KEY);
    expect(p.shards).toHaveLength(1);
    expect(p.shards[0]?.virtualHosts).toEqual([]);
    expect(p.manifest).toEqual({ kind: "canal.io/route-table-manifest", format: 1, key: KEY, version: t.version, shards: [p.shards[0]?.version] });
    expect(p.shardBytes).toEqual([bytes(p.shards[0])]);
  });

  it("shardBytes is each document's exact JSON size (multi-byte names, quotes, ambiguous hosts)", () => {
    const ambiguous = [{ host: "svc-1", candidates: ["a/svc-1", "b/svc-1"] }, { host: "ü-host", candidates: ["x/ü", 'y/"q"'] }];
    const t = table(300, { ambiguous, edit: (vhs) => vhs.push({ name: 'ns/"ünïcode"', domains: ["ünï.example"], routes: [{ directResponse: { status: 200, body: "✓ \"ok\"\n" } }] }) });
    const p = planShards(t, KEY, { boundBytes: 40_000, targetBytes: 20_000 });
    expect(p.shards.length).toBeGreaterThan(1);
    expect(p.shardBytes).toEqual(p.shards.map(bytes));
    for (const b of p.shardBytes) expect(b).toBeLessThanOrEqual(20_000);
  });

  it("every virtual host and ambiguous host is in exactly one shard, the one its hash names; the union is the table", () => {
    const ambiguous = [{ host: "svc-1", candidates: ["a/svc-1", "b/svc-1"] }, { host: "svc-2", candidates: ["a/svc-2", "b/svc-2"] }];
    const t = table(2000, { ambiguous });
    const p = planShards(t, KEY, { boundBytes: 200_000, targetBytes: 100_000 });
    const count = p.shards.length;
    for (const s of p.shards) {
      for (const v of s.virtualHosts) expect(shardHash(v.name) % count).toBe(s.index);
      for (const a of s.ambiguousHosts ?? []) expect(shardHash(a.host) % count).toBe(s.index);
    }
    const u = complete(p);
    expect(u.complete).toBe(true);
    if (!u.complete) return;
    expect(u.version).toBe(t.version);
    expect(u.virtualHosts.map((v) => v.name).sort()).toEqual(t.virtualHosts.map((v) => v.name).sort());
    expect(new Set(u.virtualHosts.map((v) => v.name)).size).toBe(t.virtualHosts.length);
    expect(u.ambiguousHosts.map((a) => a.host).sort()).toEqual(["svc-1", "svc-2"]);
  });

  it("is deterministic: the same table plans the same shards", () => {
    expect(planShards(table(500), KEY, { boundBytes: 50_000 })).toEqual(planShards(table(500), KEY, { boundBytes: 50_000 }));
  });

  it("10,000 virtual hosts: every shard and its WasmPlugin far below etcd's 1.5 MiB, count from the size", () => {
    const t = table(10_000);
    const p = planShards(t, KEY);
    const tableBytes = bytes(t);
    const count = p.shards.length;
    console.log(`shards: 10,000 virtual hosts, table ${tableBytes} bytes -> ${count} shards, largest ${Math.max(...p.shardBytes)}, manifest ${bytes(p.manifest)}`);
    expect(count).toBeGreaterThanOrEqual(Math.ceil(tableBytes / SHARD_BOUND_BYTES));
    expect(Math.max(...p.shardBytes)).toBeLessThanOrEqual(SHARD_BOUND_BYTES);
    // A count half as large would not meet the target: the smallest count that does was chosen.
    const half = planShards(t, KEY, { maxShards: count / 2, targetBytes: SHARD_BOUND_BYTES, boundBytes: SHARD_BOUND_BYTES * 10 });
    expect(Math.max(...half.shardBytes)).toBeGreaterThan(450_000);
    expect(bytes(p.manifest)).toBeLessThan(10_000);
  });
});

describe("shardHash", () => {
  it("is pinned: changing it would move every virtual host of every gateway", () => {
    expect([shardHash("default/reviews"), shardHash("istio-system/ratings"), shardHash(""), shardHash("ü/ß")]).toEqual([940624790, 1938486214, 2872998923, 3314143428]);
  });

  // 312.5 per shard: a binomial sd of ~17.7, so ±25% is ~4.4 sd over 64 shards.
  it("spreads similar names evenly: 20,000 names over 64 shards within ±25% of the mean", () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 20_000; i++) counts[shardHash(`team-${i % 50}/svc-${i}`) % 64] += 1;
    const mean = 20_000 / 64;
    expect(Math.min(...counts)).toBeGreaterThan(mean * 0.75);
    expect(Math.max(...counts)).toBeLessThan(mean * 1.25);
  });
});

describe("planShards: one change touches one shard", () => {
  const base = table(3000);
  const first = planShards(base, KEY, { boundBytes: 200_000, targetBytes: 100_000 });
  const again = (t: RouteTable) => planShards(t, KEY, { boundBytes: 200_000, targetBytes: 100_000, previousCount: first.shards.length });

  it("editing one VirtualService's routes rewrites its shard and the manifest only", () => {
    const edited = table(3000, { edit: (vhs) => (vhs[1234] = { ...vhost(1234), routes: [{ route: [{ cluster: "outbound|80||moved.svc.cluster.local" }] }] }) });
    const p = again(edited);
    expect(p.countReason).toBe("kept");
    expect(changedShards(first, p)).toEqual([shardHash(vhost(1234).name) % first.shards.length]);
    expect(p.manifest.version).not.toBe(first.manifest.version);
  });

  it("adding and removing a VirtualService each rewrite one shard", () => {
    const added = again(table(3000, { edit: (vhs) => vhs.push(vhost(99_999)) }));
    expect(changedShards(first, added)).toEqual([shardHash(vhost(99_999).name) % first.shards.length]);
    const removed = again(table(3000, { edit: (vhs) => vhs.splice(10, 1) }));
    expect(changedShards(first, removed)).toEqual([shardHash(vhost(10).name) % first.shards.length]);
  });

  it("an unchanged table rewrites nothing", () => {
    const p = again(table(3000));
    expect(changedShards(first, p)).toEqual([]);
    expect(p.manifest).toEqual(first.manifest);
  });
});

describe("planShards: the shard count", () => {
  const opts = { boundBytes: 20_000, targetBytes: 10_000 };

  it("grows by doubling when a shard passes the bound: shard j of the new count holds only old shard j mod the old count", () => {
    const small = planShards(table(100), KEY, opts);
    let n = 100;
    let grown = small;
    while (grown.shards.length === small.shards.length && n < 5000) {
      n += 50;
      grown = planShards(table(n), KEY, { ...opts, previousCount: small.shards.length });
    }
    expect(grown.countReason).toBe("grew");
    expect(grown.shards.length).toBeGreaterThan(small.shards.length);
    const oldOf = new Map<string, number>();
    for (const s of small.shards) for (const v of s.virtualHosts) oldOf.set(v.name, s.index);
    for (const s of grown.shards) for (const v of s.virtualHosts) if (oldOf.has(v.name)) expect(oldOf.get(v.name)).toBe(s.index % small.shards.length);
    for (const b of grown.shardBytes) expect(b).toBeLessThanOrEqual(opts.targetBytes);
  });

  it("keeps the count while shards are past the target but within the bound (no flapping)", () => {
    const p = planShards(table(400), KEY, opts);
    let n = 400;
    let next = p;
    // Grow until some shard is past the target; the count stays while the bound holds.
    while (Math.max(...next.shardBytes) <= opts.targetBytes && n < 3000) {
      n += 10;
      next = planShards(table(n), KEY, { ...opts, previousCount: p.shards.length });
    }
    expect(Math.max(...next.shardBytes)).toBeGreaterThan(opts.targetBytes);
    expect(next.shards.length).toBe(p.shards.length);
    expect(next.countReason).toBe("kept");
  });

  it("shrinks when the table falls below an eighth of the capacity", () => {
    const big = planShards(table(2000), KEY, opts);
    const p = planShards(table(50), KEY, { ...opts, previousCount: big.shards.length });
    expect(p.countReason).toBe("shrank");
    expect(p.shards.length).toBeLessThan(big.shards.length);
  });

  it.each([0, -1, 3, 1.5, Number.NaN, MAX_SHARDS * 2])("ignores an invalid previous count (%s)", (prev) => {
    const p = planShards(table(200), KEY, { ...opts, previousCount: prev });
    expect(p.countReason).toBe("first");
    expect(p.shards).toEqual(planShards(table(200), KEY, opts).shards);
  });
});

describe("planShards: hostile sizes", () => {
  it("one virtual host larger than a shard's bound is refused with its VirtualService's name", () => {
    const t = table(50, { edit: (vhs) => vhs.push(vhost(7, 8000, "payments")) });
    const err = (() => {
      try {
        planShards(t, KEY);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(VirtualHostTooLargeError);
    const e = err as VirtualHostTooLargeError;
    expect(e.virtualHost).toBe("payments/svc-7");
    expect(e.message).toMatch(/^VirtualService payments\/svc-7: its routes serialize to \d+ bytes, more than one WasmPlugin shard may carry \(900000 bytes/);
    expect(e.bytes).toBeGreaterThan(SHARD_BOUND_BYTES);
  });

  it("a table past maxShards shards is refused, not cut into oversized shards", () => {
    expect(() => planShards(table(400), KEY, { boundBytes: 20_000, targetBytes: 10_000, maxShards: 4 })).toThrow(TableTooLargeForShardsError);
  });

  it("a non-power-of-two maxShards is a programming error", () => {
    expect(() => planShards(table(1), KEY, { maxShards: 3 })).toThrow(/power of two/);
  });
});

describe("unionShards: when the filter may serve", () => {
  const p = planShards(table(600), KEY, { boundBytes: 40_000, targetBytes: 20_000 });
  const byIndex = (over: Record<number, RouteTableShard | undefined>) => (i: number) => (i in over ? over[i] : p.shards[i]);

  it("a missing shard makes the table incomplete, naming it", () => {
    const u = unionShards(p.manifest, byIndex({ 2: undefined }));
    expect(u).toEqual({ complete: false, version: p.manifest.version, missing: [2], stale: [] });
  });

  it("a shard at another version, count, index or key is stale", () => {
    const s = p.shards[1] as RouteTableShard;
    const u = unionShards(
      p.manifest,
      byIndex({ 0: { ...(p.shards[0] as RouteTableShard), version: "sha256:old" }, 1: { ...s, count: s.count * 2 }, 2: { ...(p.shards[2] as RouteTableShard), key: "canal.io/other/gw" }, 3: p.shards[4] }),
    );
    expect(u).toMatchObject({ complete: false, missing: [], stale: [0, 1, 2, 3] });
  });

  it("shards beyond the manifest's count (left from a larger count) are never read", () => {
    const reads: number[] = [];
    unionShards(p.manifest, (i) => {
      reads.push(i);
      return p.shards[i];
    });
    expect(Math.max(...reads)).toBe(p.shards.length - 1);
  });

  it("shared-data keys are per table key and index", () => {
    expect(shardDataKey(KEY, 3)).toBe("canal.io/istio-system/canal/shard/3");
  });
});
