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

function compareKeys(a: AgeKey, b: AgeKey): number {
  return a.t !== b.t ? (a.t < b.t ? -1 : 1) : a.k < b.k ? -1 : a.k > b.k ? 1 : 0;
}

/** A sorted copy; the input is untouched. Each timestamp is parsed once per metadata object. */
export function byAge<T extends { metadata: ObjectMeta }>(items: readonly T[]): T[] {
  return items
    .map((item) => ({ item, key: ageKey(item.metadata) }))
    .sort(({ key: a }, { key: b }) => compareKeys(a, b))
    .map((e) => e.item);
}

/**
 * byAge() that keeps the last permutation: when every position holds an object of the same age
 * key as last time (an edited object keeps its namespace, name and timestamp), the order is the
 * same and sorting is skipped. Informer snapshots keep their objects' positions, so an edit to
 * one VirtualService costs O(n) identity checks instead of an O(n log n) sort.
 */
export class AgeOrder {
  private last?: { keys: AgeKey[]; order: number[] };

  sort<T extends { metadata: ObjectMeta }>(items: readonly T[]): T[] {
    const keys = items.map((item) => ageKey(item.metadata));
    const last = this.last;
    let order: number[];
    if (last !== undefined && sameKeys(last.keys, keys)) {
      order = last.order;
    } else {
      // Indices as the tie-break keep it identical to byAge's stable sort.
      order = keys.map((_, i) => i).sort((a, b) => compareKeys(keys[a] as AgeKey, keys[b] as AgeKey) || a - b);
    }
    this.last = { keys, order };
    return order.map((i) => items[i] as T);
  }
}

function sameKeys(a: readonly AgeKey[], b: readonly AgeKey[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as AgeKey;
    const y = b[i] as AgeKey;
    if (x !== y && (x.t !== y.t || x.k !== y.k)) return false;
  }
  return true;
}
