// What the controller keeps in the canal-dns ConfigMap. `canal-state.json` is the source of truth
// (entries and drain records); `canal.hosts` and `canal.conf` are rendered from it and from the
// flags. Everything is recomputed from the cluster, so restarts and replicas write the same bytes.
import type { VirtualHost } from "../../../../schema/route-table.ts";
import { addressError, dnsNameError } from "./names.ts";

export const STATE_KEY = "canal-state.json";
export const HOSTS_KEY = "canal.hosts";
export const CONF_KEY = "canal.conf";
export const STATE_FORMAT = 1;

/** A name that resolves to a gateway. */
export interface DnsRecordEntry {
  fqdn: string;
  /** The InternalGateway "namespace/name" it points at. */
  gateway: string;
  /** The gateway Service's cluster IPs (IPv4 and/or IPv6), sorted. */
  addresses: string[];
}

/** A name that pointed at a gateway and no longer does: its routes stay until `until`. */
export interface DrainRecord {
  fqdn: string;
  gateway: string;
  /** RFC 3339, whole seconds: when DNS stopped pointing at the gateway + --dns-drain. */
  until: string;
  /** The virtual host that served the name, kept in the gateway's table until `until` once the
   *  name has left the route table. Absent while the table still routes it. */
  virtualHost?: VirtualHost;
}

export interface DnsState {
  entries: DnsRecordEntry[];
  draining: DrainRecord[];
}

export function emptyState(): DnsState {
  return { entries: [], draining: [] };
}

const byFqdn = <T extends { fqdn: string }>(a: T, b: T): number => (a.fqdn < b.fqdn ? -1 : a.fqdn > b.fqdn ? 1 : 0);

/** Sorted, so equal states serialize to equal bytes. */
export function normalizeState(s: DnsState): DnsState {
  return {
    entries: s.entries.map((e) => ({ fqdn: e.fqdn, gateway: e.gateway, addresses: [...e.addresses].sort() })).sort(byFqdn),
    draining: s.draining
      .map((d) => (d.virtualHost === undefined ? { fqdn: d.fqdn, gateway: d.gateway, until: d.until } : { fqdn: d.fqdn, gateway: d.gateway, until: d.until, virtualHost: d.virtualHost }))
      .sort(byFqdn),
  };
}

export function serializeState(s: DnsState): string {
  const n = normalizeState(s);
  return `${JSON.stringify({ format: STATE_FORMAT, entries: n.entries, draining: n.draining }, null, 1)}\n`;
}

/**
 * Parses what is stored (validated: it may have been edited by hand). Bad records are dropped
 * and reported; a missing or unreadable value is the empty state.
 */
export function parseState(text: string | undefined): { state: DnsState; errors: string[] } {
  const errors: string[] = [];
  if (text === undefined || text.trim() === "") return { state: emptyState(), errors };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { state: emptyState(), errors: [`${STATE_KEY}: not JSON (${(err as Error).message}); starting from no entries`] };
  }
  if (typeof raw !== "object" || raw === null || (raw as { format?: unknown }).format !== STATE_FORMAT) {
    return { state: emptyState(), errors: [`${STATE_KEY}: not format ${STATE_FORMAT}; starting from no entries`] };
  }
  const o = raw as { entries?: unknown; draining?: unknown };
  const state = emptyState();
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  list(o.entries).forEach((e, i) => {
    const r = e as Partial<DnsRecordEntry>;
    const fqdn = typeof r.fqdn === "string" ? r.fqdn : "";
    const why = dnsNameError(fqdn) ?? (typeof r.gateway === "string" && /^[a-z0-9-]+\/[a-z0-9.-]+$/.test(r.gateway) ? null : "bad gateway") ??
      (Array.isArray(r.addresses) && r.addresses.length > 0 && r.addresses.every((a) => typeof a === "string" && addressError(a) === null) ? null : "bad addresses");
    if (why !== null) errors.push(`${STATE_KEY}: entries[${i}]: ${why}; dropped`);
    else state.entries.push({ fqdn, gateway: r.gateway as string, addresses: r.addresses as string[] });
  });
  list(o.draining).forEach((d, i) => {
    const r = d as Partial<DrainRecord>;
    const fqdn = typeof r.fqdn === "string" ? r.fqdn : "";
    const ok = dnsNameError(fqdn) === null && typeof r.gateway === "string" && typeof r.until === "string" && !Number.isNaN(Date.parse(r.until));
    const vh = r.virtualHost;
    const vhOk = vh === undefined || (typeof vh === "object" && vh !== null && typeof vh.name === "string" && Array.isArray(vh.domains) && Array.isArray(vh.routes));
    if (!ok || !vhOk) errors.push(`${STATE_KEY}: draining[${i}]: invalid; dropped`);
    else state.draining.push(vh === undefined ? { fqdn, gateway: r.gateway as string, until: r.until as string } : { fqdn, gateway: r.gateway as string, until: r.until as string, virtualHost: vh });
  });
  return { state: normalizeState(state), errors };
}
