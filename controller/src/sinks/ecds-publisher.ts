// Adapts the ECDS server to the controller: one table group per InternalGateway (a gateway's
// Envoy names its InternalGateway as node.cluster, "namespace/name"), and delivery state for
// status from the gateways' ACKs and NACKs.
import type { Metrics } from "../common/metrics.ts";
import type { GatewayResult } from "../translate/index.ts";
import type { DeliveryState, TableSink } from "./delivery.ts";
import { DeliveryLatency } from "./delivery-latency.ts";
import { EcdsServer, type EcdsServerOptions, type GatewayStatus } from "./ecds/index.ts";
import type { TableJson } from "./ecds/nested.ts";

export function groupKey(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}

const RESPONSES = "canal_ecds_responses_total";
const RESPONSES_HELP = "ECDS responses the gateways answered, by outcome (ack: applied; nack: rejected, the gateway keeps its previous table).";
const GATEWAYS = "canal_ecds_gateways";
const GATEWAYS_HELP =
  "Gateways connected to this replica's ECDS server by the state of their InternalGateway's latest table: current (ACKed), rejected (NACKed), behind (not answered yet, or no table).";
/** The states of canal_ecds_gateways, always all reported (0 included). */
export const ECDS_GATEWAY_STATES = ["current", "behind", "rejected"] as const;
export type EcdsGatewayState = (typeof ECDS_GATEWAY_STATES)[number];

export class EcdsPublisher implements TableSink {
  readonly server: EcdsServer;
  private readonly latency: DeliveryLatency;

  /** `metrics`: this replica's ACK/NACK counts, gateways by state and the change → delivered (ACKed) latency. */
  constructor(options: Omit<EcdsServerOptions, "groupOf"> & { metrics?: Metrics }) {
    const { metrics, ...serverOptions } = options;
    this.server = new EcdsServer({ ...serverOptions, groupOf: (node) => node.cluster });
    this.latency = new DeliveryLatency(metrics, "ecds");
    if (metrics === undefined) return;
    for (const outcome of ["ack", "nack"]) metrics.counter(RESPONSES, RESPONSES_HELP, { outcome }, 0);
    this.server.onChange((e) => {
      if (e.kind === "acked" || e.kind === "nacked") metrics.counter(RESPONSES, RESPONSES_HELP, { outcome: e.kind === "acked" ? "ack" : "nack" });
      // A gateway that leaves can be the last one that had not ACKed.
      if (e.kind === "acked" || e.kind === "disconnected") this.checkDelivered(e.gateway.group);
    });
    metrics.onRender(() => {
      const counts = new Map<EcdsGatewayState, number>(ECDS_GATEWAY_STATES.map((s) => [s, 0]));
      for (const g of this.server.status()) if (g.connected) counts.set(this.stateOf(g), (counts.get(this.stateOf(g)) ?? 0) + 1);
      for (const [state, n] of counts) metrics.gauge(GATEWAYS, GATEWAYS_HELP, n, { state });
    });
  }

  publish(result: GatewayResult, json: TableJson, changedAt = performance.now()): void {
    if (!result.accepted) return;
    const group = groupKey(result.ref);
    const { changed } = this.server.publish({ version: result.table.version, json }, { group });
    if (changed) this.latency.changed(group, result.table.version, changedAt);
  }

  /** A gateway's state for canal_ecds_gateways, against its group's latest table. */
  private stateOf(g: GatewayStatus): EcdsGatewayState {
    const latest = this.server.latest(g.group)?.version;
    if (latest !== undefined && g.lastAcked?.version === latest) return "current";
    if (latest !== undefined && g.lastNack?.version === latest) return "rejected";
    return "behind";
  }

  /** Records the latency once every connected gateway of `group` ACKed its latest table. */
  private checkDelivered(group: string): void {
    const latest = this.server.latest(group)?.version;
    if (latest === undefined) return;
    const gateways = this.server.status().filter((g) => g.group === group && g.connected);
    if (gateways.length > 0 && gateways.every((g) => g.lastAcked?.version === latest)) this.latency.delivered(group, latest);
  }

  delivery(result: GatewayResult): DeliveryState | undefined {
    const group = groupKey(result.ref);
    const version = result.table.version;
    const gateways = this.server.status().filter((g) => g.group === group && g.connected);
    if (gateways.length === 0) {
      return { programmed: false, reason: "NoGateways", message: `no gateway is connected for ${group} (Envoy node.cluster must be "${group}")`, gateways: [] };
    }
    const list = gateways.map((g) => ({ name: g.nodeId, tableVersion: g.reportedVersion || undefined, acked: g.lastAcked?.version === version }));
    const nacked = gateways.filter((g) => g.lastNack?.version === version);
    if (nacked.length > 0) {
      const g = nacked[0];
      return { programmed: false, reason: "Rejected", message: `gateway ${g?.nodeId} rejected table ${version}: ${g?.lastNack?.message ?? ""}`, gateways: list };
    }
    const pending = list.filter((g) => !g.acked).length;
    if (pending > 0) return { programmed: false, reason: "Pending", message: `${pending} of ${list.length} gateways have not acknowledged table ${version} yet`, gateways: list };
    return { programmed: true, reason: "Acknowledged", message: `all ${list.length} gateways run table ${version}`, gateways: list };
  }

  async deliver(result: GatewayResult): Promise<DeliveryState | undefined> {
    return this.delivery(result);
  }

  /** Writes nothing (the ECDS server writes no objects); forgets the latency of removed InternalGateways. */
  async prune(accepted: readonly GatewayResult[]): Promise<void> {
    this.latency.retain(new Set(accepted.map((g) => groupKey(g.ref))));
  }

  /** Calls `listener` whenever a gateway ACKs, NACKs, connects or disconnects. */
  onDeliveryChange(listener: () => void): () => void {
    return this.server.onChange((e) => {
      if (e.kind !== "sent") listener();
    });
  }
}
