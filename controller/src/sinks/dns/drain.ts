// Keeps routes while DNS drains: a name that left a gateway's table keeps, until its drain
// deadline, a virtual host with the routes that served it (taken from the table the gateways ran
// before). Pure: tables in, tables out.
import type { RouteTable, VirtualHost } from "../../../../schema/route-table.ts";
import { assembleTable } from "../../translate/assemble-table.ts";
import type { DrainRecord } from "./state.ts";

/** The virtual host the filter would pick for `host`: exact, longest wildcard suffix, then "*". */
export function virtualHostFor(table: RouteTable, host: string): VirtualHost | undefined {
  let wildcard: { vh: VirtualHost; len: number } | undefined;
  let catchAll: VirtualHost | undefined;
  for (const vh of table.virtualHosts) {
    for (const d of vh.domains) {
      if (d === host) return vh;
      if (d === "*") catchAll ??= vh;
      else if (d.startsWith("*.") && host.endsWith(d.slice(1)) && (wildcard === undefined || d.length > wildcard.len)) wildcard = { vh, len: d.length };
    }
  }
  return wildcard?.vh ?? catchAll;
}

/** "name.ns.svc.domain" → the names clients use for it, FQDN first. */
export function drainDomains(fqdn: string): string[] {
  const labels = fqdn.split(".");
  if (labels.length < 4 || labels[2] !== "svc") return [fqdn];
  const [name, ns] = labels as [string, string];
  return [fqdn, `${name}.${ns}.svc`, `${name}.${ns}`, name];
}

/** The virtual host to keep for `fqdn` from `table` (what served it), renamed, with only its names. */
export function drainVirtualHost(table: RouteTable, fqdn: string): VirtualHost | undefined {
  const vh = virtualHostFor(table, fqdn);
  if (vh === undefined) return undefined;
  return { name: `drain/${fqdn}`.slice(0, 128), domains: drainDomains(fqdn), routes: vh.routes };
}

/**
 * Adds the draining virtual hosts of this gateway that the new table no longer serves. Domains the
 * new table has (or lists as ambiguous) stay with the new table; a virtual host left without
 * domains is not added. Returns the same table object when nothing is added.
 */
export function withDraining(table: RouteTable, gateway: string, draining: readonly DrainRecord[], nowMs: number, plan: ReadonlySet<string>): RouteTable {
  const taken = new Set<string>(table.virtualHosts.flatMap((v) => v.domains));
  for (const a of table.ambiguousHosts ?? []) taken.add(a.host);
  const extra: VirtualHost[] = [];
  for (const d of [...draining].sort((a, b) => (a.fqdn < b.fqdn ? -1 : a.fqdn > b.fqdn ? 1 : 0))) {
    if (d.gateway !== gateway || d.virtualHost === undefined || plan.has(d.fqdn) || Date.parse(d.until) <= nowMs) continue;
    // Only the names of the drained Service, whatever a stored record says (it may be edited by hand).
    const own = new Set(drainDomains(d.fqdn));
    const domains = d.virtualHost.domains.filter((x) => own.has(x) && !taken.has(x));
    if (domains.length === 0) continue;
    for (const x of domains) taken.add(x);
    extra.push({ ...d.virtualHost, domains });
  }
  if (extra.length === 0) return table;
  return assembleTable([...table.virtualHosts, ...extra], table.ambiguousHosts ?? []);
}
