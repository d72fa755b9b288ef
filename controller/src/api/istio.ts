// Istio networking API (networking.istio.io v1, v1beta1 and v1alpha3 share these shapes): only
// the fields Canal translates. Other Istio fields are recognised by the parser and recorded in
// `ignoredFields`, so they can be reported rather than silently dropped.
import type { ObjectBase } from "./meta.ts";

export const ISTIO_NETWORKING_GROUP = "networking.istio.io";
export const ISTIO_NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;

// --- Gateway ---

export interface GatewayPort {
  number: number;
  /** HTTP, HTTP2, GRPC are translated; others (HTTPS, TLS, TCP, ...) are reported. */
  protocol: string;
  name?: string;
}

export interface GatewayServer {
  name?: string;
  port: GatewayPort;
  /** "host", "ns/host", "./host", "*\/host"; host may be "*" or "*.suffix". */
  hosts: string[];
}

export interface GatewaySpec {
  selector: Record<string, string>;
  servers: GatewayServer[];
}

export type Gateway = ObjectBase<"Gateway", GatewaySpec>;

// --- VirtualService ---

/** Exactly one of the three is expected; `{}` means "present" for headers. */
export interface StringMatchInput {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatchInput;
  scheme?: StringMatchInput;
  method?: StringMatchInput;
  authority?: StringMatchInput;
  headers?: Record<string, StringMatchInput>;
  withoutHeaders?: Record<string, StringMatchInput>;
  queryParams?: Record<string, StringMatchInput>;
  ignoreUriCase?: boolean;
  /** Restricts the block to these gateways (overrides the VirtualService's `gateways`). */
  gateways?: string[];
}

export interface PortSelector {
  number?: number;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface HeaderOpsInput {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HeadersInput {
  request?: HeaderOpsInput;
  response?: HeaderOpsInput;
}

export interface HTTPRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: HeadersInput;
}

export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  scheme?: string;
  redirectCode?: number;
}

export interface HTTPBody {
  string?: string;
  /** Base64, as protobuf JSON encodes bytes. */
  bytes?: string;
}

export interface HTTPDirectResponse {
  status: number;
  body?: HTTPBody;
}

export interface HTTPRewrite {
  uri?: string;
  authority?: string;
}

export interface Percent {
  value?: number;
}

export interface FaultDelay {
  fixedDelay?: string;
  percentage?: Percent;
  /** Deprecated integer percentage, used when `percentage` is absent. */
  percent?: number;
}

export interface FaultAbort {
  httpStatus?: number;
  percentage?: Percent;
}

export interface HTTPFaultInjection {
  delay?: FaultDelay;
  abort?: FaultAbort;
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  rewrite?: HTTPRewrite;
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  headers?: HeadersInput;
}

export interface VirtualServiceSpec {
  hosts: string[];
  /** Empty means the mesh (sidecars) only: not bound to any gateway. */
  gateways: string[];
  http: HTTPRoute[];
  /** Empty means exported to every namespace. */
  exportTo: string[];
}

export type VirtualService = ObjectBase<"VirtualService", VirtualServiceSpec>;

// --- DestinationRule ---

export interface Subset {
  name: string;
  labels: Record<string, string>;
}

export interface DestinationRuleSpec {
  host: string;
  subsets: Subset[];
  exportTo: string[];
  /** A DestinationRule with a selector applies only to the workloads it selects. */
  workloadSelector?: { matchLabels: Record<string, string> };
}

export type DestinationRule = ObjectBase<"DestinationRule", DestinationRuleSpec>;
