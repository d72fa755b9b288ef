// The compiled route table: what the hot path reads. Built by load/ when a table loads;
// never mutated afterwards (except the lazily defined metric ids), so in-flight requests can keep
// using an old table while a new one serves.
import { StringMatcher } from "./matcher";

export const ACTION_ROUTE: i32 = 0;
export const ACTION_REDIRECT: i32 = 1;
export const ACTION_DIRECT: i32 = 2;

export const OUTCOME_ROUTED: i32 = 0;
export const OUTCOME_NO_ROUTE: i32 = 1;
export const OUTCOME_LOCAL_REPLY: i32 = 2;
export const OUTCOME_FAULT: i32 = 3;
export const OUTCOME_COUNT: i32 = 4;

export class HeaderCondition {
  constructor(public name: ArrayBuffer, public matcher: StringMatcher) {}
}

// Shared empty lists and body: most routes have no match conditions, router headers or body, and
// a list per field per route would be an allocation (and a free) each. load/elements.ts gives a route
// or block its own list before it adds anything; nothing ever adds to these.
const NO_CONDITIONS = new Array<HeaderCondition>();
const NO_BUFFERS = new Array<ArrayBuffer>();
const NO_BYTES = new ArrayBuffer(0);

export class MatchBlock {
  uri: StringMatcher | null = null;
  /** Length of the uri prefix when uri matched by prefix (for prefix rewrites), else -1. */
  uriPrefixLength: i32 = -1;
  scheme: StringMatcher | null = null;
  method: StringMatcher | null = null;
  authority: StringMatcher | null = null;
  headers: Array<HeaderCondition> = NO_CONDITIONS;
  withoutHeaders: Array<HeaderCondition> = NO_CONDITIONS;
  queryParams: Array<HeaderCondition> = NO_CONDITIONS;
}

export class HeaderOps {
  setKeys: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  setValues: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  addKeys: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  addValues: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  remove: Array<ArrayBuffer> = new Array<ArrayBuffer>();

  isEmpty(): bool {
    return this.setKeys.length == 0 && this.addKeys.length == 0 && this.remove.length == 0;
  }
}

export class Destination {
  cluster: ArrayBuffer;
  weight: u32 = 100;
  request: HeaderOps | null = null;
  response: HeaderOps | null = null;

  constructor(cluster: ArrayBuffer) {
    this.cluster = cluster;
  }
}

export class Redirect {
  uri: ArrayBuffer | null = null;
  uriHasQuery: bool = false;
  /** Replaces the prefix the winning block matched (the whole path without a prefix match). */
  prefixRewrite: ArrayBuffer | null = null;
  authority: ArrayBuffer | null = null;
  scheme: ArrayBuffer | null = null;
  port: i32 = 0;
  code: u32 = 301;
}

const NO_BLOCKS = new StaticArray<MatchBlock>(0);
const NO_DESTINATIONS = new StaticArray<Destination>(0);

export class Route {
  // A route's `name` is validated but not kept: nothing at request time uses it.
  blocks: StaticArray<MatchBlock> = NO_BLOCKS;
  action: i32 = ACTION_ROUTE;
  destinations: StaticArray<Destination> = NO_DESTINATIONS;
  totalWeight: u32 = 0;
  /** Weight of the share answered with a local 500 (unroutedWeight), beside totalWeight. */
  unroutedWeight: u32 = 0;
  redirect: Redirect | null = null;
  directStatus: u32 = 0;
  directBody: ArrayBuffer = NO_BYTES;
  rewriteUri: ArrayBuffer | null = null;
  rewriteAuthority: ArrayBuffer | null = null;
  request: HeaderOps | null = null;
  response: HeaderOps | null = null;
  /** Fault probabilities in parts per million. */
  delayMs: u32 = 0;
  delayPpm: u32 = 0;
  abortStatus: u32 = 0;
  abortPpm: u32 = 0;
  /** x-envoy-* headers for Envoy's router (timeout, retries), precomputed. */
  routerKeys: Array<ArrayBuffer> = NO_BUFFERS;
  routerValues: Array<ArrayBuffer> = NO_BUFFERS;
}

const NO_ROUTES = new StaticArray<Route>(0);

export class VirtualHost {
  name: string;
  routes: StaticArray<Route> = NO_ROUTES;
  /**
   * Proxy-Wasm metric ids per outcome (OUTCOME_*), defined on first use; 0 = not yet defined.
   * Fields rather than an array: one allocation less per virtual host when a table loads.
   */
  private metric0: u32 = 0;
  private metric1: u32 = 0;
  private metric2: u32 = 0;
  private metric3: u32 = 0;

  metricId(outcome: i32): u32 {
    if (outcome == 0) return this.metric0;
    if (outcome == 1) return this.metric1;
    if (outcome == 2) return this.metric2;
    return this.metric3;
  }

  setMetricId(outcome: i32, id: u32): void {
    if (outcome == 0) this.metric0 = id;
    else if (outcome == 1) this.metric1 = id;
    else if (outcome == 2) this.metric2 = id;
    else this.metric3 = id;
  }

  constructor(name: string) {
    this.name = name;
  }
}

export class RouteTable {
  version: string = "";
  versionBytes: ArrayBuffer = new ArrayBuffer(0);
  exact: Map<string, VirtualHost> = new Map<string, VirtualHost>();
  /** Keyed by the suffix after "*.", e.g. "example.com" for "*.example.com". */
  wildcard: Map<string, VirtualHost> = new Map<string, VirtualHost>();
  catchAll: VirtualHost | null = null;
  /** Counts requests whose host matched no virtual host. */
  unmatched: VirtualHost = new VirtualHost("unmatched");
  /** Ambiguous short name → the 404 body that explains it. */
  ambiguous: Map<string, ArrayBuffer> = new Map<string, ArrayBuffer>();
  virtualHostCount: i32 = 0;
  routeCount: i32 = 0;
  hasDelays: bool = false;
  /**
   * Set on a placeholder accepted on the shared entry's fast path (load/from-shared-entry.ts): the document,
   * whose whole compile must replace this table before it routes anything (its lookups are
   * empty). Null on every real table.
   */
  lazy: ArrayBuffer | null = null;
  /**
   * Set on the placeholder a sharded router serves before its first complete table
   * (shards/router.ts): the 503 body its catch-all answers with, which the probe answers with too.
   */
  incomplete: ArrayBuffer | null = null;
}
