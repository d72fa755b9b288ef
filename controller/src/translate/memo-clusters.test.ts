// TranslateMemo.clusters() patches its last sorted list when a few sets changed in place; it must
// always equal sortedClusters() (each name once, its FIRST reference, sorted by name). References
// of one name differ here by `port`, so taking a later reference shows.
import { describe, expect, it } from "vitest";
import type { ClusterRef } from "./destinations.ts";
import { TranslateMemo } from "./memo.ts";
import { sortedClusters } from "./steps.ts";

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomSet(next: () => number, names: number): ClusterRef[] {
  const n = Math.floor(next() * 3);
  return Array.from({ length: n }, () => ({ cluster: `c${Math.floor(next() * names)}`, namespace: "ns", service: "s", port: Math.floor(next() * 1000) }));
}

describe("TranslateMemo.clusters", () => {
  it("equals sortedClusters over random in-place edits, additions and removals", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = rng(seed);
      const memo = new TranslateMemo();
      let sets = Array.from({ length: 40 }, () => randomSet(next, 12));
      expect(memo.clusters(sets)).toEqual(sortedClusters(sets));
      for (let step = 0; step < 300; step++) {
        sets = [...sets];
        const r = next();
        if (r < 0.8) {
          // A few sets replaced in place (the patched path); sometimes emptied, so a first holder drops a name.
          const edits = 1 + Math.floor(next() * 3);
          for (let e = 0; e < edits; e++) sets[Math.floor(next() * sets.length)] = next() < 0.3 ? [] : randomSet(next, 12);
        } else if (r < 0.9) sets.push(randomSet(next, 12));
        else sets.splice(Math.floor(next() * sets.length), 1);
        expect(memo.clusters(sets), `seed ${seed}, step ${step}`).toEqual(sortedClusters(sets));
      }
    }
  });

  it("moves a name's first reference to the next holder when its first holder drops it", () => {
    const memo = new TranslateMemo();
    const a = (port: number): ClusterRef => ({ cluster: "a", namespace: "ns", service: "s", port });
    const sets = [[a(1)], [], [a(2)], [a(3)]];
    expect(memo.clusters(sets)).toEqual([a(1)]);
    expect(memo.clusters([[], [], [a(2)], [a(3)]])).toEqual([a(2)]);
    expect(memo.clusters([[], [], [], [a(3)]])).toEqual([a(3)]);
    expect(memo.clusters([[], [a(4)], [], [a(3)]])).toEqual([a(4)]);
    expect(memo.clusters([[], [], [], []])).toEqual([]);
  });
});
