// The filter cannot import schema/ (it builds from its own folder), so filter/assembly/shards/
// contract.ts mirrors the sharded table's constants: this keeps the two equal.
import { describe, expect, it } from "vitest";
import * as filter from "../../filter/assembly/shards/contract.ts";
import * as schema from "../../schema/route-table-shards.ts";
import { MAX_SHARDS, SHARD_BOUND_BYTES } from "../../controller/src/translate/shards.ts";

describe("the filter's shard contract equals schema/route-table-shards.ts", () => {
  it("kinds, key shapes, bounds and the invalid marker", () => {
    expect(filter.SHARD_KIND).toBe(schema.SHARD_KIND);
    expect(filter.MANIFEST_KIND).toBe(schema.MANIFEST_KIND);
    for (const key of ["canal.io/istio-system/canal", "k"]) {
      expect(key + filter.MANIFEST_KEY_SUFFIX).toBe(schema.manifestDataKey(key));
      for (const i of [0, 7, 255]) expect(key + filter.SHARD_KEY_INFIX + String(i)).toBe(schema.shardDataKey(key, i));
    }
    expect(filter.MAX_SHARDS).toBe(schema.MAX_SHARD_COUNT);
    expect(filter.MAX_KEY_BYTES).toBe(schema.MAX_SHARD_KEY_BYTES);
    expect(filter.MAX_SHARD_DOCUMENT_BYTES).toBe(schema.MAX_SHARD_DOCUMENT_BYTES);
    expect(filter.MAX_MANIFEST_BYTES).toBe(schema.MAX_MANIFEST_BYTES);
    expect(filter.INVALID_MARKER).toBe(schema.SHARD_INVALID_MARKER);
  });

  it("the planner stays inside the filter's bounds", () => {
    expect(MAX_SHARDS).toBe(schema.MAX_SHARD_COUNT);
    expect(SHARD_BOUND_BYTES).toBeLessThan(schema.MAX_SHARD_DOCUMENT_BYTES);
    // The longest namespace (63) and InternalGateway name (253) make a key the filter accepts.
    expect(schema.tableDataKey("n".repeat(63), "g".repeat(253)).length).toBeLessThanOrEqual(schema.MAX_SHARD_KEY_BYTES);
    // A manifest of the most shards with sha256 versions fits its bound.
    const manifest = { kind: schema.MANIFEST_KIND, format: 1, key: "k".repeat(400), version: `sha256:${"0".repeat(64)}`, shards: Array(256).fill(`sha256:${"0".repeat(64)}`) };
    expect(JSON.stringify(manifest).length).toBeLessThan(schema.MAX_MANIFEST_BYTES);
  });
});
