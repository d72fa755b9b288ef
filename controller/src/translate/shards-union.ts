// What the routing filter does with the manifest and the shards it finds in shared data (ADR
// 0005), as the reference the filter will follow and the tests check: the table is served only
// when every shard the manifest names is present at exactly the manifest's version; anything else
// is "incomplete", naming the shards that are missing or stale. Pure.
import type { AmbiguousHost, VirtualHost } from "../../../schema/route-table.ts";
import type { RouteTableManifest, RouteTableShard } from "../../../schema/route-table-shards.ts";

export type ShardUnion =
  | { complete: true; version: string; virtualHosts: VirtualHost[]; ambiguousHosts: AmbiguousHost[] }
  | { complete: false; version: string; missing: number[]; stale: number[] };

/**
 * `found(i)`: the shard document stored for index i, if any. A shard is stale when its version,
 * key or count differ from what the manifest expects (a left-over of an earlier count, another
 * gateway's key, or a shard whose update has not arrived yet).
 */
export function unionShards(manifest: RouteTableManifest, found: (index: number) => RouteTableShard | undefined): ShardUnion {
  const missing: number[] = [];
  const stale: number[] = [];
  const present: RouteTableShard[] = [];
  manifest.shards.forEach((version, index) => {
    const s = found(index);
    if (s === undefined) missing.push(index);
    else if (s.version !== version || s.key !== manifest.key || s.count !== manifest.shards.length || s.index !== index) stale.push(index);
    else present.push(s);
  });
  if (missing.length > 0 || stale.length > 0) return { complete: false, version: manifest.version, missing, stale };
  return {
    complete: true,
    version: manifest.version,
    virtualHosts: present.flatMap((s) => s.virtualHosts),
    ambiguousHosts: present.flatMap((s) => s.ambiguousHosts ?? []),
  };
}
