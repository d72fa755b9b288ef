// What every sink reports back and how the runner hands it tables: status reads the delivery
// state, never the sink itself.
import type { GatewayResult, TableJsonParts } from "../translate/index.ts";

export interface DeliveryState {
  /** The table reached its sink (WasmPlugin written or unchanged; ECDS ACKed by every gateway). */
  programmed: boolean;
  reason: string;
  message: string;
  gateways: Array<{ name: string; tableVersion?: string; acked: boolean }>;
}

/** Receives every accepted gateway's table (the ECDS server implements it). */
export interface TablePublisher {
  /** `json` is the table already serialized, in parts (once per snapshot, shared with the size metric). */
  publish(result: GatewayResult, json: TableJsonParts): void;
  delivery(result: GatewayResult): DeliveryState | undefined;
  /** Status must follow ACKs and NACKs, which arrive after a sync. */
  onDeliveryChange(listener: () => void): () => void;
}
