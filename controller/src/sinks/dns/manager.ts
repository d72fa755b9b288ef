// Runs DNS redirection for the controller: reads the canal-dns ConfigMap (the only state, so a
// restarted or second controller continues from it), decides with gating.ts, writes through the
// CoreDNS ConfigMap sink, keeps draining names' routes in the tables (drain.ts), and wakes the
// controller when EndpointSlices change (sources/endpoint-slices.ts), a gateway pod's probe answer
// changes (sources/delivery-prober.ts) or a drain deadline passes.
import type * as k8s from "@kubernetes/client-node";
import type { ParsedObjects, Problem, Snapshot } from "../../api/index.ts";
import type { Logger } from "../../common/log.ts";
import type { Metrics } from "../../common/metrics.ts";
import { ConfigMapMissingError, CorednsConfigMapWriter, type ConfigMapRef } from "./coredns-configmap.ts";
import { errorText } from "../../common/errors.ts";
import type { DeliveryState } from "../delivery.ts";
import type { GatewayResult, TranslateResult } from "../../translate/index.ts";
import type { RouteTable, VirtualHost } from "../../../../schema/route-table.ts";
import { drainVirtualHost, withDraining } from "./drain.ts";
import { EndpointReadiness, type ReadyPod } from "../../sources/endpoint-slices.ts";
import { decide, nextDeadline, type Decision, type GatewayDnsInput, type PodProof } from "./gating.ts";
import { TableHistory } from "./history.ts";
import { DEFAULT_PROBER, TableProber, type ProbeTarget, type ProberOptions } from "../../sources/delivery-prober.ts";
import { addressError } from "./names.ts";
import { optedOutNames } from "../../translate/dns-optout.ts";
import { renderHosts, renderSnippet } from "./render.ts";
import { CONF_KEY, HOSTS_KEY, STATE_KEY, emptyState, parseState, serializeState, type DnsState, type DrainRecord } from "./state.ts";
import { summarize, type DnsGatewayStatus } from "./dns-status.ts";

export interface DnsOptions {
  configMap: ConfigMapRef;
  ttlSeconds: number;
  drainSeconds: number;
  dryRun: boolean;
  /** Where CoreDNS pods mount the ConfigMap (for the hosts path in canal.conf). */
  mountPath: string;
  clusterDomain: string;
  /** hosts plugin `reload` (seconds). Default 1. */
  hostsReloadSeconds?: number;
  /** How often a standby replica re-reads the ConfigMap (drain records), ms. Default 5000. */
  pollMs?: number;
  /** The delivery prober's limits (prober.ts DEFAULT_PROBER) and, in tests, its address map. */
  probe?: Partial<Omit<ProberOptions, "onChange">>;
}

export interface DnsHooks {
  /** Run a sync (gating inputs changed). */
  resync(): void;
  /** Translate again (a drain deadline passed: the tables lose the drained routes). */
  retranslate(): void;
  isLeader(): boolean;
  /** canal_dns_names{state}, canal_dns_writes_total{outcome}. */
  metrics?: Metrics;
}

export interface DnsSyncResult {
  statuses: Map<string, DnsGatewayStatus>;
  problems: Problem[];
}

/** The gateway Service's addresses: spec.clusterIPs (dual-stack) or spec.clusterIP, valid IPs only. */
export function gatewayAddresses(snapshot: Snapshot, svc: { namespace: string; name: string } | undefined): string[] {
  if (svc === undefined) return [];
  const s = snapshot.services.find((x) => x.metadata.namespace === svc.namespace && x.metadata.name === svc.name);
  if (s === undefined) return [];
  const ips = s.spec.clusterIPs ?? (s.spec.clusterIP === undefined ? [] : [s.spec.clusterIP]);
  return [...new Set(ips.filter((ip) => ip !== "None" && addressError(ip) === null))].sort();
}

/** What gating learns about delivery: each ready pod's probe answer and what each version routes. */
export interface DeliveryProof {
  pods: readonly PodProof[];
  tableNames: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The name of the gateway Service port the prober uses: the lowest port that is both an HTTP
 * server port of the Gateway and a port of the Service ("" for an unnamed port, as in slices).
 */
export function probePortName(snapshot: Snapshot, g: GatewayResult): string | undefined {
  const svc = g.service;
  if (svc === undefined) return undefined;
  const s = snapshot.services.find((x) => x.metadata.namespace === svc.namespace && x.metadata.name === svc.name);
  const servers = new Set(g.servers.map((x) => x.port));
  const ports = (s?.spec.ports ?? []).filter((p) => servers.has(p.port)).sort((a, b) => a.port - b.port);
  return ports[0] === undefined ? undefined : (ports[0].name ?? "");
}

export function gatewayInput(g: GatewayResult, snapshot: Snapshot, readyEndpoints: number, delivery: DeliveryState | undefined, proof: DeliveryProof): GatewayDnsInput {
  return {
    key: `${g.ref.namespace}/${g.ref.name}`,
    accepted: g.accepted,
    plan: g.dnsPlan,
    serverPorts: g.servers.map((s) => s.port),
    gatewayName: `${g.gatewayRef.namespace}/${g.gatewayRef.name}`,
    ...(g.service === undefined ? {} : { service: { namespace: g.service.namespace, name: g.service.name, ports: g.service.ports, addresses: gatewayAddresses(snapshot, g.service) } }),
    readyEndpoints,
    pods: proof.pods,
    tableNames: proof.tableNames,
    deliveryReason: delivery?.reason ?? "Unknown",
    deliveryMessage: delivery?.message ?? "no delivery state yet",
  };
}

/** The keys of the ConfigMap for a decision. Throws when anything would be invalid. */
export function renderConfigMap(state: DnsState, o: DnsOptions): Record<string, string> {
  const cm = `${o.configMap.namespace}/${o.configMap.name}`;
  return {
    [CONF_KEY]: renderSnippet({ mountPath: o.mountPath, zone: o.clusterDomain, ttlSeconds: o.ttlSeconds, reloadSeconds: o.hostsReloadSeconds ?? 1, configMap: cm }),
    [HOSTS_KEY]: renderHosts(state.entries, cm),
    [STATE_KEY]: serializeState(state),
  };
}

export class DnsManager {
  readonly writer: CorednsConfigMapWriter;
  private readonly endpoints: EndpointReadiness;
  private readonly prober: TableProber;
  private readonly history = new TableHistory();
  /** "pod version" pairs already logged as unknown (bounded; cleared when full). */
  private readonly warned = new Set<string>();
  private hooks?: DnsHooks;
  /** The last state read from or written to the ConfigMap. */
  private state: DnsState = emptyState();
  /** Tables as last handed to the sinks, per InternalGateway: where a leaving name's routes come from. */
  private readonly lastTables = new Map<string, RouteTable>();
  /** "gateway fqdn" → virtual host of a name that left its table, until persisted in a drain record. */
  private readonly leaving = new Map<string, VirtualHost>();
  private deadlineTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(kc: k8s.KubeConfig, private readonly o: DnsOptions, private readonly log: Logger) {
    if (o.drainSeconds < o.ttlSeconds) throw new Error(`--dns-drain (${o.drainSeconds}s) must be at least --dns-ttl (${o.ttlSeconds}s)`);
    renderSnippet({ mountPath: o.mountPath, zone: o.clusterDomain, ttlSeconds: o.ttlSeconds, reloadSeconds: o.hostsReloadSeconds ?? 1, configMap: "x/y" });
    this.writer = new CorednsConfigMapWriter(kc, o.configMap);
    this.endpoints = new EndpointReadiness(kc, log);
    this.prober = new TableProber({ ...DEFAULT_PROBER, ...o.probe, onChange: () => this.hooks?.resync() });
  }

  attach(hooks: DnsHooks): void {
    this.hooks = hooks;
    this.endpoints.onChange(() => hooks.resync());
  }

  async start(): Promise<void> {
    await this.endpoints.start();
    await this.refresh();
    const poll = (): void => {
      this.pollTimer = setTimeout(() => {
        if (this.stopped) return;
        const before = serializeState(this.state);
        // Only the leader probes the gateway pods: a replica that lost the lease stops.
        if (this.hooks?.isLeader() === false) this.prober.setTargets([]);
        (this.hooks?.isLeader() ? Promise.resolve() : this.refresh()).then(
          () => {
            if (serializeState(this.state) !== before) this.hooks?.retranslate();
          },
          (err: unknown) => this.log.warn("cannot read the DNS ConfigMap", { error: errorText(err) }),
        ).finally(poll);
      }, this.o.pollMs ?? 5000);
    };
    poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.deadlineTimer, this.pollTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.prober.stop();
    await this.endpoints.stop();
  }

  private async refresh(): Promise<void> {
    const cm = await this.writer.read();
    const { state, errors } = parseState(cm?.data[STATE_KEY]);
    for (const e of errors) this.log.warn("ignoring part of the DNS state", { configMap: this.cmName(), error: e });
    this.state = state;
    this.armDeadline();
  }

  private cmName(): string {
    return `${this.o.configMap.namespace}/${this.o.configMap.name}`;
  }

  /**
   * Called with every fresh translation, before the tables reach any sink: names that pointed at a
   * gateway (or still drain) and left its table keep their routes until the drain deadline.
   */
  prepare(parsed: ParsedObjects, result: TranslateResult, now = new Date()): TranslateResult {
    void parsed;
    const gateways = result.gateways.map((g) => {
      const key = `${g.ref.namespace}/${g.ref.name}`;
      const plan = new Set(g.dnsPlan.map((e) => e.fqdn));
      const previous = this.lastTables.get(key);
      const candidates = [
        ...this.state.entries.filter((e) => e.gateway === key).map((e) => e.fqdn),
        ...this.state.draining.filter((d) => d.gateway === key && d.virtualHost === undefined && Date.parse(d.until) > now.getTime()).map((d) => d.fqdn),
      ];
      for (const fqdn of candidates) {
        const k = `${key} ${fqdn}`;
        if (plan.has(fqdn)) this.leaving.delete(k);
        else if (!this.leaving.has(k) && previous !== undefined) {
          const vh = drainVirtualHost(previous, fqdn);
          if (vh !== undefined) this.leaving.set(k, vh);
        }
      }
      const latest = now.getTime() + (this.o.drainSeconds + 1) * 1000;
      const records: DrainRecord[] = this.state.draining.filter((r) => Date.parse(r.until) <= latest);
      const until = new Date(now.getTime() + this.o.drainSeconds * 1000).toISOString();
      for (const [k, vh] of this.leaving) {
        const [gw, fqdn] = k.split(" ") as [string, string];
        if (gw === key && !records.some((r) => r.fqdn === fqdn && r.virtualHost !== undefined)) records.push({ fqdn, gateway: gw, until, virtualHost: vh });
      }
      const table = g.accepted ? withDraining(g.table, key, records, now.getTime(), plan) : g.table;
      this.lastTables.set(key, table);
      // Every replica records (a new leader knows what the pods' versions route).
      if (g.accepted) this.history.record(key, table, g.dnsPlan);
      return table === g.table ? g : { ...g, table };
    });
    return { ...result, gateways };
  }

  /** Decides and (leader, not dry-run) writes the ConfigMap; returns each gateway's DNS status. */
  async sync(parsed: ParsedObjects, result: TranslateResult, deliveries: ReadonlyMap<string, DeliveryState>, now = new Date()): Promise<DnsSyncResult> {
    const snapshot = parsed.snapshot;
    this.history.retain(new Set(result.gateways.map((g) => `${g.ref.namespace}/${g.ref.name}`)));
    const pods = new Map<string, ReadyPod[]>();
    const targets: ProbeTarget[] = [];
    for (const g of result.gateways) {
      const key = `${g.ref.namespace}/${g.ref.name}`;
      const portName = probePortName(snapshot, g);
      const ready = g.service === undefined || portName === undefined ? [] : this.endpoints.readyPods(g.service.namespace, g.service.name, portName);
      pods.set(key, ready);
      for (const p of ready) if (p.port !== undefined && p.addressType !== "FQDN") targets.push({ pod: p.pod, address: p.address, port: p.port, wanted: g.table.version });
    }
    this.prober.setTargets(targets);
    const podStates = new Map<string, number>();
    const inputs = result.gateways.map((g) => {
      const key = `${g.ref.namespace}/${g.ref.name}`;
      const ready = pods.get(key) ?? [];
      const tableNames = this.history.names(key);
      const proofs = ready.map((p) => this.proofOf(p, tableNames));
      const readyEndpoints = g.service === undefined ? 0 : this.endpoints.ready(g.service.namespace, g.service.name);
      for (const p of proofs) {
        const state = podState(p, g.table.version, tableNames);
        podStates.set(state, (podStates.get(state) ?? 0) + 1);
      }
      return gatewayInput(g, snapshot, readyEndpoints, deliveries.get(key), { pods: proofs, tableNames });
    });
    for (const state of ["Current", "Behind", "Unknown", "NoAnswer"] as const) {
      this.hooks?.metrics?.gauge("canal_dns_gateway_pods", "Ready gateway pods by what they answered the delivery probe (all InternalGateways).", podStates.get(state) ?? 0, { state });
    }
    const optedOut = optedOutNames(snapshot, this.o.clusterDomain);
    let decision: Decision | undefined;
    const decideFrom = (stored: string | undefined): Decision => {
      const { state, errors } = parseState(stored);
      for (const e of errors) this.log.warn("ignoring part of the DNS state", { configMap: this.cmName(), error: e });
      return decide({ gateways: inputs, optedOut, current: state, leavingVirtualHosts: this.leaving, now, drainSeconds: this.o.drainSeconds });
    };
    let failure: { reason: string; message: string } | undefined;
    try {
      if (this.o.dryRun) {
        decision = decideFrom((await this.writer.read())?.data[STATE_KEY]);
      } else {
        const written = await this.writer.write((current) => {
          decision = decideFrom(current?.data[STATE_KEY]);
          return renderConfigMap(decision.state, this.o);
        });
        if (decision !== undefined) {
          this.state = decision.state;
          this.hooks?.metrics?.counter("canal_dns_writes_total", "Syncs of the DNS ConfigMap by outcome (unchanged = equal bytes, nothing written).", { outcome: written.outcome });
          if (written.outcome !== "unchanged") {
            this.log.info("DNS ConfigMap written", { configMap: this.cmName(), outcome: written.outcome, added: decision.added, removed: decision.removed, entries: decision.state.entries.length, draining: decision.state.draining.length });
          }
        }
      }
    } catch (err) {
      const missing = err instanceof ConfigMapMissingError;
      failure = { reason: missing ? "DNSConfigMapMissing" : "DNSWriteFailed", message: errorText(err) };
      this.log.error("DNS sync failed; retrying", { configMap: this.cmName(), error: failure.message });
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.hooks?.resync(), 2000);
      decision ??= decide({ gateways: inputs, optedOut, current: this.state, leavingVirtualHosts: this.leaving, now, drainSeconds: this.o.drainSeconds });
    }
    decision ??= decide({ gateways: inputs, optedOut, current: this.state, leavingVirtualHosts: this.leaving, now, drainSeconds: this.o.drainSeconds });
    if (failure === undefined && !this.o.dryRun) {
      for (const d of this.state.draining) if (d.virtualHost !== undefined) this.leaving.delete(`${d.gateway} ${d.fqdn}`);
      for (const k of [...this.leaving.keys()]) if (!this.state.draining.some((d) => `${d.gateway} ${d.fqdn}` === k)) this.leaving.delete(k);
    }
    const decided = decision;
    this.armDeadline();
    const statuses = new Map<string, DnsGatewayStatus>();
    for (const g of result.gateways) {
      const key = `${g.ref.namespace}/${g.ref.name}`;
      statuses.set(key, summarize(decided.statuses.get(key) ?? [], this.cmName(), this.o.dryRun, failure));
    }
    for (const state of ["Redirected", "Pending", "Draining", "OptedOut"] as const) {
      let n = 0;
      for (const list of decided.statuses.values()) n += list.filter((e) => e.state === state).length;
      this.hooks?.metrics?.gauge("canal_dns_names", "Planned Service names by DNS state.", n, { state });
    }
    if (failure !== undefined) this.hooks?.metrics?.counter("canal_dns_writes_total", "Syncs of the DNS ConfigMap by outcome (unchanged = equal bytes, nothing written).", { outcome: "error" });
    const problems: Problem[] = decided.rejected.map((r) => {
      const [namespace, name] = r.gateway.split("/") as [string, string];
      return { kind: "InternalGateway", namespace, name, field: "status.dns", reason: "InvalidHost", message: `DNS name ${JSON.stringify(r.fqdn)} is ${r.error}; it is not written to CoreDNS` };
    });
    return { statuses, problems };
  }

  /** A ready pod's probe answer as gating sees it; an unknown version is logged once. */
  private proofOf(p: ReadyPod, tableNames: ReadonlyMap<string, ReadonlySet<string>>): PodProof {
    if (p.addressType === "FQDN") return { pod: p.pod, address: p.address, error: "is an FQDN endpoint, which cannot be probed" };
    if (p.port === undefined) return { pod: p.pod, address: p.address, error: "has no port in its EndpointSlice for the Gateway's HTTP server" };
    const r = this.prober.result({ address: p.address, port: p.port });
    if (r === undefined) return { pod: p.pod, address: p.address, error: "has not answered the probe yet" };
    if (r.version !== undefined && !tableNames.has(r.version)) {
      const k = `${p.pod} ${r.version}`;
      if (!this.warned.has(k)) {
        if (this.warned.size >= 1024) this.warned.clear();
        this.warned.add(k);
        this.log.warn("gateway pod runs a table version this controller did not build recently; it proves no delivery", { pod: p.pod, address: p.address, tableVersion: r.version.slice(0, 128) });
      }
    }
    return { pod: p.pod, address: p.address, ...(r.version === undefined ? {} : { version: r.version }), ...(r.error === undefined ? {} : { error: r.error }) };
  }

  /** Wakes the controller when the earliest drain deadline passes. */
  private armDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (this.stopped) return;
    const t = nextDeadline(this.state, new Date());
    if (t === undefined) return;
    this.deadlineTimer = setTimeout(() => {
      this.hooks?.retranslate();
    }, Math.max(0, t - Date.now()) + 50);
  }
}

/** A ready pod for canal_dns_gateway_pods: runs the latest table, an older one it built, an unknown one, or none. */
function podState(p: PodProof, latest: string, tableNames: ReadonlyMap<string, ReadonlySet<string>>): "Current" | "Behind" | "Unknown" | "NoAnswer" {
  if (p.version === undefined) return "NoAnswer";
  if (p.version === latest) return "Current";
  return tableNames.has(p.version) ? "Behind" : "Unknown";
}
