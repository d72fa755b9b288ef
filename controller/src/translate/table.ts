// Assembling the route table: virtual hosts in VirtualService order, ambiguous hosts that are not
// domains, and the content version over everything else.
import { ROUTE_TABLE_FORMAT, type AmbiguousHost, type RouteTable, type VirtualHost } from "../../../schema/route-table.ts";
import { contentVersion } from "./canonical.ts";

export function assembleTable(virtualHosts: readonly VirtualHost[], ambiguous: readonly AmbiguousHost[]): RouteTable {
  const domains = new Set(virtualHosts.flatMap((v) => v.domains));
  const amb = ambiguous.filter((a) => !domains.has(a.host) && a.candidates.length >= 2);
  const body: Omit<RouteTable, "version"> = { format: ROUTE_TABLE_FORMAT, virtualHosts: [...virtualHosts] };
  if (amb.length > 0) body.ambiguousHosts = [...amb];
  return { format: ROUTE_TABLE_FORMAT, version: contentVersion(body), virtualHosts: body.virtualHosts, ...(body.ambiguousHosts ? { ambiguousHosts: body.ambiguousHosts } : {}) };
}

export function emptyTable(): RouteTable {
  return assembleTable([], []);
}
