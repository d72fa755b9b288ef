// The sharded WasmPlugin sink (ADR 0005) against a REAL kube-apiserver + etcd (etcd's real request
// limit): a table too big for one object is delivered as a router, a manifest and K shards; one
// VirtualService change writes exactly its shard and the manifest (counted on a watch); K grows
// and shrinks with leftovers deleted; a restarted controller rebuilds what it applied from the
// objects and rewrites nothing unchanged; switching back to one object removes the shards. Small
// bounds (options) keep most of it fast; one case exceeds etcd's ~1.5 MiB for real.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteTableManifest, RouteTableShard } from "../../schema/route-table-shards.ts";
import type { RouteTable } from "../../schema/route-table.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import type { WasmPluginOptions } from "../../controller/src/sinks/wasmplugin-sink.ts";
import { MAX_PLUGIN_CONFIG_BYTES } from "../../controller/src/sinks/wasmplugin.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { pollUntil } from "../support/processes.ts";
import { startKubeApi, type KubeApi, type KubeObject, type KubeWatch } from "../support/k8s.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");
const NS = "istio-system";
const PLUGINS = `/apis/extensions.istio.io/v1alpha1/namespaces/${NS}/wasmplugins`;
const IG = `/apis/canal.io/v1alpha1/namespaces/${NS}/internalgateways/canal`;
const VS_PATH = `/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices`;
const TABLE_PORT = 15099;
/** Small bounds: one object up to 20 kB (one again below 10 kB), shards of at most 8 kB. */
const SMALL: Omit<WasmPluginOptions, "url"> = { shards: "auto", tablePort: TABLE_PORT, singleMaxBytes: 20_000, shardBoundBytes: 8_000, shardTargetBytes: 4_000 };

type Plugin = KubeObject & { spec: { pluginConfig: Record<string, unknown>; match?: Array<{ ports: Array<{ number: number }> }> } };
type IgStatus = KubeObject & { status?: { tableVersion?: string; conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };

let api: KubeApi;
let controller: Controller | undefined;
const logs: string[] = [];

async function startController(identity: string, plugin: Omit<WasmPluginOptions, "url">): Promise<void> {
  await controller?.stop();
  const kc = api.kubeConfig();
  controller = new Controller({
    kc, kinds: await resolveKinds(kc), log: jsonLogger("debug", { identity }, (l) => logs.push(l)), identity,
    leaseNamespace: NS, leaseDurationSeconds: 2, wasmPlugin: { url: "oci://registry.example/canal:1", ...plugin }, validateRegex: loadRegexValidator(),
  });
  await controller.start();
}

function vs(i: number, cluster = "helloworld.default.svc.cluster.local"): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: `svc-${i}`, namespace: NS },
    spec: { hosts: [`svc-${i}.bulk.example.com`], gateways: ["canal"], http: [{ match: [{ uri: { prefix: `/p${i}` } }], route: [{ destination: { host: cluster } }] }] },
  } as KubeObject;
}

async function setServices(n: number, from = 0): Promise<void> {
  const have = (await api.list(VS_PATH)).items.map((o) => o.metadata.name ?? "").filter((name) => name.startsWith("svc-"));
  const want = new Set(Array.from({ length: n }, (_, i) => `svc-${from + i}`));
  const extra = have.filter((name) => !want.has(name));
  const missing = [...want].filter((name) => !have.includes(name)).map((name) => vs(Number(name.slice(4))));
  // Batches of parallel requests: hundreds of sequential round trips would dominate the test.
  for (let i = 0; i < extra.length; i += 50) await Promise.all(extra.slice(i, i + 50).map((name) => api.delete(`${VS_PATH}/${name}`)));
  for (let i = 0; i < missing.length; i += 50) await Promise.all(missing.slice(i, i + 50).map((o) => api.apply([o])));
  // The controller sees the writes a little later: until it has, table() is the old table and
  // shardedTable() would accept the objects of that old table as settled.
  await pollUntil(`${n} services translated`, () => (table().virtualHosts.filter((v) => v.name.startsWith(`${NS}/svc-`)).length === n ? true : undefined), { timeoutMs: 60_000 });
}

/** Waits until the controller translated a table other than `version` (a change the test just applied). */
async function translatedPast(version: string): Promise<void> {
  await pollUntil("the change translated", () => (table().version !== version ? true : undefined), { timeoutMs: 30_000 });
}

async function plugins(): Promise<Map<string, Plugin>> {
  const list = await api.list<Plugin>(PLUGINS);
  return new Map(list.items.map((p) => [p.metadata.name ?? "", p]));
}

/** The InternalGateway status once Programmed names `version` (or any version with `predicate`). */
async function programmed(what: string, predicate: (s: IgStatus) => boolean, timeoutMs = 60_000): Promise<IgStatus> {
  return pollUntil(what, async () => {
    const o = await api.get<IgStatus>(IG);
    const p = o.status?.conditions?.find((c) => c.type === "Programmed");
    return p?.status === "True" && predicate(o) ? o : undefined;
  }, { timeoutMs, intervalMs: 100, onTimeout: () => logs.slice(-8).join("\n") });
}

/** The table the controller computed now (what status must name). */
function table(): RouteTable {
  const g = controller?.result?.gateways.find((x) => x.ref.name === "canal");
  if (g === undefined) throw new Error("no translation yet");
  return g.table;
}

/** Waits until the sharded objects carry the controller's current table; returns them. */
async function shardedTable(what: string): Promise<{ manifest: RouteTableManifest; shards: RouteTableShard[]; all: Map<string, Plugin> }> {
  return pollUntil(what, async () => {
    const all = await plugins();
    const manifest = all.get("canal-canal-manifest")?.spec.pluginConfig as RouteTableManifest | undefined;
    if (manifest === undefined || manifest.version !== table().version) return undefined;
    const shards = manifest.shards.map((_, i) => all.get(`canal-canal-shard-${i}`)?.spec.pluginConfig as RouteTableShard | undefined);
    if (shards.some((s, i) => s?.version !== manifest.shards[i])) return undefined;
    // Leftovers past K are deleted last: done when none is left.
    if ([...all.keys()].some((n) => /^canal-canal-shard-\d+$/.test(n) && Number(n.slice("canal-canal-shard-".length)) >= manifest.shards.length)) return undefined;
    return { manifest, shards: shards as RouteTableShard[], all };
  }, { timeoutMs: 60_000, intervalMs: 100, onTimeout: () => logs.slice(-8).join("\n") });
}

/**
 * Counts the WasmPlugin writes seen on `watch` up to a fence: a WasmPlugin the test writes after
 * the controller is done. Watch events come in resourceVersion order, so every write before the
 * fence has been seen when the fence's event arrives.
 */
async function writesUntilFence(watch: KubeWatch<Plugin>, fence: string): Promise<string[]> {
  await api.apply([{ apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: fence, namespace: NS }, spec: { url: "oci://fence.example/x:1" } } as KubeObject]);
  const seen: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const e = await watch.next(20_000);
    if (e.object.metadata.name === fence) break;
    seen.push(`${e.type} ${e.object.metadata.name}`);
  }
  await api.delete(`${PLUGINS}/${fence}`);
  return seen;
}

/**
 * Server-side applies of WasmPlugins the API server has answered (its apiserver_request_total):
 * unlike watch events this counts an apply that changed nothing too, which a rewrite of an
 * unchanged shard would be.
 */
async function pluginApplies(): Promise<number> {
  const text = (await api.request("GET", "/metrics")).text;
  let n = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("apiserver_request_total{") && line.includes('resource="wasmplugins"') && line.includes('verb="APPLY"')) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

async function watchPlugins(): Promise<KubeWatch<Plugin>> {
  const rv = (await api.list(PLUGINS)).metadata?.resourceVersion;
  return api.watch<Plugin>(PLUGINS, rv === undefined ? {} : { resourceVersion: rv });
}

function expectUnion(shards: RouteTableShard[], t: RouteTable): void {
  const names = shards.flatMap((s) => s.virtualHosts.map((v) => v.name)).sort();
  expect(names).toEqual(t.virtualHosts.map((v) => v.name).sort());
}

beforeAll(async () => {
  api = await startKubeApi({ name: "wasmplugin-shards-sink" });
  await api.prepareForCanal();
  await api.applyYaml(SEED);
  // The gateway chart's servers: the data port and the loopback table server (ADR 0005), which the translator ignores.
  await api.apply([{
    apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "canal", namespace: NS },
    spec: { selector: { app: "canal-gateway" }, servers: [
      { port: { number: 5000, name: "http", protocol: "HTTP" }, hosts: ["*"] },
      { port: { number: TABLE_PORT, name: "canal-table", protocol: "HTTP" }, bind: "127.0.0.1", hosts: ["canal-table.invalid"] },
    ] },
  } as KubeObject]);
  await startController("first", SMALL);
}, 180_000);

afterAll(async () => {
  await controller?.stop();
  await api?.stop();
});

describe("sharded WasmPlugin delivery (small bounds)", () => {
  it("a small table is one WasmPlugin; past the bound it becomes a router, a manifest and K shards", async () => {
    await programmed("one object", (s) => s.status?.tableVersion === table().version);
    expect([...(await plugins()).keys()]).toEqual(["canal-canal"]);
    await setServices(200);
    const { manifest, shards, all } = await shardedTable("200 services sharded");
    expect(shards.length).toBeGreaterThan(1);
    expect(all.size).toBe(shards.length + 2);
    expectUnion(shards, table());
    for (const s of shards) expect(Buffer.byteLength(JSON.stringify(s))).toBeLessThanOrEqual(8_000);
    const router = all.get("canal-canal")!;
    expect(router.spec.pluginConfig).toEqual({ format: 1, shardedTable: { key: "canal.io/istio-system/canal-canal" } });
    expect(router.spec.match).toEqual([{ ports: [{ number: 5000 }] }]);
    expect(all.get("canal-canal-shard-0")!.spec.match).toEqual([{ ports: [{ number: TABLE_PORT }] }]);
    const ig = await programmed("status names the sharded table", (s) => s.status?.tableVersion === manifest.version);
    expect(ig.status?.conditions?.find((c) => c.type === "Programmed")?.message).toContain(`${shards.length} shards`);
  }, 120_000);

  it("one VirtualService change writes exactly its shard and the manifest", async () => {
    const before = await shardedTable("settled");
    const watch = await watchPlugins();
    const applies0 = await pluginApplies();
    try {
      await api.apply([vs(7, "other.default.svc.cluster.local")]);
      await translatedPast(before.manifest.version);
      const after = await shardedTable("the change delivered");
      expect(after.manifest.version).not.toBe(before.manifest.version);
      const changed = after.shards.filter((s, i) => s.version !== before.shards[i]?.version).map((s) => s.index);
      expect(changed).toHaveLength(1);
      await programmed("status", (s) => s.status?.tableVersion === after.manifest.version);
      const writes = await writesUntilFence(watch, "fence-1");
      expect(writes.sort()).toEqual([`MODIFIED canal-canal-manifest`, `MODIFIED canal-canal-shard-${changed[0]}`].sort());
      // The fence is the test's own apply.
      expect((await pluginApplies()) - applies0).toBe(3);
    } finally {
      watch.close();
    }
  }, 120_000);

  it("a VirtualService larger than any shard is left out with a RouteDropped Event; the rest is delivered", async () => {
    // 500 hosts of ~30 bytes: ~15 kB of one virtual host, past the 8 kB shard bound.
    const hosts = Array.from({ length: 500 }, (_, i) => `h-${i}.huge.example.com`);
    await api.apply([{ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "huge", namespace: NS }, spec: { hosts, gateways: ["canal"], http: [{ route: [{ destination: { host: "helloworld.default.svc.cluster.local" } }] }] } } as KubeObject]);
    await pollUntil("huge translated", () => (table().virtualHosts.some((v) => v.name === `${NS}/huge`) ? true : undefined), { timeoutMs: 30_000 });
    const { shards } = await shardedTable("the table without huge");
    const names = shards.flatMap((x) => x.virtualHosts.map((v) => v.name));
    expect(names).not.toContain(`${NS}/huge`);
    expect(names.length).toBe(table().virtualHosts.length - 1);
    await programmed("Programmed=True without huge", (st) => st.status?.tableVersion === table().version);
    const event = await pollUntil("the RouteDropped Event on huge", async () => {
      const events = await api.list<KubeObject & { reason?: string; message?: string; involvedObject?: { kind?: string; name?: string } }>(`/api/v1/namespaces/${NS}/events`);
      return events.items.find((e) => e.involvedObject?.kind === "VirtualService" && e.involvedObject.name === "huge" && e.reason === "RouteDropped");
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(event.message).toMatch(/VirtualService istio-system\/huge: its routes serialize to \d+ bytes, more than one WasmPlugin shard may carry/);
    await api.delete(`${VS_PATH}/huge`);
    await pollUntil("huge removed", () => (table().virtualHosts.some((v) => v.name === `${NS}/huge`) ? undefined : true), { timeoutMs: 30_000 });
    await shardedTable("huge gone");
  }, 120_000);

  it("a restarted controller rebuilds what it applied from the objects: a change still writes 2 objects", async () => {
    const before = await shardedTable("settled");
    const watch = await watchPlugins();
    const applies0 = await pluginApplies();
    try {
      await startController("second", SMALL);
      await pollUntil("the new controller leads", () => (controller?.isLeader ? true : undefined), { timeoutMs: 30_000 });
      await api.apply([vs(8, "other.default.svc.cluster.local")]);
      await translatedPast(before.manifest.version);
      const after = await shardedTable("the change delivered after the restart");
      expect(after.shards.length).toBe(before.shards.length);
      await programmed("status", (s) => s.status?.tableVersion === after.manifest.version);
      const writes = await writesUntilFence(watch, "fence-2");
      expect(writes).toHaveLength(2);
      expect(writes).toContain("MODIFIED canal-canal-manifest");
      // Not even an unchanged shard was applied again: 2 applies and the fence.
      expect((await pluginApplies()) - applies0).toBe(3);
    } finally {
      watch.close();
    }
  }, 120_000);

  it("K grows with the table, and shrinks with the shards past it deleted", async () => {
    const k0 = (await shardedTable("settled")).shards.length;
    await setServices(600);
    const grown = await shardedTable("600 services");
    expect(grown.shards.length).toBeGreaterThan(k0);
    expectUnion(grown.shards, table());
    await setServices(70);
    const shrunk = await shardedTable("70 services");
    expect(shrunk.shards.length).toBeLessThan(grown.shards.length);
    expect(shrunk.all.size).toBe(shrunk.shards.length + 2);
    expectUnion(shrunk.shards, table());
  }, 240_000);

  it("below half the single-object bound the table is one WasmPlugin again and the shards are gone", async () => {
    await setServices(10);
    const single = await pollUntil("one object again", async () => {
      const all = await plugins();
      const router = all.get("canal-canal");
      return all.size === 1 && (router?.spec.pluginConfig as RouteTable | undefined)?.version === table().version ? router : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100, onTimeout: () => logs.slice(-8).join("\n") });
    expect(single.spec.match).toBeUndefined();
    expect(single.metadata.labels?.["canal.io/table"]).toBeUndefined();
  }, 120_000);

  it("switching modes: always shards a small table, never goes back to one object and cleans up", async () => {
    await startController("always", { ...SMALL, shards: "always" });
    const s = await shardedTable("always: sharded");
    expect(s.shards.length).toBe(1);
    await startController("never", { ...SMALL, shards: "never" });
    await pollUntil("never: one object", async () => {
      const all = await plugins();
      return all.size === 1 && (all.get("canal-canal")?.spec.pluginConfig as RouteTable | undefined)?.version === table().version ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100, onTimeout: () => logs.slice(-8).join("\n") });
  }, 120_000);
});

describe("sharded WasmPlugin delivery (real bounds)", () => {
  it(`a table over etcd's ~1.5 MiB (and the ${MAX_PLUGIN_CONFIG_BYTES}-byte single-object bound) is delivered as shards`, async () => {
    await startController("real", { shards: "auto", tablePort: TABLE_PORT });
    await setServices(0);
    // 10 VirtualServices × 7,000 hosts of ~24 bytes each: ~1.7 MB of domains (as wasmplugin-limit.test.ts).
    const bulk: KubeObject[] = [];
    for (let v = 0; v < 10; v++) {
      const hosts = Array.from({ length: 7000 }, (_, i) => `host-${v}-${i}.bulk.example.com`);
      bulk.push({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: `bulk-${v}`, namespace: NS }, spec: { hosts, gateways: ["canal"], http: [{ route: [{ destination: { host: "helloworld.default.svc.cluster.local" } }] }] } } as KubeObject);
    }
    await api.apply(bulk);
    await pollUntil("all bulk hosts translated", () => (table().virtualHosts.filter((v) => v.name.startsWith(`${NS}/bulk-`)).length === 10 ? true : undefined), { timeoutMs: 60_000 });
    expect(Buffer.byteLength(JSON.stringify(table()))).toBeGreaterThan(1.5 * 1024 * 1024);
    const { shards, all } = await shardedTable("the 1.7 MB table sharded");
    expect(shards.length).toBeGreaterThanOrEqual(2);
    expectUnion(shards, table());
    for (const p of all.values()) expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThan(MAX_PLUGIN_CONFIG_BYTES);
    await programmed("Programmed=True for the big table", (s) => s.status?.tableVersion === table().version);
  }, 180_000);
});
