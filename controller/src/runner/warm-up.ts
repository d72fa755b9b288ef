// A rehearsal of the per-change translation, right after the initial one: the snapshot translated
// once without one VirtualService and once whole, both results dropped, so V8 has optimized the
// memo's per-change paths before a real change needs them. The memo ends as the whole snapshot
// left it and its counters are put back. Measurements and the variant that made things worse:
// docs/controller.md, "A rehearsal after the first translation".
import type { Snapshot } from "../api/snapshot.ts";
import { tableJsonParts, translate, type TranslateMemo, type TranslateOptions } from "../translate/index.ts";

/** Translates `snapshot` without one VirtualService, then whole; returns how many translations ran. */
export function rehearseTranslation(snapshot: Snapshot, options: TranslateOptions & { memo: TranslateMemo }): number {
  const all = snapshot.virtualServices;
  if (all.length < 2) return 0;
  const stats = { ...options.memo.stats };
  // The middle one: its host is neither the first nor the last in any order the memo keeps.
  const drop = all.length >> 1;
  const without = all.slice(0, drop).concat(all.slice(drop + 1));
  for (const virtualServices of [without, all]) {
    const result = translate({ ...snapshot, virtualServices }, options);
    for (const g of result.gateways) tableJsonParts(g.table);
  }
  Object.assign(options.memo.stats, stats);
  return 2;
}
