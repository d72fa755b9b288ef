// What the HTTPRoute translators share while translating one HTTPRoute.
import type { HTTPRoute, ReferenceGrant } from "../../api/gateway-api.ts";
import type { HostGrant } from "../../api/internalgateway.ts";
import type { RegexValidator } from "../context.ts";
import type { ProblemSink } from "../problems.ts";
import type { ServiceLookup } from "../services.ts";

/** Everything HTTPRoute translation reads besides the routes themselves. */
export interface HTTPRouteEnv {
  clusterDomain: string;
  validateRegex: RegexValidator;
  services: ServiceLookup;
  referenceGrants: readonly ReferenceGrant[];
  /** spec.hostGrants of the InternalGateway and its "namespace/name" (host ownership, ADR 0003). */
  grants: readonly HostGrant[];
  grantsFrom: string;
  /**
   * The VirtualService ("namespace/name") that already routes a Service's FQDN on this gateway.
   * Such a Service is not attached (mixing rule: the VirtualService wins, docs/gateway-api.md).
   */
  claimedBy?: (fqdn: string) => string | undefined;
}

export interface HTTPRouteContext extends HTTPRouteEnv {
  route: HTTPRoute;
  sink: ProblemSink;
}

/** A rule's outcome when it cannot route: Gateway API answers 500 (the spec's status for invalid backends). */
export const INVALID_RULE_STATUS = 500;
