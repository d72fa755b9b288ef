// HTTPRoutes attached to Gateway API Gateways that Canal serves → one virtual host per host the
// routes are served for (listener hostname ∩ route hostnames, "*" when neither names one), whose
// routes are every attached route's matches in the spec's precedence order (precedence.ts). All
// Gateways served by one InternalGateway share its address, so their listeners are merged (the
// spec lets an implementation merge Gateways whose listeners are compatible): routes of two
// Gateways for one host are ordered together. Listener ports are not matched (the Canal gateway
// listens where its Istio Gateway says). A host a VirtualService or a mesh route already routes
// stays theirs (HostConflict on the route). Pure: no I/O; the same input in any order gives the
// same output.
import type { GatewayApiGateway, GatewayClass, HTTPRoute, Namespace } from "../../api/gateway-api.ts";
import { CANAL_CONTROLLER_NAME } from "../../api/gateway-api.ts";
import type { Problem } from "../../api/problem.ts";
import { sortProblems } from "../../api/problem.ts";
import type { Route, VirtualHost } from "../../../../schema/route-table.ts";
import type { ClusterRef } from "../destinations.ts";
import { virtualHostName } from "../names.ts";
import { byAge } from "../order.ts";
import { ProblemSink } from "../problems.ts";
import type { HTTPRouteContext } from "./context.ts";
import { gatewayAttachments, type GatewayAttachment, type GatewayParentsEnv } from "./gateway-parents.ts";
import { reportIgnored } from "./mesh.ts";
import { compareEntries, entriesOf } from "./precedence.ts";
import { matchRoutes, translateRule, type TranslatedRule } from "./rules.ts";

export interface GatewayRoutesEnv extends Omit<GatewayParentsEnv, "gateways" | "namespaceLabels"> {
  gateways: readonly GatewayApiGateway[];
  gatewayClasses: readonly GatewayClass[];
  namespaces: readonly Namespace[];
  /** Who already routes a domain on this gateway (a VirtualService or a mesh route), if anyone. */
  takenBy: (domain: string) => string | undefined;
}

export interface GatewayRoutesResult {
  /** One per served host, sorted by host. */
  virtualHosts: VirtualHost[];
  clusters: ClusterRef[];
  /** "namespace/name" of every Gateway of a Canal class, sorted. */
  servedGateways: string[];
  /** Gateway "namespace/name" → listener name → routes attached (status.listeners[].attachedRoutes). */
  attachedRoutes: Map<string, Map<string, number>>;
  problems: Problem[];
}

/** Gateways whose class is Canal's (controllerName canal.io/gateway-controller), by "namespace/name". */
export function servedGateways(gateways: readonly GatewayApiGateway[], classes: readonly GatewayClass[]): Map<string, GatewayApiGateway> {
  const ours = new Set(classes.filter((c) => c.spec.controllerName === CANAL_CONTROLLER_NAME).map((c) => c.metadata.name));
  const out = new Map<string, GatewayApiGateway>();
  for (const g of gateways) if (ours.has(g.spec.gatewayClassName)) out.set(`${g.metadata.namespace}/${g.metadata.name}`, g);
  return out;
}

export function translateGatewayRoutes(routes: readonly HTTPRoute[], env: GatewayRoutesEnv): GatewayRoutesResult {
  const sink = new ProblemSink();
  const gateways = servedGateways(env.gateways, env.gatewayClasses);
  const labels = new Map(env.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
  const parentsEnv: GatewayParentsEnv = { ...env, gateways, namespaceLabels: (ns) => labels.get(ns) };
  const attachedRoutes = new Map<string, Map<string, number>>();
  for (const key of [...gateways.keys()].sort()) attachedRoutes.set(key, new Map((gateways.get(key) as GatewayApiGateway).spec.listeners.map((l) => [l.name, 0])));
  const byHost = new Map<string, GatewayAttachment[]>();
  const translated = new Map<HTTPRoute, { rules: TranslatedRule[]; ctx: HTTPRouteContext }>();
  // Without a Gateway of Canal's class no route can attach: skip even the ordering.
  for (const route of gateways.size === 0 ? [] : byAge(routes)) {
    const attached = gatewayAttachments(route, parentsEnv, sink);
    if (attached.length === 0) continue;
    reportIgnored(route, sink);
    const ctx: HTTPRouteContext = { ...env, route, sink };
    translated.set(route, { rules: route.spec.rules.map((rule, i) => translateRule(rule, i, ctx)), ctx });
    for (const a of attached) {
      const counts = attachedRoutes.get(`${a.gateway.metadata.namespace}/${a.gateway.metadata.name}`) as Map<string, number>;
      for (const l of a.listeners) counts.set(l, (counts.get(l) ?? 0) + 1);
      for (const h of a.hosts) {
        const owner = env.takenBy(h);
        if (owner !== undefined) {
          sink.add(route, "spec.hostnames", "HostConflict", `spec.parentRefs[${a.parentIndex}]: ${h} is already routed on this gateway by ${owner}, which keeps it (a host is routed by one API: VirtualServices, then Service-attached HTTPRoutes, then Gateway-attached ones). Requests for ${h} do not reach this route.`);
          continue;
        }
        const list = byHost.get(h) ?? [];
        list.push(a);
        byHost.set(h, list);
      }
    }
  }
  const clusters = new Map<string, ClusterRef>();
  const virtualHosts: VirtualHost[] = [];
  for (const host of [...byHost.keys()].sort()) {
    const attached = byHost.get(host) as GatewayAttachment[];
    // A route attached through several parents or listeners contributes its matches once.
    const entries = [...new Set(attached.map((a) => a.route))].flatMap(entriesOf).sort(compareEntries);
    const out: Route[] = [];
    for (const e of entries) {
      const t = translated.get(e.route) as { rules: TranslatedRule[]; ctx: HTTPRouteContext };
      const field = `spec.rules[${e.ruleIndex}].matches[${e.matchIndex}]`;
      if ((e.route.ignoredFields ?? []).some((f) => f.path.startsWith(field))) continue;
      const r = matchRoutes(e.rule, t.rules[e.ruleIndex] as TranslatedRule, e.match, e.matchIndex, undefined, t.ctx);
      if (r === undefined) continue;
      out.push(...r.routes);
      for (const c of r.clusters) if (!clusters.has(c.cluster)) clusters.set(c.cluster, c);
    }
    virtualHosts.push({ name: hostVirtualHostName(host), domains: [host], routes: out });
  }
  return {
    virtualHosts,
    clusters: [...clusters.values()].sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0)),
    servedGateways: [...gateways.keys()].sort(),
    attachedRoutes,
    problems: sortProblems(sink.list),
  };
}

/** The table's virtual host name for a Gateway host ("*" is not a name character: "_"; long names hashed). */
export function hostVirtualHostName(host: string): string {
  return virtualHostName("gateway-host", host.replaceAll("*", "_"));
}
