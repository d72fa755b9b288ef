// The WasmPlugin sink: one `canal-<InternalGateway>` WasmPlugin per accepted gateway, next to the
// gateway pods it selects, which istiod pushes to them. Only the leader writes; a gateway's ACK is
// not visible in this mode, so a written plugin counts as delivered.
import * as k8s from "@kubernetes/client-node";
import { errorText } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import type { Metrics } from "../common/metrics.ts";
import type { GatewayResult } from "../translate/index.ts";
import type { DeliveryState, TableSink } from "./delivery.ts";
import { DeliveryLatency } from "./delivery-latency.ts";
import { TableTooLargeError, WasmPluginWriter, WASMPLUGIN_API_VERSION, type WasmPluginTarget } from "./wasmplugin.ts";

export interface WasmPluginOptions {
  url: string;
  sha256?: string;
  /** The WasmPlugins' imagePullSecret (a Secret in each WasmPlugin's namespace); absent: none. */
  pullSecret?: string;
}

export class WasmPluginSink implements TableSink {
  private readonly plugins: WasmPluginWriter;
  private readonly latency: DeliveryLatency;
  private leading = false;

  constructor(private readonly o: { kc: k8s.KubeConfig; plugin: WasmPluginOptions; log: Logger; metrics: Metrics }) {
    this.plugins = new WasmPluginWriter(o.kc);
    this.latency = new DeliveryLatency(o.metrics, "wasmplugin");
  }

  /**
   * Writes nothing (only the leader writes, in `deliver`); notes when the table changed, for the
   * latency. Only the leader coalesces: on another replica the leader delivers the tables, so the
   * one a new leader finds unwritten is timed from its own change.
   */
  publish(g: GatewayResult, _json: unknown, changedAt = performance.now()): void {
    if (g.accepted) this.latency.changed(key(g), g.table.version, changedAt, this.leading);
  }

  leadershipChanged(leading: boolean): void {
    this.leading = leading;
  }

  onDeliveryChange(): () => void {
    return () => undefined;
  }

  private target(g: GatewayResult): WasmPluginTarget {
    const w = this.o.plugin;
    // The WasmPlugin must live with the gateway pods it selects: the gateway Service's namespace.
    const namespace = g.service?.namespace ?? g.gatewayRef.namespace;
    return { namespace, name: `canal-${g.ref.name}`, selector: g.workloadLabels, url: w.url, sha256: w.sha256, imagePullSecret: w.pullSecret };
  }

  async deliver(g: GatewayResult): Promise<DeliveryState> {
    const target = this.target(g);
    try {
      const outcome = await this.plugins.apply(target, g.table);
      if (outcome === "written") {
        this.o.metrics.counter("canal_wasmplugin_writes_total", "WasmPlugin server-side applies.");
        this.o.log.info("wasmplugin applied", { wasmplugin: `${target.namespace}/${target.name}`, tableVersion: g.table.version });
        this.latency.delivered(key(g), g.table.version);
      } else {
        // Already applied, by this replica or an earlier leader at a time not known here: no sample.
        this.latency.forget(key(g), g.table.version);
      }
      return { programmed: true, reason: "WasmPluginApplied", message: `WasmPlugin ${target.namespace}/${target.name} carries table ${g.table.version}`, gateways: [] };
    } catch (err) {
      if (err instanceof TableTooLargeError) return { programmed: false, reason: "TableTooLarge", message: err.message, gateways: [] };
      throw err;
    }
  }

  /** Deletes Canal's WasmPlugins that no accepted gateway wants; a failed list is logged and skipped. */
  async prune(accepted: readonly GatewayResult[]): Promise<void> {
    this.latency.retain(new Set(accepted.map(key)));
    const wanted = new Set(accepted.map((g) => this.target(g)).map((t) => `${t.namespace}/${t.name}`));
    const api = k8s.KubernetesObjectApi.makeApiClient(this.o.kc);
    let list: k8s.KubernetesListObject<k8s.KubernetesObject>;
    try {
      list = await api.list(WASMPLUGIN_API_VERSION, "WasmPlugin", undefined, undefined, undefined, undefined, undefined, "app.kubernetes.io/managed-by=canal");
    } catch (err) {
      this.o.log.warn("cannot list WasmPlugins to remove stale ones", { error: errorText(err) });
      return;
    }
    for (const p of list.items) {
      const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
      if (wanted.has(key) || !p.metadata?.name || !p.metadata.namespace) continue;
      await this.plugins.remove({ namespace: p.metadata.namespace, name: p.metadata.name });
      this.o.log.info("wasmplugin removed", { wasmplugin: key });
    }
  }
}

function key(g: GatewayResult): string {
  return `${g.ref.namespace}/${g.ref.name}`;
}
