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

interface AgeKey {
  t: number;
  k: string;
}

/** Sort keys by metadata object: parsed objects are never modified, and are sorted on every translation. */
const KEYS = new WeakMap<ObjectMeta, AgeKey>();

function ageKey(meta: ObjectMeta): AgeKey {
  let key = KEYS.get(meta);
  if (key === undefined) {
    key = { t: time(meta), k: `${meta.namespace}/${meta.name}` };
    KEYS.set(meta, key);
  }
  return key;
}

/** A sorted copy; the input is untouched. Each timestamp is parsed once per metadata object. */
export function byAge<T extends { metadata: ObjectMeta }>(items: readonly T[]): T[] {
  return items
    .map((item) => ({ item, key: ageKey(item.metadata) }))
    .sort(({ key: a }, { key: b }) => (a.t !== b.t ? (a.t < b.t ? -1 : 1) : a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((e) => e.item);
}
