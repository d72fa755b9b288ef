// Names: DNS-1123 validation, Istio's short-name expansion, gateway references, Service FQDNs.
// Every host or name that can reach the route table or the DNS plan passes through here first.
import { createHash } from "node:crypto";

import { isDnsLabel } from "../api/hosts.ts";

export { isDnsLabel, isDnsSubdomain, normalizeHost, type HostCheck } from "../api/hosts.ts";

/**
 * Istio's short-name rule (ResolveShortnameToFQDN): a name without a dot is a Service in the
 * object's namespace, `name.<namespace>.svc.<clusterDomain>`; "*" and dotted names are taken as is.
 */
export function resolveShortName(host: string, namespace: string, clusterDomain: string): string {
  if (host === "*" || host.includes(".")) return host;
  return `${host}.${namespace}.svc.${clusterDomain}`;
}

export function serviceFqdn(name: string, namespace: string, clusterDomain: string): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}

/** "name.ns.svc.<clusterDomain>" → {name, namespace}; anything else → undefined. */
export function parseServiceFqdn(fqdn: string, clusterDomain: string): { name: string; namespace: string } | undefined {
  const suffix = `.svc.${clusterDomain}`;
  if (!fqdn.endsWith(suffix)) return undefined;
  const parts = fqdn.slice(0, -suffix.length).split(".");
  if (parts.length !== 2) return undefined;
  const [name, namespace] = parts as [string, string];
  if (!isDnsLabel(name) || !isDnsLabel(namespace)) return undefined;
  return { name, namespace };
}

/** The short forms clients use for a Service, longest first: name.ns.svc, name.ns, name. */
export function serviceAliases(name: string, namespace: string): [string, string, string] {
  return [`${name}.${namespace}.svc`, `${name}.${namespace}`, name];
}

/** The reserved gateway name for sidecars. */
export const MESH_GATEWAY = "mesh";

/**
 * A VirtualService's gateway reference → "namespace/name" (Istio's resolveGatewayName):
 * "name" is in the VirtualService's namespace, "./name" too, "ns/name" is explicit, and the
 * legacy "name.ns.svc.cluster.local" / "name.ns" forms name ns/name. "mesh" → undefined.
 */
export function resolveGatewayRef(ref: string, namespace: string): string | undefined {
  if (ref === MESH_GATEWAY) return undefined;
  const slash = ref.indexOf("/");
  if (slash >= 0) {
    const ns = ref.slice(0, slash);
    return `${ns === "." ? namespace : ns}/${ref.slice(slash + 1)}`;
  }
  const dot = ref.indexOf(".");
  if (dot < 0) return `${namespace}/${ref}`;
  const rest = ref.slice(dot + 1);
  const next = rest.indexOf(".");
  return `${next < 0 ? rest : rest.slice(0, next)}/${ref.slice(0, dot)}`;
}

export interface ServerHost {
  /** "*" for any namespace, else the namespace whose VirtualServices may use the host. */
  namespace: string;
  host: string;
}

/** A Gateway server host: "host" (= "*\/host"), "ns/host", "./host" (the Gateway's namespace). */
export function parseServerHost(raw: string, gatewayNamespace: string): { namespace: string; host: string } {
  const slash = raw.indexOf("/");
  if (slash < 0) return { namespace: "*", host: raw };
  const ns = raw.slice(0, slash);
  return { namespace: ns === "." ? gatewayNamespace : ns, host: raw.slice(slash + 1) };
}

const VHOST_NAME_MAX = 128;

/** Virtual host name (stats label): "ns/name", shortened with a hash suffix past 128 characters. */
export function virtualHostName(namespace: string, name: string): string {
  const full = `${namespace}/${name}`;
  if (full.length <= VHOST_NAME_MAX) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 10);
  return `${full.slice(0, VHOST_NAME_MAX - 11)}-${hash}`;
}
