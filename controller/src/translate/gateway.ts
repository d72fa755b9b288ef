// One InternalGateway → its route table, DNS plan and problems.
import { DEFAULT_WORKLOAD_LABELS } from "../api/internalgateway.ts";
import type { Gateway, VirtualService } from "../api/istio.ts";
import type { Problem } from "../api/problem.ts";
import type { Service } from "../api/core.ts";
import type { Route, RouteTable, VirtualHost } from "../../../schema/route-table.ts";
import type { Acceptance } from "./binding.ts";
import { boundVirtualServices } from "./binding.ts";
import type { RegexValidator } from "./context.ts";
import type { ClusterRef } from "./destinations.ts";
import { servedNamespaces, type DnsEntry } from "./dnsplan.ts";
import { selects } from "./hosts.ts";
import { ProblemSink } from "./problems.ts";
import { reportIgnoredFields } from "./report.ts";
import { readServers, type ServerPort } from "./servers.ts";
import type { ServiceIndex } from "./services.ts";
import type { TranslateMemo } from "./memo.ts";
import { assembleTable, emptyTable } from "./assemble-table.ts";
import { DIRECT_STEPS, type GatewaySteps } from "./steps.ts";
import type { HostContext, VsHosts } from "./vhosts.ts";
import type { RouteEnv } from "./vs-routes.ts";
import type { DestinationRule } from "../api/istio.ts";
import type { GatewayApiGateway, GatewayClass, HTTPRoute, Namespace, ReferenceGrant } from "../api/gateway-api.ts";
import { translateGatewayRoutes } from "./httproute/gateway-routes.ts";
import { translateMeshRoutes } from "./httproute/mesh.ts";
import { joinMeshHosts } from "./httproute/join.ts";

export interface GatewayCounts {
  virtualServices: number;
  virtualHosts: number;
  domains: number;
  routes: number;
  ambiguousHosts: number;
  dnsEntries: number;
  problems: number;
}

export interface GatewayResult {
  /** The InternalGateway. */
  ref: { namespace: string; name: string; generation?: number };
  /** The Istio Gateway it serves ("namespace/name" split). */
  gatewayRef: { namespace: string; name: string };
  accepted: boolean;
  reason: Acceptance["reason"];
  message: string;
  /** Labels of the gateway pods (workloadSelector.matchLabels or the default). */
  workloadLabels: Record<string, string>;
  /** The Service fronting the gateway pods, when it exists. */
  service?: { namespace: string; name: string; clusterIP?: string; ports: number[] };
  /** HTTP server ports of the Gateway, ascending. */
  servers: ServerPort[];
  table: RouteTable;
  /** Service FQDNs to resolve to the gateway. Empty when the gateway's Service is missing. */
  dnsPlan: DnsEntry[];
  /** Clusters the table routes to, sorted by name: what Envoy must have. */
  clusters: ClusterRef[];
  counts: GatewayCounts;
  problems: Problem[];
  /** Gateway API Gateways of Canal's class: "namespace/name" → listener → routes attached. Absent: none. */
  gatewayApiAttached?: Record<string, Record<string, number>>;
}

export interface GatewayInputs {
  acceptance: Acceptance;
  virtualServices: readonly VirtualService[];
  destinationRules: readonly DestinationRule[];
  /** Gateway API routes (GAMMA: attached to Services) and the grants for their backendRefs. */
  httpRoutes: readonly HTTPRoute[];
  referenceGrants: readonly ReferenceGrant[];
  /** Gateway API Gateways (those of a Canal GatewayClass are served), their classes, namespace labels. */
  gatewayApiGateways?: readonly GatewayApiGateway[];
  gatewayClasses?: readonly GatewayClass[];
  namespaces?: readonly Namespace[];
  services: ServiceIndex;
  clusterDomain: string;
  validateRegex: RegexValidator;
  /** Namespaces whose Services are never redirected in DNS (kube-system, the controller's own, ...). */
  systemNamespaces: ReadonlySet<string>;
  /** Kept results of earlier translations (optional; the output is the same without it). */
  memo?: TranslateMemo;
}

export function translateGateway(input: GatewayInputs, sink: ProblemSink): GatewayResult {
  const { ig, gatewayKey } = input.acceptance;
  const slash = gatewayKey.indexOf("/");
  const workloadLabels = { ...(ig.spec.workloadSelector?.matchLabels ?? DEFAULT_WORKLOAD_LABELS) };
  const serviceNs = ig.spec.serviceRef.namespace ?? ig.metadata.namespace;
  const gatewayService = { namespace: serviceNs, name: ig.spec.serviceRef.name };
  const result: GatewayResult = {
    ref: ig.metadata.generation === undefined ? { namespace: ig.metadata.namespace, name: ig.metadata.name } : { namespace: ig.metadata.namespace, name: ig.metadata.name, generation: ig.metadata.generation },
    gatewayRef: { namespace: gatewayKey.slice(0, slash), name: gatewayKey.slice(slash + 1) },
    accepted: input.acceptance.accepted,
    reason: input.acceptance.reason,
    message: input.acceptance.message,
    workloadLabels,
    ...(svcOf(input, gatewayService) ?? {}),
    servers: [],
    table: emptyTable(),
    dnsPlan: [],
    clusters: [],
    counts: { virtualServices: 0, virtualHosts: 0, domains: 0, routes: 0, ambiguousHosts: 0, dnsEntries: 0, problems: 0 },
    problems: [],
  };
  const gateway = input.acceptance.gateway;
  const svc = input.services.get(gatewayService.namespace, gatewayService.name);
  if (!input.acceptance.accepted || gateway === undefined) return result;
  if (svc === undefined) {
    sink.add(ig, "spec.serviceRef", "GatewayServiceNotFound", `Service ${gatewayService.namespace}/${gatewayService.name} (spec.serviceRef) does not exist, so no name can be redirected to the gateway: the DNS plan stays empty until it does. Create the Service in front of the gateway pods or fix serviceRef.`);
  }
  checkSelector(gateway, workloadLabels, ig.spec.workloadSelector === undefined, sink);
  const servers = readServers(gateway, sink);
  reportIgnoredFields(gateway, gateway.ignoredFields, sink);
  result.servers = servers.ports;

  const steps: GatewaySteps = input.memo ?? DIRECT_STEPS;
  const bound = boundVirtualServices(gateway, input.virtualServices, sink, (vss) => steps.sortByAge(vss));
  for (const vs of bound) reportIgnoredFields(vs, vs.ignoredFields, sink);
  const hostCtx: HostContext = { gatewayKey, serverHosts: servers.hosts, clusterDomain: input.clusterDomain, grants: ig.spec.hostGrants ?? [], grantsFrom: `${ig.metadata.namespace}/${ig.metadata.name}`, sink };
  const claimed = steps.claim(bound, hostCtx);

  const subsets = steps.subsets(input.destinationRules, gateway.metadata.namespace, workloadLabels, input.clusterDomain);
  const destinations: Service[] = [];
  const clusterSets: (readonly ClusterRef[])[] = [];
  const env: RouteEnv = { gatewayKey, clusterDomain: input.clusterDomain, validateRegex: input.validateRegex, services: input.services, subsets, gatewayService };
  const routes = claimed.map((c): Route[] => {
    if (c.claims.length === 0) return [];
    const r = steps.vsRoutes(c.vs, env);
    for (const p of r.problems) sink.list.push(p);
    for (const d of steps.destinations(r, c.vs.metadata.namespace, hostCtx.grants, input.clusterDomain)) destinations.push(d);
    clusterSets.push(r.clusters);
    return r.routes;
  });

  // HTTPRoutes attached to Services (GAMMA); a Service a VirtualService claims stays with it.
  let claimedBy: Map<string, string> | undefined; // built on the first question: most tables have no HTTPRoute
  const claimer = (fqdn: string): string | undefined => {
    if (claimedBy === undefined) {
      claimedBy = new Map();
      for (const c of claimed) for (const h of c.claims) if (!claimedBy.has(h.domain)) claimedBy.set(h.domain, `${c.vs.metadata.namespace}/${c.vs.metadata.name}`);
    }
    return claimedBy.get(fqdn);
  };
  const mesh = translateMeshRoutes(input.httpRoutes, {
    clusterDomain: input.clusterDomain, validateRegex: input.validateRegex, services: input.services, referenceGrants: input.referenceGrants,
    grants: hostCtx.grants, grantsFrom: hostCtx.grantsFrom, claimedBy: claimer,
  });
  sink.list.push(...mesh.problems);
  if (mesh.clusters.length > 0) clusterSets.push(mesh.clusters);

  const system = (x: Service): boolean => input.systemNamespaces.has(x.metadata.namespace);
  steps.systemHosts(claimed, input.services, input.systemNamespaces, hostCtx, () => systemNamespaceProblems(claimed, input, sink));
  const planned = [...steps.hostServices(claimed, input.services, hostCtx), ...destinations, ...mesh.services];
  const planInput = { services: planned.some(system) ? planned.filter((x) => !system(x)) : planned, clusterDomain: input.clusterDomain, gatewayService };
  const plan = steps.dnsPlan(planInput);
  steps.loops(claimed, input.services, `${gatewayService.namespace}/${gatewayService.name}`, hostCtx, () => {
    for (const c of claimed) for (const h of c.claims) {
      const s = input.services.byFqdn(h.domain);
      if (s !== undefined && s.metadata.namespace === gatewayService.namespace && s.metadata.name === gatewayService.name) {
        sink.add(c.vs, `spec.hosts[${h.hostIndex}]`, "GatewayLoop", `spec.hosts[${h.hostIndex}]: ${h.domain} is the Canal gateway's own Service; it is not redirected to itself in DNS. Remove this host.`);
      }
    }
  });
  const { domains, ambiguous } = steps.aliases(claimed, input.services, servedNamespaces(plan), hostCtx);
  const virtualHosts: VirtualHost[] = [];
  claimed.forEach((c, i) => {
    const list = domains[i] as string[];
    if (list.length > 0) virtualHosts.push(steps.virtualHost(c.vs, list, routes[i] as Route[]));
  });
  const joined = joinMeshHosts(virtualHosts, ambiguous, mesh, input.services, servedNamespaces(plan));
  sink.list.push(...joined.problems);
  // HTTPRoutes on Gateway API Gateways: hosts the table already routes stay with their routes.
  const taken = new Map<string, string>();
  for (const vh of joined.virtualHosts) for (const d of vh.domains) taken.set(d, `virtual host ${vh.name}`);
  for (const a of joined.ambiguous) taken.set(a.host, `the ambiguous short name ${a.host} (ADR 0002)`);
  const onGateways = translateGatewayRoutes(input.httpRoutes, {
    clusterDomain: input.clusterDomain, validateRegex: input.validateRegex, services: input.services, referenceGrants: input.referenceGrants,
    grants: hostCtx.grants, grantsFrom: hostCtx.grantsFrom, gateways: input.gatewayApiGateways ?? [], gatewayClasses: input.gatewayClasses ?? [],
    namespaces: input.namespaces ?? [], takenBy: (d) => taken.get(d),
  });
  sink.list.push(...onGateways.problems);
  if (onGateways.attachedRoutes.size > 0) result.gatewayApiAttached = Object.fromEntries([...onGateways.attachedRoutes].map(([k, m]) => [k, Object.fromEntries(m)]));
  if (onGateways.clusters.length > 0) clusterSets.push(onGateways.clusters);
  result.table = assembleTable([...joined.virtualHosts, ...onGateways.virtualHosts], joined.ambiguous, (vh) => steps.virtualHostJson(vh));
  result.dnsPlan = svc === undefined ? [] : plan;
  result.clusters = steps.clusters(clusterSets);
  result.counts = {
    virtualServices: bound.length,
    virtualHosts: result.table.virtualHosts.length,
    domains: result.table.virtualHosts.reduce((n, v) => n + v.domains.length, 0),
    routes: result.table.virtualHosts.reduce((n, v) => n + v.routes.length, 0),
    ambiguousHosts: result.table.ambiguousHosts?.length ?? 0,
    dnsEntries: result.dnsPlan.length,
    problems: 0,
  };
  return result;
}

/** A claimed host of a Service in a system namespace stays routable but is never put in DNS. */
function systemNamespaceProblems(claimed: readonly VsHosts[], input: GatewayInputs, sink: ProblemSink): void {
  if (input.systemNamespaces.size === 0) return;
  for (const c of claimed) for (const h of c.claims) {
    const s = input.services.byFqdn(h.domain);
    if (s === undefined || !input.systemNamespaces.has(s.metadata.namespace)) continue;
    const field = `spec.hosts[${h.hostIndex}]`;
    sink.add(c.vs, field, "SystemNamespace", `${field}: ${h.domain} is a Service of the system namespace "${s.metadata.namespace}", which Canal never redirects in DNS (--system-namespaces; kube-system and the controller's own namespace always), so its callers keep reaching it directly. Remove this host.`);
  }
}

function svcOf(input: GatewayInputs, ref: { namespace: string; name: string }): { service: NonNullable<GatewayResult["service"]> } | undefined {
  const s = input.services.get(ref.namespace, ref.name);
  if (s === undefined) return undefined;
  const ports = [...new Set(s.spec.ports.map((p) => p.port))].sort((a, b) => a - b);
  const clusterIP = s.spec.clusterIP === undefined ? {} : { clusterIP: s.spec.clusterIP };
  return { service: { namespace: s.metadata.namespace, name: s.metadata.name, ...clusterIP, ports } };
}

/** The Gateway's selector should select the gateway pods, or Istio programs it elsewhere. */
function checkSelector(gateway: Gateway, labels: Record<string, string>, defaulted: boolean, sink: ProblemSink): void {
  if (selects(gateway.spec.selector, labels)) return;
  const show = (l: Record<string, string>): string => `{${Object.entries(l).map(([k, v]) => `${k}: ${v}`).join(", ")}}`;
  const source = defaulted ? "the default workload labels" : "the InternalGateway's workloadSelector.matchLabels";
  sink.add(gateway, "spec.selector", "SelectorMismatch", `spec.selector ${show(gateway.spec.selector)} does not select the Canal gateway pods (${source} ${show(labels)}); Istio would apply this Gateway to other workloads. Make the selector a subset of those labels.`);
}
