// Same objects in any order → byte-identical output; the input is never modified.
import { beforeAll, describe, expect, it } from "vitest";
import type { Snapshot } from "../api/snapshot.ts";
import { translate, type RegexValidator } from "./index.ts";
import { buildRegexCheck } from "./regex-check/build.ts";
import { loadRegexValidator } from "./regex-validator.ts";
import { caseNames, loadCase, serialize } from "./testing/cases.ts";

let validateRegex: RegexValidator;

beforeAll(() => {
  buildRegexCheck();
  validateRegex = loadRegexValidator();
}, 600_000);

/** Deterministic shuffle (mulberry32), so a failure reproduces. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function shuffleSnapshot(s: Snapshot, seed: number): Snapshot {
  return {
    internalGateways: shuffled(s.internalGateways, seed),
    gateways: shuffled(s.gateways, seed + 1),
    virtualServices: shuffled(s.virtualServices, seed + 2),
    destinationRules: shuffled(s.destinationRules, seed + 3),
    services: shuffled(s.services, seed + 4),
    httpRoutes: shuffled(s.httpRoutes, seed + 5),
    referenceGrants: shuffled(s.referenceGrants, seed + 6),
    gatewayApiGateways: shuffled(s.gatewayApiGateways, seed + 7),
    gatewayClasses: shuffled(s.gatewayClasses, seed + 8),
    namespaces: shuffled(s.namespaces, seed + 9),
  };
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Every case's objects in one snapshot: many gateways, conflicts and cross-references at once. */
function everything(): Snapshot {
  const all = caseNames().map((n) => loadCase(n).snapshot);
  // Objects of different cases share names; keep the first of each kind/namespace/name.
  const pick = <T extends { metadata: { namespace: string; name: string } }>(list: T[]): T[] => {
    const seen = new Set<string>();
    return list.filter((o) => {
      const k = `${o.metadata.namespace}/${o.metadata.name}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  return {
    internalGateways: pick(all.flatMap((s) => [...s.internalGateways])),
    gateways: pick(all.flatMap((s) => [...s.gateways])),
    virtualServices: pick(all.flatMap((s) => [...s.virtualServices])),
    destinationRules: pick(all.flatMap((s) => [...s.destinationRules])),
    services: pick(all.flatMap((s) => [...s.services])),
    httpRoutes: pick(all.flatMap((s) => [...s.httpRoutes])),
    referenceGrants: pick(all.flatMap((s) => [...s.referenceGrants])),
    gatewayApiGateways: pick(all.flatMap((s) => [...s.gatewayApiGateways])),
    gatewayClasses: pick(all.flatMap((s) => [...s.gatewayClasses])),
    namespaces: pick(all.flatMap((s) => [...s.namespaces])),
  };
}

describe("determinism", () => {
  it.each(caseNames())("%s: shuffled input gives identical output", (name) => {
    const { snapshot, clusterDomain } = loadCase(name);
    const options = clusterDomain === undefined ? { validateRegex } : { validateRegex, clusterDomain };
    const expected = serialize(translate(snapshot, options));
    for (const seed of [1, 2, 3]) expect(serialize(translate(shuffleSnapshot(snapshot, seed), options))).toBe(expected);
  });

  it("all cases merged into one snapshot: shuffled 10 times, identical every time", () => {
    const snapshot = everything();
    const expected = serialize(translate(snapshot, { validateRegex }));
    expect(JSON.parse(expected).gateways.length).toBeGreaterThan(1);
    for (let seed = 10; seed < 20; seed++) expect(serialize(translate(shuffleSnapshot(snapshot, seed), { validateRegex }))).toBe(expected);
  });

  it("table versions change with content and only with content", () => {
    const { snapshot } = loadCase("seed-helloworld");
    const a = translate(snapshot, { validateRegex }).gateways[0]?.table;
    const vs = snapshot.virtualServices[0];
    if (vs === undefined || a === undefined) throw new Error("seed case changed");
    const changed: Snapshot = {
      ...snapshot,
      virtualServices: [{ ...vs, spec: { ...vs.spec, http: [{ ...vs.spec.http[0], timeout: "2s" }] } }],
    };
    const b = translate(changed, { validateRegex }).gateways[0]?.table;
    expect(b?.version).not.toBe(a.version);
    const renamed: Snapshot = { ...snapshot, services: snapshot.services.map((s) => ({ ...s, metadata: { ...s.metadata, labels: { touched: "yes" } } })) };
    expect(translate(renamed, { validateRegex }).gateways[0]?.table.version).toBe(a.version);
  });
});

describe("the input is never modified", () => {
  it.each(caseNames())("%s: translates a deeply frozen snapshot", (name) => {
    const { snapshot, clusterDomain } = loadCase(name);
    const before = JSON.stringify(snapshot);
    const frozen = deepFreeze(snapshot);
    const options = clusterDomain === undefined ? { validateRegex } : { validateRegex, clusterDomain };
    expect(() => translate(frozen, options)).not.toThrow();
    expect(JSON.stringify(frozen)).toBe(before);
  });
});
