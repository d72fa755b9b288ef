// Adapts the ECDS server to the controller: one table group per InternalGateway (a gateway's
// Envoy names its InternalGateway as node.cluster, "namespace/name"), and delivery state for
// status from the gateways' ACKs and NACKs.
import type { GatewayResult } from "../translate/index.ts";
import type { DeliveryState, TableSink } from "./delivery.ts";
import { EcdsServer, type EcdsServerOptions } from "./ecds/index.ts";
import type { TableJson } from "./ecds/nested.ts";

export function groupKey(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}

export class EcdsPublisher implements TableSink {
  readonly server: EcdsServer;

  constructor(options: Omit<EcdsServerOptions, "groupOf">) {
    this.server = new EcdsServer({ ...options, groupOf: (node) => node.cluster });
  }

  publish(result: GatewayResult, json: TableJson): void {
    if (!result.accepted) return;
    this.server.publish({ version: result.table.version, json }, { group: groupKey(result.ref) });
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

  /** Nothing: the ECDS server writes no objects. */
  async prune(): Promise<void> {}

  /** Calls `listener` whenever a gateway ACKs, NACKs, connects or disconnects. */
  onDeliveryChange(listener: () => void): () => void {
    return this.server.onChange((e) => {
      if (e.kind !== "sent") listener();
    });
  }
}
