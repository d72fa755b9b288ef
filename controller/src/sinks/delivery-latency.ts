// Change → delivered latency per sink: from the informer event behind a gateway's new table to
// the moment that sink delivered it (ECDS: every connected gateway of the group ACKed; WasmPlugin:
// applied). A table replaced before delivery keeps the oldest undelivered change's time, so a
// burst or a stuck delivery shows as one long sample, not as many short ones.
import { LATENCY_BUCKETS, type Metrics } from "../common/metrics.ts";

export const CHANGE_DELIVERED_METRIC = "canal_change_delivered_seconds";
const HELP =
  "Seconds from the informer event that changed an InternalGateway's table (the oldest not yet delivered) to its delivery by the sink: " +
  'sink="ecds": every connected gateway of the InternalGateway ACKed it; sink="wasmplugin": the WasmPlugin was applied (istiod\'s push and the gateways\' ACK are not included).';

export type LatencySink = "ecds" | "wasmplugin";

export class DeliveryLatency {
  /** group (InternalGateway namespace/name) → the table waiting for delivery and its oldest change. */
  private readonly pending = new Map<string, { version: string; since: number }>();

  constructor(
    private readonly metrics: Metrics | undefined,
    private readonly sink: LatencySink,
    private readonly clock: () => number = () => performance.now(),
  ) {
    metrics?.histogram(CHANGE_DELIVERED_METRIC, HELP, LATENCY_BUCKETS, { sink });
  }

  /**
   * `version` is now the group's table; `changedAt` (clock ms): the informer event behind it.
   * `coalesce` false: the table it replaces may have been delivered by someone else (a sink that
   * delivers only as the leader, on a replica that does not lead), so time this one from its own change.
   */
  changed(group: string, version: string, changedAt: number, coalesce = true): void {
    const p = this.pending.get(group);
    if (p?.version === version) return;
    this.pending.set(group, { version, since: coalesce ? Math.min(p?.since ?? changedAt, changedAt) : changedAt });
  }

  /** The sink delivered `version` of `group`: records the latency once, if it was waiting. */
  delivered(group: string, version: string): void {
    const p = this.pending.get(group);
    if (p === undefined || p.version !== version) return;
    this.pending.delete(group);
    this.metrics?.histogram(CHANGE_DELIVERED_METRIC, HELP, LATENCY_BUCKETS, { sink: this.sink }, Math.max(0, this.clock() - p.since) / 1000);
  }

  /** Someone else delivered it, at a time not known here (another leader): no sample. */
  forget(group: string, version: string): void {
    if (this.pending.get(group)?.version === version) this.pending.delete(group);
  }

  /** Keeps only these groups (deleted InternalGateways would wait for ever). */
  retain(groups: ReadonlySet<string>): void {
    for (const g of this.pending.keys()) if (!groups.has(g)) this.pending.delete(g);
  }
}
