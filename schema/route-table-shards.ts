// ADR 0005 (the filter reads these: filter/assembly/shards/, whose contract.ts mirrors the constants
// below, checked by test/unit/shard-contract.test.ts): the route table cut into shards for
// WasmPlugin delivery, where one Kubernetes object must stay far below etcd's ~1.5 MiB limit.
// A RouteTable (route-table.ts) is split by virtual host into `count` shard documents plus one
// manifest. Each document travels in its own WasmPlugin attached to the gateway's loopback
// "table" port; its onConfigure copies the document into Envoy's shared data under `key`, and the
// routing filter on the data port builds its lookups from the manifest and every shard it names.
// The union of the shards' virtual hosts and ambiguous hosts is exactly the table's (host matching
// does not depend on virtual host order, docs/route-table.md), so the filter answers a host no
// shard routes with the usual 404, and reports `manifest.version`, the whole table's version.

import { ROUTE_TABLE_FORMAT, type AmbiguousHost, type VirtualHost } from "./route-table.ts";

/** A document's `kind`: what a carrier plugin writes where. */
export const SHARD_KIND = "canal.io/route-table-shard";
export const MANIFEST_KIND = "canal.io/route-table-manifest";

/**
 * Shared-data keys under a table's key (`<key>/manifest`, `<key>/shard/<index>`). Envoy scopes
 * shared data by vm_id, which istiod leaves empty for every WasmPlugin, so the key carries the
 * InternalGateway's namespace/name to keep gateways (and other plugins) apart.
 */
export function manifestDataKey(key: string): string {
  return `${key}/manifest`;
}

export function shardDataKey(key: string, index: number): string {
  return `${key}/shard/${index}`;
}

export interface RouteTableManifest {
  kind: typeof MANIFEST_KIND;
  format: typeof ROUTE_TABLE_FORMAT;
  /** Shared-data key prefix, e.g. "canal.io/istio-system/canal". */
  key: string;
  /** The whole table's content version (RouteTable.version): what the filter reports once complete. */
  version: string;
  /**
   * `shards[i]` is the version shard i must carry. The filter serves this table only when every
   * shard 0..length-1 is present at exactly this version; until then it keeps the table it has
   * (or, with none, answers 503 "table incomplete", so the readiness probe holds the pod).
   */
  shards: string[];
}

export interface RouteTableShard {
  kind: typeof SHARD_KIND;
  format: typeof ROUTE_TABLE_FORMAT;
  key: string;
  index: number;
  /** The shard count this shard was cut for (the manifest's shards.length). */
  count: number;
  /**
   * Content hash of this shard alone (index, count, virtual hosts, ambiguous hosts): unchanged
   * unless one of its own virtual hosts changed, so one change rewrites one shard.
   */
  version: string;
  virtualHosts: VirtualHost[];
  ambiguousHosts?: AmbiguousHost[];
}

/**
 * Reserved host of the gateway's loopback table server (the Gateway server that carries the shard
 * WasmPlugins via `match.ports`); like canal-probe.invalid it never resolves (RFC 6761).
 */
export const TABLE_HOST = "canal-table.invalid";

/**
 * The routing filter's plugin configuration in sharded WasmPlugin mode: instead of a RouteTable it
 * names the shared-data key under which the carriers store the manifest and the shards. It does
 * not change with routes, so a route change never rebuilds the router's VM (ADR 0005, finding c').
 */
export interface ShardedRouterConfig {
  format: typeof ROUTE_TABLE_FORMAT;
  shardedTable: { key: string };
}

/** The shared-data key prefix of an InternalGateway's table: "canal.io/<namespace>/<name>". */
export function tableDataKey(namespace: string, name: string): string {
  return `canal.io/${namespace}/${name}`;
}

/** Most shards a manifest may name (the planner's MAX_SHARDS; the filter refuses more). */
export const MAX_SHARD_COUNT = 256;
/** Longest `key` the filter accepts: 1-400 bytes of [A-Za-z0-9._:/-] (a tableDataKey of the longest names fits). */
export const MAX_SHARD_KEY_BYTES = 400;
/** Largest shard document a carrier stores (etcd refuses larger objects; the planner cuts at 900,000). */
export const MAX_SHARD_DOCUMENT_BYTES = 1_572_864;
/** Largest manifest document a carrier stores. */
export const MAX_MANIFEST_BYTES = 65_536;
/**
 * What a carrier stores under the key a document names when its head is invalid, followed by the
 * reason; the router reports that shard (or the manifest) as invalid.
 */
export const SHARD_INVALID_MARKER = "canal-invalid: ";
