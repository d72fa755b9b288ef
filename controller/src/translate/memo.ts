// What translate() may keep between calls so that a change to one object costs about as much as
// that object: each VirtualService's host candidates and routes per gateway (reused while the VirtualService object is
// the same and every Service/DestinationRule lookup it made gives the same answer), each virtual
// host serialized, and the Service index while the Services are the same array. Keyed by
// object identity (WeakMaps): an object that leaves the snapshot leaves the memo with it. The
// memo never changes a result: translate() with and without it returns the same output
// (incremental.test.ts checks it over random edit sequences).
import type { Service } from "../api/core.ts";
import type { DestinationRule, VirtualService } from "../api/istio.ts";
import type { Problem } from "../api/problem.ts";
import type { Route, VirtualHost } from "../../../schema/route-table.ts";
import type { RegexValidator } from "./context.ts";
import { dnsEntry, planOf, plannedServices, type DnsEntry, type DnsPlanInput } from "./dnsplan.ts";
import { virtualHostName } from "./names.ts";
import { AgeOrder } from "./order.ts";
import { ownedDestinations, sortedClusters, type GatewaySteps } from "./steps.ts";
import type { HostGrant } from "../api/internalgateway.ts";
import type { ClusterRef } from "./destinations.ts";
import { ServiceIndex, type ServiceLookup } from "./services.ts";
import { subsetLookup, type SubsetLookup } from "./subsets.ts";
import { serializeVirtualHost, type VirtualHostJson } from "./assemble-table.ts";
import { candidatesKey, claimHosts, hostCandidates, hostServices, withAliases, type Domains, type HostCandidates, type HostContext, type VsHosts } from "./vhosts.ts";
import { dependenciesHold, translateVsRoutes, type RouteEnv, type VsRoutes } from "./vs-routes.ts";

/** A virtual host made by virtualHost(), and its serialization once asked for. */
interface KeptVirtualHost {
  vh: VirtualHost;
  json?: VirtualHostJson;
}

/** A VirtualService without HTTP routes claims nothing and has no candidates. */
const NO_HTTP: HostCandidates = { candidates: [], problems: [] };

/**
 * One gateway view's host layout: which domains each bound VirtualService won, and what follows
 * from those claims alone. It holds while the bound VirtualServices, in order, have the same
 * candidates objects (hostCandidates() hands an edited VirtualService its predecessor's object
 * when the content is equal), so a change to routes only skips every host pass.
 */
interface HostLayout {
  candidates: HostCandidates[];
  claimed: VsHosts[];
  /** What claimHosts() added to the sink. */
  problems: Problem[];
  /** Derived from the claims; each kept with what else it depends on. */
  hostServices?: { services: ServiceIndex; list: Service[] };
  loops?: { services: ServiceIndex; gatewayService: string; problems: Problem[] };
  aliases?: { services: ServiceIndex; served: ReadonlySet<string>; domains: Domains; problems: Problem[] };
  system?: { services: ServiceIndex; systemNamespaces: ReadonlySet<string>; problems: Problem[] };
  /** "namespace/name" → candidates of the bound VirtualServices (for an edited object's predecessor). */
  byName?: Map<string, HostCandidates>;
}

export interface MemoStats {
  /** VirtualService route sets reused / translated, since the memo was created. */
  reused: number;
  translated: number;
}

export class TranslateMemo implements GatewaySteps {
  readonly stats: MemoStats = { reused: 0, translated: 0 };
  /** Results depend on the validator: a different one starts over. */
  private validator?: RegexValidator;
  private clusterDomain?: string;
  private dnsEntries = new WeakMap<Service, DnsEntry>();
  /** The last DNS plan per gateway Service, with the Services it was made of. */
  private plans = new Map<string, { services: ReadonlySet<Service>; plan: DnsEntry[]; input: readonly Service[]; clusterDomain: string }>();
  /** Per gateway environment (gateway, its Service, cluster domain). */
  private routes = new Map<string, WeakMap<VirtualService, VsRoutes>>();
  /** Per gateway view (candidatesKey). */
  private candidates = new Map<string, WeakMap<VirtualService, HostCandidates>>();
  private index?: { services: readonly Service[]; clusterDomain: string; index: ServiceIndex };
  /** Per gateway view (candidatesKey). */
  private layouts = new Map<string, HostLayout>();
  /** Virtual hosts (and their JSON) by their routes array (a memo result's, so stable), while the domains are the same. */
  private readonly hosts = new WeakMap<readonly Route[], KeptVirtualHost>();
  private readonly ageOrder = new AgeOrder();
  /** Subset lookups per gateway view, while the DestinationRules are the same objects. */
  private subsetLookups = new Map<string, { rules: readonly DestinationRule[]; lookup: SubsetLookup }>();
  /**
   * The lookups a kept route set was last checked against: the same lookup objects give the same
   * answers (both are pure functions of arrays the memo compares), so the check is skipped.
   */
  private readonly checked = new WeakMap<VsRoutes, { services: ServiceLookup; subsets: SubsetLookup }>();
  /** Destinations that enter the DNS plan, per route set (ownedDestinations). */
  private readonly owned = new WeakMap<VsRoutes, { namespace: string; grants: readonly HostGrant[]; clusterDomain: string; list: Service[] }>();
  /** The last sorted cluster list and the per-VirtualService sets it was made of. */
  private clusterList?: KeptClusters;
  /** Memo keys by the context object they were made of (one context per translation pass). */
  private readonly keys = new WeakMap<object, string>();

  /** Called once per translate(): drops everything if the validator or the cluster domain changed. */
  begin(validator: RegexValidator, clusterDomain: string): void {
    if (this.validator === validator && this.clusterDomain === clusterDomain) return;
    this.validator = validator;
    this.clusterDomain = clusterDomain;
    this.routes = new Map();
    this.candidates = new Map();
    this.index = undefined;
    this.dnsEntries = new WeakMap();
    this.plans = new Map();
    this.layouts = new Map();
    this.subsetLookups = new Map();
    this.clusterList = undefined;
  }

  /** byAge(vss), skipping the sort while every position holds an object of the same age (order.ts). */
  sortByAge(vss: readonly VirtualService[]): VirtualService[] {
    return this.ageOrder.sort(vss);
  }

  /** subsetLookup(...), the same object while the DestinationRules are the same objects. */
  subsets(rules: readonly DestinationRule[], gatewayNamespace: string, workloadLabels: Readonly<Record<string, string>>, clusterDomain: string): SubsetLookup {
    const key = `${gatewayNamespace}\n${clusterDomain}\n${JSON.stringify(Object.entries(workloadLabels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
    const kept = this.subsetLookups.get(key);
    if (kept !== undefined && sameItems(kept.rules, rules)) return kept.lookup;
    const lookup = subsetLookup(rules, gatewayNamespace, workloadLabels, clusterDomain);
    this.subsetLookups.set(key, { rules, lookup });
    return lookup;
  }

  private keyOf(ctx: object, make: () => string): string {
    let key = this.keys.get(ctx);
    if (key === undefined) {
      key = make();
      this.keys.set(ctx, key);
    }
    return key;
  }

  /** claimHosts(bound, ctx) (adding the same problems to ctx.sink), kept while the layout holds. */
  claim(bound: readonly VirtualService[], ctx: HostContext): VsHosts[] {
    const key = this.keyOf(ctx, () => candidatesKey(ctx));
    const last = this.layouts.get(key);
    // Built on the first edited VirtualService and kept with the layout while it holds (then
    // every name still maps to the same candidates object), not rebuilt per change.
    const predecessor = (vs: VirtualService): HostCandidates | undefined => {
      if (last === undefined) return undefined;
      last.byName ??= new Map(last.claimed.map((c, i) => [`${c.vs.metadata.namespace}/${c.vs.metadata.name}`, last.candidates[i] as HostCandidates]));
      return last.byName.get(`${vs.metadata.namespace}/${vs.metadata.name}`);
    };
    const candidates = bound.map((vs) => (vs.spec.http.length === 0 ? NO_HTTP : this.hostCandidates(vs, ctx, predecessor)));
    if (last !== undefined && sameItems(last.candidates, candidates)) {
      for (const p of last.problems) ctx.sink.list.push(p);
      // Same claims; only the VirtualService objects may be newer.
      const claimed = last.claimed.map((c, i) => (c.vs === bound[i] ? c : { vs: bound[i] as VirtualService, claims: c.claims }));
      this.layouts.set(key, { ...last, candidates, claimed });
      return claimed;
    }
    const before = ctx.sink.list.length;
    const claimed = claimHosts(bound, ctx, (_vs, i) => candidates[i] as HostCandidates);
    this.layouts.set(key, { candidates, claimed, problems: ctx.sink.list.slice(before) });
    return claimed;
  }

  private layoutOf(ctx: HostContext, claimed: readonly VsHosts[]): HostLayout | undefined {
    const layout = this.layouts.get(this.keyOf(ctx, () => candidatesKey(ctx)));
    return layout !== undefined && layout.claimed === claimed ? layout : undefined;
  }

  /** hostServices(claimed, services) for claims made by claim(). */
  hostServices(claimed: VsHosts[], services: ServiceIndex, ctx: HostContext): Service[] {
    const layout = this.layoutOf(ctx, claimed);
    if (layout?.hostServices !== undefined && layout.hostServices.services === services) return layout.hostServices.list;
    const list = hostServices(claimed, services);
    if (layout !== undefined) layout.hostServices = { services, list };
    return list;
  }

  /** Problems `check` adds to ctx.sink for claims made by claim(), kept per Service index and gateway Service. */
  loops(claimed: VsHosts[], services: ServiceIndex, gatewayService: string, ctx: HostContext, check: () => void): void {
    const layout = this.layoutOf(ctx, claimed);
    const kept = layout?.loops;
    if (kept !== undefined && kept.services === services && kept.gatewayService === gatewayService) {
      for (const p of kept.problems) ctx.sink.list.push(p);
      return;
    }
    const before = ctx.sink.list.length;
    check();
    if (layout !== undefined) layout.loops = { services, gatewayService, problems: ctx.sink.list.slice(before) };
  }

  /** withAliases(...) for claims made by claim(), adding the same problems to ctx.sink. */
  aliases(claimed: VsHosts[], services: ServiceIndex, served: ReadonlySet<string>, ctx: HostContext): Domains {
    const layout = this.layoutOf(ctx, claimed);
    const kept = layout?.aliases;
    if (kept !== undefined && kept.services === services && sameSet(kept.served, served)) {
      for (const p of kept.problems) ctx.sink.list.push(p);
      return kept.domains;
    }
    const before = ctx.sink.list.length;
    const domains = withAliases(claimed, services, served, ctx);
    if (layout !== undefined) layout.aliases = { services, served, domains, problems: ctx.sink.list.slice(before) };
    return domains;
  }

  /** The virtual host of `vs` with these domains and routes (the same object while both arrays are). */
  virtualHost(vs: VirtualService, domains: readonly string[], routes: Route[]): VirtualHost {
    // A routes array belongs to one VirtualService, so the name is the same too.
    const kept = this.hosts.get(routes);
    if (kept !== undefined && (kept.vh.domains === domains || sameStrings(kept.vh.domains, domains))) return kept.vh;
    const vh: VirtualHost = { name: virtualHostName(vs.metadata.namespace, vs.metadata.name), domains: domains as string[], routes };
    this.hosts.set(routes, { vh });
    return vh;
  }

  /** buildDnsPlan(input), the same array while the planned Services are the same objects. */
  dnsPlan(input: DnsPlanInput): DnsEntry[] {
    const key = `${input.gatewayService.namespace}/${input.gatewayService.name}`;
    const last = this.plans.get(key);
    // The same input list, item by item, is the same plan (a pointer loop; no set built).
    if (last !== undefined && last.clusterDomain === input.clusterDomain && sameItems(last.input, input.services)) return last.plan;
    const planned = plannedServices(input);
    if (last !== undefined && last.clusterDomain === input.clusterDomain && last.services.size === planned.size && [...planned].every((s) => last.services.has(s))) {
      this.plans.set(key, { ...last, input: input.services });
      return last.plan;
    }
    const plan = planOf(planned, input.clusterDomain, (s, domain) => {
      let e = this.dnsEntries.get(s);
      if (e === undefined) {
        e = dnsEntry(s, domain);
        this.dnsEntries.set(s, e);
      }
      return e;
    });
    this.plans.set(key, { services: planned, plan, input: input.services, clusterDomain: input.clusterDomain });
    return plan;
  }

  /** The Service index for this array of Services (the same array gets the same index). */
  serviceIndex(services: readonly Service[], clusterDomain: string): ServiceIndex {
    const i = this.index;
    if (i !== undefined && i.services === services && i.clusterDomain === clusterDomain) return i.index;
    const index = new ServiceIndex(services, clusterDomain);
    this.index = { services, clusterDomain, index };
    return index;
  }

  /**
   * hostCandidates(vs, ctx), kept per VirtualService object and gateway view. A new object whose
   * candidates equal those of its predecessor (same namespace/name) gets the predecessor's result.
   */
  hostCandidates(vs: VirtualService, ctx: HostContext, predecessor: (vs: VirtualService) => HostCandidates | undefined = () => undefined): HostCandidates {
    const key = this.keyOf(ctx, () => candidatesKey(ctx));
    let byVs = this.candidates.get(key);
    if (byVs === undefined) {
      byVs = new WeakMap();
      this.candidates.set(key, byVs);
    }
    let kept = byVs.get(vs);
    if (kept === undefined) {
      kept = hostCandidates(vs, ctx);
      const before = predecessor(vs);
      if (before !== undefined && sameCandidates(before, kept)) kept = before;
      byVs.set(vs, kept);
    }
    return kept;
  }

  /** `vs`'s routes in `env`: kept if still valid, else translated and kept. */
  vsRoutes(vs: VirtualService, env: RouteEnv): VsRoutes {
    const key = this.keyOf(env, () => `${env.gatewayKey}\n${env.gatewayService.namespace}/${env.gatewayService.name}\n${env.clusterDomain}`);
    let byVs = this.routes.get(key);
    if (byVs === undefined) {
      byVs = new WeakMap();
      this.routes.set(key, byVs);
    }
    const kept = byVs.get(vs);
    if (kept !== undefined) {
      const last = this.checked.get(kept);
      const same = last !== undefined && last.services === env.services && last.subsets === env.subsets;
      if (same || dependenciesHold(kept.dependencies, env)) {
        if (!same) this.checked.set(kept, { services: env.services, subsets: env.subsets });
        this.stats.reused++;
        return kept;
      }
    }
    const fresh = translateVsRoutes(vs, env);
    this.checked.set(fresh, { services: env.services, subsets: env.subsets });
    byVs.set(vs, fresh);
    this.stats.translated++;
    return fresh;
  }

  /** ownedDestinations(...), kept per route set while the namespace, grants and cluster domain are the same. */
  destinations(routes: VsRoutes, namespace: string, grants: readonly HostGrant[], clusterDomain: string): readonly Service[] {
    const kept = this.owned.get(routes);
    if (kept !== undefined && kept.namespace === namespace && kept.clusterDomain === clusterDomain && sameGrants(kept.grants, grants)) return kept.list;
    const list = ownedDestinations(routes, namespace, grants, clusterDomain);
    this.owned.set(routes, { namespace, grants, clusterDomain, list });
    return list;
  }

  /**
   * sortedClusters(sets): the same list while every set is the same array (kept route sets keep
   * theirs). When a few sets changed in place (a VirtualService edited), only the cluster names of
   * those sets are looked at again: each one's first reference found anew and the sorted list
   * patched by binary search. At 50,000 VirtualServices rebuilding and sorting every name was the
   * largest single cost of a one-object change.
   */
  clusters(sets: readonly (readonly ClusterRef[])[]): ClusterRef[] {
    const kept = this.clusterList;
    if (kept !== undefined && sameItems(kept.sets, sets)) return kept.list;
    const patched = kept === undefined ? undefined : patchClusters(kept, sets);
    if (patched !== undefined) {
      this.clusterList = patched;
      return patched.list;
    }
    const first = new Map<string, number>();
    sets.forEach((set, i) => {
      for (const ref of set) if (!first.has(ref.cluster)) first.set(ref.cluster, i);
    });
    const list = sortedClusters(sets);
    this.clusterList = { sets, list, first };
    return list;
  }

  /** Problems `check` adds to ctx.sink for claims made by claim(), kept per Service index and system namespaces. */
  systemHosts(claimed: VsHosts[], services: ServiceIndex, systemNamespaces: ReadonlySet<string>, ctx: HostContext, check: () => void): void {
    const layout = this.layoutOf(ctx, claimed);
    const kept = layout?.system;
    if (kept !== undefined && kept.services === services && sameSet(kept.systemNamespaces, systemNamespaces)) {
      for (const p of kept.problems) ctx.sink.list.push(p);
      return;
    }
    const before = ctx.sink.list.length;
    check();
    if (layout !== undefined) layout.system = { services, systemNamespaces, problems: ctx.sink.list.slice(before) };
  }

  /** A virtual host serialized; kept with the virtual host object virtualHost() made. */
  virtualHostJson(vh: VirtualHost): VirtualHostJson {
    const kept = this.hosts.get(vh.routes);
    if (kept?.vh !== vh) return serializeVirtualHost(vh); // not made by virtualHost(): nothing to keep it by
    kept.json ??= serializeVirtualHost(vh);
    return kept.json;
  }

}

/** A sorted cluster list, the sets it was made of, and the index of the set holding each name's first reference. */
interface KeptClusters {
  sets: readonly (readonly ClusterRef[])[];
  list: ClusterRef[];
  first: Map<string, number>;
}

/** Sets that differ from the kept ones in more places than this are not patched: everything is redone. */
const MAX_PATCHED_SETS = 16;

/** The position of `name` in `list` (sorted by name), or -(insertion point) - 1. */
function findCluster(list: readonly ClusterRef[], name: string): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = (list[mid] as ClusterRef).cluster;
    if (c === name) return mid;
    if (c < name) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/**
 * `kept` brought up to `sets` when both have the same length and at most MAX_PATCHED_SETS
 * positions differ; undefined otherwise. Equal to sortedClusters(sets) (incremental.test.ts).
 */
function patchClusters(kept: KeptClusters, sets: readonly (readonly ClusterRef[])[]): KeptClusters | undefined {
  if (kept.sets.length !== sets.length) return undefined;
  const changed: number[] = [];
  for (let i = 0; i < sets.length; i++) {
    if (kept.sets[i] === sets[i]) continue;
    if (changed.length === MAX_PATCHED_SETS) return undefined;
    changed.push(i);
  }
  const names = new Set<string>();
  for (const i of changed) for (const ref of [...(kept.sets[i] as readonly ClusterRef[]), ...(sets[i] as readonly ClusterRef[])]) names.add(ref.cluster);
  const isChanged = new Set(changed);
  const refIn = (i: number, name: string): ClusterRef | undefined => (sets[i] as readonly ClusterRef[]).find((r) => r.cluster === name);
  const list = [...kept.list];
  const first = kept.first; // owned by the memo alone: updated in place
  for (const name of names) {
    let inChanged = -1;
    for (const i of changed) if ((inChanged < 0 || i < inChanged) && refIn(i, name) !== undefined) inChanged = i;
    const was = first.get(name);
    let at: number;
    if (was !== undefined && !isChanged.has(was)) at = inChanged >= 0 && inChanged < was ? inChanged : was; // unchanged sets hold it where they did
    else {
      // New, or its first holder changed: a changed set, or the next unchanged holder after the old first one.
      // (No unchanged set before the old first position holds it; a new name is in no unchanged set.)
      at = inChanged;
      if (was !== undefined) {
        const end = inChanged >= 0 ? inChanged : sets.length;
        for (let j = was + 1; j < end; j++) {
          if (!isChanged.has(j) && refIn(j, name) !== undefined) {
            at = j;
            break;
          }
        }
      }
    }
    const pos = findCluster(list, name);
    if (at < 0) {
      first.delete(name);
      if (pos >= 0) list.splice(pos, 1);
      continue;
    }
    first.set(name, at);
    const ref = refIn(at, name) as ClusterRef;
    if (pos >= 0) list[pos] = ref;
    else list.splice(-pos - 1, 0, ref);
  }
  return { sets, list: sameItems(list, kept.list) ? kept.list : list, first };
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Grants compare by identity (an unchanged InternalGateway keeps its array); two empty lists are the same. */
function sameGrants(a: readonly HostGrant[], b: readonly HostGrant[]): boolean {
  return a === b || (a.length === 0 && b.length === 0);
}

function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function sameCandidates(a: HostCandidates, b: HostCandidates): boolean {
  if (a.candidates.length !== b.candidates.length || a.problems.length !== b.problems.length) return false;
  for (let i = 0; i < a.candidates.length; i++) {
    const x = a.candidates[i] as HostCandidates["candidates"][number];
    const y = b.candidates[i] as HostCandidates["candidates"][number];
    if (x.domain !== y.domain || x.hostIndex !== y.hostIndex) return false;
  }
  for (let i = 0; i < a.problems.length; i++) {
    const x = a.problems[i] as Problem;
    const y = b.problems[i] as Problem;
    if (x.kind !== y.kind || x.namespace !== y.namespace || x.name !== y.name || x.field !== y.field || x.reason !== y.reason || x.message !== y.message) return false;
  }
  return true;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
