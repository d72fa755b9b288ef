// HTTPRoute status: one `status.parents[]` entry per parentRef Canal serves (Service parents:
// GAMMA, Gateways of a Canal GatewayClass, and parent kinds it refuses), with the spec's Accepted and ResolvedRefs conditions,
// derived from the translation's problems alone. Entries of other controllers (e.g. a Gateway
// parent another implementation serves) are kept as they are. Written by the leader with a merge
// patch that carries the resourceVersion read, so a concurrent writer's entries are never lost.
import * as k8s from "@kubernetes/client-node";
import { CANAL_CONTROLLER_NAME, GATEWAY_API_GROUP, type HTTPRoute, type ParentReference } from "../api/gateway-api.ts";
import type { Problem } from "../api/problem.ts";
import { canonicalJson, type TranslateResult } from "../translate/index.ts";
import type { Condition } from "./status-writer.ts";

/** Canal's controllerName in status.parents[] (a domain-prefixed path, as the spec requires). */
export const GATEWAY_CONTROLLER_NAME = CANAL_CONTROLLER_NAME;

export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions: Condition[];
}

/** Canal's reasons → the spec's Accepted=False reasons (the problem's own reason is in the message). */
const NOT_ACCEPTED: Readonly<Record<string, string>> = {
  NoMatchingParent: "NoMatchingParent",
  UnsupportedValue: "UnsupportedValue",
  // The Service's owner does not allow the route (ADR 0003), or a VirtualService already routes
  // the Service (mixing rule): the spec's reason for "a parent does not allow this route".
  HostNotOwned: "NotAllowedByListeners",
  HostConflict: "NotAllowedByListeners",
  // Gateway parents (translate/httproute/gateway-parents.ts): the spec's reasons as they are.
  NotAllowedByListeners: "NotAllowedByListeners",
  NoMatchingListenerHostname: "NoMatchingListenerHostname",
};
/** Reasons of backendRef problems, in the order the condition prefers them. */
const UNRESOLVED = ["RefNotPermitted", "InvalidKind", "BackendNotFound"];

/**
 * Whether Canal answers for this parentRef: Service parents, kinds no Gateway controller owns,
 * and Gateways of a Canal GatewayClass (`served`: their "namespace/name").
 */
export function servesParent(ref: ParentReference, routeNamespace: string, served: ReadonlySet<string> = new Set()): boolean {
  if (ref.kind !== "Gateway") return true;
  return ref.group === GATEWAY_API_GROUP && served.has(`${ref.namespace ?? routeNamespace}/${ref.name}`);
}

/** Problems of every HTTPRoute by namespace/name (a route's problems repeat per InternalGateway). */
export function routeProblems(result: TranslateResult): Map<string, Problem[]> {
  const out = new Map<string, Problem[]>();
  for (const p of result.problems) {
    if (p.kind !== "HTTPRoute") continue;
    const key = `${p.namespace}/${p.name}`;
    const list = out.get(key) ?? [];
    list.push(p);
    out.set(key, list);
  }
  return out;
}

/**
 * Canal's entries of `route`'s status.parents. `accepting`: whether any InternalGateway is
 * accepted (without one, nothing serves the route: Accepted=False, Pending).
 */
export function desiredParents(route: HTTPRoute, problems: readonly Problem[], accepting: boolean, previous: readonly RouteParentStatus[] = [], now = new Date(), served: ReadonlySet<string> = new Set()): RouteParentStatus[] {
  const generation = route.metadata.generation;
  const backend = problems.filter((p) => /^spec\.rules\[\d+\]\.backendRefs\[\d+\]/.test(p.field) && UNRESOLVED.includes(p.reason));
  backend.sort((a, b) => UNRESOLVED.indexOf(a.reason) - UNRESOLVED.indexOf(b.reason));
  const out: RouteParentStatus[] = [];
  route.spec.parentRefs.forEach((ref, i) => {
    if (!servesParent(ref, route.metadata.namespace, served)) return;
    const prev = previous.find((s) => s.controllerName === GATEWAY_CONTROLLER_NAME && sameParent(s.parentRef, ref, route.metadata.namespace));
    const condition = (type: string, ok: boolean, reason: string, message: string): Condition => {
      const status = ok ? "True" : "False";
      const was = prev?.conditions.find((c) => c.type === type);
      const since = was && was.status === status ? was.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, "Z");
      return { type, status, ...(generation === undefined ? {} : { observedGeneration: generation }), lastTransitionTime: since, reason, message: message.slice(0, 32768) };
    };
    const field = `spec.parentRefs[${i}]`;
    const refused = problems.find((p) => (p.field === field || p.field.startsWith(`${field}.`)) && NOT_ACCEPTED[p.reason] !== undefined);
    const accepted = !accepting
      ? condition("Accepted", false, "Pending", "no InternalGateway is accepted, so no Canal gateway serves this route yet")
      : refused === undefined
        ? condition("Accepted", true, "Accepted", ref.kind === "Gateway" ? "attached to the Gateway's listeners; routed by the Canal gateway" : "attached to the Service; routed by the Canal gateway")
        : condition("Accepted", false, NOT_ACCEPTED[refused.reason] as string, `${refused.reason}: ${refused.message}`);
    const first = backend[0];
    const resolved = first === undefined
      ? condition("ResolvedRefs", true, "ResolvedRefs", "every backendRef resolves")
      : condition("ResolvedRefs", false, first.reason, backend.map((p) => `${p.field}: ${p.message}`).join(" "));
    out.push({ parentRef: ref, controllerName: GATEWAY_CONTROLLER_NAME, conditions: [accepted, resolved] });
  });
  return out;
}

function sameParent(a: ParentReference, b: ParentReference, routeNamespace: string): boolean {
  return (a.group ?? "gateway.networking.k8s.io") === b.group && (a.kind ?? "Gateway") === b.kind && (a.namespace ?? routeNamespace) === (b.namespace ?? routeNamespace) &&
    a.name === b.name && a.sectionName === b.sectionName && a.port === b.port;
}

/** Canonical (the API server returns keys in its own order), without transition times. */
export function withoutTimes(v: unknown): string {
  return canonicalJson(JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === "lastTransitionTime" ? undefined : x))) as unknown);
}

interface RouteObject extends k8s.KubernetesObject {
  status?: { parents?: RouteParentStatus[] };
}

export class HTTPRouteStatusWriter {
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly custom: k8s.CustomObjectsApi;
  /**
   * namespace/name → what the route's entries were last found or written as (uid, generation and
   * the entries without times): a sync reads only routes whose entries would change, not every
   * route (10,000 GETs per change otherwise). A restart starts empty and checks each route once.
   */
  private readonly settled = new Map<string, string>();

  constructor(kc: k8s.KubeConfig, private readonly apiVersion: string) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Writes Canal's status.parents entries of every route that has some; says how many routes it read and wrote. */
  async writeAll(routes: readonly HTTPRoute[], result: TranslateResult, stillLeader: () => boolean): Promise<{ read: number; written: number }> {
    const problems = routeProblems(result);
    const accepting = result.gateways.some((g) => g.accepted);
    const served = new Set(result.gatewayApiGateways ?? []);
    let written = 0;
    let read = 0;
    const present = new Set<string>();
    for (const route of routes) {
      if (!route.spec.parentRefs.some((ref) => servesParent(ref, route.metadata.namespace, served))) continue;
      if (!stillLeader()) {
        // Another replica writes meanwhile: check every route again when leading again.
        this.settled.clear();
        return { read, written };
      }
      const key = `${route.metadata.namespace}/${route.metadata.name}`;
      present.add(key);
      const own = problems.get(key) ?? [];
      const mark = `${route.metadata.uid ?? ""}/${route.metadata.generation ?? ""}/${withoutTimes(desiredParents(route, own, accepting, [], undefined, served))}`;
      if (this.settled.get(key) === mark) continue;
      read++;
      const done = await this.write(route, own, accepting, served);
      if (done !== "stale") this.settled.set(key, mark);
      if (done === "written") written++;
    }
    for (const key of this.settled.keys()) if (!present.has(key)) this.settled.delete(key);
    return { read, written };
  }

  private async write(route: HTTPRoute, problems: readonly Problem[], accepting: boolean, served: ReadonlySet<string>): Promise<"written" | "unchanged" | "stale"> {
    const { name, namespace } = route.metadata;
    let current: RouteObject;
    try {
      current = await this.objects.read({ apiVersion: this.apiVersion, kind: "HTTPRoute", metadata: { name, namespace } });
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return "stale"; // deleted meanwhile
      throw err;
    }
    // The translation saw an older version: its status would be for another generation.
    if (route.metadata.generation !== undefined && current.metadata?.generation !== route.metadata.generation) return "stale";
    const existing = current.status?.parents ?? [];
    const ours = existing.filter((s) => s.controllerName === GATEWAY_CONTROLLER_NAME);
    const desired = desiredParents(route, problems, accepting, ours, undefined, served);
    if (withoutTimes(ours) === withoutTimes(desired)) return "unchanged";
    const parents = [...existing.filter((s) => s.controllerName !== GATEWAY_CONTROLLER_NAME), ...desired];
    const [group, version] = this.apiVersion.split("/") as [string, string];
    await this.custom.patchNamespacedCustomObjectStatus(
      { group, version, namespace, plural: "httproutes", name, body: { metadata: { resourceVersion: current.metadata?.resourceVersion }, status: { parents } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    return "written";
  }
}
