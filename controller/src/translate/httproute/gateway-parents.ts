// Gateway parentRefs: an HTTPRoute whose parentRef names a Gateway API Gateway of a Canal
// GatewayClass (controllerName canal.io/gateway-controller) attaches to that Gateway's listeners
// that it selects (sectionName = listener name, port = listener port), that serve HTTP, and whose
// allowedRoutes admit the route (kinds; namespaces Same, All, Selector on the namespace's labels,
// None). The route's hostnames are intersected with each listener's hostname (absent = "*"):
// those are the hosts the route is served for. Host ownership (ADR 0003): a Gateway's hosts are
// its namespace's only when that namespace owns them (its own Service FQDNs) or the
// InternalGateway's spec.hostGrants grants them to it; the listener's allowedRoutes then hand
// them on to route namespaces (the Gateway owner's grant). docs/gateway-api.md, "Gateway parents".
import type { GatewayApiGateway, GatewayListener, HTTPRoute, ParentReference } from "../../api/gateway-api.ts";
import { GATEWAY_API_GROUP } from "../../api/gateway-api.ts";
import { selectorMatches } from "../../api/parse-gateway-api-gateway.ts";
import { intersectHost } from "../hosts.ts";
import { grantHint, mayRoute } from "../ownership.ts";
import type { ProblemSink } from "../problems.ts";
import type { HTTPRouteEnv } from "./context.ts";

export interface GatewayParentsEnv extends HTTPRouteEnv {
  /** Gateways of a Canal GatewayClass, by "namespace/name". */
  gateways: ReadonlyMap<string, GatewayApiGateway>;
  /** Labels of a namespace (undefined: the namespace is not known). */
  namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined;
}

export interface GatewayAttachment {
  route: HTTPRoute;
  parentIndex: number;
  gateway: GatewayApiGateway;
  /** Names of the listeners the route attached to. */
  listeners: string[];
  /** Hosts the route is served for through those listeners ("*", "*.suffix" or exact), sorted. */
  hosts: string[];
}

/** Listener protocols Canal gateways serve: plain HTTP (the mesh's mTLS is Istio's, below the gateway). */
const SERVED_PROTOCOLS: ReadonlySet<string> = new Set(["HTTP"]);

export function isGatewayParent(ref: ParentReference): boolean {
  return ref.group === GATEWAY_API_GROUP && ref.kind === "Gateway";
}

/** The Gateway attachments of one route; refusals are problems on the route's parentRef. */
export function gatewayAttachments(route: HTTPRoute, env: GatewayParentsEnv, sink: ProblemSink): GatewayAttachment[] {
  const out: GatewayAttachment[] = [];
  route.spec.parentRefs.forEach((ref, i) => {
    if (!isGatewayParent(ref)) return;
    const field = `spec.parentRefs[${i}]`;
    const gwNs = ref.namespace ?? route.metadata.namespace;
    const gateway = env.gateways.get(`${gwNs}/${ref.name}`);
    // Not a Gateway of Canal's class (or none at all): another controller's business, no entry.
    if (gateway === undefined) return;
    const gwName = `Gateway ${gwNs}/${ref.name}`;
    let listeners = gateway.spec.listeners;
    if (ref.sectionName !== undefined) {
      listeners = listeners.filter((l) => l.name === ref.sectionName);
      if (listeners.length === 0) return void sink.add(route, field, "NoMatchingParent", `${field}: ${gwName} has no listener named ${JSON.stringify(ref.sectionName)}, so the route is not attached to it. Fix the parentRef's sectionName.`);
    }
    if (ref.port !== undefined) {
      listeners = listeners.filter((l) => l.port === ref.port);
      if (listeners.length === 0) return void sink.add(route, field, "NoMatchingParent", `${field}: ${gwName} has no listener on port ${ref.port}${ref.sectionName === undefined ? "" : ` named ${JSON.stringify(ref.sectionName)}`}, so the route is not attached to it. Fix the parentRef's port.`);
    }
    const http = listeners.filter((l) => SERVED_PROTOCOLS.has(l.protocol));
    if (http.length === 0) {
      const protocols = [...new Set(listeners.map((l) => l.protocol))].join(", ");
      return void sink.add(route, field, "UnsupportedValue", `${field}: the selected listeners of ${gwName} are ${protocols}; Canal gateways serve plain HTTP listeners only (TLS between workloads is the mesh's), so the route is not attached.`);
    }
    const allowed = http.filter((l) => allows(l, gateway, route, env));
    if (allowed.length === 0) {
      return void sink.add(route, field, "NotAllowedByListeners", `${field}: no listener of ${gwName} allows HTTPRoutes from namespace "${route.metadata.namespace}" (allowedRoutes: ${http.map((l) => `${l.name}: ${describeAllowed(l)}`).join("; ")}), so the route is not attached. The Gateway's owner widens allowedRoutes, or the route moves.`);
    }
    const hosts = new Set<string>();
    const names: string[] = [];
    for (const l of allowed) {
      const found = intersect(l.hostname ?? "*", route.spec.hostnames);
      if (found.length > 0) names.push(l.name);
      for (const h of found) hosts.add(h);
    }
    if (hosts.size === 0) {
      return void sink.add(route, field, "NoMatchingListenerHostname", `${field}: none of the route's hostnames (${route.spec.hostnames.join(", ")}) intersects the hostname of a listener of ${gwName} that allows it (${allowed.map((l) => `${l.name}: ${l.hostname ?? "any"}`).join("; ")}), so the route is not attached. Fix spec.hostnames or the listener's hostname.`);
    }
    // Ownership is the Gateway's namespace's: the listener passes on only what it was granted.
    const granted = [...hosts].sort().filter((h) => {
      const own = mayRoute(h, gwNs, env.grants, env.clusterDomain);
      if (own.ok) return true;
      const whose = own.reason === "HostNotOwned" ? `${h} is a Service name of namespace "${own.owner}"` : `${h} is not a Service name of namespace "${gwNs}"`;
      sink.add(route, "spec.hostnames", own.reason, `${field}: ${whose}, and spec.hostGrants of InternalGateway ${env.grantsFrom} does not grant it to the Gateway's namespace "${gwNs}" (ADR 0003: a Gateway serves only hosts its namespace owns or was granted). Requests for ${h} are not routed by this route; the gateway's owner adds ${grantHint(gwNs, h)} to spec.hostGrants to allow it.`);
      return false;
    });
    if (granted.length === 0) {
      return void sink.add(route, field, "NotAllowedByListeners", `${field}: ${gwName} is not granted any of the route's hosts (${[...hosts].sort().join(", ")}) by InternalGateway ${env.grantsFrom} (ADR 0003), so the route is not attached. The gateway's owner adds a spec.hostGrants entry for namespace "${gwNs}".`);
    }
    out.push({ route, parentIndex: i, gateway, listeners: names, hosts: granted });
  });
  return out;
}

/** Listener hostname ∩ route hostnames (none: the listener's). Wildcards cover one or more labels. */
export function intersect(listenerHost: string, routeHosts: readonly string[]): string[] {
  if (routeHosts.length === 0) return [listenerHost];
  const out = new Set<string>();
  for (const h of routeHosts) {
    const i = intersectHost(h, listenerHost);
    if (i !== undefined) out.add(i);
  }
  return [...out].sort();
}

function allows(l: GatewayListener, gateway: GatewayApiGateway, route: HTTPRoute, env: GatewayParentsEnv): boolean {
  const kinds = l.allowedRoutes.kinds;
  if (kinds !== undefined && !kinds.some((k) => k.group === GATEWAY_API_GROUP && k.kind === "HTTPRoute")) return false;
  const ns = route.metadata.namespace;
  switch (l.allowedRoutes.from) {
    case "All": return true;
    case "Same": return ns === gateway.metadata.namespace;
    case "None": return false;
    case "Selector": {
      const labels = env.namespaceLabels(ns);
      const selector = l.allowedRoutes.selector;
      return labels !== undefined && selector !== undefined && selectorMatches(selector, labels);
    }
  }
}

function describeAllowed(l: GatewayListener): string {
  const kinds = l.allowedRoutes.kinds === undefined ? "" : `, kinds ${l.allowedRoutes.kinds.map((k) => k.kind).join("/")}`;
  return `from ${l.allowedRoutes.from}${kinds}`;
}
