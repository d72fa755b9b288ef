// The DNS plan: the Service FQDNs that should resolve to the gateway. A Service is in it when a
// kept route sends traffic to it or when its FQDN is a host of a bound VirtualService. Names
// reaching this point come from the Service index, which only admits DNS-1123 labels.
import type { Service } from "../api/core.ts";
import { serviceFqdn } from "./names.ts";

export interface DnsEntry {
  fqdn: string;
  namespace: string;
  name: string;
  /** The Service's ports, ascending (DNS gating compares them with the Gateway's server ports). */
  ports: number[];
}

export interface DnsPlanInput {
  services: readonly Service[];
  clusterDomain: string;
  /** The gateway's own Service: never redirected to itself. */
  gatewayService: { namespace: string; name: string };
}

/** How a Service becomes an entry (a memo keeps them per Service object). */
export type DnsEntryOf = (s: Service, clusterDomain: string) => DnsEntry;

export function dnsEntry(s: Service, clusterDomain: string): DnsEntry {
  const { name, namespace } = s.metadata;
  const ports = [...new Set(s.spec.ports.map((p) => p.port))].sort((a, b) => a - b);
  return { fqdn: serviceFqdn(name, namespace, clusterDomain), namespace, name, ports };
}

/** Unique, sorted by FQDN. ExternalName Services are left out (they are CNAMEs, not addresses). */
export function buildDnsPlan(input: DnsPlanInput): DnsEntry[] {
  return planOf(plannedServices(input), input.clusterDomain, dnsEntry);
}

/** The plan of `planned` (from plannedServices). */
export function planOf(planned: Iterable<Service>, clusterDomain: string, entryOf: DnsEntryOf): DnsEntry[] {
  const byFqdn = new Map<string, DnsEntry>();
  for (const s of planned) {
    const e = entryOf(s, clusterDomain);
    if (!byFqdn.has(e.fqdn)) byFqdn.set(e.fqdn, e);
  }
  return [...byFqdn.values()].sort((a, b) => (a.fqdn < b.fqdn ? -1 : a.fqdn > b.fqdn ? 1 : 0));
}

/** The Services that get an entry, each once. */
export function plannedServices(input: DnsPlanInput): Set<Service> {
  const out = new Set<Service>();
  for (const s of input.services) {
    const { name, namespace } = s.metadata;
    if (s.spec.type === "ExternalName") continue;
    if (namespace === input.gatewayService.namespace && name === input.gatewayService.name) continue;
    out.add(s);
  }
  return out;
}

/** Namespaces of the planned Services: where a bare short name must be unique. */
export function servedNamespaces(plan: readonly DnsEntry[]): Set<string> {
  return new Set(plan.map((e) => e.namespace));
}
