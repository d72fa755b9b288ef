// InternalGateway (canal.io/v1alpha1): declares one Istio Gateway as the east-west gateway and the
// Service in front of its Envoy pods. controller/crds/internalgateway.yaml is the same schema as
// a CRD.
import type { ObjectBase } from "./meta.ts";

export const CANAL_GROUP = "canal.io";
export const INTERNAL_GATEWAY_VERSION = "v1alpha1";
export const INTERNAL_GATEWAY_API_VERSION = `${CANAL_GROUP}/${INTERNAL_GATEWAY_VERSION}`;

/** Labels of the Canal gateway pods when `workloadSelector` is omitted. */
export const DEFAULT_WORKLOAD_LABELS: Readonly<Record<string, string>> = Object.freeze({ app: "canal-gateway" });

export interface LocalRef {
  name: string;
  /** Defaults to the InternalGateway's namespace. */
  namespace?: string;
}

export interface InternalGatewaySpec {
  /** The Istio Gateway whose VirtualServices this gateway serves. Exactly one. */
  gatewayRef: LocalRef;
  /** The Service fronting the gateway's Envoy pods: the address service names are redirected to. */
  serviceRef: LocalRef;
  /** Labels of the gateway pods. Default {app: canal-gateway}. */
  workloadSelector?: { matchLabels: Record<string, string> };
  /**
   * Which namespaces may route which hosts besides their own Services (ADR 0003). Without a
   * grant a VirtualService may only claim the Service FQDNs of its own namespace.
   */
  hostGrants?: HostGrant[];
}

/** Namespaces (or "*" for all) whose bound VirtualServices may claim hosts covered by `hosts`. */
export interface HostGrant {
  namespaces: string[];
  /** Host patterns: "*", "*.suffix" or a DNS name (lower-case), as in VirtualService hosts. */
  hosts: string[];
}

/** Limits of spec.hostGrants (the CRD says the same). */
export const HOST_GRANT_LIMITS = Object.freeze({ grants: 256, namespaces: 64, hosts: 256 });

export type InternalGateway = ObjectBase<"InternalGateway", InternalGatewaySpec>;
