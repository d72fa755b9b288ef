// The sharded router updates its union in place when one shard changes (filter/assembly/shards/
// union.ts replaceShard: O(shard) instead of O(table)). Held to the whole union: seeded sequences
// of changes (a route, a domain moved or duplicated across virtual hosts, wildcards and a
// catch-all, virtual hosts added and removed, ambiguous hosts, a version-only manifest), each
// applied to a kept router and to a fresh router reading the same shared data: the same verdict,
// version and routing; a refused change leaves the kept router serving exactly what it served.
import { describe, expect, it } from "vitest";
import type { RouteTable, VirtualHost } from "../../schema/route-table.ts";
import type { ShardPlan } from "../../controller/src/translate/shards.ts";
import { LogLevel, type ProxyWasmHost } from "./host.js";
import { KEY, SharedData, loads, manifestDataKey, plan, probe, routeOf, router, services, shardDataKey, tableOf, tick } from "./shards-harness.ts";
import { rng } from "../unit/regex/harness.js";

const K = 8;
const enc = new TextEncoder();

function write(store: SharedData, p: ShardPlan, before: ShardPlan | null): void {
  for (const s of p.shards) if (before === null || before.shards[s.index]?.version !== s.version) store.set("", shardDataKey(KEY, s.index), enc.encode(JSON.stringify(s)));
  store.set("", manifestDataKey(KEY), enc.encode(JSON.stringify(p.manifest)));
}

function hostsOf(t: RouteTable): string[] {
  const out = new Set<string>(["nobody.example", "x.wild.example", "api"]);
  for (const v of t.virtualHosts) for (const d of v.domains) out.add(d.replace(/^\*\./, "a."));
  for (const a of t.ambiguousHosts ?? []) out.add(a.host);
  return [...out].sort();
}

function routing(r: ProxyWasmHost, hosts: string[]): string[] {
  return hosts.map((h) => `${h} -> ${routeOf(r, h)}`);
}

/** The next table: one change to `t`, chosen by `random`. */
function mutate(random: () => number, t: RouteTable, step: number): RouteTable {
  const vhosts: VirtualHost[] = structuredClone(t.virtualHosts);
  const i = Math.floor(random() * vhosts.length);
  const v = vhosts[i]!;
  const other = vhosts[(i + 1 + Math.floor(random() * (vhosts.length - 1))) % vhosts.length]!;
  const x = random();
  let ambiguousHosts = t.ambiguousHosts;
  if (x < 0.35) v.routes = [{ route: [{ cluster: `outbound|80||s${step}.test.svc.cluster.local` }] }];
  else if (x < 0.45) v.domains = [...v.domains, other.domains[0]!]; // a duplicate: refused
  else if (x < 0.55) v.domains = [...v.domains, "*.wild.example"]; // a wildcard, refused once taken
  else if (x < 0.6) v.domains = [...v.domains, "*"]; // the catch-all, refused once taken
  else if (x < 0.68 && vhosts.length > 10) vhosts.splice(i, 1);
  else if (x < 0.76) vhosts.push(services(1, `n${step}`).map((s) => ({ ...s, name: `ns/new-${step}`, domains: [`new-${step}.ns`] }))[0]!);
  else if (x < 0.84) ambiguousHosts = ambiguousHosts?.length ? undefined : [{ host: "api", candidates: ["a/api", "b/api"] }];
  else if (x < 0.88) ambiguousHosts = [{ host: v.domains[0]!, candidates: ["a/x", "b/x"] }]; // also a domain: refused
  else if (x < 0.94) v.domains = v.domains.slice(1).length ? v.domains.slice(1) : v.domains;
  const next: RouteTable = { format: 1, version: `s${step}`, virtualHosts: vhosts };
  if (ambiguousHosts !== undefined) next.ambiguousHosts = ambiguousHosts;
  return next;
}

describe("the union updated in place = the whole union", () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}`, async () => {
      const random = rng(seed);
      const store = new SharedData();
      let current = tableOf("s0", services(30));
      let written = plan(current, K);
      write(store, written, null);
      const kept = await router(store);
      let served = routing(kept, hostsOf(current));
      const counts = { accepted: 0, refused: 0, inPlace: 0 };
      for (let step = 1; step <= 60; step++) {
        const candidate = mutate(random, current, step);
        let p: ShardPlan;
        try {
          p = plan(candidate, K);
        } catch {
          continue; // the planner refused it (not the filter's business)
        }
        write(store, p, written);
        written = p;
        tick(kept);
        const fresh = await router(store);
        const verdict = probe(fresh);
        const hosts = [...new Set([...hostsOf(current), ...hostsOf(candidate)])].sort();
        if (verdict.status === 200) {
          counts.accepted++;
          expect(probe(kept).version, `step ${step}`).toBe(candidate.version);
          expect(routing(kept, hosts), `step ${step}`).toEqual(routing(fresh, hosts));
          if (/lookups in place/.test(kept.logMessages(LogLevel.info).at(-1) ?? "")) counts.inPlace++;
          current = candidate;
          served = routing(kept, hostsOf(current));
        } else {
          counts.refused++;
          expect(verdict.body, `step ${step}`).toMatch(/^canal: table incomplete \((refused: |shards invalid: )/);
          expect(probe(kept).version, `step ${step}`).toBe(current.version);
          expect(routing(kept, hostsOf(current)), `step ${step}`).toEqual(served);
        }
        fresh.shutdown();
      }
      console.log(`seed ${seed}: ${JSON.stringify(counts)}`);
      expect(counts.inPlace).toBeGreaterThan(10);
      expect(counts.refused).toBeGreaterThan(3);
      expect(loads(kept).length).toBe(counts.accepted + 1);
    }, 120_000);
  }
});
