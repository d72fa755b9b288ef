// Which planned names each recent table version routes, per InternalGateway: what a gateway pod's
// probe answer proves (gating condition 3). Bounded: the last MAX_VERSIONS versions per gateway;
// an older or unknown version proves nothing, so a pod running it keeps its names pending.
import type { RouteTable } from "../../../../schema/route-table.ts";

export const MAX_VERSIONS = 32;

export class TableHistory {
  private readonly byGateway = new Map<string, Map<string, ReadonlySet<string>>>();

  /** Records the table handed to the sinks for `gateway` and the planned names it routes. */
  record(gateway: string, table: RouteTable, plan: ReadonlyArray<{ fqdn: string }>): void {
    let versions = this.byGateway.get(gateway);
    if (versions === undefined) {
      versions = new Map();
      this.byGateway.set(gateway, versions);
    }
    const known = versions.get(table.version);
    // Re-inserted: the most recent versions are the last ones evicted.
    versions.delete(table.version);
    if (known !== undefined) {
      versions.set(table.version, known);
      return;
    }
    const domains = new Set<string>();
    for (const vh of table.virtualHosts) for (const d of vh.domains) domains.add(d);
    versions.set(table.version, new Set(plan.map((e) => e.fqdn).filter((f) => domains.has(f))));
    while (versions.size > MAX_VERSIONS) versions.delete(versions.keys().next().value!);
  }

  /** Version → names for `gateway` (empty when none was recorded). */
  names(gateway: string): ReadonlyMap<string, ReadonlySet<string>> {
    return this.byGateway.get(gateway) ?? new Map();
  }

  /** Forgets gateways that no longer exist. */
  retain(gateways: ReadonlySet<string>): void {
    for (const k of [...this.byGateway.keys()]) if (!gateways.has(k)) this.byGateway.delete(k);
  }
}
