// The steps of one gateway's translation that a memo may answer from earlier translations.
// translateGateway() calls them through this interface only: DIRECT_STEPS computes each one
// afresh, TranslateMemo (memo.ts) returns kept results when their inputs are the same. Both give
// the same output (incremental.test.ts).
import type { Service } from "../api/core.ts";
import type { HostGrant } from "../api/internalgateway.ts";
import type { DestinationRule, VirtualService } from "../api/istio.ts";
import type { Route, VirtualHost } from "../../../schema/route-table.ts";
import { buildDnsPlan, type DnsEntry, type DnsPlanInput } from "./dnsplan.ts";
import { serviceFqdn, virtualHostName } from "./names.ts";
import type { ClusterRef } from "./destinations.ts";
import { mayRoute } from "./ownership.ts";
import { byAge } from "./order.ts";
import type { ServiceIndex } from "./services.ts";
import { subsetLookup, type SubsetLookup } from "./subsets.ts";
import { serializeVirtualHost, type VirtualHostJson } from "./assemble-table.ts";
import { claimHosts, hostServices, withAliases, type Domains, type HostContext, type VsHosts } from "./vhosts.ts";
import { translateVsRoutes, type RouteEnv, type VsRoutes } from "./vs-routes.ts";

export interface GatewaySteps {
  /** byAge(vss). */
  sortByAge(vss: readonly VirtualService[]): VirtualService[];
  /** claimHosts(bound, ctx), adding its problems to ctx.sink. */
  claim(bound: readonly VirtualService[], ctx: HostContext): VsHosts[];
  subsets(rules: readonly DestinationRule[], gatewayNamespace: string, workloadLabels: Readonly<Record<string, string>>, clusterDomain: string): SubsetLookup;
  vsRoutes(vs: VirtualService, env: RouteEnv): VsRoutes;
  /** hostServices(claimed, services), for claims made by claim(). */
  hostServices(claimed: VsHosts[], services: ServiceIndex, ctx: HostContext): Service[];
  dnsPlan(input: DnsPlanInput): DnsEntry[];
  /** Runs `check`, which adds the gateway-loop problems of `claimed` to ctx.sink (a memo may add kept ones instead). */
  loops(claimed: VsHosts[], services: ServiceIndex, gatewayService: string, ctx: HostContext, check: () => void): void;
  /** withAliases(claimed, services, served, ctx), adding its problems to ctx.sink. */
  aliases(claimed: VsHosts[], services: ServiceIndex, served: ReadonlySet<string>, ctx: HostContext): Domains;
  virtualHost(vs: VirtualService, domains: readonly string[], routes: Route[]): VirtualHost;
  virtualHostJson(vh: VirtualHost): VirtualHostJson;
  /** ownedDestinations(routes, namespace, grants, clusterDomain). */
  destinations(routes: VsRoutes, namespace: string, grants: readonly HostGrant[], clusterDomain: string): readonly Service[];
  /** sortedClusters(sets). */
  clusters(sets: readonly (readonly ClusterRef[])[]): ClusterRef[];
  /** Runs `check`, which adds the system-namespace problems of `claimed` to ctx.sink (a memo may add kept ones instead). */
  systemHosts(claimed: VsHosts[], services: ServiceIndex, systemNamespaces: ReadonlySet<string>, ctx: HostContext, check: () => void): void;
}

/**
 * The Services a VirtualService in `namespace` routes to that enter the DNS plan: only those it
 * owns or is granted (a tenant may route to another namespace's Service, but not move that
 * Service's callers onto the gateway).
 */
export function ownedDestinations(routes: VsRoutes, namespace: string, grants: readonly HostGrant[], clusterDomain: string): Service[] {
  return routes.services.filter((d) => mayRoute(serviceFqdn(d.metadata.name, d.metadata.namespace, clusterDomain), namespace, grants, clusterDomain).ok);
}

/** The clusters of `sets`, each name once (its first reference), sorted by name. */
export function sortedClusters(sets: readonly (readonly ClusterRef[])[]): ClusterRef[] {
  const clusters = new Map<string, ClusterRef>();
  for (const set of sets) for (const ref of set) if (!clusters.has(ref.cluster)) clusters.set(ref.cluster, ref);
  return [...clusters.values()].sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
}

/** Every step computed afresh (translate() without a memo). */
export const DIRECT_STEPS: GatewaySteps = {
  sortByAge: (vss) => byAge(vss),
  claim: (bound, ctx) => claimHosts(bound, ctx),
  subsets: (rules, gatewayNamespace, workloadLabels, clusterDomain) => subsetLookup(rules, gatewayNamespace, workloadLabels, clusterDomain),
  vsRoutes: (vs, env) => translateVsRoutes(vs, env),
  hostServices: (claimed, services) => hostServices(claimed, services),
  dnsPlan: (input) => buildDnsPlan(input),
  loops: (_claimed, _services, _gatewayService, _ctx, check) => check(),
  aliases: (claimed, services, served, ctx) => withAliases(claimed, services, served, ctx),
  virtualHost: (vs, domains, routes) => ({ name: virtualHostName(vs.metadata.namespace, vs.metadata.name), domains: domains as string[], routes }),
  virtualHostJson: (vh) => serializeVirtualHost(vh),
  destinations: (routes, namespace, grants, clusterDomain) => ownedDestinations(routes, namespace, grants, clusterDomain),
  clusters: (sets) => sortedClusters(sets),
  systemHosts: (_claimed, _services, _systemNamespaces, _ctx, check) => check(),
};
