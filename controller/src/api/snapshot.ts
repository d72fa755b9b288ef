// The translator's whole input: every object of the kinds it reads, already parsed.
import type { Service } from "./core.ts";
import type { HTTPRoute, ReferenceGrant } from "./gateway-api.ts";
import type { InternalGateway } from "./internalgateway.ts";
import type { DestinationRule, Gateway, VirtualService } from "./istio.ts";

export interface Snapshot {
  internalGateways: readonly InternalGateway[];
  gateways: readonly Gateway[];
  virtualServices: readonly VirtualService[];
  destinationRules: readonly DestinationRule[];
  services: readonly Service[];
  /** Gateway API (docs/gateway-api.md): empty when the API server does not serve the group. */
  httpRoutes: readonly HTTPRoute[];
  referenceGrants: readonly ReferenceGrant[];
}

export function emptySnapshot(): Snapshot {
  return { internalGateways: [], gateways: [], virtualServices: [], destinationRules: [], services: [], httpRoutes: [], referenceGrants: [] };
}
