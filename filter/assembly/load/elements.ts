// The per-element compilers: a route and its parts (match blocks, destinations, header
// operations, redirect, fault, retries) from their tape nodes, with the sharing of identical
// immutable parts within one compile.
import { J_ARRAY, J_BOOL, J_NUMBER, J_OBJECT, J_STRING } from "./json";
import { MAX_DESTINATIONS, MAX_REGEX_PROGRAM, MAX_TOTAL_WEIGHT, explainRegexError } from "../limits";
import { M_EXACT, M_PREFIX, M_PRESENT, M_REGEX, StringMatcher } from "../matcher";
import { compileRegex, regexError, setRegexProgramLimit } from "../regex/index";
import { ACTION_DIRECT, ACTION_REDIRECT, ACTION_ROUTE, Destination, HeaderCondition, HeaderOps, MatchBlock, Redirect, Route, RouteTable } from "../table";
import { lowerAsciiBytes, validClusterName, validHeaderName, validHeaderValue, validHeaderValueString } from "./checks";
import { T, child, childNode, decimalBytes, encode, equalsBuffer, expect, fail, get, getInt, getPercent, getString, index, is, kindOf, lenOf, members, nextOf, ok, onlyKeys, requireMember, required, sizeOf } from "./tape";

export const FORMAT: f64 = 1;
// Every regex of a table fits the regex budget (limits.ts); the controller's check does the same.
setRegexProgramLimit(MAX_REGEX_PROGRAM);
// Istio 1.31's default retry policy (pilot/pkg/networking/core/route/retry/retry.go): retry_on
// "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes" and no status
// codes (503 was dropped, istio/istio#52111). Split like every retryOn (below): the gRPC
// conditions go to x-envoy-retry-grpc-on.
const DEFAULT_RETRY_ON = "connect-failure,refused-stream,retriable-status-codes";
const DEFAULT_RETRY_GRPC_ON = "unavailable,cancelled";
// Envoy's gRPC retry conditions. A route's retry_on accepts them, but the x-envoy-retry-on header
// ignores them: Envoy reads them only from x-envoy-retry-grpc-on (RetryStateImpl, parseRetryGrpcOn).
const GRPC_RETRY_ON: Array<string> = ["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"];

// Router header names, shared by every route that sets them (never mutated).
const H_TIMEOUT = String.UTF8.encode("x-envoy-upstream-rq-timeout-ms");
const H_MAX_RETRIES = String.UTF8.encode("x-envoy-max-retries");
const H_RETRY_ON = String.UTF8.encode("x-envoy-retry-on");
const H_RETRY_GRPC_ON = String.UTF8.encode("x-envoy-retry-grpc-on");
const H_RETRIABLE_CODES = String.UTF8.encode("x-envoy-retriable-status-codes");
const H_PER_TRY_TIMEOUT = String.UTF8.encode("x-envoy-upstream-rq-per-try-timeout-ms");

// Allowed members per object (module constants: an array literal in a function allocates per call).
export const TOP_KEYS: Array<string> = ["format", "version", "virtualHosts", "ambiguousHosts"];
export const VHOST_KEYS: Array<string> = ["name", "domains", "routes"];
const ROUTE_KEYS: Array<string> = ["name", "match", "route", "redirect", "directResponse", "rewrite", "headers", "fault", "timeoutMs", "retries", "unroutedWeight"];
const BLOCK_KEYS: Array<string> = ["name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "ignoreUriCase"];
const MATCH_KEYS: Array<string> = ["exact", "prefix", "regex"];
const MATCH_KEYS_PRESENT: Array<string> = ["exact", "prefix", "regex", "present"];
const DEST_KEYS: Array<string> = ["cluster", "weight", "headers"];
const OPS_KEYS: Array<string> = ["set", "add", "remove"];
const OPERATIONS_KEYS: Array<string> = ["request", "response"];
const REWRITE_KEYS: Array<string> = ["uri", "authority"];
const REDIRECT_KEYS: Array<string> = ["uri", "prefixRewrite", "authority", "scheme", "port", "redirectCode"];
const FAULT_KEYS: Array<string> = ["delay", "abort"];
const DELAY_KEYS: Array<string> = ["fixedDelayMs", "percentage"];
const ABORT_KEYS: Array<string> = ["httpStatus", "percentage"];
const RETRY_KEYS: Array<string> = ["attempts", "perTryTimeoutMs", "retryOn"];
const DIRECT_KEYS: Array<string> = ["status", "body"];
export const AMBIGUOUS_KEYS: Array<string> = ["host", "candidates"];
// members() output per object kind (the index is the key's position in the *_KEYS list).
export const VHOST_SLOTS = new StaticArray<i32>(3);
const ROUTE_SLOTS = new StaticArray<i32>(11);
const BLOCK_SLOTS = new StaticArray<i32>(9);
const DEST_SLOTS = new StaticArray<i32>(3);

// Sharing identical parts (structural sharing; Proxy-Wasm shared data is load/shared-entry.ts).
// Compiled parts of a route are immutable, so routes whose parts are identical share one object
// instead of each allocating (and later freeing) its own copy. Tables from the controller repeat
// themselves a lot (the same /api/ prefix match and timeout in every virtual host, both routes of
// a virtual host to the same cluster), so the last value of each kind is remembered: a match
// block with only an exact/prefix uri (and the one-block list holding it), a lone destination
// without header operations (and its list), a timeout-only router header list (the last* values
// below). They live for one compile.
const TIMEOUT_KEYS: Array<ArrayBuffer> = [H_TIMEOUT];
let lastTimeoutMs: i64 = -1;
let lastTimeoutValues: Array<ArrayBuffer> | null = null;
let lastBlock: MatchBlock | null = null;
let lastBlockKind: i32 = -1;
let lastBlocks: StaticArray<MatchBlock> | null = null;
let lastDests: StaticArray<Destination> | null = null;

export function forgetLastParts(): void {
  lastTimeoutMs = -1;
  lastTimeoutValues = null;
  lastBlock = null;
  lastBlockKind = -1;
  lastBlocks = null;
  lastDests = null;
}


// ---------------------------------------------------------------------------------------------
// The table

function compileStringMatch(v: i32, path: i32, allowPresent: bool, ignoreCase: bool): StringMatcher | null {
  if (!expect(v, J_OBJECT, path)) return null;
  let allowed = MATCH_KEYS;
  if (allowPresent) allowed = MATCH_KEYS_PRESENT;
  if (!onlyKeys(v, allowed, path)) return null;
  if (sizeOf(v) != 1) {
    fail(path, "exactly one of " + allowed.join(", ") + " is required");
    return null;
  }
  let key = v + 1;
  let m = v + 2;
  let p = childNode(path, key);
  if (is(key, "present")) {
    if (kindOf(m) != J_BOOL || !T.bool(m)) { fail(p, "must be true"); return null; }
    return new StringMatcher(M_PRESENT, new ArrayBuffer(0), false, null);
  }
  if (!expect(m, J_STRING, p)) return null;
  if (is(key, "regex")) {
    if (lenOf(m) == 0) { fail(p, "empty regex"); return null; }
    let re = compileRegex(T.str(m));
    if (re === null) { fail(p, explainRegexError(regexError())); return null; }
    return new StringMatcher(M_REGEX, new ArrayBuffer(0), false, re);
  }
  let kind = is(key, "exact") ? M_EXACT : M_PREFIX;
  if (ignoreCase) return new StringMatcher(kind, lowerAsciiBytes(m), true, null);
  return new StringMatcher(kind, T.bytes(m), false, null);
}

function compileHeaderConditions(v: i32, path: i32, isQuery: bool): Array<HeaderCondition> {
  let out = new Array<HeaderCondition>();
  if (!expect(v, J_OBJECT, path)) return out;
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    let p = childNode(path, k);
    if (!isQuery && !validHeaderName(k)) { fail(p, "invalid header name (lower-case token expected)"); return out; }
    if (isQuery && lenOf(k) == 0) { fail(p, "empty query parameter name"); return out; }
    let m = compileStringMatch(k + 1, p, !isQuery, false);
    if (m === null) return out;
    out.push(new HeaderCondition(T.bytes(k), m));
    k = nextOf(k + 1);
  }
  return out;
}

function compileMatchBlock(v: i32, path: i32): MatchBlock | null {
  if (!expect(v, J_OBJECT, path)) return null;
  let slots = BLOCK_SLOTS;
  if (!members(v, BLOCK_KEYS, slots, path)) return null;
  // BLOCK_KEYS order: name, uri, scheme, method, authority, headers, withoutHeaders, queryParams, ignoreUriCase
  let name = unchecked(slots[0]);
  let uri = unchecked(slots[1]);
  let scheme = unchecked(slots[2]);
  let method = unchecked(slots[3]);
  let authority = unchecked(slots[4]);
  let headers = unchecked(slots[5]);
  let without = unchecked(slots[6]);
  let query = unchecked(slots[7]);
  let ic = unchecked(slots[8]);
  let uriOnly = uri >= 0 && name < 0 && scheme < 0 && method < 0 && authority < 0 && headers < 0 && without < 0 && query < 0 && ic < 0;
  if (uriOnly) {
    let last = lastBlock;
    // {"uri": {"exact"|"prefix": "<same bytes>"}}: exactly what the last block was compiled from.
    if (last !== null && kindOf(uri) == J_OBJECT && sizeOf(uri) == 1 && kindOf(uri + 2) == J_STRING) {
      let kind = -1;
      if (is(uri + 1, "prefix")) kind = M_PREFIX;
      else if (is(uri + 1, "exact")) kind = M_EXACT;
      let m = last.uri;
      if (kind == lastBlockKind && m !== null && equalsBuffer(uri + 2, m.value)) return last;
    }
  }
  let block = new MatchBlock();
  let ignoreCase = false;
  if (ic >= 0) {
    if (!expect(ic, J_BOOL, child(path, "ignoreUriCase"))) return null;
    ignoreCase = T.bool(ic);
  }
  if (name >= 0) expect(name, J_STRING, child(path, "name"));
  if (uri >= 0) {
    let m = compileStringMatch(uri, child(path, "uri"), false, ignoreCase);
    if (m === null) return null;
    block.uri = m;
    if (m.kind == M_PREFIX) block.uriPrefixLength = m.value.byteLength;
    if (uriOnly && (m.kind == M_PREFIX || m.kind == M_EXACT)) {
      lastBlock = block;
      lastBlockKind = m.kind;
      lastBlocks = null;
    }
  }
  if (scheme >= 0) block.scheme = compileStringMatch(scheme, child(path, "scheme"), false, false);
  if (method >= 0) block.method = compileStringMatch(method, child(path, "method"), false, false);
  if (authority >= 0) block.authority = compileStringMatch(authority, child(path, "authority"), false, false);
  if (headers >= 0) block.headers = compileHeaderConditions(headers, child(path, "headers"), false);
  if (without >= 0) block.withoutHeaders = compileHeaderConditions(without, child(path, "withoutHeaders"), false);
  if (query >= 0) block.queryParams = compileHeaderConditions(query, child(path, "queryParams"), true);
  if (!ok()) return null;
  return block;
}

function compilePairs(v: i32, path: i32, keysOut: Array<ArrayBuffer>, valuesOut: Array<ArrayBuffer>): void {
  if (!expect(v, J_OBJECT, path)) return;
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    let p = childNode(path, k);
    if (!validHeaderName(k)) { fail(p, "invalid header name (lower-case token expected)"); return; }
    let value = k + 1;
    if (!expect(value, J_STRING, p)) return;
    if (!validHeaderValue(value)) { fail(p, "header value contains NUL, CR or LF"); return; }
    keysOut.push(T.bytes(k));
    valuesOut.push(T.bytes(value));
    k = nextOf(value);
  }
}

function compileHeaderOps(v: i32, path: i32): HeaderOps | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, OPS_KEYS, path)) return null;
  let ops = new HeaderOps();
  let set = get(v, "set");
  if (set >= 0) compilePairs(set, child(path, "set"), ops.setKeys, ops.setValues);
  let add = get(v, "add");
  if (add >= 0) compilePairs(add, child(path, "add"), ops.addKeys, ops.addValues);
  let remove = get(v, "remove");
  if (remove >= 0) {
    let rp = child(path, "remove");
    if (expect(remove, J_ARRAY, rp)) {
      let count = sizeOf(remove);
      let item = remove + 1;
      for (let i = 0; i < count; i++) {
        let p = index(rp, i);
        if (!expect(item, J_STRING, p)) return null;
        if (!validHeaderName(item)) { fail(p, "invalid header name (lower-case token expected)"); return null; }
        ops.remove.push(T.bytes(item));
        item = nextOf(item);
      }
    }
  }
  if (!ok()) return null;
  return ops;
}

/** Sets request (into `req`) and response (into `resp`) operations of a headers object. */
class OpsPair {
  request: HeaderOps | null = null;
  response: HeaderOps | null = null;
}

function compileHeaderOperations(v: i32, path: i32): OpsPair | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, OPERATIONS_KEYS, path)) return null;
  let pair = new OpsPair();
  let req = get(v, "request");
  if (req >= 0) pair.request = compileHeaderOps(req, child(path, "request"));
  let resp = get(v, "response");
  if (resp >= 0) pair.response = compileHeaderOps(resp, child(path, "response"));
  if (!ok()) return null;
  return pair;
}

function compileDestinations(v: i32, path: i32, route: Route): void {
  if (!expect(v, J_ARRAY, path)) return;
  let count = sizeOf(v);
  if (count == 0) { fail(path, "at least one destination is required"); return; }
  if (count > MAX_DESTINATIONS) { fail(path, count.toString() + " destinations: at most " + MAX_DESTINATIONS.toString() + " are allowed"); return; }
  if (count == 1 && takeLastDestination(v + 1, route)) return;
  let dests = new StaticArray<Destination>(count);
  route.destinations = dests;
  let total: u64 = 0;
  let d = v + 1;
  let slots = DEST_SLOTS;
  for (let i = 0; i < count; i++) {
    let p = index(path, i);
    if (!expect(d, J_OBJECT, p)) return;
    if (!members(d, DEST_KEYS, slots, p)) return;
    // DEST_KEYS order: cluster, weight, headers
    let c = required(unchecked(slots[0]), "cluster", p);
    let w = unchecked(slots[1]);
    let h = unchecked(slots[2]);
    if (c < 0) return;
    let cp = child(p, "cluster");
    if (!expect(c, J_STRING, cp)) return;
    if (!validClusterName(c)) { fail(cp, "must be 1-512 characters without spaces or control characters"); return; }
    let dest = new Destination(T.bytes(c));
    if (w >= 0) dest.weight = <u32>getInt(w, child(p, "weight"), 0, 1000000);
    if (h >= 0) {
      let pair = compileHeaderOperations(h, child(p, "headers"));
      if (pair === null) return;
      dest.request = pair.request;
      dest.response = pair.response;
    }
    if (!ok()) return;
    total += dest.weight;
    unchecked(dests[i] = dest);
    d = nextOf(d);
  }
  if (total == 0) { fail(path, "destination weights sum to 0: no destination can receive traffic"); return; }
  if (total > <u64>MAX_TOTAL_WEIGHT) { fail(path, "destination weights sum to " + total.toString() + ": at most " + MAX_TOTAL_WEIGHT.toString() + " is allowed"); return; }
  route.totalWeight = <u32>total;
  if (count == 1 && dests[0].request === null && dests[0].response === null) lastDests = dests;
}

/**
 * A lone destination {"cluster": <the last one's bytes>, "weight"?: <its weight>} and nothing
 * else: the route takes the last list (everything in it was validated when it was compiled).
 */
function takeLastDestination(d: i32, route: Route): bool {
  let last = lastDests;
  if (last === null || kindOf(d) != J_OBJECT) return false;
  let dest = unchecked(last[0]);
  let n = sizeOf(d);
  let cluster = get(d, "cluster");
  if (cluster < 0 || kindOf(cluster) != J_STRING || !equalsBuffer(cluster, dest.cluster)) return false;
  let weight = get(d, "weight");
  if (weight >= 0) {
    if (n != 2 || kindOf(weight) != J_NUMBER || T.num(weight) != <f64>dest.weight) return false;
  } else if (n != 1 || dest.weight != 100) {
    return false;
  }
  route.destinations = last;
  route.totalWeight = dest.weight;
  return true;
}

function compileRedirect(v: i32, path: i32): Redirect | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, REDIRECT_KEYS, path)) return null;
  let r = new Redirect();
  if (sizeOf(v) == 0) { fail(path, "at least one of uri, prefixRewrite, authority, scheme, port is required"); return null; }
  let uri = get(v, "uri");
  if (uri >= 0) {
    let s = getString(uri, child(path, "uri"));
    if (ok() && !s.startsWith("/")) fail(child(path, "uri"), "must start with '/'");
    r.uri = encode(s);
    r.uriHasQuery = s.includes("?");
  }
  let prefixRewrite = get(v, "prefixRewrite");
  if (prefixRewrite >= 0) {
    let s = getString(prefixRewrite, child(path, "prefixRewrite"));
    if (ok() && !s.startsWith("/")) fail(child(path, "prefixRewrite"), "must start with '/'");
    if (ok() && uri >= 0) fail(child(path, "prefixRewrite"), "uri and prefixRewrite are exclusive");
    r.prefixRewrite = encode(s);
  }
  let authority = get(v, "authority");
  if (authority >= 0) {
    let s = getString(authority, child(path, "authority"));
    if (ok() && (s.length == 0 || !validHeaderValueString(s) || s.includes("/"))) fail(child(path, "authority"), "must be a non-empty host[:port]");
    r.authority = encode(s);
  }
  let scheme = get(v, "scheme");
  if (scheme >= 0) {
    let s = getString(scheme, child(path, "scheme"));
    if (ok() && s != "http" && s != "https") fail(child(path, "scheme"), "must be http or https");
    r.scheme = encode(s);
  }
  let port = get(v, "port");
  if (port >= 0) r.port = <i32>getInt(port, child(path, "port"), 1, 65535);
  let code = get(v, "redirectCode");
  if (code >= 0) {
    let c = <u32>getInt(code, child(path, "redirectCode"), 300, 399);
    if (ok() && c != 301 && c != 302 && c != 303 && c != 307 && c != 308) fail(child(path, "redirectCode"), "must be 301, 302, 303, 307 or 308");
    r.code = c;
  }
  if (!ok()) return null;
  return r;
}

function compileFault(v: i32, path: i32, route: Route): void {
  if (!expect(v, J_OBJECT, path)) return;
  if (!onlyKeys(v, FAULT_KEYS, path)) return;
  if (sizeOf(v) == 0) { fail(path, "at least one of delay, abort is required"); return; }
  let delay = get(v, "delay");
  if (delay >= 0) {
    let p = child(path, "delay");
    if (!expect(delay, J_OBJECT, p) || !onlyKeys(delay, DELAY_KEYS, p)) return;
    let ms = requireMember(delay, "fixedDelayMs", p);
    let pct = requireMember(delay, "percentage", p);
    if (ms < 0 || pct < 0) return;
    route.delayMs = <u32>getInt(ms, child(p, "fixedDelayMs"), 0, 3600000);
    route.delayPpm = getPercent(pct, child(p, "percentage"));
  }
  let abort = get(v, "abort");
  if (abort >= 0) {
    let p = child(path, "abort");
    if (!expect(abort, J_OBJECT, p) || !onlyKeys(abort, ABORT_KEYS, p)) return;
    let st = requireMember(abort, "httpStatus", p);
    let pct = requireMember(abort, "percentage", p);
    if (st < 0 || pct < 0) return;
    route.abortStatus = <u32>getInt(st, child(p, "httpStatus"), 200, 599);
    route.abortPpm = getPercent(pct, child(p, "percentage"));
  }
}

function addRouterHeader(route: Route, key: ArrayBuffer, value: ArrayBuffer): void {
  if (route.routerKeys.length == 0) {
    // Routes start with the shared empty lists (table.ts); give this one its own.
    route.routerKeys = new Array<ArrayBuffer>();
    route.routerValues = new Array<ArrayBuffer>();
  }
  route.routerKeys.push(key);
  route.routerValues.push(value);
}

function compileRetries(v: i32, path: i32, route: Route): void {
  if (!expect(v, J_OBJECT, path)) return;
  if (!onlyKeys(v, RETRY_KEYS, path)) return;
  let a = requireMember(v, "attempts", path);
  if (a < 0) return;
  let attempts = getInt(a, child(path, "attempts"), 0, 100);
  let perTry: i64 = 0;
  let pt = get(v, "perTryTimeoutMs");
  if (pt >= 0) perTry = getInt(pt, child(path, "perTryTimeoutMs"), 1, 2147483647);
  let conditions = new Array<string>();
  let grpcConditions = new Array<string>();
  let codes = new Array<string>();
  let ro = get(v, "retryOn");
  if (ro >= 0) {
    let rp = child(path, "retryOn");
    let s = getString(ro, rp);
    if (!ok()) return;
    let parts = s.split(",");
    for (let i = 0; i < parts.length; i++) {
      let part = parts[i].trim();
      if (part.length == 0) { fail(rp, "empty condition in \"" + s + "\""); return; }
      let numeric = true;
      for (let j = 0; j < part.length; j++) {
        let c = part.charCodeAt(j);
        if (c < 0x30 || c > 0x39) numeric = false;
        else continue;
        if (!((c >= 0x61 && c <= 0x7a) || c == 0x2d)) { fail(rp, "invalid condition \"" + part + "\""); return; }
      }
      if (numeric) codes.push(part);
      else if (GRPC_RETRY_ON.includes(part)) grpcConditions.push(part);
      else conditions.push(part);
    }
    if (codes.length && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
  } else {
    conditions.push(DEFAULT_RETRY_ON);
    grpcConditions.push(DEFAULT_RETRY_GRPC_ON);
  }
  if (!ok()) return;
  addRouterHeader(route, H_MAX_RETRIES, decimalBytes(attempts));
  if (attempts > 0) {
    // An empty header is not sent: a retryOn of only gRPC conditions has no HTTP ones.
    if (conditions.length) addRouterHeader(route, H_RETRY_ON, encode(conditions.join(",")));
    if (grpcConditions.length) addRouterHeader(route, H_RETRY_GRPC_ON, encode(grpcConditions.join(",")));
    if (codes.length) addRouterHeader(route, H_RETRIABLE_CODES, encode(codes.join(",")));
    if (perTry > 0) addRouterHeader(route, H_PER_TRY_TIMEOUT, decimalBytes(perTry));
  }
}

export function compileRoute(v: i32, path: i32, table: RouteTable): Route | null {
  if (!expect(v, J_OBJECT, path)) return null;
  let slots = ROUTE_SLOTS;
  if (!members(v, ROUTE_KEYS, slots, path)) return null;
  // ROUTE_KEYS order: name, match, route, redirect, directResponse, rewrite, headers, fault, timeoutMs, retries, unroutedWeight
  let name = unchecked(slots[0]);
  let match = unchecked(slots[1]);
  let dests = unchecked(slots[2]);
  let redirect = unchecked(slots[3]);
  let direct = unchecked(slots[4]);
  let rewrite = unchecked(slots[5]);
  let headers = unchecked(slots[6]);
  let fault = unchecked(slots[7]);
  let timeout = unchecked(slots[8]);
  let retries = unchecked(slots[9]);
  let unrouted = unchecked(slots[10]);
  let route = new Route();
  // The name only has to be a string: nothing at request time uses it, so it is not kept.
  if (name >= 0) expect(name, J_STRING, child(path, "name"));
  if (match >= 0) {
    let mp = child(path, "match");
    if (expect(match, J_ARRAY, mp)) {
      let count = sizeOf(match);
      if (count == 1) {
        let b = compileMatchBlock(match + 1, index(mp, 0));
        if (b === null) return null;
        let last = lastBlocks;
        if (b === lastBlock && last !== null) {
          route.blocks = last;
        } else {
          let blocks = new StaticArray<MatchBlock>(1);
          unchecked(blocks[0] = b);
          route.blocks = blocks;
          if (b === lastBlock) lastBlocks = blocks;
        }
      } else if (count > 1) {
        let blocks = new StaticArray<MatchBlock>(count);
        route.blocks = blocks;
        let item = match + 1;
        for (let i = 0; i < count; i++) {
          let b = compileMatchBlock(item, index(mp, i));
          if (b === null) return null;
          unchecked(blocks[i] = b);
          item = nextOf(item);
        }
      }
    }
  }
  if (!ok()) return null;
  let actions = (dests >= 0 ? 1 : 0) + (redirect >= 0 ? 1 : 0) + (direct >= 0 ? 1 : 0);
  if (actions != 1) {
    if (actions == 0) fail(path, "one of route, redirect, directResponse is required");
    else fail(path, "only one of route, redirect, directResponse may be set");
    return null;
  }
  if (dests >= 0) {
    route.action = ACTION_ROUTE;
    compileDestinations(dests, child(path, "route"), route);
  } else if (redirect >= 0) {
    route.action = ACTION_REDIRECT;
    route.redirect = compileRedirect(redirect, child(path, "redirect"));
  } else if (direct >= 0) {
    route.action = ACTION_DIRECT;
    let p = child(path, "directResponse");
    if (expect(direct, J_OBJECT, p) && onlyKeys(direct, DIRECT_KEYS, p)) {
      let st = requireMember(direct, "status", p);
      if (st >= 0) route.directStatus = <u32>getInt(st, child(p, "status"), 200, 599);
      let body = get(direct, "body");
      if (body >= 0) {
        let bp = child(p, "body");
        if (expect(body, J_STRING, bp)) {
          route.directBody = T.bytes(body);
          if (route.directBody.byteLength > 1048576) fail(bp, "larger than 1 MiB (Envoy's local reply limit)");
        }
      }
    }
  }
  if (!ok()) return null;
  let isRoute = route.action == ACTION_ROUTE;
  if (unrouted >= 0) {
    let p = child(path, "unroutedWeight");
    if (!isRoute) { fail(p, "only allowed with route"); return null; }
    let w = <u64>getInt(unrouted, p, 1, 1000000);
    if (ok() && <u64>route.totalWeight + w > <u64>MAX_TOTAL_WEIGHT) fail(p, "with the destination weights it sums to " + (<u64>route.totalWeight + w).toString() + ": at most " + MAX_TOTAL_WEIGHT.toString() + " is allowed");
    if (!ok()) return null;
    route.unroutedWeight = <u32>w;
  }
  if (rewrite >= 0) {
    let p = child(path, "rewrite");
    if (!isRoute) { fail(p, "only allowed with route"); return null; }
    if (!expect(rewrite, J_OBJECT, p) || !onlyKeys(rewrite, REWRITE_KEYS, p)) return null;
    let uri = get(rewrite, "uri");
    if (uri >= 0) {
      let up = child(p, "uri");
      if (expect(uri, J_STRING, up)) {
        if (!validHeaderValue(uri)) fail(up, "contains NUL, CR or LF");
        route.rewriteUri = T.bytes(uri);
      }
    }
    let auth = get(rewrite, "authority");
    if (auth >= 0) {
      let ap = child(p, "authority");
      if (expect(auth, J_STRING, ap)) {
        if (ok() && (lenOf(auth) == 0 || !validHeaderValue(auth))) fail(ap, "must be a non-empty host[:port]");
        route.rewriteAuthority = T.bytes(auth);
      }
    }
  }
  if (headers >= 0) {
    if (!isRoute) { fail(child(path, "headers"), "only allowed with route"); return null; }
    let pair = compileHeaderOperations(headers, child(path, "headers"));
    if (pair === null) return null;
    route.request = pair.request;
    route.response = pair.response;
  }
  if (fault >= 0) {
    if (!isRoute) { fail(child(path, "fault"), "only allowed with route"); return null; }
    compileFault(fault, child(path, "fault"), route);
    if (route.delayPpm > 0 && route.delayMs > 0) table.hasDelays = true;
  }
  if (timeout >= 0) {
    if (!isRoute) { fail(child(path, "timeoutMs"), "only allowed with route"); return null; }
    let ms = getInt(timeout, child(path, "timeoutMs"), 0, 2147483647);
    if (ok()) {
      if (retries >= 0) {
        addRouterHeader(route, H_TIMEOUT, decimalBytes(ms));
      } else {
        // Only the timeout: the shared key list, and the value list of the last equal timeout.
        if (ms != lastTimeoutMs || lastTimeoutValues === null) {
          let values = new Array<ArrayBuffer>(1);
          unchecked(values[0] = decimalBytes(ms));
          lastTimeoutValues = values;
          lastTimeoutMs = ms;
        }
        route.routerKeys = TIMEOUT_KEYS;
        route.routerValues = lastTimeoutValues!;
      }
    }
  }
  if (retries >= 0) {
    if (!isRoute) { fail(child(path, "retries"), "only allowed with route"); return null; }
    compileRetries(retries, child(path, "retries"), route);
  }
  if (!ok()) return null;
  return route;
}
