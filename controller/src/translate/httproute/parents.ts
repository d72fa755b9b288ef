// GAMMA parentRefs: an HTTPRoute whose parentRef names a Service (group "", kind Service) routes
// the traffic for that Service, on the parentRef's port (or sectionName, a port name), or on
// every port of the Service when it names none. Host ownership (ADR 0003) applies as to a
// VirtualService host: only routes in the Service's namespace, or granted by the InternalGateway,
// may attach. Gateway parentRefs are not mesh attachments and are skipped here.
import type { Service } from "../../api/core.ts";
import type { HTTPRoute } from "../../api/gateway-api.ts";
import { serviceFqdn } from "../names.ts";
import { grantHint, mayRoute } from "../ownership.ts";
import type { ProblemSink } from "../problems.ts";
import type { HTTPRouteEnv } from "./context.ts";

export interface Attachment {
  route: HTTPRoute;
  /** Index in spec.parentRefs (for problem fields). */
  parentIndex: number;
  service: Service;
  /** Service ports the route applies to. */
  ports: number[];
}

/** The Service attachments of one route; refusals are problems on the route. */
export function attachments(route: HTTPRoute, env: HTTPRouteEnv, sink: ProblemSink): Attachment[] {
  const out: Attachment[] = [];
  route.spec.parentRefs.forEach((ref, i) => {
    const field = `spec.parentRefs[${i}]`;
    if (ref.kind !== "Service") {
      if (ref.kind !== "Gateway") sink.add(route, `${field}.kind`, "UnsupportedValue", `${field}: parentRef kind ${JSON.stringify(ref.kind)} is not supported; Canal attaches HTTPRoutes to Services (group "", kind Service: GAMMA). This parentRef is ignored.`);
      return;
    }
    if (ref.group !== "") {
      sink.add(route, `${field}.group`, "UnsupportedValue", `${field}: a Service parentRef has group "" (core), not ${JSON.stringify(ref.group)}. This parentRef is ignored.`);
      return;
    }
    const namespace = ref.namespace ?? route.metadata.namespace;
    const service = env.services.get(namespace, ref.name);
    if (service === undefined) {
      sink.add(route, field, "NoMatchingParent", `${field}: Service ${namespace}/${ref.name} does not exist, so the route is not attached to it. Create the Service or fix the parentRef.`);
      return;
    }
    const ports = portsOf(service, ref.port, ref.sectionName);
    if (typeof ports === "string") {
      sink.add(route, field, "NoMatchingParent", `${field}: ${ports}, so the route is not attached to it. Fix the parentRef's ${ref.sectionName !== undefined ? "sectionName" : "port"}.`);
      return;
    }
    const fqdn = serviceFqdn(service.metadata.name, service.metadata.namespace, env.clusterDomain);
    const own = mayRoute(fqdn, route.metadata.namespace, env.grants, env.clusterDomain);
    if (!own.ok) {
      const owner = own.reason === "HostNotOwned" ? own.owner : namespace;
      sink.add(route, field, "HostNotOwned", `${field}: Service ${namespace}/${ref.name} belongs to namespace "${owner}"; only HTTPRoutes in "${owner}" may route its traffic through the shared gateway (ADR 0003; Canal cannot tell callers' namespaces apart, so consumer routes would apply to every caller). Move this HTTPRoute to "${owner}", or the gateway's owner adds ${grantHint(route.metadata.namespace, fqdn)} to spec.hostGrants of InternalGateway ${env.grantsFrom}.`);
      return;
    }
    const vs = env.claimedBy?.(fqdn);
    if (vs !== undefined) {
      // Never a merge of two APIs' routes: the established API keeps the Service (the HTTPRoute
      // may be newer than a VirtualService that already carries traffic).
      sink.add(route, field, "HostConflict", `${field}: Service ${namespace}/${ref.name} (${fqdn}) is already routed by VirtualService ${vs}; a Service is routed by VirtualServices or by HTTPRoutes, never both, and the VirtualService wins. This parentRef is ignored: remove ${fqdn} from the VirtualService's hosts to let this HTTPRoute take it.`);
      return;
    }
    out.push({ route, parentIndex: i, service, ports });
  });
  return out;
}

function portsOf(service: Service, port: number | undefined, sectionName: string | undefined): number[] | string {
  const svc = `Service ${service.metadata.namespace}/${service.metadata.name}`;
  const all = [...new Set(service.spec.ports.map((p) => p.port))].sort((a, b) => a - b);
  let ports = all;
  if (sectionName !== undefined) {
    const named = service.spec.ports.filter((p) => p.name === sectionName).map((p) => p.port);
    if (named.length === 0) return `${svc} has no port named ${JSON.stringify(sectionName)}`;
    ports = named;
  }
  if (port !== undefined) {
    if (!ports.includes(port)) return `${svc} has no port ${port}${sectionName !== undefined ? ` named ${JSON.stringify(sectionName)}` : ""} (it has ${all.join(", ") || "none"})`;
    ports = [port];
  }
  return ports.length === 0 ? `${svc} has no ports` : ports;
}
