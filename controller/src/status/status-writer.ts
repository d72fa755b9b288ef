// Status goes back on its own path: InternalGateway status (conditions, counts, table version,
// rejected objects) and a Kubernetes Event per rejected object. Both are derived from the
// translation result alone, so a restarted controller writes the same thing again — and skips
// writes that would not change anything.
import * as k8s from "@kubernetes/client-node";
import type { Problem } from "../api/index.ts";
import type { DnsGatewayStatus } from "../sinks/dns/dns-status.ts";
import type { DeliveryState } from "../sinks/delivery.ts";
import type { GatewayResult } from "../translate/index.ts";
import { fitStatusToCrd } from "./crd-limits.ts";

const MAX_LISTED = 256;

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface InternalGatewayStatus {
  observedGeneration?: number;
  conditions: Condition[];
  tableVersion: string;
  hosts: number;
  routes: number;
  gateways: DeliveryState["gateways"];
  rejectedCount: number;
  rejected: Problem[];
  /** With --dns: each planned name's state and why (see docs/dns.md). */
  dns?: Omit<DnsGatewayStatus, "condition">;
}

/**
 * The status an InternalGateway should have, within the CRD's caps (crd-limits.ts); transition
 * times are kept when a condition holds.
 */
export function desiredStatus(result: GatewayResult, delivery: DeliveryState, previous: Condition[] = [], now = new Date(), dns?: DnsGatewayStatus): InternalGatewayStatus {
  const generation = result.ref.generation;
  const condition = (type: string, ok: boolean, reason: string, message: string): Condition => {
    const status = ok ? "True" : "False";
    const prev = previous.find((c) => c.type === type);
    const since = prev && prev.status === status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, "Z");
    return { type, status, observedGeneration: generation, lastTransitionTime: since, reason, message };
  };
  const status: InternalGatewayStatus = {
    observedGeneration: generation,
    conditions: [
      condition("Accepted", result.accepted, result.reason, result.message),
      condition("Programmed", result.accepted && delivery.programmed, result.accepted ? delivery.reason : "NotAccepted", result.accepted ? delivery.message : "the InternalGateway is not accepted"),
    ],
    tableVersion: result.table.version,
    hosts: result.counts.domains,
    routes: result.counts.routes,
    gateways: delivery.gateways,
    rejectedCount: result.problems.length,
    rejected: result.problems.slice(0, MAX_LISTED),
  };
  if (dns !== undefined) {
    const { condition: c, ...rest } = dns;
    status.conditions.push(condition("DNSReady", c.ok, c.reason, c.message));
    status.dns = rest;
  }
  return fitStatusToCrd(status);
}

function sameIgnoringTimes(a: unknown, b: unknown): boolean {
  const strip = (v: unknown): string => JSON.stringify(v, (k, x: unknown) => (k === "lastTransitionTime" ? undefined : x));
  return strip(a) === strip(b);
}

export class StatusWriter {
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly events: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  /** Event keys already emitted by this process (the API server also dedupes by name). */
  private readonly emitted = new Set<string>();

  constructor(kc: k8s.KubeConfig, private readonly component = "canal-controller", private readonly identity = "canal-controller") {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.events = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Writes the InternalGateway's status subresource if it differs; returns whether it wrote. */
  async writeStatus(result: GatewayResult, delivery: DeliveryState, dns?: DnsGatewayStatus): Promise<boolean> {
    const header = { apiVersion: "canal.io/v1alpha1", kind: "InternalGateway", metadata: { name: result.ref.name, namespace: result.ref.namespace } };
    let current: k8s.KubernetesObject & { status?: InternalGatewayStatus };
    try {
      current = await this.objects.read(header);
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return false; // deleted meanwhile
      throw err;
    }
    const status = desiredStatus(result, delivery, current.status?.conditions ?? [], new Date(), dns);
    if (current.status && sameIgnoringTimes(current.status, status)) return false;
    await this.patchStatus(result.ref, status);
    return true;
  }

  private async patchStatus(ref: { namespace: string; name: string }, status: InternalGatewayStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: "canal.io", version: "v1alpha1", namespace: ref.namespace, plural: "internalgateways", name: ref.name, body: { status } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  }

  /**
   * One Warning Event per rejected object and problem, on the object itself. The Event name is a
   * hash of what it says, so replays and restarts update the same Event (count) instead of
   * piling up new ones.
   */
  async emitProblemEvents(problems: readonly Problem[], apiVersionOf: (kind: string) => string, uidOf: (p: Problem) => string | undefined): Promise<number> {
    let created = 0;
    for (const p of problems) {
      const key = `${p.kind}/${p.namespace}/${p.name}/${p.field}/${p.reason}/${p.message}`;
      if (this.emitted.has(key)) continue;
      const name = `${p.name}.canal-${shortHash(key)}`.slice(0, 253);
      const now = new Date();
      const message = p.field ? `${p.field}: ${p.message}` : p.message;
      const body: k8s.CoreV1Event = {
        metadata: { name, namespace: p.namespace },
        involvedObject: { kind: p.kind, apiVersion: apiVersionOf(p.kind), name: p.name, namespace: p.namespace, uid: uidOf(p), fieldPath: p.field || undefined },
        reason: p.reason,
        message: message.slice(0, 1024),
        type: "Warning",
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: this.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      try {
        await this.events.createNamespacedEvent({ namespace: p.namespace, body });
        created++;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 409) throw err; // 409: this Event exists already
      }
      this.emitted.add(key);
    }
    return created;
  }
}

function shortHash(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(s)) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 0x100000001b3n);
  return h.toString(16).padStart(16, "0");
}
