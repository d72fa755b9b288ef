// The route table: the one contract between the controller (which writes it) and the filter
// (which routes by it). `route-table.schema.json` beside this file is the same contract as
// JSON Schema; `test/unit/schema.test.ts` keeps the two in step. docs/route-table.md explains
// the semantics.

/** Version of the table format itself; the filter rejects any other value. */
export const ROUTE_TABLE_FORMAT = 1;

/** Destinations of one route (`route`); the filter rejects a table with more (filter/assembly/limits.ts). */
export const MAX_DESTINATIONS = 100;
/** Most a route's destination weights may sum to: far below 2^32, so the filter's pick cannot overflow. */
export const MAX_TOTAL_WEIGHT = 10_000_000;

export interface RouteTable {
  format: typeof ROUTE_TABLE_FORMAT;
  /** Content hash of the table (e.g. "sha256:…"): every party can say which table it runs. */
  version: string;
  virtualHosts: VirtualHost[];
  /**
   * Short host names that resolve to services in more than one namespace. A request for one
   * gets a 404 that names the candidates instead of a guess.
   */
  ambiguousHosts?: AmbiguousHost[];
}

export interface AmbiguousHost {
  host: string;
  candidates: string[];
}

export interface VirtualHost {
  /** Stats label and log name, e.g. "default/helloworld". [A-Za-z0-9_.:/-], ≤ 128 chars. */
  name: string;
  /**
   * Lower-case authorities without port: exact names, "*.suffix" wildcards, or "*".
   * Each domain appears in exactly one virtual host of the table.
   */
  domains: string[];
  /** In order; the first route whose match succeeds wins. */
  routes: Route[];
}

export interface Route {
  /** For logs and debugging, e.g. "istio-system/helloworld.http[0]". */
  name?: string;
  /** Match blocks are OR'ed; conditions inside one block are AND'ed. Absent or empty: match all. */
  match?: MatchBlock[];
  /** Exactly one of route, redirect, directResponse. */
  route?: WeightedCluster[];
  redirect?: Redirect;
  directResponse?: DirectResponse;
  rewrite?: Rewrite;
  headers?: HeaderOperations;
  fault?: Fault;
  /**
   * With `route` only: a share of the traffic, weighed against the destinations' weights, that
   * the filter answers with a local 500 instead of routing (Gateway API: the share of backends
   * that cannot be used). Integer 1..1,000,000; with the weights, at most MAX_TOTAL_WEIGHT.
   */
  unroutedWeight?: number;
  /** Upstream request timeout. 0 disables it (Istio's default). */
  timeoutMs?: number;
  retries?: Retries;
}

export type StringMatch =
  | { exact: string }
  | { prefix: string }
  | { regex: string };

/** Header conditions also accept presence: `{ present: true }` (Istio's empty StringMatch). */
export type HeaderMatch = StringMatch | { present: true };

export interface MatchBlock {
  name?: string;
  /** Matched against the path without its query string. */
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  /** Matched against the raw :authority, port included if the client sent one. */
  authority?: StringMatch;
  /** Keys are lower-case header names. */
  headers?: Record<string, HeaderMatch>;
  withoutHeaders?: Record<string, HeaderMatch>;
  queryParams?: Record<string, StringMatch>;
  /** Applies to uri exact and prefix matches (ASCII case folding), as in Istio. */
  ignoreUriCase?: boolean;
}

export interface WeightedCluster {
  /** Envoy cluster name, e.g. "outbound|5000||helloworld.default.svc.cluster.local". */
  cluster: string;
  /**
   * Relative weight, integer 0..1,000,000; defaults to 100 for a single destination. A route's
   * weights sum to 1..MAX_TOTAL_WEIGHT.
   */
  weight?: number;
  headers?: HeaderOperations;
}

export interface Redirect {
  /** Replaces the whole path. The request's query string is kept unless this contains '?'. */
  uri?: string;
  /**
   * Replaces the path prefix that the winning match block matched by `uri.prefix`, keeping the
   * rest of the path and the query (the whole path when the block matched otherwise, as
   * `rewrite.uri` does). Not with `uri`. Gateway API redirects with ReplacePrefixMatch.
   */
  prefixRewrite?: string;
  authority?: string;
  scheme?: string;
  port?: number;
  /** 301 (default), 302, 303, 307 or 308. */
  redirectCode?: number;
}

export interface DirectResponse {
  status: number;
  body?: string;
}

export interface Rewrite {
  /**
   * If the matching block matched the uri by prefix, replaces that prefix; otherwise replaces
   * the whole path. The query string is kept.
   */
  uri?: string;
  authority?: string;
}

export interface HeaderOps {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HeaderOperations {
  request?: HeaderOps;
  response?: HeaderOps;
}

export interface Fault {
  delay?: { fixedDelayMs: number; percentage: number };
  abort?: { httpStatus: number; percentage: number };
}

export interface Retries {
  /** 0 disables retries. */
  attempts: number;
  perTryTimeoutMs?: number;
  /**
   * Envoy retry_on conditions, comma separated; bare status codes ("503") are retriable codes.
   * Absent: Istio's default conditions, without status codes (docs/route-table.md).
   */
  retryOn?: string;
}
