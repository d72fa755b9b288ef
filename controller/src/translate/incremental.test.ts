// translate() with a memo (what the controller runs: each snapshot after a small edit) must give
// exactly what a fresh translate() gives, over random edit sequences on every golden case's
// objects and on all of them together: edits of VirtualServices, Services and DestinationRules,
// deletions, re-additions, content-identical copies and age changes (which reorder conflicts).
import { beforeAll, describe, expect, it } from "vitest";
import type { Service } from "../api/core.ts";
import type { DestinationRule, VirtualService } from "../api/istio.ts";
import type { Snapshot } from "../api/snapshot.ts";
import { tableJson, translate, TranslateMemo, type RegexValidator, type TranslateResult } from "./index.ts";
import { buildRegexCheck } from "./regex-check/build.ts";
import { loadRegexValidator } from "./regex-validator.ts";
import { caseNames, loadCase } from "./testing/cases.ts";

let validateRegex: RegexValidator;

beforeAll(() => {
  buildRegexCheck();
  validateRegex = loadRegexValidator();
}, 600_000);

/** mulberry32: a failure reproduces from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = keyof Snapshot;
const KINDS: Kind[] = ["internalGateways", "gateways", "virtualServices", "destinationRules", "services"];

interface Editor {
  rand: () => number;
  /** Objects taken out, to be put back later. */
  removed: { kind: Kind; object: Snapshot[Kind][number] }[];
}

function pick<T>(rand: () => number, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(rand() * items.length)];
}

function replaced<T>(list: readonly T[], from: T, to: T): T[] {
  return list.map((x) => (x === from ? to : x));
}

/** A new VirtualService object: same content, or with one of its routes, hosts or age changed. */
function editVirtualService(rand: () => number, vs: VirtualService): VirtualService {
  const copy = structuredClone(vs);
  const r = rand();
  if (r < 0.2) return copy; // same content, new object
  if (r < 0.4) copy.spec.http = [...copy.spec.http].reverse();
  else if (r < 0.55) copy.spec.http = copy.spec.http.slice(1);
  else if (r < 0.7) copy.spec.hosts = copy.spec.hosts.slice(0, Math.max(0, copy.spec.hosts.length - 1));
  else if (r < 0.85) copy.metadata.creationTimestamp = `20${10 + Math.floor(rand() * 20)}-01-01T00:00:00Z`;
  else copy.spec.gateways = rand() < 0.5 ? [] : [...copy.spec.gateways].reverse();
  return copy;
}

function editService(rand: () => number, s: Service): Service {
  const copy = structuredClone(s);
  const r = rand();
  if (r < 0.3) return copy;
  if (r < 0.6) copy.spec.ports = [...copy.spec.ports, { port: 9000 + Math.floor(rand() * 10), protocol: "TCP" }];
  else if (r < 0.8) copy.spec.ports = copy.spec.ports.slice(1);
  else copy.spec.type = copy.spec.type === "ExternalName" ? "ClusterIP" : "ExternalName";
  return copy;
}

function editDestinationRule(rand: () => number, dr: DestinationRule): DestinationRule {
  const copy = structuredClone(dr);
  const r = rand();
  if (r < 0.3) return copy;
  if (r < 0.6) copy.spec.subsets = copy.spec.subsets.slice(1);
  else copy.spec.subsets = copy.spec.subsets.map((s) => ({ ...s, labels: { ...s.labels, edited: "yes" } }));
  return copy;
}

/** One random edit; returns the new snapshot (kinds not edited keep their arrays, as the source does). */
function edit(e: Editor, s: Snapshot): Snapshot {
  const r = e.rand();
  if (r < 0.15 && e.removed.length > 0) {
    const back = e.removed.splice(Math.floor(e.rand() * e.removed.length), 1)[0];
    if (back !== undefined) return { ...s, [back.kind]: [...s[back.kind], back.object] };
  }
  const kind = pick(e.rand, KINDS) as Kind;
  const list: readonly object[] = s[kind];
  const target = pick(e.rand, list);
  if (target === undefined) return s;
  if (r < 0.3) {
    e.removed.push({ kind, object: target as Snapshot[Kind][number] });
    return { ...s, [kind]: list.filter((x) => x !== target) };
  }
  const vs = s.virtualServices.find((x) => x === target);
  if (vs !== undefined) return { ...s, virtualServices: replaced(s.virtualServices, vs, editVirtualService(e.rand, vs)) };
  const svc = s.services.find((x) => x === target);
  if (svc !== undefined) return { ...s, services: replaced(s.services, svc, editService(e.rand, svc)) };
  const dr = s.destinationRules.find((x) => x === target);
  if (dr !== undefined) return { ...s, destinationRules: replaced(s.destinationRules, dr, editDestinationRule(e.rand, dr)) };
  return { ...s, [kind]: replaced(list, target, structuredClone(target)) };
}

function expectSame(withMemo: TranslateResult, fresh: TranslateResult, step: string): void {
  expect(JSON.stringify(withMemo), step).toBe(JSON.stringify(fresh));
  for (const g of withMemo.gateways) expect(tableJson(g.table), `${step}: tableJson`).toBe(JSON.stringify(g.table));
}

function run(snapshot: Snapshot, seed: number, steps: number, clusterDomain: string | undefined): number {
  const memo = new TranslateMemo();
  const options = clusterDomain === undefined ? { validateRegex } : { validateRegex, clusterDomain };
  const e: Editor = { rand: random(seed), removed: [] };
  let s = snapshot;
  expectSame(translate(s, { ...options, memo }), translate(s, options), `seed ${seed}, start`);
  for (let i = 0; i < steps; i++) {
    s = edit(e, s);
    expectSame(translate(s, { ...options, memo }), translate(s, options), `seed ${seed}, step ${i}`);
  }
  return memo.stats.reused;
}

/** Every case's objects in one snapshot (the first of each kind/namespace/name). */
function everything(): Snapshot {
  const all = caseNames().map((n) => loadCase(n).snapshot);
  const out: Record<Kind, object[]> = { internalGateways: [], gateways: [], virtualServices: [], destinationRules: [], services: [], httpRoutes: [], referenceGrants: [], gatewayApiGateways: [], gatewayClasses: [], namespaces: [] };
  for (const kind of KINDS) {
    const seen = new Set<string>();
    for (const s of all) {
      for (const o of s[kind]) {
        const k = `${o.metadata.namespace}/${o.metadata.name}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out[kind].push(o);
      }
    }
  }
  return out as unknown as Snapshot;
}

describe("translate with a memo = translate without", () => {
  it.each(caseNames())("%s, random edits", (name) => {
    const c = loadCase(name);
    for (const seed of [1, 2, 3]) run(c.snapshot, seed * 7919 + name.length, 25, c.clusterDomain);
  });

  it("all cases together, long random edit sequences, and the memo is actually used", () => {
    let reused = 0;
    for (const seed of [11, 12]) reused += run(everything(), seed, 150, undefined);
    expect(reused).toBeGreaterThan(0);
    // ~3 s alone; 300 full translations, so a shared 2-CPU machine needs more than vitest's 5 s.
  }, 60_000);

  it("reuses every unchanged VirtualService after a one-object edit", () => {
    const s = everything();
    const memo = new TranslateMemo();
    translate(s, { validateRegex, memo });
    const before = { ...memo.stats };
    const vs = s.virtualServices.find((v) => v.spec.http.length > 0 && v.spec.gateways.length > 0) as VirtualService;
    translate({ ...s, virtualServices: replaced(s.virtualServices, vs, structuredClone(vs)) }, { validateRegex, memo });
    expect(memo.stats.translated - before.translated).toBeLessThanOrEqual(1);
    expect(memo.stats.reused - before.reused).toBeGreaterThan(0);
  });
});
