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

/**
 * A sink of route tables (WasmPlugin, ECDS). The runner drives every sink the same way: publish on
 * each translation, then on the leader deliver, write status, prune.
 */
export interface TableSink {
  /**
   * Every replica, each translation, every gateway: `json` is the table already serialized, in
   * parts (shared with the size metric); `changedAt` (performance.now() ms, default now): the
   * informer event that started this translation, for the change → delivered latency.
   */
  publish(result: GatewayResult, json: TableJsonParts, changedAt?: number): void;
  /**
   * The leader, each sync, each accepted gateway: writes what this sink writes and says how far
   * the table got (undefined: nothing to say). Throws to fail the sync, which is retried.
   */
  deliver(result: GatewayResult): Promise<DeliveryState | undefined>;
  /** The leader, after status: removes what no gateway of `accepted` wants any more. */
  prune(accepted: readonly GatewayResult[]): Promise<void>;
  /**
   * This replica started or stopped leading. Optional: for a sink that delivers only as the leader
   * (WasmPlugin), whose view of what is undelivered depends on it.
   */
  leadershipChanged?(leading: boolean): void;
  /** Status must follow ACKs and NACKs, which arrive after a sync. */
  onDeliveryChange(listener: () => void): () => void;
}

/**
 * One gateway's delivery over all its sinks, in wiring order (the one closest to the gateways
 * last): programmed only if every sink delivered; else the first sink that did not says why.
 */
export function combineDeliveries(states: ReadonlyArray<DeliveryState | undefined>): DeliveryState | undefined {
  const known = states.filter((s): s is DeliveryState => s !== undefined);
  return known.find((s) => !s.programmed) ?? known.at(-1);
}
