// The WasmPlugin sink: per accepted gateway either one `canal-<InternalGateway>` WasmPlugin with
// the whole table, or (ADR 0005) a router plus a manifest and K shard WasmPlugins on the gateway's
// loopback table port, next to the gateway pods they select, which istiod pushes to them. Only the
// leader writes; a gateway's ACK is not visible in this mode, so written plugins count as delivered.
import * as k8s from "@kubernetes/client-node";
import type { Problem } from "../api/index.ts";
import { errorText } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import type { Metrics } from "../common/metrics.ts";
import type { GatewayResult, TableJsonParts } from "../translate/index.ts";
import type { VirtualHostSerializer } from "../translate/assemble-table.ts";
import { planShards, TableTooLargeForShardsError, VirtualHostTooLargeError, type ShardPlan } from "../translate/shards.ts";
import type { DeliveryState, TableSink } from "./delivery.ts";
import { DeliveryLatency } from "./delivery-latency.ts";
import { MAX_PLUGIN_CONFIG_BYTES, TableTooLargeError, WasmPluginWriter, WASMPLUGIN_API_VERSION, type WasmPluginTarget } from "./wasmplugin.ts";
import { ShardedWasmPluginWriter, ShardWriteError } from "./wasmplugin-shard-writer.ts";
import { SHARD_INDEX_LABEL, TABLE_LABEL, tableKey, type ShardedTarget } from "./wasmplugin-shards.ts";

/**
 * When to shard (ADR 0005): `never` one object (tables past MAX_PLUGIN_CONFIG_BYTES are refused),
 * `always` shards, `auto` one object while the table fits it, shards beyond, and back to one
 * object only below half of that bound, so a table near the bound does not flap between the two.
 */
export type ShardMode = "auto" | "always" | "never";
export const SHARD_MODES: readonly ShardMode[] = ["auto", "always", "never"];
/** The gateway chart's default loopback table port: outside Istio's 15000-15090 and the chart's other ports. */
export const DEFAULT_TABLE_PORT = 15099;

export interface WasmPluginOptions {
  url: string;
  sha256?: string;
  /** The WasmPlugins' imagePullSecret (a Secret in each WasmPlugin's namespace); absent: none. */
  pullSecret?: string;
  /** Default auto. */
  shards?: ShardMode;
  /** Port of the Gateway's loopback table server (`canal-table.invalid`); default DEFAULT_TABLE_PORT. */
  tablePort?: number;
  /** auto's single-object bound (default MAX_PLUGIN_CONFIG_BYTES); tests lower it with the shard bounds. */
  singleMaxBytes?: number;
  /** The planner's shard bound and target (translate/shards.ts defaults); tests lower them to shard small tables. */
  shardBoundBytes?: number;
  shardTargetBytes?: number;
}

/** Retry of a gateway whose sharded write failed (its status says which object). */
const RETRY_MS = 2000;

export class WasmPluginSink implements TableSink {
  private readonly plugins: WasmPluginWriter;
  private readonly sharded: ShardedWasmPluginWriter;
  private readonly latency: DeliveryLatency;
  private leading = false;
  /** Per gateway: shard count last delivered (0: one object); absent: not known since the lead began. */
  private readonly delivered = new Map<string, number>();
  /** Per gateway: the table's JSON bytes, from publish. */
  private readonly tableBytes = new Map<string, { version: string; bytes: number }>();
  /** Per gateway: virtual hosts no shard can carry (VirtualHostTooLargeError), as problems of their objects. */
  private readonly dropped = new Map<string, Problem[]>();
  private readonly listeners = new Set<() => void>();
  private retry?: NodeJS.Timeout;

  constructor(private readonly o: { kc: k8s.KubeConfig; plugin: WasmPluginOptions; log: Logger; metrics: Metrics; serialize?: VirtualHostSerializer }) {
    this.plugins = new WasmPluginWriter(o.kc);
    this.sharded = new ShardedWasmPluginWriter(o.kc);
    this.latency = new DeliveryLatency(o.metrics, "wasmplugin");
  }

  /**
   * Writes nothing (only the leader writes, in `deliver`); notes when the table changed, for the
   * latency. Only the leader coalesces: on another replica the leader delivers the tables, so the
   * one a new leader finds unwritten is timed from its own change.
   */
  publish(g: GatewayResult, json: TableJsonParts, changedAt = performance.now()): void {
    if (!g.accepted) return;
    this.latency.changed(key(g), g.table.version, changedAt, this.leading);
    this.tableBytes.set(key(g), { version: g.table.version, bytes: json.byteLength });
  }

  leadershipChanged(leading: boolean): void {
    this.leading = leading;
    // Another replica may write while this one does not lead: read the objects back next time.
    this.delivered.clear();
    this.sharded.forget();
  }

  onDeliveryChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Problems of objects whose routes no WasmPlugin can carry (the runner emits them as Events). */
  problems(): Problem[] {
    return [...this.dropped.values()].flat();
  }

  private target(g: GatewayResult): ShardedTarget {
    const w = this.o.plugin;
    // The WasmPlugin must live with the gateway pods it selects: the gateway Service's namespace.
    const namespace = g.service?.namespace ?? g.gatewayRef.namespace;
    const t: WasmPluginTarget = { namespace, name: `canal-${g.ref.name}`, selector: g.workloadLabels, url: w.url, sha256: w.sha256, imagePullSecret: w.pullSecret };
    return { ...t, dataPorts: g.servers.map((s) => s.port), tablePort: w.tablePort ?? DEFAULT_TABLE_PORT };
  }

  async deliver(g: GatewayResult): Promise<DeliveryState> {
    const t = this.target(g);
    const k = key(g);
    const singleMax = this.o.plugin.singleMaxBytes ?? MAX_PLUGIN_CONFIG_BYTES;
    const known = this.tableBytes.get(k);
    const bytes = known?.version === g.table.version ? known.bytes : Buffer.byteLength(JSON.stringify(g.table), "utf8");
    const mode = this.o.plugin.shards ?? "auto";
    let count = this.delivered.get(k);
    if (mode !== "never" && count === undefined) count = await this.sharded.count(t);
    const shard = mode === "always" || (mode === "auto" && (bytes > singleMax || ((count ?? 0) > 0 && bytes > singleMax / 2)));
    if (!shard) this.dropped.delete(k);
    return shard ? this.deliverSharded(g, t, count ?? 0) : this.deliverSingle(g, t, count);
  }

  private async deliverSingle(g: GatewayResult, t: ShardedTarget, count: number | undefined): Promise<DeliveryState> {
    const target: WasmPluginTarget = { namespace: t.namespace, name: t.name, selector: t.selector, url: t.url, sha256: t.sha256, imagePullSecret: t.imagePullSecret };
    try {
      const outcome = await this.plugins.apply(target, g.table);
      this.noteWrites(g, outcome === "written" ? 1 : 0);
      if (outcome === "written") this.o.log.info("wasmplugin applied", { wasmplugin: `${target.namespace}/${target.name}`, tableVersion: g.table.version });
      // Back to one object: the router carries the whole table now, so the shards can go. Once
      // per lead when not known (count undefined: the cluster may hold shards of an earlier run).
      if (count !== 0) {
        const removed = await this.sharded.removeShards(t);
        if (removed.length > 0) this.o.log.info("wasmplugin shards removed", { wasmplugin: `${t.namespace}/${t.name}`, removed: removed.length });
      }
      this.delivered.set(key(g), 0);
      return { programmed: true, reason: "WasmPluginApplied", message: `WasmPlugin ${target.namespace}/${target.name} carries table ${g.table.version}`, gateways: [] };
    } catch (err) {
      if (err instanceof TableTooLargeError) return { programmed: false, reason: "TableTooLarge", message: err.message, gateways: [] };
      throw err;
    }
  }

  private async deliverSharded(g: GatewayResult, t: ShardedTarget, previousCount: number): Promise<DeliveryState> {
    const k = key(g);
    if (t.dataPorts.length === 0 || t.dataPorts.includes(t.tablePort)) {
      const why = t.dataPorts.length === 0 ? "the Gateway has no HTTP server for the router" : `the Gateway serves traffic on the table port ${t.tablePort}`;
      return { programmed: false, reason: "TablePortConflict", message: `WasmPlugin shards of ${t.namespace}/${t.name} not written: ${why} (ADR 0005; --wasmplugin-table-port, the canal chart's tablePort)`, gateways: [] };
    }
    let plan: ShardPlan;
    try {
      plan = this.plan(g, previousCount);
    } catch (err) {
      if (err instanceof TableTooLargeForShardsError) return { programmed: false, reason: "TableTooLarge", message: err.message, gateways: [] };
      throw err;
    }
    try {
      const { written, deleted } = await this.sharded.apply(t, plan);
      this.delivered.set(k, plan.shards.length);
      this.noteWrites(g, written.length);
      if (written.length > 0 || deleted.length > 0) {
        this.o.log.info("wasmplugin shards applied", { wasmplugin: `${t.namespace}/${t.name}`, tableVersion: g.table.version, shards: plan.shards.length, written: written.length, deleted: deleted.length, countReason: plan.countReason });
      }
      const largest = Math.max(...plan.shardBytes);
      return {
        programmed: true,
        reason: "WasmPluginApplied",
        message: `WasmPlugins ${t.namespace}/${t.name} (router), ${t.name}-manifest and ${plan.shards.length} shards (largest ${largest} bytes) carry table ${g.table.version}`,
        gateways: [],
      };
    } catch (err) {
      if (!(err instanceof ShardWriteError)) throw err;
      this.delivered.delete(k);
      this.o.log.warn("wasmplugin shard not written; retrying", { error: err.message });
      this.retryLater();
      return { programmed: false, reason: "WasmPluginNotWritten", message: err.message, gateways: [] };
    }
  }

  /** The shard plan, leaving out (as problems) any virtual host larger than a whole shard. */
  private plan(g: GatewayResult, previousCount: number): ShardPlan {
    const o = this.o.plugin;
    const opts = {
      ...(previousCount > 0 ? { previousCount } : {}),
      ...(o.shardBoundBytes === undefined ? {} : { boundBytes: o.shardBoundBytes }),
      ...(o.shardTargetBytes === undefined ? {} : { targetBytes: o.shardTargetBytes }),
      ...(this.o.serialize === undefined ? {} : { serialize: this.o.serialize }),
    };
    const k = key(g);
    const problems: Problem[] = [];
    let table = g.table;
    // Bounded: each round drops one virtual host.
    for (let round = 0; round <= g.table.virtualHosts.length; round++) {
      try {
        const plan = planShards(table, tableKey(this.target(g).namespace, this.target(g).name), opts);
        this.dropped.set(k, problems);
        return plan;
      } catch (err) {
        if (!(err instanceof VirtualHostTooLargeError)) throw err;
        problems.push(tooLargeProblem(err));
        // The manifest keeps the table's version: the gate and status follow the controller's table.
        table = { ...table, virtualHosts: table.virtualHosts.filter((v) => v.name !== err.virtualHost) };
      }
    }
    throw new Error(`shard planning of ${k} did not converge`);
  }

  private noteWrites(g: GatewayResult, written: number): void {
    if (written > 0) {
      this.o.metrics.counter("canal_wasmplugin_writes_total", "WasmPlugin server-side applies.", {}, written);
      this.latency.delivered(key(g), g.table.version);
    } else {
      // Already applied, by this replica or an earlier leader at a time not known here: no sample.
      this.latency.forget(key(g), g.table.version);
    }
  }

  private retryLater(): void {
    if (this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      for (const l of this.listeners) l();
    }, RETRY_MS);
    this.retry.unref();
  }

  /**
   * Deletes Canal's WasmPlugins that no accepted gateway wants; a failed list is logged and
   * skipped. Shards and manifests of a wanted gateway are the sharded writer's to collect.
   */
  async prune(accepted: readonly GatewayResult[]): Promise<void> {
    this.latency.retain(new Set(accepted.map(key)));
    const keys = new Set(accepted.map(key));
    for (const m of [this.dropped, this.delivered, this.tableBytes]) for (const k of [...m.keys()]) if (!keys.has(k)) m.delete(k);
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
      const name = p.metadata?.name;
      const namespace = p.metadata?.namespace;
      if (!name || !namespace || wanted.has(`${namespace}/${name}`)) continue;
      const table = p.metadata?.labels?.[TABLE_LABEL];
      if (p.metadata?.labels?.[SHARD_INDEX_LABEL] !== undefined && table !== undefined && wanted.has(`${namespace}/${table}`)) continue;
      await this.plugins.remove({ namespace, name });
      this.o.log.info("wasmplugin removed", { wasmplugin: `${namespace}/${name}` });
    }
  }
}

function key(g: GatewayResult): string {
  return `${g.ref.namespace}/${g.ref.name}`;
}

/** The object behind a virtual host name ("namespace/name", or "namespace/name:port" for an HTTPRoute's). */
function tooLargeProblem(err: VirtualHostTooLargeError): Problem {
  const route = /^([^/]+)\/([^:]+):\d+$/.exec(err.virtualHost);
  const [namespace = "", name = err.virtualHost] = route ? [route[1], route[2]] : err.virtualHost.split("/");
  return { kind: route ? "HTTPRoute" : "VirtualService", namespace, name, field: "", reason: "RouteDropped", message: `${err.message}; its routes are not delivered` };
}
