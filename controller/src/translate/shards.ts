// The shard planner (ADR 0005): a route table → `count` shard documents + a manifest, for
// WasmPlugin delivery where no object may approach etcd's ~1.5 MiB limit. Pure.
//
// - A virtual host goes to shard `hash(name) mod count`; the name is its VirtualService's
//   namespace/name, so a change to one VirtualService rewrites one shard (plus the manifest).
// - `count` is a power of two, so when it doubles shard i splits into i and i + old count and no
//   virtual host moves anywhere else; halving merges them back.
// - The count is kept from the previous plan while every shard fits the bound and the table has
//   not shrunk to an eighth of the capacity; otherwise the smallest count that fills no shard
//   past the target (half the bound) is chosen, so growth does not re-trigger soon after.
import { createHash } from "node:crypto";
import { ROUTE_TABLE_FORMAT, type AmbiguousHost, type RouteTable } from "../../../schema/route-table.ts";
import { MANIFEST_KIND, SHARD_KIND, type RouteTableManifest, type RouteTableShard } from "../../../schema/route-table-shards.ts";
import { canonicalJson } from "./canonical.ts";
import { serializeVirtualHost, type VirtualHostSerializer } from "./assemble-table.ts";

/**
 * Most JSON bytes of one shard document. The WasmPlugin around it adds ~1 KB (metadata, url,
 * selector, match); kube-apiserver's request limit is 3 MiB but etcd refuses values over
 * ~1.5 MiB, and server-side apply keeps a managedFields entry, so a shard stays well below.
 */
export const SHARD_BOUND_BYTES = 900_000;
/** Fill a re-chosen count aims at: half the bound, so a table can grow a lot before the next split. */
export const SHARD_TARGET_BYTES = 450_000;
/** Most shards (WasmPlugins) per gateway: 256 × 450 KB ≈ 115 MB of table, far past 50,000 services. */
export const MAX_SHARDS = 256;
/** The count is halved when the table is below this fraction of count × bound. */
const SHRINK_FILL = 1 / 8;

export interface ShardOptions {
  /** The previous plan's count: kept while it still fits (stable assignment). */
  previousCount?: number;
  boundBytes?: number;
  targetBytes?: number;
  maxShards?: number;
  /** Serializes a virtual host (translate's memo passes its kept results). */
  serialize?: VirtualHostSerializer;
}

export interface ShardPlan {
  manifest: RouteTableManifest;
  shards: RouteTableShard[];
  /** JSON bytes of each shard document (JSON.stringify(shards[i])). */
  shardBytes: number[];
  /** Why the count is what it is. */
  countReason: "kept" | "first" | "grew" | "shrank";
}

/** One virtual host is larger than a whole shard may be: no count can deliver it. */
export class VirtualHostTooLargeError extends Error {
  constructor(
    readonly virtualHost: string,
    readonly bytes: number,
    readonly boundBytes: number,
  ) {
    super(
      `VirtualService ${virtualHost}: its routes serialize to ${bytes} bytes, more than one WasmPlugin shard may carry (${boundBytes} bytes, ADR 0005); ` +
        `split it into several VirtualServices or use ECDS delivery (delivery.mode=envoyfilter)`,
    );
    this.name = "VirtualHostTooLargeError";
  }
}

/** The table needs more than maxShards shards. */
export class TableTooLargeForShardsError extends Error {
  constructor(
    readonly tableBytes: number,
    readonly maxShards: number,
  ) {
    super(`route table of ${tableBytes} bytes needs more than ${maxShards} WasmPlugin shards (ADR 0005); use ECDS delivery (delivery.mode=envoyfilter)`);
    this.name = "TableTooLargeForShardsError";
  }
}

/**
 * The stable hash that places a virtual host (by name) or an ambiguous host (by host): 32-bit
 * FNV-1a over the UTF-8 bytes, then murmur3's finalizer so the low bits (the shard index) depend
 * on every byte. Not sha256: that is ~7 µs per name, 350 ms per plan at 50,000 virtual hosts.
 * Fixed forever: changing it moves every virtual host.
 */
export function shardHash(key: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key, "utf8")) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Shard of a hash for a power-of-two count. */
function shardIndex(hash: number, count: number): number {
  return hash & (count - 1);
}

interface Item {
  hash: number;
  /** JSON of the element as it is written into the shard. */
  plain: string;
  bytes: number;
  /** Content digest (binary string) for the shard version. */
  digest: string;
}

interface Items {
  vhosts: Item[];
  ambiguous: { hash: number; entry: AmbiguousHost; bytes: number }[];
  names: string[];
}

function items(table: RouteTable, serialize: VirtualHostSerializer): Items {
  const vhosts = table.virtualHosts.map((vh) => {
    const s = serialize(vh);
    return { hash: shardHash(vh.name), plain: s.plain, bytes: s.bytes, digest: s.digest };
  });
  const ambiguous = (table.ambiguousHosts ?? []).map((entry) => ({ hash: shardHash(entry.host), entry, bytes: Buffer.byteLength(JSON.stringify(entry), "utf8") }));
  return { vhosts, ambiguous, names: table.virtualHosts.map((v) => v.name) };
}

/** Upper bound of a shard document's bytes besides its elements (kind, key, version, separators). */
function overheadBytes(key: string, count: number): number {
  const head = JSON.stringify({ kind: SHARD_KIND, format: ROUTE_TABLE_FORMAT, key, index: count, count, version: `sha256:${"0".repeat(64)}`, virtualHosts: [], ambiguousHosts: [] });
  return Buffer.byteLength(head, "utf8");
}

/** Bytes per shard for `count` (elements + a comma each + overhead). */
function shardSizes(it: Items, count: number, overhead: number): number[] {
  const sizes = new Array<number>(count).fill(overhead);
  for (const v of it.vhosts) sizes[shardIndex(v.hash, count)] += v.bytes + 1;
  for (const a of it.ambiguous) sizes[shardIndex(a.hash, count)] += a.bytes + 1;
  return sizes;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

function chooseCount(it: Items, key: string, o: Required<Omit<ShardOptions, "serialize" | "previousCount">> & { previousCount?: number }): { count: number; reason: ShardPlan["countReason"] } {
  const total = it.vhosts.reduce((s, v) => s + v.bytes + 1, 0) + it.ambiguous.reduce((s, a) => s + a.bytes + 1, 0);
  // An invalid previous count (not a power of two, or past maxShards) counts as none.
  const prev = o.previousCount !== undefined && isPowerOfTwo(o.previousCount) && o.previousCount <= o.maxShards ? o.previousCount : undefined;
  if (prev !== undefined) {
    const fits = Math.max(...shardSizes(it, prev, overheadBytes(key, prev))) <= o.boundBytes;
    const tooEmpty = prev > 1 && total < prev * o.boundBytes * SHRINK_FILL;
    if (fits && !tooEmpty) return { count: prev, reason: "kept" };
  }
  for (let count = 1; count <= o.maxShards; count *= 2) {
    if (Math.max(...shardSizes(it, count, overheadBytes(key, count))) <= o.targetBytes) {
      const reason = prev === undefined ? "first" : count > prev ? "grew" : count < prev ? "shrank" : "kept";
      return { count, reason };
    }
  }
  // The target cannot be met; the bound may still be (a lopsided hash at the largest count).
  if (Math.max(...shardSizes(it, o.maxShards, overheadBytes(key, o.maxShards))) <= o.boundBytes) return { count: o.maxShards, reason: "grew" };
  throw new TableTooLargeForShardsError(total, o.maxShards);
}

/** Shard content version: sha256 over a header (index, count, ambiguous hosts) and the virtual hosts' digests in order. */
function shardVersion(index: number, count: number, ambiguous: readonly AmbiguousHost[], digests: readonly string[]): string {
  const header = `canal-table-shard\n{"ambiguousHosts":${canonicalJson(ambiguous)},"count":${count},"format":${ROUTE_TABLE_FORMAT},"index":${index}}\n`;
  return `sha256:${createHash("sha256").update(header).update(Buffer.from(digests.join(""), "binary")).digest("hex")}`;
}

/**
 * Splits `table` into shards for the shared-data key `key` (see schema/route-table-shards.ts).
 * Throws VirtualHostTooLargeError (naming the VirtualService) when one virtual host alone is over
 * the bound, TableTooLargeForShardsError when maxShards shards cannot hold the table.
 */
export function planShards(table: RouteTable, key: string, opts: ShardOptions = {}): ShardPlan {
  const o = {
    boundBytes: opts.boundBytes ?? SHARD_BOUND_BYTES,
    targetBytes: Math.min(opts.targetBytes ?? SHARD_TARGET_BYTES, opts.boundBytes ?? SHARD_BOUND_BYTES),
    maxShards: opts.maxShards ?? MAX_SHARDS,
    previousCount: opts.previousCount,
  };
  if (!isPowerOfTwo(o.maxShards)) throw new Error(`maxShards must be a power of two, not ${o.maxShards}`);
  const it = items(table, opts.serialize ?? serializeVirtualHost);
  const single = overheadBytes(key, o.maxShards);
  it.vhosts.forEach((v, i) => {
    if (v.bytes + 1 + single > o.boundBytes) throw new VirtualHostTooLargeError(it.names[i] ?? "?", v.bytes, o.boundBytes);
  });
  const { count, reason } = chooseCount(it, key, o);

  const members: number[][] = Array.from({ length: count }, () => []);
  it.vhosts.forEach((v, i) => members[shardIndex(v.hash, count)]?.push(i));
  const ambiguous: AmbiguousHost[][] = Array.from({ length: count }, () => []);
  for (const a of it.ambiguous) ambiguous[shardIndex(a.hash, count)]?.push(a.entry);

  const shards: RouteTableShard[] = [];
  const shardBytes: number[] = [];
  for (let index = 0; index < count; index++) {
    const idx = members[index] ?? [];
    const amb = ambiguous[index] ?? [];
    const version = shardVersion(index, count, amb, idx.map((i) => it.vhosts[i]?.digest ?? ""));
    const shard: RouteTableShard = {
      kind: SHARD_KIND,
      format: ROUTE_TABLE_FORMAT,
      key,
      index,
      count,
      version,
      virtualHosts: idx.map((i) => table.virtualHosts[i]).filter((v) => v !== undefined),
      ...(amb.length > 0 ? { ambiguousHosts: amb } : {}),
    };
    // The document's bytes from the kept pieces: the same as JSON.stringify(shard).
    const head = JSON.stringify({ kind: SHARD_KIND, format: ROUTE_TABLE_FORMAT, key, index, count, version }).slice(0, -1);
    const tail = amb.length > 0 ? `,"ambiguousHosts":${JSON.stringify(amb)}` : "";
    let body = Math.max(0, idx.length - 1);
    for (const i of idx) body += it.vhosts[i]?.bytes ?? 0;
    shardBytes.push(Buffer.byteLength(`${head},"virtualHosts":[`, "utf8") + body + Buffer.byteLength(`]${tail}}`, "utf8"));
    shards.push(shard);
  }
  const manifest: RouteTableManifest = { kind: MANIFEST_KIND, format: ROUTE_TABLE_FORMAT, key, version: table.version, shards: shards.map((s) => s.version) };
  return { manifest, shards, shardBytes, countReason: reason };
}
