// A rehearsal of the per-change translation, right after the initial one.
//
// After the initial sync only the full translation has run: the memo's per-change paths (kept
// route sets, a host layout rebuilt around one VirtualService, the kept JSON parts) are cold, and
// V8 runs them unoptimized the first few times. At 10,000 VirtualServices the first two changes
// after a start translated in 70-90 ms instead of 30-45 (in process), and in bench:controller a
// start's first change reached Envoy after 150-260 ms instead of ~90. Translating the snapshot once
// without one VirtualService and once whole again runs the passes every change runs over all
// VirtualServices (binding, the route memo's lookups, the host layout, the virtual hosts, the
// version) on the real data, while nothing is waiting for them. Both results are dropped, and the
// memo ends holding what the whole snapshot made, as before. (Putting back a copy of the dropped
// VirtualService instead, to also translate one anew, left the memo holding the copy, and the
// first real change, which brings the original back, got slower rather than faster.) The memo's
// counters are put back, since they count the translations of real snapshots.
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
