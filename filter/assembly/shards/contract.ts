// The sharded table's contract as the filter reads it (ADR 0005). Plain TypeScript that is also
// AssemblyScript: the filter builds from its own folder and cannot import schema/, so these mirror
// schema/route-table-shards.ts, and test/unit/shard-contract.test.ts checks that they are equal.

/** A carrier's document kinds. */
export const SHARD_KIND = "canal.io/route-table-shard";
export const MANIFEST_KIND = "canal.io/route-table-manifest";
/** Shared-data keys: `<key>/manifest` and `<key>/shard/<index>` (schema's manifestDataKey, shardDataKey). */
export const MANIFEST_KEY_SUFFIX = "/manifest";
export const SHARD_KEY_INFIX = "/shard/";
/** Most shards a manifest may name (the planner's MAX_SHARDS). */
export const MAX_SHARDS = 256;
/** Longest shared-data key prefix: "canal.io/" + a 63-byte namespace + "/" + a 253-byte name fits. */
export const MAX_KEY_BYTES = 400;
/** Largest shard document a carrier stores: etcd refuses larger objects (the planner cuts at 900,000). */
export const MAX_SHARD_DOCUMENT_BYTES = 1572864;
/** Largest manifest: 256 versions of up to 128 bytes and the head. */
export const MAX_MANIFEST_BYTES = 65536;
/**
 * What a carrier stores instead of a document whose head is invalid, followed by the reason: the
 * router reports the shard (or the manifest) as invalid. A document starts with "{", so the two
 * never collide.
 */
export const INVALID_MARKER = "canal-invalid: ";
