// Wires the one-way pipeline: ClusterSource (snapshots) → translate (pure) → sinks (WasmPlugin,
// ECDS) and, on its own path, status. Runners hold the only async and retry code; a failing
// sync is logged with its cause and retried on the next snapshot or after a backoff, never
// crashing the loop. Only the leader writes.
import type * as k8s from "@kubernetes/client-node";
import type { ParsedObjects, Problem } from "../api/index.ts";
import { INTERNAL_GATEWAY_API_VERSION } from "../api/index.ts";
import { problemCounts } from "./problem-metrics.ts";
import { errorText } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { Metrics } from "../common/metrics.ts";
import type { ResolvedKind } from "../kube/resources.ts";
import { ClusterSource } from "../sources/cluster-source.ts";
import { tableJsonParts, translate, TranslateMemo, type GatewayResult, type RegexValidator, type TranslateOptions, type TranslateResult } from "../translate/index.ts";
import { combineDeliveries, type DeliveryState, type TableSink } from "../sinks/delivery.ts";
import type { DnsManager } from "../sinks/dns/manager.ts";
import { WasmPluginSink, type WasmPluginOptions } from "../sinks/wasmplugin-sink.ts";
import { StatusWriter } from "../status/status-writer.ts";
import { HTTPRouteStatusWriter } from "../status/httproute-status.ts";
import { GatewayApiStatusWriter } from "../status/gateway-status.ts";
import { LeaderElector } from "./leader.ts";
import { IdleCollector } from "./idle-gc.ts";
import { rehearseTranslation } from "./warm-up.ts";

export interface ControllerOptions {
  kc: k8s.KubeConfig;
  kinds: readonly ResolvedKind[];
  log: Logger;
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  leaseDurationSeconds?: number;
  /** Absent: no WasmPlugins (EnvoyFilter/ECDS mode). */
  wasmPlugin?: WasmPluginOptions;
  /** The ECDS sink (EcdsPublisher); absent: no ECDS. */
  publisher?: TableSink;
  validateRegex: RegexValidator;
  clusterDomain?: string;
  /** Namespaces never redirected in DNS (translate's systemNamespaces). */
  systemNamespaces?: readonly string[];
  metrics?: Metrics;
  /** DNS redirection (`--dns`): absent, nothing DNS-related runs. */
  dns?: DnsManager;
  /** Full garbage collection this long after the last translation (idle-gc.ts); 0 or absent: never. */
  idleGcMs?: number;
}

export class Controller {
  readonly metrics: Metrics;
  private readonly source: ClusterSource;
  private readonly leader: LeaderElector;
  /** WasmPlugin, then ECDS: the order in which their delivery states combine (combineDeliveries). */
  private readonly sinks: readonly TableSink[];
  /** The WasmPlugin sink, also a source of problems (routes too large for any shard). */
  private readonly wasmPlugins?: WasmPluginSink;
  private readonly status: StatusWriter;
  /** Absent when the API server does not serve HTTPRoutes. */
  private readonly routeStatus?: HTTPRouteStatusWriter;
  private readonly gatewayStatus?: GatewayApiStatusWriter;
  private latest?: { parsed: ParsedObjects; result: TranslateResult };
  private syncing = false;
  private again = false;
  private retryTimer?: NodeJS.Timeout;
  private synced = false;
  /** What translations keep for the next one (rebuilt from the cluster after a restart). */
  private readonly memo = new TranslateMemo();
  /** One set for every translation: the memo starts over when the validator differs (the rehearsal included). */
  private readonly translateOptions: TranslateOptions & { memo: TranslateMemo };
  private readonly idleGc: IdleCollector;
  private rehearsed = false;

  constructor(private readonly o: ControllerOptions) {
    this.metrics = o.metrics ?? new Metrics();
    this.translateOptions = { validateRegex: o.validateRegex, clusterDomain: o.clusterDomain, memo: this.memo, ...(o.systemNamespaces === undefined ? {} : { systemNamespaces: o.systemNamespaces }) };
    this.idleGc = new IdleCollector({
      delayMs: o.idleGcMs ?? 0,
      onRun: (runs) => this.metrics.gauge("canal_idle_gc_total", "Full garbage collections run once idle after a translation.", runs),
    });
    this.source = new ClusterSource({ kc: o.kc, kinds: o.kinds, log: o.log });
    if (o.wasmPlugin) this.wasmPlugins = new WasmPluginSink({ kc: o.kc, plugin: o.wasmPlugin, log: o.log, metrics: this.metrics, serialize: (vh) => this.memo.virtualHostJson(vh) });
    this.sinks = [...(this.wasmPlugins ? [this.wasmPlugins] : []), ...(o.publisher ? [o.publisher] : [])];
    this.status = new StatusWriter(o.kc, "canal-controller", o.identity);
    const routes = o.kinds.find((k) => k.kind === "HTTPRoute");
    if (routes !== undefined) this.routeStatus = new HTTPRouteStatusWriter(o.kc, routes.apiVersion);
    const gatewayApiGateways = o.kinds.find((k) => k.kind === "Gateway" && k.group === "gateway.networking.k8s.io");
    if (gatewayApiGateways !== undefined) this.gatewayStatus = new GatewayApiStatusWriter(o.kc, gatewayApiGateways.apiVersion);
    this.leader = new LeaderElector({
      kc: o.kc,
      namespace: o.leaseNamespace,
      name: o.leaseName ?? "canal-controller",
      identity: o.identity,
      leaseDurationSeconds: o.leaseDurationSeconds,
      retryPeriodMs: Math.max(500, ((o.leaseDurationSeconds ?? 15) * 1000) / 5),
      log: o.log,
      onStartedLeading: () => {
        for (const sink of this.sinks) sink.leadershipChanged?.(true);
        this.requestSync();
      },
      onStoppedLeading: () => {
        for (const sink of this.sinks) sink.leadershipChanged?.(false);
        this.dropLeaderSeries();
      },
    });
    this.source.onSnapshot((parsed, changedAt) => this.onSnapshot(parsed, changedAt));
    for (const sink of this.sinks) sink.onDeliveryChange(() => this.requestSync());
    o.dns?.attach({ resync: () => this.requestSync(), retranslate: () => this.latest && this.onSnapshot(this.latest.parsed), isLeader: () => this.leader.isLeader, metrics: this.metrics });
  }

  get isLeader(): boolean {
    return this.leader.isLeader;
  }

  /** Ready once the caches have synced and the first translation ran. */
  get ready(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    await this.o.dns?.start();
    await this.source.start();
    this.leader.start();
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.idleGc.stop();
    await this.leader.stop();
    await this.source.stop();
    await this.o.dns?.stop();
  }

  /** The latest translation (for `canal status`-like introspection and tests). */
  get result(): TranslateResult | undefined {
    return this.latest?.result;
  }

  /** `changedAt` (performance.now() ms): the informer event behind it; a retranslation's cause is now. */
  private onSnapshot(parsed: ParsedObjects, changedAt = performance.now()): void {
    const started = performance.now();
    const translated = translate(parsed.snapshot, this.translateOptions);
    // Names leaving DNS keep their routes until their drain deadline (before any sink sees the tables).
    const result = this.o.dns ? this.o.dns.prepare(parsed, translated) : translated;
    this.latest = { parsed, result };
    this.synced = true;
    this.metrics.counter("canal_translations_total", "Translations of a full snapshot.");
    const { reused, translated: fresh } = this.memo.stats;
    this.metrics.gauge("canal_memo_virtualservices", "VirtualService route sets reused from earlier translations, or translated, since start.", reused, { result: "reused" });
    this.metrics.gauge("canal_memo_virtualservices", "VirtualService route sets reused from earlier translations, or translated, since start.", fresh, { result: "translated" });
    this.metrics.gauge("canal_translate_seconds", "Duration of the last translation.", (performance.now() - started) / 1000);
    const s = parsed.snapshot;
    for (const [kind, n] of [["InternalGateway", s.internalGateways.length], ["Gateway", s.gateways.length], ["VirtualService", s.virtualServices.length], ["DestinationRule", s.destinationRules.length], ["Service", s.services.length], ["HTTPRoute", s.httpRoutes.length], ["ReferenceGrant", s.referenceGrants.length]] as const) {
      this.metrics.gauge("canal_objects", "Objects in the informer caches.", n, { kind });
    }
    // Every kind and reason, 0 included: a reason that went away reads 0, never its last count.
    for (const { kind, reason, count } of problemCounts([...parsed.problems, ...result.problems])) {
      this.metrics.gauge("canal_problems", "Problems found in the input by the object's kind and the reason (api/problem.ts PROBLEM_REASONS).", count, { kind, reason });
    }
    for (const g of result.gateways) {
      // Serialized once, while translating (joined, the same bytes as JSON.stringify(g.table)).
      const json = tableJsonParts(g.table);
      for (const sink of this.sinks) sink.publish(g, json, changedAt);
      this.metrics.gauge("canal_table_bytes", "Size of the route table JSON.", json.byteLength, { gateway: `${g.ref.namespace}/${g.ref.name}` });
    }
    this.idleGc.busy();
    this.requestSync();
    if (!this.rehearsed) {
      this.rehearsed = true;
      // After the first table went out (publish and the sync's writes are under way).
      setImmediate(() => this.rehearse());
    }
  }

  /** warm-up.ts: the per-change paths, run once on the latest snapshot before a change needs them. */
  private rehearse(): void {
    const latest = this.latest;
    if (latest === undefined) return;
    const started = performance.now();
    try {
      const runs = rehearseTranslation(latest.parsed.snapshot, this.translateOptions);
      this.o.log.debug("translation rehearsed", { translations: runs, ms: Math.round(performance.now() - started) });
    } catch (err) {
      // Only a warm-up: the real translations report their own failures.
      this.o.log.warn("translation rehearsal failed", { error: errorText(err) });
    }
  }

  /** Serializes syncs: a snapshot that arrives during a sync triggers exactly one more. */
  requestSync(): void {
    if (!this.leader.isLeader || this.latest === undefined) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    const started = performance.now();
    this.sync().then(
      () => {
        this.metrics.counter("canal_reconciles_total", "Syncs of the latest translation to the sinks.", { result: "ok" });
        this.metrics.gauge(PUSH_SECONDS, "Duration of the leader's last sync to the sinks (absent on a replica that does not lead).", (performance.now() - started) / 1000);
      },
      (err: unknown) => {
        this.metrics.counter("canal_reconciles_total", "Syncs of the latest translation to the sinks.", { result: "error" });
        this.o.log.error("sync failed; retrying", { error: errorText(err) });
        this.retryTimer = setTimeout(() => this.requestSync(), 2000);
      },
    ).finally(() => {
      this.syncing = false;
      // The lead was lost during this sync: what it set is not the leader's.
      if (!this.leader.isLeader) this.dropLeaderSeries();
      if (this.again) {
        this.again = false;
        this.requestSync();
      }
    });
  }

  /** The gauges only the leader's sync sets: a replica that stops leading drops them rather than keep stale values. */
  private dropLeaderSeries(): void {
    for (const name of LEADER_GAUGES) this.metrics.removeGauge(name);
  }

  private async sync(): Promise<void> {
    const latest = this.latest;
    if (latest === undefined) return;
    const { parsed, result } = latest;
    const deliveries = new Map<string, DeliveryState>();
    for (const g of result.gateways) deliveries.set(`${g.ref.namespace}/${g.ref.name}`, await this.deliver(g));
    if (!this.leader.isLeader) return;
    // DNS after delivery (it gates on the gateways' ACKs), before status (which reports it).
    const dns = this.o.dns ? await this.o.dns.sync(parsed, result, deliveries) : undefined;
    for (const g of result.gateways) {
      const key = `${g.ref.namespace}/${g.ref.name}`;
      if (!this.leader.isLeader) return;
      await this.status.writeStatus(g, deliveries.get(key)!, dns?.statuses.get(key));
    }
    if (this.routeStatus !== undefined) {
      const n = await this.routeStatus.writeAll(parsed.snapshot.httpRoutes, result, () => this.leader.isLeader);
      const help = "HTTPRoutes whose status the leader read (its entries would change) and wrote.";
      if (n.read > 0) this.metrics.counter("canal_httproute_status_total", help, { result: "read" }, n.read);
      if (n.written > 0) this.metrics.counter("canal_httproute_status_total", help, { result: "written" }, n.written);
    }
    if (this.gatewayStatus !== undefined) await this.gatewayStatus.writeAll(parsed.snapshot.gatewayApiGateways, result, () => this.leader.isLeader);
    const accepted = result.gateways.filter((g) => g.accepted);
    for (const sink of this.sinks) await sink.prune(accepted);
    const problems: Problem[] = [...parsed.problems, ...result.problems, ...(dns?.problems ?? []), ...(this.wasmPlugins?.problems() ?? [])];
    const created = await this.status.emitProblemEvents(problems, apiVersionOf(this.o.kinds), uidIndex(parsed));
    if (created > 0) this.metrics.counter("canal_events_total", "Warning Events emitted for rejected objects.", {}, created);
  }

  private async deliver(g: GatewayResult): Promise<DeliveryState> {
    if (!g.accepted) return { programmed: false, reason: "NotAccepted", message: g.message, gateways: [] };
    // Started together: each sink's state is taken as the sync began (ECDS's before the WasmPlugin write returns).
    const states = await Promise.all(this.sinks.map((sink) => sink.deliver(g)));
    return combineDeliveries(states) ?? { programmed: false, reason: "NoSink", message: "neither WasmPlugin nor ECDS delivery is configured", gateways: [] };
  }
}

const PUSH_SECONDS = "canal_push_seconds";
/** Set by the leader's sync only (DNS runs there too). */
const LEADER_GAUGES = [PUSH_SECONDS, "canal_dns_names", "canal_dns_gateway_pods"] as const;

function apiVersionOf(kinds: readonly ResolvedKind[]): (kind: string) => string {
  return (kind) => kinds.find((k) => k.kind === kind)?.apiVersion ?? (kind === "InternalGateway" ? INTERNAL_GATEWAY_API_VERSION : "v1");
}

/** kind/namespace/name → uid, built once per sync (a scan per problem was O(problems × objects)). */
function uidIndex(parsed: ParsedObjects): (p: Problem) => string | undefined {
  const s = parsed.snapshot;
  let uids: Map<string, string | undefined> | undefined;
  // Built on the first lookup: a sync without problems never needs it.
  return (p) => {
    uids ??= uidMap(s);
    return uids.get(`${p.kind}/${p.namespace}/${p.name}`);
  };
}

function uidMap(s: ParsedObjects["snapshot"]): Map<string, string | undefined> {
  const uids = new Map<string, string | undefined>();
  for (const o of [...s.internalGateways, ...s.gateways, ...s.virtualServices, ...s.destinationRules, ...s.services, ...s.httpRoutes, ...s.referenceGrants]) {
    uids.set(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o.metadata.uid);
  }
  return uids;
}
