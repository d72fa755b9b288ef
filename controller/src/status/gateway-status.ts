// Gateway API Gateway status for the Gateways of Canal's GatewayClass: Accepted and Programmed,
// and per listener its supportedKinds, attachedRoutes (counted by the translation) and
// conditions (HTTP listeners are served; other protocols are UnsupportedProtocol; allowedRoutes
// kinds without HTTPRoute are InvalidRouteKinds). Written by the leader with a merge patch that
// carries the resourceVersion read, skipped when nothing but transition times would change.
import * as k8s from "@kubernetes/client-node";
import { GATEWAY_API_GROUP, type GatewayApiGateway, type GatewayListener } from "../api/gateway-api.ts";
import type { TranslateResult } from "../translate/index.ts";
import { withoutTimes } from "./httproute-status.ts";
import type { Condition } from "./status-writer.ts";

export interface ListenerStatus {
  name: string;
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  conditions: Condition[];
  listeners: ListenerStatus[];
}

const HTTP_ROUTE_KIND = { group: GATEWAY_API_GROUP, kind: "HTTPRoute" };

type MakeCondition = (type: string, ok: boolean, reason: string, message: string) => Condition;

/** Canal's status of one served Gateway. `attached`: listener name → routes attached (any InternalGateway). */
export function desiredGatewayStatus(gateway: GatewayApiGateway, attached: Readonly<Record<string, number>>, accepting: boolean, previous?: GatewayStatus, now = new Date()): GatewayStatus {
  const generation = gateway.metadata.generation;
  const stamp = now.toISOString().replace(/\.\d+Z$/, "Z");
  const make = (was: readonly Condition[] | undefined): MakeCondition => (type, ok, reason, message) => {
    const status = ok ? "True" : "False";
    const before = was?.find((c) => c.type === type);
    return { type, status, ...(generation === undefined ? {} : { observedGeneration: generation }), lastTransitionTime: before?.status === status ? before.lastTransitionTime : stamp, reason, message };
  };
  const top = make(previous?.conditions);
  const programmed = accepting
    ? top("Programmed", true, "Programmed", "served by the Canal gateway pods of every accepted InternalGateway")
    : top("Programmed", false, "Pending", "no InternalGateway is accepted, so no Canal gateway serves this Gateway yet");
  return {
    conditions: [top("Accepted", true, "Accepted", "a Gateway of Canal's GatewayClass; its HTTP listeners are merged with the other Canal Gateways' on the InternalGateway's address"), programmed],
    listeners: gateway.spec.listeners.map((l) => listenerStatus(l, attached[l.name] ?? 0, accepting, make(previous?.listeners.find((p) => p.name === l.name)?.conditions))),
  };
}

function listenerStatus(l: GatewayListener, attachedRoutes: number, accepting: boolean, c: MakeCondition): ListenerStatus {
  if (l.protocol !== "HTTP") {
    return {
      name: l.name, supportedKinds: [], attachedRoutes: 0,
      conditions: [
        c("Accepted", false, "UnsupportedProtocol", `protocol ${l.protocol} is not served: Canal gateways serve plain HTTP listeners (TLS between workloads is the mesh's)`),
        c("Programmed", false, "Invalid", "the listener is not accepted"),
        c("ResolvedRefs", true, "ResolvedRefs", "no references to resolve"),
        c("Conflicted", false, "NoConflicts", "no conflicts"),
      ],
    };
  }
  const kinds = l.allowedRoutes.kinds;
  const validKinds = kinds === undefined ? [HTTP_ROUTE_KIND] : kinds.filter((k) => k.group === GATEWAY_API_GROUP && k.kind === "HTTPRoute");
  const invalid = kinds !== undefined && validKinds.length < kinds.length;
  return {
    name: l.name, supportedKinds: validKinds.map((k) => ({ group: k.group, kind: k.kind })), attachedRoutes,
    conditions: [
      c("Accepted", true, "Accepted", "served"),
      accepting ? c("Programmed", true, "Programmed", "served") : c("Programmed", false, "Pending", "no InternalGateway is accepted"),
      invalid ? c("ResolvedRefs", false, "InvalidRouteKinds", "Canal serves HTTPRoute only on HTTP listeners") : c("ResolvedRefs", true, "ResolvedRefs", "every allowed route kind is supported"),
      c("Conflicted", false, "NoConflicts", "no conflicts"),
    ],
  };
}

interface GatewayObject extends k8s.KubernetesObject {
  status?: Partial<GatewayStatus> & Record<string, unknown>;
}

export class GatewayApiStatusWriter {
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly custom: k8s.CustomObjectsApi;
  /** namespace/name → uid/generation/desired status without times, as last found or written. */
  private readonly settled = new Map<string, string>();

  constructor(kc: k8s.KubeConfig, private readonly apiVersion: string) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Writes the status of every Gateway of Canal's class whose status would change; says how many it wrote. */
  async writeAll(gateways: readonly GatewayApiGateway[], result: TranslateResult, stillLeader: () => boolean): Promise<number> {
    const served = new Set(result.gatewayApiGateways ?? []);
    const accepting = result.gateways.some((g) => g.accepted);
    let written = 0;
    for (const gateway of gateways) {
      const key = `${gateway.metadata.namespace}/${gateway.metadata.name}`;
      if (!served.has(key)) continue;
      if (!stillLeader()) {
        this.settled.clear();
        return written;
      }
      const attached = result.gatewayApiAttached?.[key] ?? {};
      const mark = `${gateway.metadata.uid ?? ""}/${gateway.metadata.generation ?? ""}/${withoutTimes(desiredGatewayStatus(gateway, attached, accepting))}`;
      if (this.settled.get(key) === mark) continue;
      const done = await this.write(gateway, attached, accepting);
      if (done !== "stale") this.settled.set(key, mark);
      if (done === "written") written++;
    }
    return written;
  }

  private async write(gateway: GatewayApiGateway, attached: Readonly<Record<string, number>>, accepting: boolean): Promise<"written" | "unchanged" | "stale"> {
    const { name, namespace } = gateway.metadata;
    let current: GatewayObject;
    try {
      current = await this.objects.read({ apiVersion: this.apiVersion, kind: "Gateway", metadata: { name, namespace } });
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return "stale";
      throw err;
    }
    if (gateway.metadata.generation !== undefined && current.metadata?.generation !== gateway.metadata.generation) return "stale";
    const previous = { conditions: current.status?.conditions ?? [], listeners: current.status?.listeners ?? [] };
    const desired = desiredGatewayStatus(gateway, attached, accepting, previous);
    if (withoutTimes(previous) === withoutTimes(desired)) return "unchanged";
    const [group, version] = this.apiVersion.split("/") as [string, string];
    await this.custom.patchNamespacedCustomObjectStatus(
      { group, version, namespace, plural: "gateways", name, body: { metadata: { resourceVersion: current.metadata?.resourceVersion }, status: desired } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    return "written";
  }
}
