// Route table JSON → compiled RouteTable. Validates everything schema/route-table.schema.json
// says, so a table is either fully usable or rejected with the path of the first bad field
// (e.g. "virtualHosts[3].routes[0].match[1].uri.regex: missing ): at offset 7").
import { JValue, J_ARRAY, J_BOOL, J_NUMBER, J_OBJECT, J_STRING, kindName, parseJson, jsonError } from "./json";
import { StringMatcher, M_EXACT, M_PREFIX, M_REGEX, M_PRESENT, lowerAscii } from "./matcher";
import { compileRegex, regexError } from "./regex/index";
import {
  RouteTable, VirtualHost, Route, MatchBlock, HeaderCondition, HeaderOps, Destination, Redirect,
  ACTION_ROUTE, ACTION_REDIRECT, ACTION_DIRECT,
} from "./table";

const FORMAT: f64 = 1;
const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
const DEFAULT_RETRY_CODES = "503";

let error: string = "";

function fail(path: string, msg: string): void {
  if (error.length == 0) error = path + ": " + msg;
}

function ok(): bool {
  return error.length == 0;
}

// No ternaries that yield references anywhere in the filter: AS 0.17 miscounts the reference
// when one arm is an existing object (double free or corrupted count, then an abort).
function child(path: string, key: string): string {
  if (path.length == 0) return key;
  return path + "." + key;
}

function index(path: string, i: i32): string {
  return path + "[" + i.toString() + "]";
}

function expect(v: JValue, kind: i32, path: string): bool {
  if (v.kind != kind) {
    fail(path, "expected " + kindName(kind) + ", got " + kindName(v.kind));
    return false;
  }
  return true;
}

/** Rejects members not in `allowed`, so a typo never silently drops a condition. */
function onlyKeys(v: JValue, allowed: Array<string>, path: string): bool {
  let keys = v.keys;
  if (keys === null) return true;
  for (let i = 0; i < keys.length; i++) {
    if (!allowed.includes(keys[i])) {
      fail(child(path, keys[i]), "unknown field (allowed: " + allowed.join(", ") + ")");
      return false;
    }
  }
  return true;
}

function requireMember(v: JValue, key: string, path: string): JValue | null {
  let m = v.get(key);
  if (m === null) fail(child(path, key), "required field is missing");
  return m;
}

function getString(v: JValue, path: string): string {
  if (!expect(v, J_STRING, path)) return "";
  return v.str;
}

function getInt(v: JValue, path: string, min: f64, max: f64): i64 {
  if (!expect(v, J_NUMBER, path)) return 0;
  let n = v.num;
  if (n != Math.floor(n)) { fail(path, "expected an integer, got " + n.toString()); return 0; }
  if (n < min || n > max) { fail(path, "must be between " + min.toString() + " and " + max.toString() + ", got " + n.toString()); return 0; }
  return <i64>n;
}

function getPercent(v: JValue, path: string): u32 {
  if (!expect(v, J_NUMBER, path)) return 0;
  let n = v.num;
  if (!(n >= 0 && n <= 100)) { fail(path, "must be a percentage between 0 and 100"); return 0; }
  return <u32>Math.round(n * 10000);
}

function encode(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function isHostChar(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d;
}

/** "*", "*.a.b" or "a.b": lower-case DNS labels, no port. */
function validHostName(h: string): bool {
  if (h == "*") return true;
  let start = 0;
  if (h.startsWith("*.")) start = 2;
  if (h.length - start < 1 || h.length > 253) return false;
  let labelLen = 0;
  for (let i = start; i < h.length; i++) {
    let c = h.charCodeAt(i);
    if (c == 0x2e) {
      if (labelLen == 0 || h.charCodeAt(i - 1) == 0x2d) return false;
      labelLen = 0;
      continue;
    }
    if (!isHostChar(c)) return false;
    if (labelLen == 0 && c == 0x2d) return false;
    labelLen++;
    if (labelLen > 63) return false;
  }
  return labelLen > 0 && h.charCodeAt(h.length - 1) != 0x2d;
}

function isTokenChar(c: i32): bool {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) return true;
  return "!#$%&'*+.^_`|~-".indexOf(String.fromCharCode(c)) >= 0;
}

function validHeaderName(h: string): bool {
  let start = h.startsWith(":") ? 1 : 0;
  if (h.length <= start) return false;
  for (let i = start; i < h.length; i++) if (!isTokenChar(h.charCodeAt(i))) return false;
  return true;
}

function validHeaderValue(v: string): bool {
  for (let i = 0; i < v.length; i++) {
    let c = v.charCodeAt(i);
    if (c == 0 || c == 0x0a || c == 0x0d) return false;
  }
  return true;
}

function lowerAsciiString(s: string): string {
  let b = String.UTF8.encode(s);
  let p = changetype<usize>(b);
  for (let i = 0; i < b.byteLength; i++) store<u8>(p + <usize>i, <u8>lowerAscii(load<u8>(p + <usize>i)));
  return String.UTF8.decode(b);
}

function compileStringMatch(v: JValue, path: string, allowPresent: bool, ignoreCase: bool): StringMatcher | null {
  if (!expect(v, J_OBJECT, path)) return null;
  let keys = v.keys!;
  let allowed = ["exact", "prefix", "regex"];
  if (allowPresent) allowed.push("present");
  if (!onlyKeys(v, allowed, path)) return null;
  if (keys.length != 1) {
    fail(path, "exactly one of " + allowed.join(", ") + " is required");
    return null;
  }
  let key = keys[0];
  let m = v.values![0];
  let p = child(path, key);
  if (key == "present") {
    if (m.kind != J_BOOL || !m.bool) { fail(p, "must be true"); return null; }
    return new StringMatcher(M_PRESENT, new ArrayBuffer(0), false, null);
  }
  let s = getString(m, p);
  if (!ok()) return null;
  if (key == "regex") {
    if (s.length == 0) { fail(p, "empty regex"); return null; }
    let re = compileRegex(s);
    if (re === null) { fail(p, regexError()); return null; }
    return new StringMatcher(M_REGEX, new ArrayBuffer(0), false, re);
  }
  let value = s;
  if (ignoreCase) value = lowerAsciiString(s);
  return new StringMatcher(key == "exact" ? M_EXACT : M_PREFIX, encode(value), ignoreCase, null);
}

function compileHeaderConditions(v: JValue, path: string, out: Array<HeaderCondition>, isQuery: bool): void {
  if (!expect(v, J_OBJECT, path)) return;
  let keys = v.keys!;
  let values = v.values!;
  for (let i = 0; i < keys.length; i++) {
    let name = keys[i];
    let p = child(path, name);
    if (!isQuery && !validHeaderName(name)) { fail(p, "invalid header name (lower-case token expected)"); return; }
    if (isQuery && name.length == 0) { fail(p, "empty query parameter name"); return; }
    let m = compileStringMatch(values[i], p, !isQuery, false);
    if (m === null) return;
    out.push(new HeaderCondition(encode(name), m));
  }
}

function compileMatchBlock(v: JValue, path: string): MatchBlock | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, ["name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "ignoreUriCase"], path)) return null;
  let block = new MatchBlock();
  let ignoreCase = false;
  let ic = v.get("ignoreUriCase");
  if (ic !== null) {
    if (!expect(ic, J_BOOL, child(path, "ignoreUriCase"))) return null;
    ignoreCase = ic.bool;
  }
  let name = v.get("name");
  if (name !== null) getString(name, child(path, "name"));
  let uri = v.get("uri");
  if (uri !== null) {
    let m = compileStringMatch(uri, child(path, "uri"), false, ignoreCase);
    if (m === null) return null;
    block.uri = m;
    if (m.kind == M_PREFIX) block.uriPrefixLength = m.value.byteLength;
  }
  let scheme = v.get("scheme");
  if (scheme !== null) block.scheme = compileStringMatch(scheme, child(path, "scheme"), false, false);
  let method = v.get("method");
  if (method !== null) block.method = compileStringMatch(method, child(path, "method"), false, false);
  let authority = v.get("authority");
  if (authority !== null) block.authority = compileStringMatch(authority, child(path, "authority"), false, false);
  let headers = v.get("headers");
  if (headers !== null) compileHeaderConditions(headers, child(path, "headers"), block.headers, false);
  let without = v.get("withoutHeaders");
  if (without !== null) compileHeaderConditions(without, child(path, "withoutHeaders"), block.withoutHeaders, false);
  let query = v.get("queryParams");
  if (query !== null) compileHeaderConditions(query, child(path, "queryParams"), block.queryParams, true);
  if (!ok()) return null;
  return block;
}

function compilePairs(v: JValue, path: string, keysOut: Array<ArrayBuffer>, valuesOut: Array<ArrayBuffer>): void {
  if (!expect(v, J_OBJECT, path)) return;
  let keys = v.keys!;
  let values = v.values!;
  for (let i = 0; i < keys.length; i++) {
    let p = child(path, keys[i]);
    if (!validHeaderName(keys[i])) { fail(p, "invalid header name (lower-case token expected)"); return; }
    let s = getString(values[i], p);
    if (!ok()) return;
    if (!validHeaderValue(s)) { fail(p, "header value contains NUL, CR or LF"); return; }
    keysOut.push(encode(keys[i]));
    valuesOut.push(encode(s));
  }
}

function compileHeaderOps(v: JValue, path: string): HeaderOps | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, ["set", "add", "remove"], path)) return null;
  let ops = new HeaderOps();
  let set = v.get("set");
  if (set !== null) compilePairs(set, child(path, "set"), ops.setKeys, ops.setValues);
  let add = v.get("add");
  if (add !== null) compilePairs(add, child(path, "add"), ops.addKeys, ops.addValues);
  let remove = v.get("remove");
  if (remove !== null && expect(remove, J_ARRAY, child(path, "remove"))) {
    let items = remove.items!;
    for (let i = 0; i < items.length; i++) {
      let p = index(child(path, "remove"), i);
      let name = getString(items[i], p);
      if (!ok()) return null;
      if (!validHeaderName(name)) { fail(p, "invalid header name (lower-case token expected)"); return null; }
      ops.remove.push(encode(name));
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

function compileHeaderOperations(v: JValue, path: string): OpsPair | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, ["request", "response"], path)) return null;
  let pair = new OpsPair();
  let req = v.get("request");
  if (req !== null) pair.request = compileHeaderOps(req, child(path, "request"));
  let resp = v.get("response");
  if (resp !== null) pair.response = compileHeaderOps(resp, child(path, "response"));
  if (!ok()) return null;
  return pair;
}

function validClusterName(s: string): bool {
  if (s.length == 0 || s.length > 512) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) <= 0x20) return false;
  return true;
}

function compileDestinations(v: JValue, path: string, route: Route): void {
  if (!expect(v, J_ARRAY, path)) return;
  let items = v.items!;
  if (items.length == 0) { fail(path, "at least one destination is required"); return; }
  let total: u64 = 0;
  for (let i = 0; i < items.length; i++) {
    let p = index(path, i);
    let d = items[i];
    if (!expect(d, J_OBJECT, p)) return;
    if (!onlyKeys(d, ["cluster", "weight", "headers"], p)) return;
    let c = requireMember(d, "cluster", p);
    if (c === null) return;
    let cluster = getString(c, child(p, "cluster"));
    if (!ok()) return;
    if (!validClusterName(cluster)) { fail(child(p, "cluster"), "must be 1-512 characters without spaces or control characters"); return; }
    let dest = new Destination(encode(cluster));
    let w = d.get("weight");
    if (w !== null) dest.weight = <u32>getInt(w, child(p, "weight"), 0, 1000000);
    let h = d.get("headers");
    if (h !== null) {
      let pair = compileHeaderOperations(h, child(p, "headers"));
      if (pair === null) return;
      dest.request = pair.request;
      dest.response = pair.response;
    }
    if (!ok()) return;
    total += dest.weight;
    route.destinations.push(dest);
  }
  if (total == 0) { fail(path, "destination weights sum to 0: no destination can receive traffic"); return; }
  route.totalWeight = <u32>total;
}

function compileRedirect(v: JValue, path: string): Redirect | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, ["uri", "authority", "scheme", "port", "redirectCode"], path)) return null;
  let r = new Redirect();
  if (v.keys!.length == 0) { fail(path, "at least one of uri, authority, scheme, port is required"); return null; }
  let uri = v.get("uri");
  if (uri !== null) {
    let s = getString(uri, child(path, "uri"));
    if (ok() && !s.startsWith("/")) fail(child(path, "uri"), "must start with '/'");
    r.uri = encode(s);
    r.uriHasQuery = s.includes("?");
  }
  let authority = v.get("authority");
  if (authority !== null) {
    let s = getString(authority, child(path, "authority"));
    if (ok() && (s.length == 0 || !validHeaderValue(s) || s.includes("/"))) fail(child(path, "authority"), "must be a non-empty host[:port]");
    r.authority = encode(s);
  }
  let scheme = v.get("scheme");
  if (scheme !== null) {
    let s = getString(scheme, child(path, "scheme"));
    if (ok() && s != "http" && s != "https") fail(child(path, "scheme"), "must be http or https");
    r.scheme = encode(s);
  }
  let port = v.get("port");
  if (port !== null) r.port = <i32>getInt(port, child(path, "port"), 1, 65535);
  let code = v.get("redirectCode");
  if (code !== null) {
    let c = <u32>getInt(code, child(path, "redirectCode"), 300, 399);
    if (ok() && c != 301 && c != 302 && c != 303 && c != 307 && c != 308) fail(child(path, "redirectCode"), "must be 301, 302, 303, 307 or 308");
    r.code = c;
  }
  if (!ok()) return null;
  return r;
}

function compileFault(v: JValue, path: string, route: Route): void {
  if (!expect(v, J_OBJECT, path)) return;
  if (!onlyKeys(v, ["delay", "abort"], path)) return;
  if (v.keys!.length == 0) { fail(path, "at least one of delay, abort is required"); return; }
  let delay = v.get("delay");
  if (delay !== null) {
    let p = child(path, "delay");
    if (!expect(delay, J_OBJECT, p) || !onlyKeys(delay, ["fixedDelayMs", "percentage"], p)) return;
    let ms = requireMember(delay, "fixedDelayMs", p);
    let pct = requireMember(delay, "percentage", p);
    if (ms === null || pct === null) return;
    route.delayMs = <u32>getInt(ms, child(p, "fixedDelayMs"), 0, 3600000);
    route.delayPpm = getPercent(pct, child(p, "percentage"));
  }
  let abort = v.get("abort");
  if (abort !== null) {
    let p = child(path, "abort");
    if (!expect(abort, J_OBJECT, p) || !onlyKeys(abort, ["httpStatus", "percentage"], p)) return;
    let st = requireMember(abort, "httpStatus", p);
    let pct = requireMember(abort, "percentage", p);
    if (st === null || pct === null) return;
    route.abortStatus = <u32>getInt(st, child(p, "httpStatus"), 200, 599);
    route.abortPpm = getPercent(pct, child(p, "percentage"));
  }
}

function addRouterHeader(route: Route, key: string, value: string): void {
  route.routerKeys.push(encode(key));
  route.routerValues.push(encode(value));
}

function compileRetries(v: JValue, path: string, route: Route): void {
  if (!expect(v, J_OBJECT, path)) return;
  if (!onlyKeys(v, ["attempts", "perTryTimeoutMs", "retryOn"], path)) return;
  let a = requireMember(v, "attempts", path);
  if (a === null) return;
  let attempts = getInt(a, child(path, "attempts"), 0, 100);
  let perTry: i64 = 0;
  let pt = v.get("perTryTimeoutMs");
  if (pt !== null) perTry = getInt(pt, child(path, "perTryTimeoutMs"), 1, 2147483647);
  let conditions = new Array<string>();
  let codes = new Array<string>();
  let ro = v.get("retryOn");
  if (ro !== null) {
    let s = getString(ro, child(path, "retryOn"));
    if (!ok()) return;
    let parts = s.split(",");
    for (let i = 0; i < parts.length; i++) {
      let part = parts[i].trim();
      if (part.length == 0) { fail(child(path, "retryOn"), "empty condition in \"" + s + "\""); return; }
      let numeric = true;
      for (let j = 0; j < part.length; j++) {
        let c = part.charCodeAt(j);
        if (c < 0x30 || c > 0x39) numeric = false;
        else continue;
        if (!((c >= 0x61 && c <= 0x7a) || c == 0x2d)) { fail(child(path, "retryOn"), "invalid condition \"" + part + "\""); return; }
      }
      if (numeric) codes.push(part);
      else conditions.push(part);
    }
    if (codes.length && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
  } else {
    conditions.push(DEFAULT_RETRY_ON);
    codes.push(DEFAULT_RETRY_CODES);
  }
  if (!ok()) return;
  addRouterHeader(route, "x-envoy-max-retries", attempts.toString());
  if (attempts > 0) {
    addRouterHeader(route, "x-envoy-retry-on", conditions.join(","));
    if (codes.length) addRouterHeader(route, "x-envoy-retriable-status-codes", codes.join(","));
    if (perTry > 0) addRouterHeader(route, "x-envoy-upstream-rq-per-try-timeout-ms", perTry.toString());
  }
}

function compileRoute(v: JValue, path: string, table: RouteTable): Route | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, ["name", "match", "route", "redirect", "directResponse", "rewrite", "headers", "fault", "timeoutMs", "retries"], path)) return null;
  let route = new Route();
  let name = v.get("name");
  if (name !== null) route.name = getString(name, child(path, "name"));
  let match = v.get("match");
  if (match !== null && expect(match, J_ARRAY, child(path, "match"))) {
    let items = match.items!;
    for (let i = 0; i < items.length; i++) {
      let b = compileMatchBlock(items[i], index(child(path, "match"), i));
      if (b === null) return null;
      route.blocks.push(b);
    }
  }
  if (!ok()) return null;
  let dests = v.get("route");
  let redirect = v.get("redirect");
  let direct = v.get("directResponse");
  let actions = (dests !== null ? 1 : 0) + (redirect !== null ? 1 : 0) + (direct !== null ? 1 : 0);
  if (actions != 1) {
    fail(path, actions == 0 ? "one of route, redirect, directResponse is required" : "only one of route, redirect, directResponse may be set");
    return null;
  }
  if (dests !== null) {
    route.action = ACTION_ROUTE;
    compileDestinations(dests, child(path, "route"), route);
  } else if (redirect !== null) {
    route.action = ACTION_REDIRECT;
    route.redirect = compileRedirect(redirect, child(path, "redirect"));
  } else if (direct !== null) {
    route.action = ACTION_DIRECT;
    let p = child(path, "directResponse");
    if (expect(direct, J_OBJECT, p) && onlyKeys(direct, ["status", "body"], p)) {
      let st = requireMember(direct, "status", p);
      if (st !== null) route.directStatus = <u32>getInt(st, child(p, "status"), 200, 599);
      let body = direct.get("body");
      if (body !== null) {
        let s = getString(body, child(p, "body"));
        route.directBody = encode(s);
        if (route.directBody.byteLength > 1048576) fail(child(p, "body"), "larger than 1 MiB (Envoy's local reply limit)");
      }
    }
  }
  if (!ok()) return null;
  let isRoute = route.action == ACTION_ROUTE;
  let rewrite = v.get("rewrite");
  if (rewrite !== null) {
    let p = child(path, "rewrite");
    if (!isRoute) { fail(p, "only allowed with route"); return null; }
    if (!expect(rewrite, J_OBJECT, p) || !onlyKeys(rewrite, ["uri", "authority"], p)) return null;
    let uri = rewrite.get("uri");
    if (uri !== null) {
      let s = getString(uri, child(p, "uri"));
      if (ok() && !validHeaderValue(s)) fail(child(p, "uri"), "contains NUL, CR or LF");
      route.rewriteUri = encode(s);
    }
    let auth = rewrite.get("authority");
    if (auth !== null) {
      let s = getString(auth, child(p, "authority"));
      if (ok() && (s.length == 0 || !validHeaderValue(s))) fail(child(p, "authority"), "must be a non-empty host[:port]");
      route.rewriteAuthority = encode(s);
    }
  }
  let headers = v.get("headers");
  if (headers !== null) {
    if (!isRoute) { fail(child(path, "headers"), "only allowed with route"); return null; }
    let pair = compileHeaderOperations(headers, child(path, "headers"));
    if (pair === null) return null;
    route.request = pair.request;
    route.response = pair.response;
  }
  let fault = v.get("fault");
  if (fault !== null) {
    if (!isRoute) { fail(child(path, "fault"), "only allowed with route"); return null; }
    compileFault(fault, child(path, "fault"), route);
    if (route.delayPpm > 0 && route.delayMs > 0) table.hasDelays = true;
  }
  let timeout = v.get("timeoutMs");
  if (timeout !== null) {
    if (!isRoute) { fail(child(path, "timeoutMs"), "only allowed with route"); return null; }
    let ms = getInt(timeout, child(path, "timeoutMs"), 0, 2147483647);
    if (ok()) addRouterHeader(route, "x-envoy-upstream-rq-timeout-ms", ms.toString());
  }
  let retries = v.get("retries");
  if (retries !== null) {
    if (!isRoute) { fail(child(path, "retries"), "only allowed with route"); return null; }
    compileRetries(retries, child(path, "retries"), route);
  }
  if (!ok()) return null;
  return route;
}

function validVhostName(s: string): bool {
  if (s.length == 0 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    let good = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      c == 0x5f || c == 0x2e || c == 0x3a || c == 0x2f || c == 0x2d;
    if (!good) return false;
  }
  return true;
}

function addDomain(table: RouteTable, domain: string, vh: VirtualHost, path: string, seen: Map<string, string>): void {
  if (!validHostName(domain)) {
    fail(path, "invalid domain \"" + domain + "\" (lower-case DNS name, \"*.suffix\" or \"*\"; no port)");
    return;
  }
  if (seen.has(domain)) {
    fail(path, "domain \"" + domain + "\" is already used by " + seen.get(domain));
    return;
  }
  seen.set(domain, path);
  if (domain == "*") table.catchAll = vh;
  else if (domain.startsWith("*.")) table.wildcard.set(domain.substring(2), vh);
  else table.exact.set(domain, vh);
}

function compileVirtualHost(v: JValue, path: string, table: RouteTable, seen: Map<string, string>): void {
  if (!expect(v, J_OBJECT, path)) return;
  if (!onlyKeys(v, ["name", "domains", "routes"], path)) return;
  let n = requireMember(v, "name", path);
  let d = requireMember(v, "domains", path);
  let r = requireMember(v, "routes", path);
  if (n === null || d === null || r === null) return;
  let name = getString(n, child(path, "name"));
  if (!ok()) return;
  if (!validVhostName(name)) { fail(child(path, "name"), "must be 1-128 characters of [A-Za-z0-9_.:/-]"); return; }
  let vh = new VirtualHost(name);
  if (!expect(r, J_ARRAY, child(path, "routes"))) return;
  let routes = r.items!;
  for (let i = 0; i < routes.length; i++) {
    let route = compileRoute(routes[i], index(child(path, "routes"), i), table);
    if (route === null) return;
    vh.routes.push(route);
  }
  table.routeCount += routes.length;
  if (!expect(d, J_ARRAY, child(path, "domains"))) return;
  let domains = d.items!;
  if (domains.length == 0) { fail(child(path, "domains"), "at least one domain is required"); return; }
  for (let i = 0; i < domains.length; i++) {
    let p = index(child(path, "domains"), i);
    let domain = getString(domains[i], p);
    if (!ok()) return;
    addDomain(table, domain, vh, p, seen);
    if (!ok()) return;
  }
  table.virtualHostCount++;
}

function compileAmbiguous(v: JValue, path: string, table: RouteTable): void {
  if (!expect(v, J_ARRAY, path)) return;
  let items = v.items!;
  for (let i = 0; i < items.length; i++) {
    let p = index(path, i);
    let a = items[i];
    if (!expect(a, J_OBJECT, p) || !onlyKeys(a, ["host", "candidates"], p)) return;
    let h = requireMember(a, "host", p);
    let c = requireMember(a, "candidates", p);
    if (h === null || c === null) return;
    let host = getString(h, child(p, "host"));
    if (!ok()) return;
    if (!validHostName(host) || host.startsWith("*")) { fail(child(p, "host"), "invalid host name \"" + host + "\""); return; }
    if (!expect(c, J_ARRAY, child(p, "candidates"))) return;
    let names = new Array<string>();
    let citems = c.items!;
    for (let j = 0; j < citems.length; j++) {
      let s = getString(citems[j], index(child(p, "candidates"), j));
      if (!ok()) return;
      names.push(s);
    }
    if (names.length < 2) { fail(child(p, "candidates"), "an ambiguous host needs at least 2 candidates"); return; }
    table.ambiguous.set(host, encode("canal: host \"" + host + "\" is ambiguous: " + names.join(", ") +
      "; use the namespace-qualified name\n"));
  }
}

let lastError: string = "";

/** The reason the last compileTable call returned null. */
export function compileError(): string {
  return lastError;
}

/** Parses and validates a route table. An empty document is the empty table. */
export function compileTable(bytes: ArrayBuffer): RouteTable | null {
  error = "";
  let table = new RouteTable();
  if (bytes.byteLength == 0) {
    table.version = "empty";
    table.versionBytes = encode("empty");
    lastError = "";
    return table;
  }
  let doc = parseJson(changetype<usize>(bytes), bytes.byteLength);
  if (doc === null) {
    lastError = jsonError();
    return null;
  }
  compileDocument(doc, table);
  lastError = error;
  error = "";
  if (lastError.length) return null;
  return table;
}

function compileDocument(doc: JValue, table: RouteTable): void {
  if (!expect(doc, J_OBJECT, "(table)")) return;
  if (!onlyKeys(doc, ["format", "version", "virtualHosts", "ambiguousHosts"], "")) return;
  let f = requireMember(doc, "format", "");
  let ver = requireMember(doc, "version", "");
  let vhs = requireMember(doc, "virtualHosts", "");
  if (f === null || ver === null || vhs === null) return;
  if (f.kind != J_NUMBER || f.num != FORMAT) {
    fail("format", "unsupported table format (this filter reads format 1)");
    return;
  }
  table.version = getString(ver, "version");
  if (!ok()) return;
  if (table.version.length == 0 || table.version.length > 128 || !validHeaderValue(table.version)) {
    fail("version", "must be 1-128 printable characters");
    return;
  }
  table.versionBytes = encode(table.version);
  if (!expect(vhs, J_ARRAY, "virtualHosts")) return;
  let items = vhs.items!;
  let seen = new Map<string, string>();
  for (let i = 0; i < items.length; i++) {
    compileVirtualHost(items[i], index("virtualHosts", i), table, seen);
    if (!ok()) return;
  }
  let amb = doc.get("ambiguousHosts");
  if (amb !== null) compileAmbiguous(amb, "ambiguousHosts", table);
  let keys = table.ambiguous.keys();
  for (let i = 0; i < keys.length; i++) {
    if (seen.has(keys[i])) {
      fail("ambiguousHosts", "host \"" + keys[i] + "\" is also a domain of " + seen.get(keys[i]));
      return;
    }
  }
}
