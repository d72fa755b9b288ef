// Which Gateway each InternalGateway serves (one InternalGateway per Gateway: the oldest wins),
// which VirtualServices are bound to a Gateway, and references to Gateways that do not exist.
import type { InternalGateway } from "../api/internalgateway.ts";
import type { Gateway, VirtualService } from "../api/istio.ts";
import { isExportedTo } from "./hosts.ts";
import { MESH_GATEWAY, resolveGatewayRef } from "./names.ts";
import { byAge } from "./order.ts";
import { refOf, type ProblemSink } from "./problems.ts";

export type AcceptReason = "Accepted" | "GatewayNotFound" | "GatewayConflict";

export interface Acceptance {
  ig: InternalGateway;
  /** "namespace/name" of the referenced Gateway. */
  gatewayKey: string;
  gateway: Gateway | undefined;
  accepted: boolean;
  reason: AcceptReason;
  message: string;
}

/** One entry per InternalGateway, oldest first. Problems go to `sinkFor(ig)`. */
export function acceptInternalGateways(
  igs: readonly InternalGateway[],
  gateways: readonly Gateway[],
  sinkFor: (ig: InternalGateway) => ProblemSink,
): Acceptance[] {
  const byKey = new Map(gateways.map((g) => [refOf(g), g]));
  const owner = new Map<string, InternalGateway>();
  return byAge(igs).map((ig) => {
    const ns = ig.spec.gatewayRef.namespace ?? ig.metadata.namespace;
    const gatewayKey = `${ns}/${ig.spec.gatewayRef.name}`;
    const gateway = byKey.get(gatewayKey);
    if (gateway === undefined) {
      const message = `Gateway ${gatewayKey} (spec.gatewayRef) does not exist; create it or point gatewayRef at the Istio Gateway of the Canal gateway pods.`;
      sinkFor(ig).add(ig, "spec.gatewayRef", "GatewayNotFound", message);
      return { ig, gatewayKey, gateway, accepted: false, reason: "GatewayNotFound", message };
    }
    const first = owner.get(gatewayKey);
    if (first !== undefined) {
      const message = `Gateway ${gatewayKey} is already served by the older InternalGateway ${refOf(first)}; only one InternalGateway may serve a Gateway. Delete this one or point it at another Gateway.`;
      sinkFor(ig).add(ig, "spec.gatewayRef", "GatewayConflict", message);
      return { ig, gatewayKey, gateway, accepted: false, reason: "GatewayConflict", message };
    }
    owner.set(gatewayKey, ig);
    return { ig, gatewayKey, gateway, accepted: true, reason: "Accepted", message: `serving Gateway ${gatewayKey}` };
  });
}

/** Does the VirtualService name the Gateway `gatewayKey` in spec.gateways? */
export function namesGateway(vs: VirtualService, gatewayKey: string): boolean {
  return vs.spec.gateways.some((g) => resolveGatewayRef(g, vs.metadata.namespace) === gatewayKey);
}

/**
 * The VirtualServices bound to `gateway`, oldest first (`sorted`: byAge or a memo's equivalent): they name it and are exported to its
 * namespace. One that names it but is not exported gets NotExported.
 */
export function boundVirtualServices(gateway: Gateway, vss: readonly VirtualService[], sink: ProblemSink, sorted: (vss: readonly VirtualService[]) => VirtualService[]): VirtualService[] {
  const key = refOf(gateway);
  const out: VirtualService[] = [];
  for (const vs of sorted(vss)) {
    if (!namesGateway(vs, key)) continue;
    if (!isExportedTo(vs.spec.exportTo, vs.metadata.namespace, gateway.metadata.namespace)) {
      sink.add(vs, "spec.exportTo", "NotExported", `VirtualService ${refOf(vs)} names Gateway ${key} but spec.exportTo (${vs.spec.exportTo.join(", ")}) does not include the Gateway's namespace "${gateway.metadata.namespace}", so the gateway cannot use it. Add "${gateway.metadata.namespace}" (or "*") to exportTo.`);
      continue;
    }
    out.push(vs);
  }
  return out;
}

/**
 * UnknownGateway for every gateway reference (other than "mesh") that resolves to no Gateway at
 * all, with a hint when a Gateway of that name exists in another namespace.
 */
export function unknownGatewayProblems(vss: readonly VirtualService[], gateways: readonly Gateway[], sink: ProblemSink): void {
  const keys = new Set(gateways.map(refOf));
  // Any order: translate() sorts the problems.
  for (const vs of vss) {
    vs.spec.gateways.forEach((g, i) => {
      if (g === MESH_GATEWAY) return;
      const key = resolveGatewayRef(g, vs.metadata.namespace) as string;
      if (keys.has(key)) return;
      const name = key.slice(key.indexOf("/") + 1);
      const elsewhere = gateways.filter((gw) => gw.metadata.name === name).map(refOf).sort();
      const hint = elsewhere.length > 0 ? ` Did you mean ${elsewhere.map((e) => `"${e}"`).join(" or ")}? A name without a namespace refers to the VirtualService's own namespace.` : "";
      sink.add(vs, `spec.gateways[${i}]`, "UnknownGateway", `spec.gateways[${i}]: ${JSON.stringify(g)} refers to Gateway ${key}, which does not exist.${hint}`);
    });
  }
}
