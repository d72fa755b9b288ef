// backendRefs → weighted clusters. Per the spec: a backend with weight 0 gets no traffic; all
// weights 0, or no backend at all, answers 500; a backend that cannot be resolved (wrong kind,
// missing Service or port, another namespace without a ReferenceGrant) answers 500 for its share
// (the route's unroutedWeight: the filter answers that share itself).
import type { Service } from "../../api/core.ts";
import type { HTTPBackendRef } from "../../api/gateway-api.ts";
import { MAX_TOTAL_WEIGHT, type HeaderOperations, type WeightedCluster } from "../../../../schema/route-table.ts";
import type { ClusterRef } from "../destinations.ts";
import { serviceFqdn } from "../names.ts";
import type { HTTPRouteContext } from "./context.ts";
import { headerFilters } from "./filters.ts";
import { referencePermitted } from "./reference-grants.ts";

export type BackendsOutcome =
  /** `unrouted`: the weight of the backends that cannot be used (answered with 500), 0 if none. */
  | { ok: true; clusters: WeightedCluster[]; unrouted: number; services: Service[]; refs: ClusterRef[] }
  /** `why`: one line for the 500 body. */
  | { ok: false; why: string };

interface Resolved {
  cluster: WeightedCluster;
  service: Service;
  ref: ClusterRef;
}

export function translateBackends(refs: readonly HTTPBackendRef[], path: string, ctx: HTTPRouteContext): BackendsOutcome {
  if (refs.length === 0) return { ok: false, why: "the rule has no backendRefs" };
  const resolved: Resolved[] = [];
  let invalidWeight = 0;
  let firstInvalid: string | undefined;
  refs.forEach((b, i) => {
    const r = resolve(b, `${path}[${i}]`, ctx);
    if (typeof r === "string") {
      invalidWeight += b.weight;
      firstInvalid ??= r;
    } else if (b.weight > 0) resolved.push(r);
  });
  const total = refs.reduce((n, b) => n + b.weight, 0);
  if (total === 0) return { ok: false, why: "every backendRef has weight 0" };
  if (total > MAX_TOTAL_WEIGHT) {
    ctx.sink.add(ctx.route, path, "UnsupportedValue", `${path}: the weights sum to ${total}, over the gateway's limit of ${MAX_TOTAL_WEIGHT}; the rule answers 500. Scale the weights down.`);
    return { ok: false, why: "backend weights sum over the limit" };
  }
  if (resolved.length === 0) return { ok: false, why: firstInvalid ?? "no backend can be used" };
  return { ok: true, clusters: resolved.map((r) => r.cluster), unrouted: invalidWeight, services: resolved.map((r) => r.service), refs: resolved.map((r) => r.ref) };
}

/** The backend's cluster, or why it cannot be used (also reported). */
function resolve(b: HTTPBackendRef, path: string, ctx: HTTPRouteContext): Resolved | string {
  const route = ctx.route;
  if (b.group !== "" || b.kind !== "Service") {
    ctx.sink.add(route, path, "InvalidKind", `${path}: backendRef ${b.group === "" ? "" : `${b.group}/`}${b.kind} ${b.name} is not a Service; Canal routes to Services (group "", kind Service) only. Its share of the traffic is not routed.`);
    return `backend ${b.kind} ${b.name} is not a Service (InvalidKind)`;
  }
  const namespace = b.namespace ?? route.metadata.namespace;
  if (!referencePermitted({ fromNamespace: route.metadata.namespace, toNamespace: namespace, group: "", kind: "Service", name: b.name }, ctx.referenceGrants)) {
    ctx.sink.add(route, `${path}.namespace`, "RefNotPermitted", `${path}: Service ${namespace}/${b.name} is in another namespace and no ReferenceGrant in "${namespace}" allows HTTPRoutes from "${route.metadata.namespace}" to refer to it. Its share of the traffic is not routed; add a ReferenceGrant (from: HTTPRoute in ${route.metadata.namespace}, to: Service) in "${namespace}".`);
    return `backend ${namespace}/${b.name} is not permitted by a ReferenceGrant (RefNotPermitted)`;
  }
  const service = ctx.services.get(namespace, b.name);
  if (service === undefined || service.spec.type === "ExternalName") {
    const what = service === undefined ? "does not exist" : "is of type ExternalName, which Canal cannot route to";
    ctx.sink.add(route, path, "BackendNotFound", `${path}: Service ${namespace}/${b.name} ${what}. Its share of the traffic is not routed.`);
    return `backend ${namespace}/${b.name} not found (BackendNotFound)`;
  }
  const ports = service.spec.ports.map((p) => p.port);
  if (b.port === undefined || !ports.includes(b.port)) {
    const why = b.port === undefined ? "backendRef.port is required for a Service" : `Service ${namespace}/${b.name} has no port ${b.port} (it has ${ports.join(", ") || "none"})`;
    ctx.sink.add(route, `${path}.port`, "BackendNotFound", `${path}.port: ${why}. Its share of the traffic is not routed.`);
    return `backend ${namespace}/${b.name} has no usable port (BackendNotFound)`;
  }
  const fqdn = serviceFqdn(service.metadata.name, service.metadata.namespace, ctx.clusterDomain);
  const name = `outbound|${b.port}||${fqdn}`;
  const cluster: WeightedCluster = { cluster: name, weight: b.weight };
  const headers: HeaderOperations | undefined = headerFilters(b.filters, `${path}.filters`, ctx);
  if (headers !== undefined) cluster.headers = headers;
  return { cluster, service, ref: { cluster: name, namespace: service.metadata.namespace, service: service.metadata.name, port: b.port } };
}
