// The rehearsal must leave no trace: after it, the memo translates every case (and a change in
// it) exactly as a fresh translate does, and its counters are what they were.
import { beforeAll, describe, expect, it } from "vitest";
import type { Snapshot } from "../api/snapshot.ts";
import { tableJson, translate, TranslateMemo, type RegexValidator } from "../translate/index.ts";
import { buildRegexCheck } from "../translate/regex-check/build.ts";
import { loadRegexValidator } from "../translate/regex-validator.ts";
import { caseNames, loadCase } from "../translate/testing/cases.ts";
import { rehearseTranslation } from "./warm-up.ts";

let validateRegex: RegexValidator;

beforeAll(() => {
  buildRegexCheck();
  validateRegex = loadRegexValidator();
}, 600_000);

function same(snapshot: Snapshot, memo: TranslateMemo, clusterDomain: string | undefined, what: string): void {
  const options = clusterDomain === undefined ? { validateRegex } : { validateRegex, clusterDomain };
  const withMemo = translate(snapshot, { ...options, memo });
  const fresh = translate(snapshot, options);
  expect(JSON.stringify(withMemo), what).toBe(JSON.stringify(fresh));
  for (const g of withMemo.gateways) expect(tableJson(g.table), what).toBe(JSON.stringify(g.table));
}

describe("rehearseTranslation", () => {
  it.each(caseNames())("%s: the memo afterwards translates as a fresh translate", (name) => {
    const c = loadCase(name);
    const options = c.clusterDomain === undefined ? { validateRegex } : { validateRegex, clusterDomain: c.clusterDomain };
    const memo = new TranslateMemo();
    translate(c.snapshot, { ...options, memo });
    const stats = { ...memo.stats };
    const runs = rehearseTranslation(c.snapshot, { ...options, memo });
    expect(runs).toBe(c.snapshot.virtualServices.length < 2 ? 0 : 2);
    expect(memo.stats).toEqual(stats);
    same(c.snapshot, memo, c.clusterDomain, `${name}: same snapshot`);
    // And a change after it: every VirtualService but the first dropped, then all back.
    const fewer = { ...c.snapshot, virtualServices: c.snapshot.virtualServices.slice(0, 1) };
    same(fewer, memo, c.clusterDomain, `${name}: one VirtualService left`);
    same(c.snapshot, memo, c.clusterDomain, `${name}: all back`);
  });

  it("runs the memo's per-change paths: every route set but the dropped one's reused, twice", () => {
    // A case whose VirtualServices all get routes (bound to the gateway, accepted).
    const c = caseNames()
      .map((n) => loadCase(n))
      .find((x) => {
        if (x.clusterDomain !== undefined || x.snapshot.virtualServices.length < 3) return false;
        const m = new TranslateMemo();
        translate(x.snapshot, { validateRegex, memo: m });
        return m.stats.translated === x.snapshot.virtualServices.length;
      });
    expect(c, "a golden case with 3+ VirtualServices, all translated").toBeDefined();
    const memo = new TranslateMemo();
    translate(c!.snapshot, { validateRegex, memo });
    // The counters are put back at the end: watch them while the rehearsal runs.
    const start = { ...memo.stats };
    const peak = { ...start };
    for (const key of ["reused", "translated"] as const) {
      let value = memo.stats[key];
      Object.defineProperty(memo.stats, key, {
        get: () => value,
        set: (v: number) => {
          value = v;
          peak[key] = Math.max(peak[key], v);
        },
      });
    }
    rehearseTranslation(c!.snapshot, { validateRegex, memo });
    const n = c!.snapshot.virtualServices.length;
    expect(peak.reused - start.reused, "route sets reused").toBe(2 * n - 1);
    expect(peak.translated - start.translated, "route sets translated anew").toBe(0);
    expect(memo.stats).toEqual(start);
  });
});
