// PROPOSED (ADR 0005; not wired into the controller yet): the WasmPlugin objects of a sharded
// table and the order to write them in. Pure: the sink that applies them is follow-up work.
//
// - The router (`<name>`) sits on the data ports; its pluginConfig names only the shared-data
//   key, so it never changes with routes (a changed WasmPlugin builds new VMs on every thread).
// - The manifest (`<name>-manifest`) and shards (`<name>-shard-<i>`) sit on the loopback table
//   port (`match.ports`), off the data path; their pluginConfig is the document itself.
// - Writes: changed shards first, then the manifest, then deletions of shards past the count, so
//   a manifest never names a shard version that was not written before it.
import type { KubernetesObject } from "@kubernetes/client-node";
import { ROUTE_TABLE_FORMAT } from "../../../schema/route-table.ts";
import type { RouteTableManifest, RouteTableShard } from "../../../schema/route-table-shards.ts";
import type { ShardPlan } from "../translate/shards.ts";
import { FAIL_STRATEGY, WASMPLUGIN_API_VERSION, type WasmPluginTarget } from "./wasmplugin.ts";

/** Most JSON bytes of one rendered WasmPlugin: the same margin below etcd's ~1.5 MiB as the unsharded sink. */
export const MAX_SHARD_OBJECT_BYTES = 1_400_000;
export const SHARD_INDEX_LABEL = "canal.io/table-shard";
export const TABLE_LABEL = "canal.io/table";

/** The unsharded sink's target (the router's name, selector, artifact) plus where each plugin sits. */
export interface ShardedTarget extends WasmPluginTarget {
  /** The gateway Service's HTTP ports: where the router runs. */
  dataPorts: number[];
  /** The Gateway's loopback table server port: where the manifest and the shards live. */
  tablePort: number;
}

export type WasmPluginObject = KubernetesObject & { metadata: { name: string; namespace: string }; spec: Record<string, unknown> };

/** A rendered object is over MAX_SHARD_OBJECT_BYTES (the planner's bound should make this impossible). */
export class ShardObjectTooLargeError extends Error {
  constructor(
    readonly objectName: string,
    readonly bytes: number,
  ) {
    super(`WasmPlugin ${objectName}: ${bytes} bytes, more than ${MAX_SHARD_OBJECT_BYTES} (etcd refuses ~1.5 MiB; ADR 0005)`);
    this.name = "ShardObjectTooLargeError";
  }
}

/** The shared-data key prefix of a gateway's table. */
export function tableKey(namespace: string, name: string): string {
  return `canal.io/${namespace}/${name}`;
}

export function shardPluginName(name: string, index: number): string {
  return `${name}-shard-${index}`;
}

export function manifestPluginName(name: string): string {
  return `${name}-manifest`;
}

function render(t: ShardedTarget, name: string, ports: number[], pluginConfig: unknown, labels: Record<string, string>): WasmPluginObject {
  const spec: Record<string, unknown> = {
    selector: { matchLabels: t.selector },
    url: t.url,
    pluginName: "canal",
    pluginConfig,
    failStrategy: FAIL_STRATEGY,
    match: [{ ports: ports.map((number) => ({ number })) }],
  };
  if (t.sha256) spec["sha256"] = t.sha256;
  if (t.imagePullSecret) spec["imagePullSecret"] = t.imagePullSecret;
  const obj: WasmPluginObject = {
    apiVersion: WASMPLUGIN_API_VERSION,
    kind: "WasmPlugin",
    metadata: { name, namespace: t.namespace, labels: { "app.kubernetes.io/managed-by": "canal", [TABLE_LABEL]: t.name, ...labels } },
    spec,
  };
  const bytes = Buffer.byteLength(JSON.stringify(obj), "utf8");
  if (bytes > MAX_SHARD_OBJECT_BYTES) throw new ShardObjectTooLargeError(`${t.namespace}/${name}`, bytes);
  return obj;
}

/** The router: data ports, a pluginConfig that names only the shared-data key. */
export function renderRouter(t: ShardedTarget): WasmPluginObject {
  return render(t, t.name, t.dataPorts, { format: ROUTE_TABLE_FORMAT, shardedTable: { key: tableKey(t.namespace, t.name) } }, {});
}

export function renderShard(t: ShardedTarget, shard: RouteTableShard): WasmPluginObject {
  return render(t, shardPluginName(t.name, shard.index), [t.tablePort], shard, { [SHARD_INDEX_LABEL]: String(shard.index) });
}

export function renderManifest(t: ShardedTarget, manifest: RouteTableManifest): WasmPluginObject {
  return render(t, manifestPluginName(t.name), [t.tablePort], manifest, { [SHARD_INDEX_LABEL]: "manifest" });
}

export interface ShardWrites {
  /** Shard WasmPlugins to apply first (new or changed). */
  shards: WasmPluginObject[];
  /** The manifest, applied after every shard; absent when unchanged. */
  manifest?: WasmPluginObject;
  /** Names of shard WasmPlugins to delete last (indexes past the new count). */
  deletions: string[];
}

/**
 * What to write to go from `prev` (what was last applied; undefined: nothing known, write all)
 * to `next`. A shard is rewritten only when its version changed, so one VirtualService change is
 * one shard plus the manifest.
 */
export function planWrites(t: ShardedTarget, prev: ShardPlan | undefined, next: ShardPlan): ShardWrites {
  const shards = next.shards.filter((s) => prev?.shards[s.index]?.version !== s.version).map((s) => renderShard(t, s));
  const same = prev !== undefined && prev.manifest.version === next.manifest.version && prev.manifest.shards.join("\n") === next.manifest.shards.join("\n");
  const deletions: string[] = [];
  for (let i = next.shards.length; i < (prev?.shards.length ?? 0); i++) deletions.push(shardPluginName(t.name, i));
  return { shards, ...(same ? {} : { manifest: renderManifest(t, next.manifest) }), deletions };
}
