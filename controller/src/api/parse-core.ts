// core/v1 Service and canal.io/v1alpha1 InternalGateway specs.
import type { ServicePort, ServiceSpec, ServiceType } from "./core.ts";
import { HOST_GRANT_LIMITS, type HostGrant, type InternalGatewaySpec, type LocalRef } from "./internalgateway.ts";
import { isDnsLabel, normalizeHost } from "./hosts.ts";
import { opt, type Reader } from "./reader.ts";

const SERVICE_FIELDS = ["type", "clusterIP", "clusterIPs", "ports"];
/** Service fields that do not affect routing: accepted, not reported. */
const SERVICE_OTHER = [
  "selector", "sessionAffinity", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy", "externalIPs",
  "externalName", "externalTrafficPolicy", "internalTrafficPolicy", "healthCheckNodePort", "loadBalancerIP",
  "loadBalancerSourceRanges", "loadBalancerClass", "allocateLoadBalancerNodePorts", "publishNotReadyAddresses",
  "trafficDistribution",
];
const SERVICE_TYPES: readonly ServiceType[] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

export function parseServiceSpec(r: Reader, v: unknown): ServiceSpec | undefined {
  const o = r.object(v, "spec", SERVICE_FIELDS, SERVICE_OTHER);
  if (o === undefined) return undefined;
  const type = opt(o, "type", "spec", (x, p) => {
    const s = r.string(x, p);
    if (s === undefined) return undefined;
    const t = SERVICE_TYPES.find((k) => k === s);
    return t ?? r.fail(p, `expected one of ${SERVICE_TYPES.join(", ")}, got ${JSON.stringify(s)}`);
  });
  const spec: ServiceSpec = {
    type: type ?? "ClusterIP",
    ports: opt(o, "ports", "spec", (x, p) => r.array(x, p, (e, ep) => servicePort(r, e, ep))) ?? [],
  };
  const clusterIP = opt(o, "clusterIP", "spec", (x, p) => r.string(x, p));
  if (clusterIP !== undefined) spec.clusterIP = clusterIP;
  const clusterIPs = opt(o, "clusterIPs", "spec", (x, p) => r.array(x, p, (e, ep) => r.string(e, ep)));
  if (clusterIPs !== undefined) spec.clusterIPs = clusterIPs;
  return spec;
}

function servicePort(r: Reader, v: unknown, path: string): ServicePort | undefined {
  const o = r.object(v, path, ["name", "port", "protocol", "appProtocol", "targetPort"], ["nodePort"]);
  if (o === undefined) return undefined;
  const port = opt(o, "port", path, (x, p) => r.integer(x, p));
  if (port === undefined) return r.fail(`${path}.port`, "required");
  const out: ServicePort = { port, protocol: opt(o, "protocol", path, (x, p) => r.string(x, p)) ?? "TCP" };
  const name = opt(o, "name", path, (x, p) => r.string(x, p));
  if (name !== undefined) out.name = name;
  const app = opt(o, "appProtocol", path, (x, p) => r.string(x, p));
  if (app !== undefined) out.appProtocol = app;
  const target = opt(o, "targetPort", path, (x, p) => (typeof x === "number" ? r.integer(x, p) : r.string(x, p)));
  if (target !== undefined) out.targetPort = target;
  return out;
}

export function parseInternalGatewaySpec(r: Reader, v: unknown): InternalGatewaySpec | undefined {
  const o = r.object(v, "spec", ["gatewayRef", "serviceRef", "workloadSelector", "hostGrants"]);
  if (o === undefined) return undefined;
  const gatewayRef = opt(o, "gatewayRef", "spec", (x, p) => localRef(r, x, p));
  if (gatewayRef === undefined) return r.fail("spec.gatewayRef", "required: the Istio Gateway this InternalGateway serves");
  const serviceRef = opt(o, "serviceRef", "spec", (x, p) => localRef(r, x, p));
  if (serviceRef === undefined) return r.fail("spec.serviceRef", "required: the Service in front of the gateway pods");
  const spec: InternalGatewaySpec = { gatewayRef, serviceRef };
  const ws = opt(o, "workloadSelector", "spec", (x, p) => {
    const wo = r.object(x, p, ["matchLabels"]);
    return wo && { matchLabels: opt(wo, "matchLabels", p, (m, mp) => r.stringMap(m, mp)) ?? {} };
  });
  if (ws !== undefined) spec.workloadSelector = ws;
  const grants = opt(o, "hostGrants", "spec", (x, p) => capped(r, x, p, HOST_GRANT_LIMITS.grants, (e, ep) => hostGrant(r, e, ep)));
  if (grants !== undefined) spec.hostGrants = grants;
  return spec;
}

/** An array of at most `max` items, each read by `item` (undefined items fail the array). */
function capped<T>(r: Reader, v: unknown, path: string, max: number, item: (e: unknown, p: string) => T | undefined): T[] | undefined {
  if (Array.isArray(v) && v.length > max) return r.fail(path, `at most ${max} items, got ${v.length}`);
  return r.array(v, path, item);
}

function hostGrant(r: Reader, v: unknown, path: string): HostGrant | undefined {
  const o = r.object(v, path, ["namespaces", "hosts"]);
  if (o === undefined) return undefined;
  const namespaces = opt(o, "namespaces", path, (x, p) => capped(r, x, p, HOST_GRANT_LIMITS.namespaces, (e, ep) => {
    const s = r.string(e, ep);
    if (s === undefined) return undefined;
    return s === "*" || isDnsLabel(s) ? s : r.fail(ep, `${JSON.stringify(s)} is neither a namespace name (DNS-1123 label) nor "*"`);
  }));
  const hosts = opt(o, "hosts", path, (x, p) => capped(r, x, p, HOST_GRANT_LIMITS.hosts, (e, ep) => {
    const s = r.string(e, ep);
    if (s === undefined) return undefined;
    const h = normalizeHost(s);
    if (!h.ok) return r.fail(ep, `${JSON.stringify(s)} is not a valid host: ${h.error}`);
    // Short names are not expanded here: a dotless grant would match no host.
    if (h.host !== "*" && !h.host.includes(".")) return r.fail(ep, `${JSON.stringify(s)} has no dot: grant the full name (name.namespace.svc.<cluster domain>), a wildcard or "*"`);
    return h.host;
  }));
  if (namespaces === undefined || namespaces.length === 0) return r.fail(`${path}.namespaces`, "required: at least one namespace (or \"*\")");
  if (hosts === undefined || hosts.length === 0) return r.fail(`${path}.hosts`, "required: at least one host");
  return { namespaces, hosts };
}

function localRef(r: Reader, v: unknown, path: string): LocalRef | undefined {
  const o = r.object(v, path, ["name", "namespace"]);
  if (o === undefined) return undefined;
  const name = opt(o, "name", path, (x, p) => r.string(x, p));
  if (name === undefined || name === "") return r.fail(`${path}.name`, "required");
  const namespace = opt(o, "namespace", path, (x, p) => r.string(x, p));
  return namespace === undefined ? { name } : { name, namespace };
}
