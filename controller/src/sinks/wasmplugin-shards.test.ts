// The sharded table's WasmPlugin objects and write plan (ADR 0005): where each plugin sits,
// what its pluginConfig is, sizes below etcd's limit, and how many objects a change writes.
import { describe, expect, it } from "vitest";
import type { RouteTable, VirtualHost } from "../../../schema/route-table.ts";
import { planShards, type ShardPlan } from "../translate/shards.ts";
import { assembleTable } from "../translate/assemble-table.ts";
import { MAX_SHARD_OBJECT_BYTES, planWrites, renderRouter, renderShard, ShardObjectTooLargeError, tableKey, type ShardedTarget } from "./wasmplugin-shards.ts";

const TARGET: ShardedTarget = {
  namespace: "istio-system",
  name: "canal",
  selector: { app: "canal-gateway" },
  url: "oci://registry.example/canal:0.1.0",
  dataPorts: [80, 8080],
  tablePort: 15299,
};
const KEY = tableKey(TARGET.namespace, TARGET.name);

function vhost(i: number, cluster = "v1"): VirtualHost {
  const fqdn = `svc-${i}.team-${i % 20}.svc.cluster.local`;
  return { name: `team-${i % 20}/svc-${i}`, domains: [fqdn], routes: [{ route: [{ cluster: `outbound|80|${cluster}|${fqdn}` }] }] };
}

function table(n: number, edit?: (v: VirtualHost[]) => void): RouteTable {
  const v = Array.from({ length: n }, (_, i) => vhost(i));
  edit?.(v);
  return assembleTable(v, []);
}

const OPTS = { boundBytes: 30_000, targetBytes: 15_000 };
const plan = (t: RouteTable, prev?: ShardPlan) => planShards(t, KEY, { ...OPTS, previousCount: prev?.shards.length });

describe("rendered WasmPlugins", () => {
  it("the router sits on the data ports and its pluginConfig names only the shared-data key", () => {
    const r = renderRouter(TARGET);
    expect(r.metadata.name).toBe("canal");
    expect(r.spec["match"]).toEqual([{ ports: [{ number: 80 }, { number: 8080 }] }]);
    expect(r.spec["pluginConfig"]).toEqual({ format: 1, shardedTable: { key: "canal.io/istio-system/canal" } });
    expect(r.spec["failStrategy"]).toBe("FAIL_RELOAD");
  });

  it("a shard sits on the table port only, carries its document, and is labelled with its index", () => {
    const p = plan(table(400));
    const s = renderShard(TARGET, p.shards[1] ?? p.shards[0]!);
    expect(s.metadata.name).toMatch(/^canal-shard-\d+$/);
    expect(s.spec["match"]).toEqual([{ ports: [{ number: 15299 }] }]);
    expect(s.spec["pluginConfig"]).toEqual(p.shards[1] ?? p.shards[0]);
    expect(s.metadata.labels?.["canal.io/table-shard"]).toBe(String((p.shards[1] ?? p.shards[0])?.index));
  });

  it("a shard at the planner's real bound stays below the object limit", () => {
    const big = planShards(table(20_000), KEY);
    for (const s of big.shards) expect(Buffer.byteLength(JSON.stringify(renderShard(TARGET, s)))).toBeLessThan(MAX_SHARD_OBJECT_BYTES);
  });

  it("an object over the limit is refused with its name (a planner bug, never written)", () => {
    const p = planShards(table(12_000), KEY, { boundBytes: 3_000_000, targetBytes: 3_000_000 });
    expect(() => renderShard(TARGET, p.shards[0]!)).toThrow(ShardObjectTooLargeError);
    expect(() => renderShard(TARGET, p.shards[0]!)).toThrow(/WasmPlugin istio-system\/canal-shard-0: \d+ bytes/);
  });
});

describe("planWrites: O(1) objects per change", () => {
  const first = plan(table(1000));

  it("the first write is every shard, then the manifest", () => {
    const w = planWrites(TARGET, undefined, first);
    expect(w.shards).toHaveLength(first.shards.length);
    expect(w.manifest?.metadata.name).toBe("canal-manifest");
    expect(w.deletions).toEqual([]);
  });

  it("one VirtualService edited: one shard and the manifest", () => {
    const next = plan(table(1000, (v) => (v[321] = vhost(321, "v2"))), first);
    const w = planWrites(TARGET, first, next);
    expect(w.shards.map((s) => s.metadata.name)).toHaveLength(1);
    expect(w.manifest).toBeDefined();
    expect(w.deletions).toEqual([]);
  });

  it("nothing changed: nothing written", () => {
    expect(planWrites(TARGET, first, plan(table(1000), first))).toEqual({ shards: [], deletions: [] });
  });

  it("the count halves: the remaining shards and the manifest, then the extra shards are deleted", () => {
    const small = plan(table(30), first);
    expect(small.shards.length).toBeLessThan(first.shards.length);
    const w = planWrites(TARGET, first, small);
    expect(w.shards).toHaveLength(small.shards.length);
    expect(w.manifest).toBeDefined();
    expect(w.deletions).toEqual(Array.from({ length: first.shards.length - small.shards.length }, (_, i) => `canal-shard-${small.shards.length + i}`));
  });
});
