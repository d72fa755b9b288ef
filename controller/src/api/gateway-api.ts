// Kubernetes Gateway API (gateway.networking.k8s.io) HTTPRoute and ReferenceGrant: the fields
// Canal reads, after parsing, with the API server's defaults applied (a route read from a file
// means what the same route applied to a cluster means).
import type { ObjectBase } from "./meta.ts";

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
/** HTTPRoute is stored as v1 and also served as v1beta1 (same schema); ReferenceGrant the other way round. */
export const HTTPROUTE_API_VERSIONS: readonly string[] = [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1beta1`];
export const REFERENCE_GRANT_API_VERSIONS: readonly string[] = [`${GATEWAY_API_GROUP}/v1beta1`, `${GATEWAY_API_GROUP}/v1`];

/**
 * The CRD's own limits (release v1.6), enforced again by the parser because objects read from
 * files never passed the API server. A route past one is invalid as a whole, as the server
 * would refuse it.
 */
export const HTTPROUTE_LIMITS = Object.freeze({
  parentRefs: 32,
  hostnames: 16,
  rules: 16,
  matches: 64,
  filters: 16,
  backendRefs: 16,
  headerMatches: 16,
  queryMatches: 16,
  headerOps: 16,
  hostnameLength: 253,
  pathLength: 1024,
  headerNameLength: 256,
  headerValueLength: 4096,
  queryValueLength: 1024,
  maxWeight: 1_000_000,
  referenceGrantEntries: 16,
});

export type PathMatchType = "Exact" | "PathPrefix" | "RegularExpression";
export type ValueMatchType = "Exact" | "RegularExpression";
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] as const;
export type HTTPMethod = (typeof HTTP_METHODS)[number];
export const REDIRECT_CODES: readonly number[] = [301, 302, 303, 307, 308];

export interface ParentReference {
  /** Default "gateway.networking.k8s.io"; "" is the core group (a Service: GAMMA). */
  group: string;
  /** Default "Gateway". */
  kind: string;
  /** Default: the route's namespace. */
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface HTTPPathMatch {
  type: PathMatchType;
  value: string;
}

/** A header or query parameter condition. */
export interface HTTPValueMatch {
  type: ValueMatchType;
  name: string;
  value: string;
}

export interface HTTPRouteMatch {
  path: HTTPPathMatch;
  headers: HTTPValueMatch[];
  queryParams: HTTPValueMatch[];
  method?: HTTPMethod;
}

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HTTPHeaderModifier {
  set: HTTPHeader[];
  add: HTTPHeader[];
  remove: string[];
}

export type HTTPPathModifier =
  | { type: "ReplaceFullPath"; replaceFullPath: string }
  | { type: "ReplacePrefixMatch"; replacePrefixMatch: string };

export interface HTTPRequestRedirect {
  scheme?: "http" | "https";
  hostname?: string;
  path?: HTTPPathModifier;
  port?: number;
  /** Default 302. */
  statusCode: number;
}

export interface HTTPURLRewrite {
  hostname?: string;
  path?: HTTPPathModifier;
}

/** Filter types the CRD allows that Canal does not translate: kept by type so the translator can report them. */
export type UnsupportedFilterType = "RequestMirror" | "ExtensionRef" | "CORS" | "ExternalAuth";

export type HTTPRouteFilter =
  | { type: "RequestHeaderModifier"; requestHeaderModifier: HTTPHeaderModifier }
  | { type: "ResponseHeaderModifier"; responseHeaderModifier: HTTPHeaderModifier }
  | { type: "RequestRedirect"; requestRedirect: HTTPRequestRedirect }
  | { type: "URLRewrite"; urlRewrite: HTTPURLRewrite }
  | { type: UnsupportedFilterType };

export interface HTTPBackendRef {
  /** Default "" (core). */
  group: string;
  /** Default "Service". */
  kind: string;
  name: string;
  namespace?: string;
  port?: number;
  /** Default 1; 0..1,000,000. */
  weight: number;
  filters: HTTPRouteFilter[];
}

export interface HTTPRouteTimeouts {
  /** Gateway API durations, e.g. "10s", "1m30s", "500ms". */
  request?: string;
  backendRequest?: string;
}

export interface HTTPRouteRetry {
  codes?: number[];
  attempts?: number;
  backoff?: string;
}

export interface HTTPRouteRule {
  name?: string;
  /** Never empty: absent means one match of every path (PathPrefix "/"). */
  matches: HTTPRouteMatch[];
  filters: HTTPRouteFilter[];
  backendRefs: HTTPBackendRef[];
  timeouts?: HTTPRouteTimeouts;
  retry?: HTTPRouteRetry;
}

export interface HTTPRouteSpec {
  parentRefs: ParentReference[];
  hostnames: string[];
  /** Never empty: absent means one rule that matches everything and has no backend. */
  rules: HTTPRouteRule[];
}

export type HTTPRoute = ObjectBase<"HTTPRoute", HTTPRouteSpec>;

export interface ReferenceGrantFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface ReferenceGrantTo {
  group: string;
  kind: string;
  name?: string;
}

export interface ReferenceGrantSpec {
  from: ReferenceGrantFrom[];
  to: ReferenceGrantTo[];
}

export type ReferenceGrant = ObjectBase<"ReferenceGrant", ReferenceGrantSpec>;

// ---------------------------------------------------------------------------------------------
// Gateways (Gateway API's, not Istio's: told apart by the apiVersion), their classes, and the
// namespace labels that listeners' allowedRoutes selectors read.

export const GATEWAY_API_VERSIONS: readonly string[] = [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1beta1`];
/** The controllerName of the GatewayClasses whose Gateways Canal serves (also the status entries' controllerName). */
export const CANAL_CONTROLLER_NAME = "canal.io/gateway-controller";

export const GATEWAY_LIMITS = Object.freeze({ listeners: 64, kinds: 8, selectorTerms: 32, selectorValues: 64 });

export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

export interface RouteGroupKind {
  /** Default "gateway.networking.k8s.io". */
  group: string;
  kind: string;
}

export interface AllowedRoutes {
  /** Default Same. */
  from: "Same" | "All" | "Selector" | "None";
  selector?: LabelSelector;
  /** Absent: the kinds the protocol allows (HTTPRoute for HTTP and HTTPS). */
  kinds?: RouteGroupKind[];
}

export interface GatewayListener {
  name: string;
  /** Exact or "*.suffix"; absent matches every host. */
  hostname?: string;
  port: number;
  protocol: string;
  allowedRoutes: AllowedRoutes;
}

export interface GatewayApiGatewaySpec {
  gatewayClassName: string;
  listeners: GatewayListener[];
}

/** A gateway.networking.k8s.io Gateway (kind "Gateway" like Istio's; `isGatewayApiGateway` tells them apart). */
export type GatewayApiGateway = ObjectBase<"Gateway", GatewayApiGatewaySpec>;
export type GatewayClass = ObjectBase<"GatewayClass", { controllerName: string }>;
/** A Namespace: only its labels are read (allowedRoutes.namespaces.selector). */
export type Namespace = ObjectBase<"Namespace", Record<string, never>>;

export function isGatewayApiGateway(o: { kind: string; apiVersion: string }): o is GatewayApiGateway {
  return o.kind === "Gateway" && o.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`);
}
