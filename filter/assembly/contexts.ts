// Proxy-Wasm contexts: the root context loads tables (configure time), the stream context routes
// one request (lookups only).
import {
  RootContext, Context, FilterHeadersStatusValues, FilterDataStatusValues, FilterTrailersStatusValues,
  LogLevelValues, log,
} from "@solo-io/proxy-runtime";
import { buildPendingCache, cacheWorkLeft, entryUnwritten, writeSharedEntry } from "./load/incremental";
import { loadTable, loadWhole } from "./load/loader";
import { HeldRequests, DELAY_TICK_MS } from "./route/delays";
import { REQUEST_HEADERS, RESPONSE_HEADERS, addHeader, getPluginConfiguration, nowNanos, removeHeader, replaceHeader, setTickPeriod } from "./host";
import { countOutcome } from "./metrics";
import { chance, nextRandom, seedRandom } from "./random";
import { replyAbort, replyAmbiguous, replyDirect, replyNoRoute, replyRedirect } from "./route/replies";
import { KEY_AUTHORITY, KEY_PATH, RequestView } from "./route/request";
import { findVirtualHost, selectRoute, Selection } from "./route/router";
import { isProbe, replyProbe } from "./probe";
import { carry } from "./shards/carrier";
import { HEAD_ROUTER, Head } from "./shards/head";
import { sniff, sniffRejected } from "./shards/mode";
import { ShardedRouter } from "./shards/router";
import {
  RouteTable, Route, Destination, HeaderOps, MatchBlock,
  ACTION_REDIRECT, ACTION_DIRECT, OUTCOME_ROUTED, OUTCOME_NO_ROUTE, OUTCOME_LOCAL_REPLY, OUTCOME_FAULT,
} from "./table";

const REQ = REQUEST_HEADERS;
const RESP = RESPONSE_HEADERS;
const KEY_CLUSTER = String.UTF8.encode("x-canal-cluster");
/** Where Envoy's router keeps the client's host when a route rewrites it (Envoy >= 1.35). */
const KEY_ORIGINAL_HOST = String.UTF8.encode("x-envoy-original-host");
/**
 * What Envoy's router sets when its route rewrites the path (prefix_rewrite, regex_rewrite): the
 * whole `:path` before the rewrite, query included, replacing any value. Canal rewrites in the
 * filter, so the filter sets it; a request without a rewrite keeps what it carried, as in Envoy.
 */
const KEY_ORIGINAL_PATH = String.UTF8.encode("x-envoy-original-path");

/** A table for before the first configure: everything gets the explanatory 404. */
const EMPTY_TABLE: RouteTable = loadTable(new ArrayBuffer(0)).table!;
/** The body of the 500 for a route's unrouted share (Gateway API: backends that cannot be used). */
const UNROUTED_BODY = String.UTF8.encode("canal: no usable backend for this share of the route's traffic\n");

/**
 * Tick period while configure work waits for a tick (completing a table accepted on the shared
 * entry's fast path, the cache after a whole compile, writing the shared entry; one per tick): the
 * first tick comes right after the configure's event, i.e. after Envoy has sent the ACK.
 */
const WORK_TICK_MS: u32 = 1;
/** A sharded router reads the manifest every SHARD_TICK_MS (ADR 0005); ticks closer than SHARD_POLL_NS do not. */
const SHARD_TICK_MS: u32 = 100;
const SHARD_POLL_NS: u64 = 90_000_000;

export class CanalRoot extends RootContext {
  table: RouteTable = EMPTY_TABLE;
  held: HeldRequests = new HeldRequests();
  private seeded: bool = false;
  /** The tick period last asked for (per root context in Proxy-Wasm). */
  private tickMs: u32 = 0;
  /** While `table` is a placeholder (RouteTable.lazy): the table before it, should its completion fail. */
  private beforeLazy: RouteTable = EMPTY_TABLE;
  /** Router mode (shards/router.ts): the table comes from the shards in shared data. */
  sharded: ShardedRouter | null = null;
  private lastPoll: u64 = 0;

  /**
   * Replaces a placeholder accepted on the shared entry's fast path
   * (load/from-shared-entry.ts) with its whole compile, before anything routes with it.
   */
  complete(when: string): void {
    let lazy = this.table.lazy;
    if (lazy === null) return;
    let version = this.table.version;
    let whole = loadWhole(lazy);
    let table = whole.table;
    if (table === null) {
      // Cannot happen (the fast path accepts only what the whole compile accepts); if it did,
      // keep routing with the table before it rather than with an empty placeholder.
      log(LogLevelValues.critical, "canal: route table " + version + " (accepted from the shared entry) failed its whole compile: " +
        whole.error + " (serving table " + this.beforeLazy.version + ")");
      this.table = this.beforeLazy;
    } else {
      this.table = table;
      log(LogLevelValues.debug, "canal: completed route table " + version + " at " + when + ": " +
        table.virtualHostCount.toString() + " virtual hosts compiled");
    }
    this.beforeLazy = EMPTY_TABLE;
    __collect();
  }

  private tickEvery(ms: u32): void {
    if (ms == this.tickMs) return;
    setTickPeriod(ms);
    this.tickMs = ms;
  }

  /** Ticks for held requests and fault delays (DELAY_TICK_MS), or none. */
  private delayTicks(): void {
    if (this.table.hasDelays || this.held.length > 0) this.tickEvery(DELAY_TICK_MS);
    else if (this.sharded !== null) this.tickEvery(SHARD_TICK_MS);
    else this.tickEvery(0);
  }

  /** Carrier and router modes (ADR 0005): a carrier never refuses; a router refuses only a bad key. */
  private configureSharded(bytes: ArrayBuffer, head: Head): bool {
    if (head.kind != HEAD_ROUTER) {
      carry(bytes, head);
      return true;
    }
    if (head.error.length) {
      log(LogLevelValues.error, "canal: rejected sharded router configuration: " + head.error);
      return false;
    }
    let router = new ShardedRouter(head.key);
    this.sharded = router;
    this.pollShards(router);
    this.delayTicks();
    return true;
  }

  /** Reads the manifest and the shards it needs; swaps in a new table when there is one. */
  private pollShards(router: ShardedRouter): void {
    this.lastPoll = nowNanos();
    let table = router.poll();
    if (table !== null) this.table = table;
    if (table !== null || router.compiled > 0) __collect();
  }

  createContext(context_id: u32): Context {
    return new CanalStream(context_id, this);
  }

  onConfigure(configuration_size: u32): bool {
    if (!this.seeded) {
      seedRandom(nowNanos() ^ (<u64>this.context_id << 32));
      this.seeded = true;
    }
    // A placeholder still being served becomes a real table first: it is the VM's last accepted
    // table (its cache, for compiling this one incrementally) and serves if this one is rejected.
    this.complete("configure");
    let bytes = getPluginConfiguration(configuration_size);
    let head = sniff(bytes);
    if (head !== null) return this.configureSharded(bytes, head);
    this.sharded = null;
    let report = loadTable(bytes);
    if (report.cacheBuilt >= 0) log(LogLevelValues.debug, "canal: cache of " + report.cacheBuilt.toString() + " virtual hosts built at configure");
    if (report.sharedEntry.length) log(LogLevelValues.debug, "canal: shared entry: " + report.sharedEntry);
    let table = report.table;
    if (table === null) {
      let late = sniffRejected(bytes);
      if (late !== null) return this.configureSharded(bytes, late);
      // Returning false makes Envoy reject (NACK) this config; the previous one keeps serving.
      log(LogLevelValues.error, "canal: rejected route table: " + report.error +
        " (still serving table " + this.table.version + ")");
      __collect();
      return false;
    }
    if (table.lazy !== null) this.beforeLazy = this.table;
    this.table = table;
    // Work left for a tick (completing a placeholder, the cache of a whole compile, writing the
    // shared entry), or the delay ticks.
    if (table.lazy !== null || cacheWorkLeft()) this.tickEvery(WORK_TICK_MS);
    else if (table.hasDelays) this.tickEvery(DELAY_TICK_MS);
    log(LogLevelValues.info, "canal: loaded route table " + table.version + ": " +
      table.virtualHostCount.toString() + " virtual hosts, " + table.routeCount.toString() + " routes");
    // How the table was built (LoadReport.how); tests read this line (test/support/load-report.ts).
    log(LogLevelValues.debug, "canal: " + report.summary());
    // The parse tree is acyclic, but AS 0.17's ARC only reclaims cycles on collection; a
    // configure is rare enough to always pay for one.
    __collect();
    return true;
  }

  onTick(): void {
    let router = this.sharded;
    if (router !== null && nowNanos() - this.lastPoll >= SHARD_POLL_NS) this.pollShards(router);
    // One piece of configure work per tick, in this order; then back to the delay ticks.
    if (this.table.lazy !== null) {
      this.complete("tick");
    } else {
      let built = buildPendingCache();
      if (built >= 0) {
        log(LogLevelValues.debug, "canal: cache of " + built.toString() + " virtual hosts built at tick");
        __collect();
      } else if (entryUnwritten()) {
        let t0 = nowNanos();
        let size = writeSharedEntry();
        let us = (nowNanos() - t0) / 1000;
        if (size == 0) log(LogLevelValues.debug, "canal: shared entry already holds this table (" + us.toString() + " us)");
        else log(LogLevelValues.debug, "canal: shared entry written: " + size.toString() + " bytes in " + us.toString() + " us");
      }
    }
    this.held.releaseDue(this.table);
    if (this.table.lazy === null && !cacheWorkLeft()) this.delayTicks();
  }

  onDone(): bool {
    return true;
  }

  onDelete(): void {}
}

function applyOps(map: i32, ops: HeaderOps | null): void {
  if (ops === null) return;
  // Envoy's order for header_mutation: remove, then set (overwrite), then add (append).
  let remove = ops.remove;
  for (let i = 0; i < remove.length; i++) removeHeader(map, remove[i]);
  let setKeys = ops.setKeys;
  for (let i = 0; i < setKeys.length; i++) replaceHeader(map, setKeys[i], ops.setValues[i]);
  let addKeys = ops.addKeys;
  for (let i = 0; i < addKeys.length; i++) addHeader(map, addKeys[i], ops.addValues[i]);
}

/** The destination drawn by weight, or null for the route's unrouted share (a local 500). */
function pickDestination(route: Route): Destination | null {
  let dests = route.destinations;
  // load/elements.ts bounds the total to 1..MAX_TOTAL_WEIGHT; the guard keeps a zero from trapping.
  let total = route.totalWeight;
  let unrouted = route.unroutedWeight;
  if (unrouted > 0 && nextRandom() % (total + unrouted) >= total) return null;
  if (dests.length == 1 || total == 0) {
    let only = dests[0];
    return only;
  }
  let r = nextRandom() % total;
  let acc: u32 = 0;
  for (let i = 0; i < dests.length; i++) {
    let d = dests[i];
    acc += d.weight;
    if (r < acc) return d;
  }
  let last = dests[dests.length - 1];
  return last;
}

/** The path after a uri rewrite: a matched prefix is replaced, otherwise the whole path. */
function rewritePath(req: RequestView, block: MatchBlock | null, replacement: ArrayBuffer): ArrayBuffer {
  // As istiod renders rewrite.uri (prefix_rewrite on the block's Envoy match): a prefix match
  // replaces the prefix; exact and regex matches the whole path; a block without a uri condition
  // (or no match at all) is Envoy's `prefix: /`, so only the leading "/" is replaced
  // ("/whole" + "/a/b" -> "/wholea/b", as Istio does; found by the Istio oracle).
  let keepFrom = req.pathLength;
  if (block === null || block.uri === null) keepFrom = req.pathLength > 0 && load<u8>(changetype<usize>(req.path)) == 0x2f ? 1 : 0;
  else if (block.uriPrefixLength >= 0) keepFrom = block.uriPrefixLength;
  let rest = req.path.byteLength - keepFrom;
  let out = new ArrayBuffer(replacement.byteLength + rest);
  let d = changetype<usize>(out);
  memory.copy(d, changetype<usize>(replacement), <usize>replacement.byteLength);
  memory.copy(d + <usize>replacement.byteLength, changetype<usize>(req.path) + <usize>keepFrom, <usize>rest);
  return out;
}

/** One shared selection and request view: the VM is single threaded and neither outlives a call. */
const selection = new Selection();
const request = new RequestView();

export class CanalStream extends Context {
  private canal: CanalRoot;
  private responseOps: HeaderOps | null = null;
  private destinationResponseOps: HeaderOps | null = null;
  private delayed: bool = false;

  constructor(context_id: u32, root: CanalRoot) {
    super(context_id, root);
    this.canal = root;
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    let canal = this.canal;
    if (canal.table.lazy !== null) canal.complete("request");
    let table = canal.table;
    let req = request;
    req.read();
    // The delivery probe (probe.ts) is answered before routing, whatever the table routes.
    if (isProbe(req.host)) {
      replyProbe(table);
      return FilterHeadersStatusValues.StopIteration;
    }
    let vh = findVirtualHost(table, req.host);
    if (vh === null) {
      if (req.host.length && table.ambiguous.has(req.host)) {
        let body = table.ambiguous.get(req.host);
        replyAmbiguous(table, body);
      } else {
        replyNoRoute(table, req);
      }
      countOutcome(table.unmatched, OUTCOME_NO_ROUTE);
      return FilterHeadersStatusValues.StopIteration;
    }
    if (!selectRoute(vh, req, selection)) {
      replyNoRoute(table, req);
      countOutcome(vh, OUTCOME_NO_ROUTE);
      return FilterHeadersStatusValues.StopIteration;
    }
    let route = selection.route!;
    let block = selection.block;
    selection.route = null;
    selection.block = null;
    if (route.action == ACTION_REDIRECT) {
      let redirect = route.redirect!;
      let prefixRewrite = redirect.prefixRewrite;
      let rewritten: ArrayBuffer | null = null;
      if (prefixRewrite !== null) rewritten = rewritePath(req, block, prefixRewrite);
      replyRedirect(table, redirect, req, rewritten);
      countOutcome(vh, OUTCOME_LOCAL_REPLY);
      return FilterHeadersStatusValues.StopIteration;
    }
    if (route.action == ACTION_DIRECT) {
      replyDirect(table, route.directStatus, route.directBody);
      countOutcome(vh, OUTCOME_LOCAL_REPLY);
      return FilterHeadersStatusValues.StopIteration;
    }
    let delay = route.delayPpm > 0 && route.delayMs > 0 && chance(route.delayPpm);
    let abort = route.abortPpm > 0 && chance(route.abortPpm);
    if (delay || abort) countOutcome(vh, OUTCOME_FAULT);
    if (abort && !delay) {
      replyAbort(table, route.abortStatus, route.response);
      return FilterHeadersStatusValues.StopIteration;
    }
    if (!abort) {
      if (!this.forward(req, route, block, table)) {
        countOutcome(vh, OUTCOME_LOCAL_REPLY);
        return FilterHeadersStatusValues.StopIteration;
      }
      countOutcome(vh, OUTCOME_ROUTED);
    }
    if (delay) {
      this.delayed = true;
      this.canal.held.hold(this.context_id, route.delayMs, abort ? route.abortStatus : 0);
      return FilterHeadersStatusValues.StopIteration;
    }
    return FilterHeadersStatusValues.Continue;
  }

  /** Routes the request; false when the draw fell on the unrouted share and a 500 was sent. */
  private forward(req: RequestView, route: Route, block: MatchBlock | null, table: RouteTable): bool {
    let picked = pickDestination(route);
    if (picked === null) {
      replyDirect(table, 500, UNROUTED_BODY);
      return false;
    }
    let dest = picked;
    let rewriteUri = route.rewriteUri;
    if (rewriteUri !== null) replaceHeader(REQ, KEY_PATH, rewritePath(req, block, rewriteUri));
    applyOps(REQ, route.request);
    applyOps(REQ, dest.request);
    // After the table's header operations, like Envoy's router (its path rewrite comes after the
    // route's header parsers). req.path is the path as received, never rebuilt.
    if (rewriteUri !== null) replaceHeader(REQ, KEY_ORIGINAL_PATH, req.path);
    // After the table's header operations, so only the route's rewrite decides. As Envoy's router
    // does for a route's host rewrite (Istio's host_rewrite_literal): the new Host, and the
    // client's in x-envoy-original-host. Canal's route configuration has one catch-all virtual
    // host (envoy/bootstrap.ts canalRouteConfig, the chart's canal-cluster-header), so the new
    // host selects the same route (docs/envoy.md, "Authority rewrites").
    let rewriteAuthority = route.rewriteAuthority;
    if (rewriteAuthority !== null) {
      replaceHeader(REQ, KEY_ORIGINAL_HOST, req.authority);
      replaceHeader(REQ, KEY_AUTHORITY, rewriteAuthority);
    }
    let routerKeys = route.routerKeys;
    for (let i = 0; i < routerKeys.length; i++) replaceHeader(REQ, routerKeys[i], route.routerValues[i]);
    // Replacing (not adding) makes a client-sent x-canal-cluster irrelevant. Writing a request
    // header clears Envoy's route cache (ABI <= 0.2.1, Envoy >= 1.33), so the cluster_header route
    // reads this value without an explicit clear_route_cache call (docs/envoy.md).
    replaceHeader(REQ, KEY_CLUSTER, dest.cluster);
    this.responseOps = route.response;
    this.destinationResponseOps = dest.response;
    return true;
  }

  onRequestBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    // While a delay holds the headers, the body must wait too, or Envoy would pass both on.
    if (this.delayed && this.canal.held.isHeld(this.context_id)) return FilterDataStatusValues.StopIterationAndBuffer;
    return FilterDataStatusValues.Continue;
  }

  onRequestTrailers(a: u32): FilterTrailersStatusValues {
    if (this.delayed && this.canal.held.isHeld(this.context_id)) return FilterTrailersStatusValues.StopIteration;
    return FilterTrailersStatusValues.Continue;
  }

  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    applyOps(RESP, this.responseOps);
    applyOps(RESP, this.destinationResponseOps);
    return FilterHeadersStatusValues.Continue;
  }

  onDone(): bool {
    return true;
  }

  onLog(): void {}

  onDelete(): void {
    if (this.delayed) this.canal.held.forget(this.context_id);
  }
}

// AS 0.17 compiles __collect lazily and misses it when only virtual methods call it; one call
// at module start (which frees nothing) makes sure it is compiled.
__collect();
