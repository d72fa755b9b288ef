// Decides, from cluster state alone, which Service names point at which gateway (pure: no I/O,
// no clock — `now` is an input). A name is redirected only when
//   1. the gateway Service has ready endpoints,
//   2. the Gateway's servers and the gateway Service expose every port of the Service,
//   3. every ready gateway pod answered the delivery probe with a table version that routes the
//      name (the prober's results and the controller's version → names history are inputs; an
//      ECDS ACK or a written WasmPlugin proves nothing here; checked when the name is added: a
//      name already redirected stays while 1 and 2 hold and it is in the plan),
// and it is not opted out. A name that stops pointing at a gateway gets a drain record: its routes
// stay in that gateway's table until the record's deadline (≥ the DNS TTL).
import type { VirtualHost } from "../../../../schema/route-table.ts";
import { dnsNameError } from "./names.ts";
import type { DnsRecordEntry, DnsState, DrainRecord } from "./state.ts";

export interface PlannedName {
  fqdn: string;
  namespace: string;
  name: string;
  ports: number[];
}

export interface GatewayDnsInput {
  /** The InternalGateway, "namespace/name". */
  key: string;
  accepted: boolean;
  plan: readonly PlannedName[];
  /** HTTP server ports of the Istio Gateway. */
  serverPorts: readonly number[];
  gatewayName: string;
  /** The gateway Service, when it exists. */
  service?: { namespace: string; name: string; ports: readonly number[]; addresses: readonly string[] };
  /** Ready endpoints of the gateway Service (EndpointSlices). */
  readyEndpoints: number;
  /** The probe result of every ready gateway pod (prober.ts), one per ready endpoint. */
  pods: readonly PodProof[];
  /** Table version → the planned names its table routes (the controller's bounded history). */
  tableNames: ReadonlyMap<string, ReadonlySet<string>>;
  /** The sink's delivery state: status information, quoted in messages, never proof. */
  deliveryReason: string;
  deliveryMessage: string;
}

export interface PodProof {
  /** "namespace/pod" (or the address when the endpoint names no pod). */
  pod: string;
  address: string;
  /** The table version the pod's filter answered the probe with. */
  version?: string;
  /** Why there is no version: not probed yet, no answer, no table, not the filter. */
  error?: string;
}

/** Pods listed by name in a message; the rest are counted. */
const LISTED_PODS = 3;

/** Why not every ready pod is proven to serve `fqdn`; undefined when all are. */
export function unprovenPods(g: GatewayDnsInput, fqdn: string): string | undefined {
  const behind: string[] = [];
  for (const p of g.pods) {
    if (p.version === undefined) behind.push(`pod ${p.pod} (${p.address}) ${p.error ?? "has not answered the probe yet"}`);
    else {
      const names = g.tableNames.get(p.version);
      if (names === undefined) behind.push(`pod ${p.pod} (${p.address}) runs table ${p.version}, which is not one this controller built recently (it proves nothing)`);
      else if (!names.has(fqdn)) behind.push(`pod ${p.pod} (${p.address}) runs table ${p.version}, which does not route ${fqdn}`);
    }
  }
  if (g.pods.length < g.readyEndpoints) behind.push(`${g.readyEndpoints - g.pods.length} ready endpoints have no probe result`);
  if (behind.length === 0) return undefined;
  const more = behind.length > LISTED_PODS ? ` (and ${behind.length - LISTED_PODS} more)` : "";
  return `${behind.length} of ${Math.max(g.readyEndpoints, g.pods.length)} ready gateway pods do not serve ${fqdn} yet: ${behind.slice(0, LISTED_PODS).join("; ")}${more}; delivery: ${g.deliveryReason}: ${g.deliveryMessage}`;
}

export type EntryState = "Redirected" | "Pending" | "Draining" | "OptedOut";

export interface EntryStatus {
  name: string;
  state: EntryState;
  reason: string;
  message: string;
  drainUntil?: string;
}

export interface DecideInput {
  gateways: readonly GatewayDnsInput[];
  /** fqdn → why it is opted out (which object carries the annotation or label). */
  optedOut: ReadonlyMap<string, string>;
  current: DnsState;
  /** Virtual hosts to keep for names that left a gateway's table since the last decision. */
  leavingVirtualHosts: ReadonlyMap<string, VirtualHost>;
  now: Date;
  drainSeconds: number;
}

export interface Decision {
  state: DnsState;
  /** Per InternalGateway "namespace/name". */
  statuses: Map<string, EntryStatus[]>;
  added: string[];
  removed: string[];
  /** Names refused at the edge (never written). */
  rejected: Array<{ gateway: string; fqdn: string; error: string }>;
}

/** Why a planned name may not point at the gateway now; [] when it may. Condition 3 separately. */
export function unmetConditions(g: GatewayDnsInput, e: PlannedName): Array<{ reason: string; message: string }> {
  const out: Array<{ reason: string; message: string }> = [];
  const svc = g.service;
  if (svc === undefined) {
    out.push({ reason: "GatewayServiceNotFound", message: `the InternalGateway's gateway Service does not exist` });
    return out;
  }
  if (svc.addresses.length === 0) out.push({ reason: "GatewayNoAddress", message: `gateway Service ${svc.namespace}/${svc.name} has no cluster IP (headless or not allocated)` });
  if (g.readyEndpoints === 0) out.push({ reason: "GatewayNotReady", message: `gateway Service ${svc.namespace}/${svc.name} has no ready endpoints` });
  const notServed = e.ports.filter((p) => !g.serverPorts.includes(p));
  const notOnService = e.ports.filter((p) => !svc.ports.includes(p));
  if (notServed.length > 0 || notOnService.length > 0) {
    const parts: string[] = [];
    if (notServed.length > 0) parts.push(`Gateway ${g.gatewayName} has no HTTP server on port ${notServed.join(", ")} (serves ${g.serverPorts.join(", ") || "none"})`);
    if (notOnService.length > 0) parts.push(`gateway Service ${svc.namespace}/${svc.name} does not expose port ${notOnService.join(", ")} (exposes ${svc.ports.join(", ") || "none"})`);
    out.push({ reason: "PortsNotExposed", message: `Service ${e.namespace}/${e.name} listens on ${e.ports.join(", ")}: ${parts.join("; ")}` });
  }
  return out;
}

function addSeconds(now: Date, s: number): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + s * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

export function decide(input: DecideInput): Decision {
  const nowMs = input.now.getTime();
  const current = new Map(input.current.entries.map((e) => [e.fqdn, e]));
  const entries = new Map<string, DnsRecordEntry>();
  const statuses = new Map<string, EntryStatus[]>();
  const rejected: Decision["rejected"] = [];
  const claimed = new Map<string, string>();
  const gateways = [...input.gateways].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  for (const g of gateways) {
    const list: EntryStatus[] = [];
    statuses.set(g.key, list);
    if (!g.accepted) continue;
    for (const e of g.plan) {
      const status = (state: EntryState, reason: string, message: string): void => {
        list.push({ name: e.fqdn, state, reason, message });
      };
      const nameErr = dnsNameError(e.fqdn);
      if (nameErr !== null) {
        rejected.push({ gateway: g.key, fqdn: e.fqdn, error: nameErr });
        status("Pending", "InvalidDNSName", `${JSON.stringify(e.fqdn)} is ${nameErr}; it is never written to CoreDNS`);
        continue;
      }
      const owner = claimed.get(e.fqdn);
      if (owner !== undefined) {
        status("Pending", "RedirectedElsewhere", `${e.fqdn} already points at InternalGateway ${owner}`);
        continue;
      }
      const opted = input.optedOut.get(e.fqdn);
      if (opted !== undefined) {
        status("OptedOut", "OptedOut", opted);
        continue;
      }
      const unmet = unmetConditions(g, e);
      const was = current.get(e.fqdn);
      const already = was !== undefined && was.gateway === g.key;
      const unproven = unmet.length === 0 && !already ? unprovenPods(g, e.fqdn) : undefined;
      if (unproven !== undefined) unmet.push({ reason: "RoutesNotServed", message: unproven });
      if (unmet.length > 0) {
        status("Pending", unmet[0]!.reason, unmet.map((u) => u.message).join("; "));
        continue;
      }
      claimed.set(e.fqdn, g.key);
      entries.set(e.fqdn, { fqdn: e.fqdn, gateway: g.key, addresses: [...(g.service?.addresses ?? [])].sort() });
      status("Redirected", already ? "Redirected" : "Redirected", `${e.fqdn} resolves to ${[...(g.service?.addresses ?? [])].sort().join(", ")} (gateway Service ${g.service?.namespace}/${g.service?.name})`);
    }
  }

  // Drain records: names that stopped pointing at a gateway now, plus unexpired older ones.
  const draining = new Map<string, DrainRecord>();
  const latest = addSeconds(input.now, input.drainSeconds);
  for (const d of input.current.draining) {
    if (Date.parse(d.until) <= nowMs || entries.has(d.fqdn)) continue;
    // A deadline beyond now + --dns-drain can only come from an edit: never keep routes longer.
    draining.set(d.fqdn, Date.parse(d.until) > Date.parse(latest) ? { ...d, until: latest } : { ...d });
  }
  const removed: string[] = [];
  for (const was of current.values()) {
    const now = entries.get(was.fqdn);
    if (now !== undefined && now.gateway === was.gateway) continue;
    removed.push(was.fqdn);
    draining.set(was.fqdn, { fqdn: was.fqdn, gateway: was.gateway, until: addSeconds(input.now, input.drainSeconds) });
  }
  for (const d of draining.values()) {
    const vh = input.leavingVirtualHosts.get(`${d.gateway} ${d.fqdn}`);
    if (d.virtualHost === undefined && vh !== undefined) d.virtualHost = vh;
    const list = statuses.get(d.gateway);
    if (list !== undefined && !list.some((s) => s.name === d.fqdn && s.state === "Redirected")) {
      const i = list.findIndex((s) => s.name === d.fqdn);
      const st: EntryStatus = {
        name: d.fqdn,
        state: "Draining",
        reason: "Draining",
        message: `DNS no longer points ${d.fqdn} at the gateway; its routes stay until ${d.until}${i >= 0 ? ` (${list[i]!.reason}: ${list[i]!.message})` : ""}`,
        drainUntil: d.until,
      };
      if (i >= 0) list[i] = st;
      else list.push(st);
    }
  }
  const added = [...entries.keys()].filter((f) => current.get(f)?.gateway !== entries.get(f)?.gateway).sort();
  for (const list of statuses.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    state: { entries: [...entries.values()], draining: [...draining.values()] },
    statuses,
    added,
    removed: removed.sort(),
    rejected,
  };
}

/** The earliest drain deadline after `now`, in ms since the epoch; undefined when none. */
export function nextDeadline(state: DnsState, now: Date): number | undefined {
  let best: number | undefined;
  for (const d of state.draining) {
    const t = Date.parse(d.until);
    if (t > now.getTime() && (best === undefined || t < best)) best = t;
  }
  return best;
}
