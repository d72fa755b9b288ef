// The translator's whole input: every object of the kinds it reads, already parsed.
import type { Service } from "./core.ts";
import type { GatewayApiGateway, GatewayClass, HTTPRoute, Namespace, ReferenceGrant } from "./gateway-api.ts";
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
  /** Gateway API Gateways and GatewayClasses; Namespaces (labels) for listeners' allowedRoutes selectors. */
  gatewayApiGateways: readonly GatewayApiGateway[];
  gatewayClasses: readonly GatewayClass[];
  namespaces: readonly Namespace[];
}

export function emptySnapshot(): Snapshot {
  return { internalGateways: [], gateways: [], virtualServices: [], destinationRules: [], services: [], httpRoutes: [], referenceGrants: [], gatewayApiGateways: [], gatewayClasses: [], namespaces: [] };
}
