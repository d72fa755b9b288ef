// The one order every decision uses: oldest creationTimestamp first, then namespace/name.
// Objects without a timestamp count as the oldest (as Istio's zero time does).
import type { ObjectMeta } from "../api/meta.ts";

function time(meta: ObjectMeta): number {
  if (meta.creationTimestamp === undefined) return Number.NEGATIVE_INFINITY;
  const t = Date.parse(meta.creationTimestamp);
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

export function compareAge(a: { metadata: ObjectMeta }, b: { metadata: ObjectMeta }): number {
  const ta = time(a.metadata);
  const tb = time(b.metadata);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** A sorted copy; the input is untouched. Each timestamp is parsed once. */
export function byAge<T extends { metadata: ObjectMeta }>(items: readonly T[]): T[] {
  return items
    .map((item) => ({ item, t: time(item.metadata), k: `${item.metadata.namespace}/${item.metadata.name}` }))
    .sort((a, b) => (a.t !== b.t ? (a.t < b.t ? -1 : 1) : a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((e) => e.item);
}
