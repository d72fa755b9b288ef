// The WasmPlugin objects of a sharded table and the order to write them in (ADR 0005). Pure: the
// writer (wasmplugin-shard-writer.ts) applies them.
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
import { CANAL_ROOT_ID } from "../../../schema/filter-identity.ts";
import { ARTIFACT_ANNOTATION, artifactAnnotation, FAIL_STRATEGY, TABLE_VERSION_ANNOTATION, WASMPLUGIN_API_VERSION, type WasmPluginTarget } from "./wasmplugin.ts";

/** Most JSON bytes of one rendered WasmPlugin: the same margin below etcd's ~1.5 MiB as the unsharded sink. */
export const MAX_SHARD_OBJECT_BYTES = 1_400_000;
export const SHARD_INDEX_LABEL = "canal.io/table-shard";
export const TABLE_LABEL = "canal.io/table";
/** SHARD_INDEX_LABEL's value on the manifest. */
export const MANIFEST_INDEX = "manifest";

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

/** Value of TABLE_VERSION_ANNOTATION on the router: it carries no table, only the key. */
export const ROUTER_TABLE_VERSION = "sharded";

function render(t: ShardedTarget, name: string, ports: number[], pluginConfig: unknown, labels: Record<string, string>, version: string): WasmPluginObject {
  const spec: Record<string, unknown> = {
    selector: { matchLabels: t.selector },
    url: t.url,
    pluginName: CANAL_ROOT_ID,
    pluginConfig,
    failStrategy: FAIL_STRATEGY,
    match: [{ ports: ports.map((number) => ({ number })) }],
  };
  if (t.sha256) spec["sha256"] = t.sha256;
  if (t.imagePullSecret) spec["imagePullSecret"] = t.imagePullSecret;
  const obj: WasmPluginObject = {
    apiVersion: WASMPLUGIN_API_VERSION,
    kind: "WasmPlugin",
    metadata: {
      name,
      namespace: t.namespace,
      labels: { "app.kubernetes.io/managed-by": "canal", [TABLE_LABEL]: t.name, ...labels },
      annotations: { [TABLE_VERSION_ANNOTATION]: version, [ARTIFACT_ANNOTATION]: artifactAnnotation(t) },
    },
    spec,
  };
  const bytes = Buffer.byteLength(JSON.stringify(obj), "utf8");
  if (bytes > MAX_SHARD_OBJECT_BYTES) throw new ShardObjectTooLargeError(`${t.namespace}/${name}`, bytes);
  return obj;
}

/** The router: data ports, a pluginConfig that names only the shared-data key. */
export function renderRouter(t: ShardedTarget): WasmPluginObject {
  return render(t, t.name, t.dataPorts, { format: ROUTE_TABLE_FORMAT, shardedTable: { key: tableKey(t.namespace, t.name) } }, {}, ROUTER_TABLE_VERSION);
}

export function renderShard(t: ShardedTarget, shard: RouteTableShard): WasmPluginObject {
  return render(t, shardPluginName(t.name, shard.index), [t.tablePort], shard, { [SHARD_INDEX_LABEL]: String(shard.index) }, shard.version);
}

export function renderManifest(t: ShardedTarget, manifest: RouteTableManifest): WasmPluginObject {
  return render(t, manifestPluginName(t.name), [t.tablePort], manifest, { [SHARD_INDEX_LABEL]: MANIFEST_INDEX }, manifest.version);
}

/**
 * What a gateway's objects carry, as far as planWrites needs it: a ShardPlan, or the versions read
 * back from the cluster after a restart (a shard absent or of another artifact: undefined).
 */
export interface AppliedPlan {
  manifest: Pick<RouteTableManifest, "version" | "shards">;
  shards: ReadonlyArray<{ version: string } | undefined>;
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
export function planWrites(t: ShardedTarget, prev: AppliedPlan | undefined, next: ShardPlan): ShardWrites {
  const shards = next.shards.filter((s) => prev?.shards[s.index]?.version !== s.version).map((s) => renderShard(t, s));
  const same = prev !== undefined && prev.manifest.version === next.manifest.version && prev.manifest.shards.join("\n") === next.manifest.shards.join("\n");
  const deletions: string[] = [];
  for (let i = next.shards.length; i < (prev?.shards.length ?? 0); i++) deletions.push(shardPluginName(t.name, i));
  return { shards, ...(same ? {} : { manifest: renderManifest(t, next.manifest) }), deletions };
}
