// Route table JSON → compiled RouteTable. Validates everything schema/route-table.schema.json
// says, so a table is either fully usable or rejected with the path of the first bad field
// (e.g. "virtualHosts[3].routes[0].match[1].uri.regex: missing ): at offset 7").
//
// Configure-time cost matters (a table of 10,000 virtual hosts is ~4.7 MB and Envoy runs this
// several times per update, see docs/filter.md), so the walk allocates only what the compiled
// table keeps:
// - the document is a flat tape (json.ts): values are node indices, keys are compared as bytes;
// - field paths are segments in a reusable pool (parent, key or index) and become a string only
//   when something fails;
// - strings are decoded only when the table keeps them as strings (names, map keys); byte values
//   are copied straight from the document; validation works on bytes;
// - duplicate domains are found by the lookup maps themselves; where the first use was is
//   searched for only when reporting one.
import { Tape, J_ARRAY, J_BOOL, J_NUMBER, J_OBJECT, J_STRING, kindName, parseJson, jsonError, releaseTape } from "./json";
import { StringMatcher, M_EXACT, M_PREFIX, M_REGEX, M_PRESENT, lowerAscii } from "./matcher";
import { compileRegex, regexError, setRegexProgramLimit } from "./regex/index";
import { CachedVhost, Grow, SEGMENTS, VhostCache, bytesEqual, cacheOfSegments, scanDocument } from "./reuse";
import { MAX_DESTINATIONS, MAX_REGEX_PROGRAM, MAX_TOTAL_WEIGHT, explainRegexError } from "./limits";
import { KeySet, asciiInto, entryProblem, readEntry, writeEntry } from "./shared";
import {
  RouteTable, VirtualHost, Route, MatchBlock, HeaderCondition, HeaderOps, Destination, Redirect,
  ACTION_ROUTE, ACTION_REDIRECT, ACTION_DIRECT,
} from "./table";

const FORMAT: f64 = 1;
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
const TOP_KEYS: Array<string> = ["format", "version", "virtualHosts", "ambiguousHosts"];
const VHOST_KEYS: Array<string> = ["name", "domains", "routes"];
const ROUTE_KEYS: Array<string> = ["name", "match", "route", "redirect", "directResponse", "rewrite", "headers", "fault", "timeoutMs", "retries"];
const BLOCK_KEYS: Array<string> = ["name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "ignoreUriCase"];
const MATCH_KEYS: Array<string> = ["exact", "prefix", "regex"];
const MATCH_KEYS_PRESENT: Array<string> = ["exact", "prefix", "regex", "present"];
const DEST_KEYS: Array<string> = ["cluster", "weight", "headers"];
const OPS_KEYS: Array<string> = ["set", "add", "remove"];
const OPERATIONS_KEYS: Array<string> = ["request", "response"];
const REWRITE_KEYS: Array<string> = ["uri", "authority"];
const REDIRECT_KEYS: Array<string> = ["uri", "authority", "scheme", "port", "redirectCode"];
const FAULT_KEYS: Array<string> = ["delay", "abort"];
const DELAY_KEYS: Array<string> = ["fixedDelayMs", "percentage"];
const ABORT_KEYS: Array<string> = ["httpStatus", "percentage"];
const RETRY_KEYS: Array<string> = ["attempts", "perTryTimeoutMs", "retryOn"];
const DIRECT_KEYS: Array<string> = ["status", "body"];
const AMBIGUOUS_KEYS: Array<string> = ["host", "candidates"];
// members() output per object kind (the index is the key's position in the *_KEYS list).
const VHOST_SLOTS = new StaticArray<i32>(3);
const ROUTE_SLOTS = new StaticArray<i32>(10);
const BLOCK_SLOTS = new StaticArray<i32>(9);
const DEST_SLOTS = new StaticArray<i32>(3);

// Sharing. Compiled parts of a route are immutable, so routes whose parts are identical share
// one object instead of each allocating (and later freeing) its own copy. Tables from the
// controller repeat themselves a lot (the same /api/ prefix match and timeout in every virtual
// host, both routes of a virtual host to the same cluster), so the last value of each kind is
// remembered: a match block with only an exact/prefix uri (and the one-block list holding it),
// a lone destination without header operations (and its list), a timeout-only router header
// list. The cache lives for one compile.
const TIMEOUT_KEYS: Array<ArrayBuffer> = [H_TIMEOUT];
let sharedTimeoutMs: i64 = -1;
let sharedTimeoutValues: Array<ArrayBuffer> | null = null;
let sharedBlock: MatchBlock | null = null;
let sharedBlockKind: i32 = -1;
let sharedBlocks: StaticArray<MatchBlock> | null = null;
let sharedDests: StaticArray<Destination> | null = null;

function resetShared(): void {
  sharedTimeoutMs = -1;
  sharedTimeoutValues = null;
  sharedBlock = null;
  sharedBlockKind = -1;
  sharedBlocks = null;
  sharedDests = null;
}

/** Whether string node v has the bytes of `buf`. */
function equalsBuffer(v: i32, buf: ArrayBuffer): bool {
  let len = buf.byteLength;
  return lenOf(v) == len && memory.compare(ptrOf(v), changetype<usize>(buf), <usize>len) == 0;
}

/** The document being compiled (one compile at a time: the VM is single threaded). */
let T: Tape = new Tape(new ArrayBuffer(0), new ArrayBuffer(0));
const NO_TAPE: Tape = T;
/** T's node array (raw: the hot accessors below read it without touching reference counts). */
let NB: usize = 0;

@inline function kindOf(v: i32): i32 {
  return load<i32>(NB + (<usize>v << 4));
}

/** Items of an array, members of an object. */
@inline function sizeOf(v: i32): i32 {
  return load<i32>(NB + (<usize>v << 4), 4);
}

/** The node after v and everything inside it. */
@inline function nextOf(v: i32): i32 {
  let p = NB + (<usize>v << 4);
  if (load<i32>(p) >= J_ARRAY) return load<i32>(p, 12);
  return v + 1;
}

@inline function ptrOf(v: i32): usize {
  return <usize>load<u32>(NB + (<usize>v << 4), 4);
}

@inline function lenOf(v: i32): i32 {
  return load<i32>(NB + (<usize>v << 4), 8);
}

/** Whether string node v equals an ASCII literal. */
function is(v: i32, lit: string): bool {
  let len = lenOf(v);
  if (len != lit.length) return false;
  let p = ptrOf(v);
  let q = changetype<usize>(lit);
  for (let i = 0; i < len; i++) {
    if (<u32>load<u8>(p + <usize>i) != <u32>load<u16>(q + (<usize>i << 1))) return false;
  }
  return true;
}

/** The value of member `key` of object v; -1 when absent. */
function get(v: i32, key: string): i32 {
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    if (is(k, key)) return k + 1;
    k = nextOf(k + 1);
  }
  return -1;
}

/**
 * One pass over object v's members: slot j of `slots` gets the value node of allowed[j] (-1 when
 * absent). A member not in `allowed` fails as onlyKeys does. Each caller has its own slots
 * (a compile function is never re-entered while its slots are in use).
 */
function members(v: i32, allowed: Array<string>, slots: StaticArray<i32>, path: i32): bool {
  let n = allowed.length;
  for (let j = 0; j < n; j++) unchecked(slots[j] = -1);
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    let found = -1;
    for (let j = 0; j < n; j++) {
      if (is(k, unchecked(allowed[j]))) { found = j; break; }
    }
    if (found < 0) {
      fail(childNode(path, k), "unknown field (allowed: " + allowed.join(", ") + ")");
      return false;
    }
    unchecked(slots[found] = k + 1);
    k = nextOf(k + 1);
  }
  return true;
}
/** The virtualHosts array node, for finding where a duplicate domain was first used. */
let vhostsNode: i32 = -1;

let error: string = "";

// ---------------------------------------------------------------------------------------------
// Field paths. A path is a segment index: 0 is the document itself; every other segment is
// (parent, kind, value) with kind a literal key (value: the string's address; literals are
// static and never freed), a key of the document (value: its node) or an array index. child()
// and index() are three stores; render() builds the string only for an error message. The pool
// is rewound after each virtual host, so it stays small.

const SEG_LITERAL: i32 = 0;
const SEG_NODE: i32 = 1;
const SEG_INDEX: i32 = 2;
const ROOT: i32 = 0;

let segs: ArrayBuffer = new ArrayBuffer(12 * 256);
let segTop: i32 = 1;

function segment(parent: i32, kind: i32, value: i32): i32 {
  if (<usize>(segTop + 1) * 12 > <usize>segs.byteLength) {
    let bigger = new ArrayBuffer(segs.byteLength * 2);
    memory.copy(changetype<usize>(bigger), changetype<usize>(segs), <usize>segs.byteLength);
    segs = bigger;
  }
  let p = changetype<usize>(segs) + <usize>segTop * 12;
  store<i32>(p, parent);
  store<i32>(p, kind, 4);
  store<i32>(p, value, 8);
  return segTop++;
}

/** path.key for a key written in this file (a string literal). */
function child(path: i32, key: string): i32 {
  return segment(path, SEG_LITERAL, <i32>changetype<usize>(key));
}

/** path.key for a key of the document (a string node). */
function childNode(path: i32, keyNode: i32): i32 {
  return segment(path, SEG_NODE, keyNode);
}

function index(path: i32, i: i32): i32 {
  return segment(path, SEG_INDEX, i);
}

// No ternaries that yield references anywhere in the filter: AS 0.17 miscounts the reference
// when one arm is an existing object (double free or corrupted count, then an abort).
function render(path: i32): string {
  if (path == ROOT) return "";
  let p = changetype<usize>(segs) + <usize>path * 12;
  let parent = load<i32>(p);
  let kind = load<i32>(p, 4);
  let value = load<i32>(p, 8);
  let head = render(parent);
  if (kind == SEG_INDEX) return head + "[" + value.toString() + "]";
  let key: string;
  if (kind == SEG_LITERAL) key = changetype<string>(<usize>value);
  else key = T.str(value);
  if (head.length == 0) return key;
  return head + "." + key;
}

function fail(path: i32, msg: string): void {
  if (error.length == 0) error = render(path) + ": " + msg;
}

function ok(): bool {
  return error.length == 0;
}

// ---------------------------------------------------------------------------------------------
// Reading the tape

function expect(v: i32, kind: i32, path: i32): bool {
  let k = kindOf(v);
  if (k != kind) {
    fail(path, "expected " + kindName(kind) + ", got " + kindName(k));
    return false;
  }
  return true;
}

/** Rejects members not in `allowed`, so a typo never silently drops a condition. */
function onlyKeys(v: i32, allowed: Array<string>, path: i32): bool {
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    let known = false;
    for (let j = 0; j < allowed.length; j++) {
      if (is(k, unchecked(allowed[j]))) { known = true; break; }
    }
    if (!known) {
      fail(childNode(path, k), "unknown field (allowed: " + allowed.join(", ") + ")");
      return false;
    }
    k = nextOf(k + 1);
  }
  return true;
}

/** The member's value node, or -1 (and a failure) when it is missing. */
function requireMember(v: i32, key: string, path: i32): i32 {
  return required(get(v, key), key, path);
}

/** A member found by members(): fails when it is missing (-1). */
function required(m: i32, key: string, path: i32): i32 {
  if (m < 0) fail(child(path, key), "required field is missing");
  return m;
}

function getString(v: i32, path: i32): string {
  if (!expect(v, J_STRING, path)) return "";
  return T.str(v);
}

function getInt(v: i32, path: i32, min: f64, max: f64): i64 {
  if (!expect(v, J_NUMBER, path)) return 0;
  let n = T.num(v);
  if (n != Math.floor(n)) { fail(path, "expected an integer, got " + n.toString()); return 0; }
  if (n < min || n > max) { fail(path, "must be between " + min.toString() + " and " + max.toString() + ", got " + n.toString()); return 0; }
  return <i64>n;
}

function getPercent(v: i32, path: i32): u32 {
  if (!expect(v, J_NUMBER, path)) return 0;
  let n = T.num(v);
  if (!(n >= 0 && n <= 100)) { fail(path, "must be a percentage between 0 and 100"); return 0; }
  return <u32>Math.round(n * 10000);
}

function encode(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Decimal digits of a non-negative integer as bytes (a router header value). */
function decimalBytes(n: i64): ArrayBuffer {
  let digits = 1;
  for (let x = n; x >= 10; x /= 10) digits++;
  let out = new ArrayBuffer(digits);
  let p = changetype<usize>(out);
  let x = n;
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(p + <usize>i, <u8>(0x30 + <i32>(x % 10)));
    x /= 10;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validators, on the bytes of a string node. Each equals the string rule it replaced: the
// characters they accept are ASCII, and a UTF-8 byte ≥ 0x80 is never one of them.

function isHostChar(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d;
}

/** "*", "*.a.b" or "a.b": lower-case DNS labels, no port. */
function validHostName(n: i32): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  if (len == 1 && load<u8>(p) == 0x2a) return true;
  let start = 0;
  if (len >= 2 && load<u8>(p) == 0x2a && load<u8>(p, 1) == 0x2e) start = 2;
  if (len - start < 1 || len > 253) return false;
  let labelLen = 0;
  let prev = 0;
  for (let i = start; i < len; i++) {
    let c = <i32>load<u8>(p + <usize>i);
    if (c == 0x2e) {
      if (labelLen == 0 || prev == 0x2d) return false;
      labelLen = 0;
      prev = c;
      continue;
    }
    if (!isHostChar(c)) return false;
    if (labelLen == 0 && c == 0x2d) return false;
    labelLen++;
    if (labelLen > 63) return false;
    prev = c;
  }
  return labelLen > 0 && prev != 0x2d;
}

function isTokenChar(c: i32): bool {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) return true;
  // !#$%&'*+.^_`|~-
  return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2e || c == 0x5e ||
    c == 0x5f || c == 0x60 || c == 0x7c || c == 0x7e || c == 0x2d;
}

function validHeaderName(n: i32): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  let start = 0;
  if (len > 0 && load<u8>(p) == 0x3a) start = 1;
  if (len <= start) return false;
  for (let i = start; i < len; i++) if (!isTokenChar(<i32>load<u8>(p + <usize>i))) return false;
  return true;
}

/** No NUL, CR or LF. */
function validHeaderValue(n: i32): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) {
    let c = load<u8>(p + <usize>i);
    if (c == 0 || c == 0x0a || c == 0x0d) return false;
  }
  return true;
}

function validHeaderValueString(v: string): bool {
  for (let i = 0; i < v.length; i++) {
    let c = v.charCodeAt(i);
    if (c == 0 || c == 0x0a || c == 0x0d) return false;
  }
  return true;
}

function containsByte(n: i32, b: u8): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) if (load<u8>(p + <usize>i) == b) return true;
  return false;
}

/** The bytes of a string node, ASCII lower-cased. */
function lowerAsciiBytes(n: i32): ArrayBuffer {
  let b = T.bytes(n);
  let p = changetype<usize>(b);
  for (let i = 0; i < b.byteLength; i++) store<u8>(p + <usize>i, <u8>lowerAscii(load<u8>(p + <usize>i)));
  return b;
}

function validClusterName(n: i32): bool {
  let units = T.utf16Length(n);
  if (units == 0 || units > 512) return false;
  let len = lenOf(n);
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) if (load<u8>(p + <usize>i) <= 0x20) return false;
  return true;
}

function validVhostName(n: i32): bool {
  let len = lenOf(n);
  if (len == 0 || len > 128) return false;
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) {
    let c = <i32>load<u8>(p + <usize>i);
    let good = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      c == 0x5f || c == 0x2e || c == 0x3a || c == 0x2f || c == 0x2d;
    if (!good) return false;
  }
  return true;
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
    let shared = sharedBlock;
    // {"uri": {"exact"|"prefix": "<same bytes>"}}: exactly what the shared block was compiled from.
    if (shared !== null && kindOf(uri) == J_OBJECT && sizeOf(uri) == 1 && kindOf(uri + 2) == J_STRING) {
      let kind = -1;
      if (is(uri + 1, "prefix")) kind = M_PREFIX;
      else if (is(uri + 1, "exact")) kind = M_EXACT;
      let m = shared.uri;
      if (kind == sharedBlockKind && m !== null && equalsBuffer(uri + 2, m.value)) return shared;
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
      sharedBlock = block;
      sharedBlockKind = m.kind;
      sharedBlocks = null;
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
  if (count == 1 && shareDestination(v + 1, route)) return;
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
  if (count == 1 && dests[0].request === null && dests[0].response === null) sharedDests = dests;
}

/**
 * A lone destination {"cluster": <the shared one's bytes>, "weight"?: <its weight>} and nothing
 * else: the route takes the shared list (everything in it was validated when it was compiled).
 */
function shareDestination(d: i32, route: Route): bool {
  let shared = sharedDests;
  if (shared === null || kindOf(d) != J_OBJECT) return false;
  let dest = unchecked(shared[0]);
  let n = sizeOf(d);
  let cluster = get(d, "cluster");
  if (cluster < 0 || kindOf(cluster) != J_STRING || !equalsBuffer(cluster, dest.cluster)) return false;
  let weight = get(d, "weight");
  if (weight >= 0) {
    if (n != 2 || kindOf(weight) != J_NUMBER || T.num(weight) != <f64>dest.weight) return false;
  } else if (n != 1 || dest.weight != 100) {
    return false;
  }
  route.destinations = shared;
  route.totalWeight = dest.weight;
  return true;
}

function compileRedirect(v: i32, path: i32): Redirect | null {
  if (!expect(v, J_OBJECT, path)) return null;
  if (!onlyKeys(v, REDIRECT_KEYS, path)) return null;
  let r = new Redirect();
  if (sizeOf(v) == 0) { fail(path, "at least one of uri, authority, scheme, port is required"); return null; }
  let uri = get(v, "uri");
  if (uri >= 0) {
    let s = getString(uri, child(path, "uri"));
    if (ok() && !s.startsWith("/")) fail(child(path, "uri"), "must start with '/'");
    r.uri = encode(s);
    r.uriHasQuery = s.includes("?");
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

function compileRoute(v: i32, path: i32, table: RouteTable): Route | null {
  if (!expect(v, J_OBJECT, path)) return null;
  let slots = ROUTE_SLOTS;
  if (!members(v, ROUTE_KEYS, slots, path)) return null;
  // ROUTE_KEYS order: name, match, route, redirect, directResponse, rewrite, headers, fault, timeoutMs, retries
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
        let shared = sharedBlocks;
        if (b === sharedBlock && shared !== null) {
          route.blocks = shared;
        } else {
          let blocks = new StaticArray<MatchBlock>(1);
          unchecked(blocks[0] = b);
          route.blocks = blocks;
          if (b === sharedBlock) sharedBlocks = blocks;
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
        if (ms != sharedTimeoutMs || sharedTimeoutValues === null) {
          let values = new Array<ArrayBuffer>(1);
          unchecked(values[0] = decimalBytes(ms));
          sharedTimeoutValues = values;
          sharedTimeoutMs = ms;
        }
        route.routerKeys = TIMEOUT_KEYS;
        route.routerValues = sharedTimeoutValues!;
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

/** "virtualHosts[i].domains[j]" of the first domain whose bytes are [ptr, ptr+len). */
function firstUse(ptr: usize, len: i32): string {
  let count = sizeOf(vhostsNode);
  let vh = vhostsNode + 1;
  for (let i = 0; i < count; i++) {
    let d = get(vh, "domains");
    if (d >= 0 && kindOf(d) == J_ARRAY) {
      let n = sizeOf(d);
      let item = d + 1;
      for (let j = 0; j < n; j++) {
        if (kindOf(item) == J_STRING && T.equals(item, ptr, len)) {
          return "virtualHosts[" + i.toString() + "].domains[" + j.toString() + "]";
        }
        item = nextOf(item);
      }
    }
    vh = nextOf(vh);
  }
  return "?";
}

const DOMAIN_EXACT: u8 = 0;
const DOMAIN_WILDCARD: u8 = 1;
const DOMAIN_CATCH_ALL: u8 = 2;
const CATCH_ALL_KEY = "*";

/**
 * Puts a domain into the table's lookup: its map key (the name; a wildcard's suffix after "*.")
 * by kind. One hash per domain: set, and a map that did not grow already had the name (the table
 * is then rejected, so the overwritten entry does not matter). True when it was taken.
 */
function insertDomain(table: RouteTable, kind: u8, key: string, vh: VirtualHost): bool {
  if (kind == DOMAIN_CATCH_ALL) {
    if (table.catchAll !== null) return true;
    table.catchAll = vh;
    return false;
  }
  if (kind == DOMAIN_WILDCARD) {
    let wildcard = table.wildcard;
    let before = wildcard.size;
    wildcard.set(key, vh);
    return wildcard.size == before;
  }
  let exact = table.exact;
  let before = exact.size;
  exact.set(key, vh);
  return exact.size == before;
}

function addDomain(table: RouteTable, d: i32, vh: VirtualHost, path: i32): void {
  if (!validHostName(d)) {
    fail(path, "invalid domain \"" + T.str(d) + "\" (lower-case DNS name, \"*.suffix\" or \"*\"; no port)");
    return;
  }
  let p = ptrOf(d);
  let len = lenOf(d);
  let kind = DOMAIN_EXACT;
  let key: string;
  if (len == 1 && load<u8>(p) == 0x2a) {
    kind = DOMAIN_CATCH_ALL;
    key = CATCH_ALL_KEY;
  } else if (len >= 2 && load<u8>(p) == 0x2a) {
    kind = DOMAIN_WILDCARD;
    key = String.UTF8.decodeUnsafe(p + 2, <usize>(len - 2));
  } else {
    key = T.str(d);
  }
  recKinds.push(kind);
  recKeys.push(key);
  // Compiling one virtual host on its own (compileChanged): the domains go into the lookup when
  // the table is assembled.
  if (deferDomains) return;
  if (insertDomain(table, kind, key, vh)) fail(path, "domain \"" + T.str(d) + "\" is already used by " + firstUse(p, len));
}

function compileVirtualHost(v: i32, path: i32, table: RouteTable): void {
  if (!expect(v, J_OBJECT, path)) return;
  let slots = VHOST_SLOTS;
  if (!members(v, VHOST_KEYS, slots, path)) return;
  // VHOST_KEYS order: name, domains, routes
  let n = required(unchecked(slots[0]), "name", path);
  let d = required(unchecked(slots[1]), "domains", path);
  let r = required(unchecked(slots[2]), "routes", path);
  if (n < 0 || d < 0 || r < 0) return;
  let np = child(path, "name");
  if (!expect(n, J_STRING, np)) return;
  if (!validVhostName(n)) { fail(np, "must be 1-128 characters of [A-Za-z0-9_.:/-]"); return; }
  let vh = new VirtualHost(T.str(n));
  let rp = child(path, "routes");
  if (!expect(r, J_ARRAY, rp)) return;
  let routeCount = sizeOf(r);
  let routes = new StaticArray<Route>(routeCount);
  vh.routes = routes;
  let item = r + 1;
  for (let i = 0; i < routeCount; i++) {
    let route = compileRoute(item, index(rp, i), table);
    if (route === null) return;
    unchecked(routes[i] = route);
    item = nextOf(item);
  }
  table.routeCount += routeCount;
  let dp = child(path, "domains");
  if (!expect(d, J_ARRAY, dp)) return;
  let domainCount = sizeOf(d);
  if (domainCount == 0) { fail(dp, "at least one domain is required"); return; }
  item = d + 1;
  for (let i = 0; i < domainCount; i++) {
    let p = index(dp, i);
    if (!expect(item, J_STRING, p)) return;
    addDomain(table, item, vh, p);
    if (!ok()) return;
    item = nextOf(item);
  }
  table.virtualHostCount++;
  recVhosts.push(vh);
  recKeyEnds.push(recKeys.count);
}

function compileAmbiguous(v: i32, path: i32, table: RouteTable): void {
  if (!expect(v, J_ARRAY, path)) return;
  let count = sizeOf(v);
  let a = v + 1;
  let mark = segTop;
  for (let i = 0; i < count; i++) {
    segTop = mark;
    let p = index(path, i);
    if (!expect(a, J_OBJECT, p) || !onlyKeys(a, AMBIGUOUS_KEYS, p)) return;
    let h = requireMember(a, "host", p);
    let c = requireMember(a, "candidates", p);
    if (h < 0 || c < 0) return;
    let hp = child(p, "host");
    let host = getString(h, hp);
    if (!ok()) return;
    if (!validHostName(h) || host.startsWith("*")) { fail(hp, "invalid host name \"" + host + "\""); return; }
    let cp = child(p, "candidates");
    if (!expect(c, J_ARRAY, cp)) return;
    let names = new Array<string>();
    let n = sizeOf(c);
    let item = c + 1;
    for (let j = 0; j < n; j++) {
      let s = getString(item, index(cp, j));
      if (!ok()) return;
      names.push(s);
      item = nextOf(item);
    }
    if (names.length < 2) { fail(cp, "an ambiguous host needs at least 2 candidates"); return; }
    table.ambiguous.set(host, encode("canal: host \"" + host + "\" is ambiguous: " + names.join(", ") +
      "; use the namespace-qualified name\n"));
    a = nextOf(a);
  }
}

let lastError: string = "";

/** The reason the last compileTable call returned null. */
export function compileError(): string {
  return lastError;
}

/**
 * Parses and validates a route table. An empty document is the empty table. A VM without a cache
 * may accept it on the shared entry's fast path (compileFromShared): the table it returns is then
 * a placeholder (RouteTable.lazy holds the document) that must be completed by compileWhole
 * before it routes anything.
 */
export function compileTable(bytes: ArrayBuffer): RouteTable | null {
  return compileWith(bytes, true);
}

/** The whole compile of `bytes`, nothing reused (a placeholder's completion). */
export function compileWhole(bytes: ArrayBuffer): RouteTable | null {
  return compileWith(bytes, false);
}

function compileWith(bytes: ArrayBuffer, reuse: bool): RouteTable | null {
  error = "";
  compiledCount = 0;
  incremental = false;
  fromShared = false;
  sharedOutcome = "";
  SEGMENTS.reused = 0;
  SEGMENTS.collisions = 0;
  cacheBuiltAtConfigure = -1;
  if (bytes.byteLength == 0) {
    let table = new RouteTable();
    table.version = "empty";
    table.versionBytes = encode("empty");
    lastError = "";
    setCache(null);
    pending = null;
    return table;
  }
  resetShared();
  clearRecord();
  // The previous table was compiled whole and no tick has made its cache yet (buildPendingCache):
  // make it now. A VM that never configures again nor ticks, like Envoy's canary clone, never
  // pays for it.
  let table: RouteTable | null = null;
  if (reuse) {
    cacheBuiltAtConfigure = buildPendingCache();
    let previous = cache;
    if (previous !== null) {
      if (scanDocument(changetype<usize>(bytes), bytes.byteLength, previous)) {
        table = compileChanged(bytes, previous);
        if (table !== null) incremental = true;
      }
    } else {
      // No cache (a fresh VM: Envoy's canary clone on every update): the shared entry.
      table = compileFromShared(bytes);
      if (table !== null) fromShared = true;
    }
  } else {
    pending = null; // replaced below; not worth making a cache of
  }
  if (table === null) {
    // The whole document, as it always was: the verdict and the message of every rejected table
    // come from here.
    clearRecord();
    SEGMENTS.reused = 0;
    SEGMENTS.collisions = 0;
    let whole = new RouteTable();
    if (compileBytes(whole, bytes, -1)) {
      table = whole;
      compiledCount = whole.virtualHostCount;
      // What the cache needs, kept as recorded (the record lists are handed over).
      setCache(null);
      pending = new Pending(bytes, recVhosts, recKeys, recKinds, recKeyEnds);
      recVhosts = new Grow<VirtualHost>();
      recKeys = new Grow<string>();
      recKinds = new Grow<u8>();
      recKeyEnds = new Grow<i32>();
    }
  }
  resetShared();
  clearRecord();
  return table;
}

/**
 * Parses `bytes` and compiles it: the whole document (vhostIndex < 0), or one element of the
 * virtualHosts array on its own (its index only names it in messages). False with lastError set
 * when it fails.
 */
function compileBytes(table: RouteTable, bytes: ArrayBuffer, vhostIndex: i32): bool {
  let tape = parseJson(bytes);
  if (tape === null) {
    lastError = jsonError();
    return false;
  }
  T = tape;
  NB = changetype<usize>(tape.nodes);
  segTop = 1;
  if (vhostIndex < 0) compileDocument(0, table);
  else compileVirtualHost(0, index(child(ROOT, "virtualHosts"), vhostIndex), table);
  // Drop the document (and its input) now rather than at the next configure.
  T = NO_TAPE;
  NB = 0;
  releaseTape(tape);
  vhostsNode = -1;
  segTop = 1;
  lastError = error;
  error = "";
  return lastError.length == 0;
}

// ---------------------------------------------------------------------------------------------
// Incremental configure. A VM keeps the last accepted document and, per element of its
// virtualHosts array, the element's bytes (a span of that document) and what compiling it made:
// the VirtualHost (routes and all) and its domains as lookup keys (reuse.ts). A new document is
// segmented and each element matched against them by its bytes (reuse.ts: a hash finds
// candidates, the bytes decide); the unchanged ones take the cached VirtualHost, the others are
// parsed and compiled on their own by the same code as always, the rest of the document is
// compiled as a document whose virtualHosts array is empty, and the lookups are rebuilt with the
// same duplicate checks. Any failure on this path returns null and the whole document is compiled
// as before, so rejections (and their messages) never come from here; it only accepts what the
// whole compile would accept, with the same lookups. A whole compile only records what the cache
// needs (the virtual hosts and their keys, in flat lists sized up front); the cache is made from
// that at the VM's next configure, so a VM that configures once (Envoy's canary clone, on every
// update) does not pay for it. Compiled parts are immutable (table.ts; the
// metric ids are per VM and name), so the old table (in-flight requests) and the new one share
// them safely.

/** What compileVirtualHost produced, in document order, during one compile. */
let recVhosts = new Grow<VirtualHost>();
/** Every virtual host's lookup keys and their kinds (DOMAIN_*); recKeyEnds[i] ends host i's. */
let recKeys = new Grow<string>();
let recKinds = new Grow<u8>();
let recKeyEnds = new Grow<i32>();

/** Empties the record (the references stay until overwritten; reset() would drop them). */
function clearRecord(): void {
  recVhosts.count = 0;
  recKeys.count = 0;
  recKinds.count = 0;
  recKeyEnds.count = 0;
}

/** A whole compile's record and its document: the cache, when the VM configures again. */
class Pending {
  constructor(
    public bytes: ArrayBuffer,
    public vhosts: Grow<VirtualHost>,
    public keys: Grow<string>,
    public kinds: Grow<u8>,
    public keyEnds: Grow<i32>,
  ) {}

  /** The cache entry of virtual host j (its keys copied out of the flat lists). */
  entry(j: i32): CachedVhost {
    let start = 0;
    if (j > 0) start = this.keyEnds.at(j - 1);
    let n = this.keyEnds.at(j) - start;
    let keys = new StaticArray<string>(n);
    let kinds = new StaticArray<u8>(n);
    for (let m = 0; m < n; m++) {
      unchecked(keys[m] = this.keys.at(start + m));
      unchecked(kinds[m] = this.kinds.at(start + m));
    }
    let vh = this.vhosts.at(j);
    return new CachedVhost(vh, keys, kinds, vhostHasDelays(vh));
  }
}

/**
 * Makes the cache from a pending whole compile's record: -1 when nothing was pending, else the
 * number of virtual hosts in it. contexts.ts calls it from the root context's tick, which it asks
 * for after a whole compile, so this work leaves the configure (and Envoy's ACK) behind;
 * compileTable calls it first when no tick came in between.
 */
export function buildPendingCache(): i32 {
  let held = pending;
  if (held === null) return -1;
  let n = held.vhosts.count;
  setCache(cacheFrom(held));
  pending = null;
  return n;
}

/** Every new cache gets a serial number; the shared entry was last written from writtenSerial's. */
let cacheSerial: i32 = 0;
let writtenSerial: i32 = 0;

function setCache(c: VhostCache | null): void {
  cache = c;
  cacheSerial++;
}

/** Whether the cache holds a table whose shared entry this VM has not written yet. */
export function entryUnwritten(): bool {
  return cache !== null && writtenSerial != cacheSerial;
}

/**
 * Writes the shared entry from the cache (contexts.ts calls it from a tick after every accepted
 * table, so it costs no configure): its size in bytes, 0 when another VM had written this
 * table already, or -1 when there was nothing to write.
 */
export function writeSharedEntry(): i32 {
  let c = cache;
  if (c === null || writtenSerial == cacheSerial) return -1;
  writtenSerial = cacheSerial;
  return writeEntry(c);
}

/** Whether a whole compile's record waits for buildPendingCache. */
export function cachePending(): bool {
  return pending !== null;
}

/** What buildPendingCache returned at the start of the last compileTable (-1: nothing pending). */
export function cacheBuiltByConfigure(): i32 {
  return cacheBuiltAtConfigure;
}

/** The cache for a pending whole compile; null when its document does not segment. */
function cacheFrom(p: Pending): VhostCache | null {
  let bytes = p.bytes;
  let n = p.vhosts.count;
  if (!scanDocument(changetype<usize>(bytes), bytes.byteLength, null) || SEGMENTS.starts.count != n) return null;
  let c = cacheOfSegments(bytes);
  let entries = c.entries;
  for (let i = 0; i < n; i++) unchecked(entries[i] = p.entry(i));
  return c;
}

/** Compiling one element on its own: addDomain records the domains but does not insert them. */
let deferDomains = false;

/** The cache of the last accepted table (null: none, e.g. a fresh VM). */
let cache: VhostCache | null = null;
/** Or, after a whole compile, what it is made from (see compileTable). */
let pending: Pending | null = null;
let compiledCount: i32 = 0;
let incremental = false;
let fromShared = false;
/** What the shared entry did in the last compileTable ("" when it was not consulted). */
let sharedOutcome: string = "";
let cacheBuiltAtConfigure: i32 = -1;

/** Virtual hosts the last compileTable took from the previous table unchanged. */
export function reusedVirtualHosts(): i32 {
  return SEGMENTS.reused;
}

/** Virtual hosts the last compileTable compiled (all of them when it compiled the whole document). */
export function compiledVirtualHosts(): i32 {
  return compiledCount;
}

/** Cache candidates the last compileTable found by hash and length whose bytes differed. */
export function hashCollisions(): i32 {
  return SEGMENTS.collisions;
}

/** Whether the last compileTable accepted its table on the shared entry's fast path (a placeholder). */
export function compiledFromShared(): bool {
  return fromShared;
}

/**
 * What the shared entry did in the last compileTable: "" (not consulted: the VM had a cache),
 * "taken", "none" (no entry), "invalid" (an entry that failed a check), "same" (the document is
 * the entry's: compiled whole), "declined" (something on the fast path failed: compiled whole).
 */
export function sharedEntryOutcome(): string {
  return sharedOutcome;
}

/** Whether the last compileTable took the incremental path. */
export function compiledIncrementally(): bool {
  return incremental;
}

/** Whether any route of vh has a fault delay (what sets RouteTable.hasDelays). */
function vhostHasDelays(vh: VirtualHost): bool {
  let routes = vh.routes;
  for (let i = 0; i < routes.length; i++) {
    let r = unchecked(routes[i]);
    if (r.delayPpm > 0 && r.delayMs > 0) return true;
  }
  return false;
}

/** Everything but the virtual hosts, with today's checks: the document (as segmented) with an empty array. */
function compileSkeleton(bytes: ArrayBuffer): RouteTable | null {
  let segments = SEGMENTS;
  let base = changetype<usize>(bytes);
  let len = bytes.byteLength;
  let open = segments.open + 1;
  let skeleton = new ArrayBuffer(open + len - segments.close);
  memory.copy(changetype<usize>(skeleton), base, <usize>open);
  memory.copy(changetype<usize>(skeleton) + <usize>open, base + <usize>segments.close, <usize>(len - segments.close));
  let table = new RouteTable();
  if (!compileBytes(table, skeleton, -1)) return null;
  return table;
}

/**
 * Element i of the segmented document compiled on its own (domains recorded, not inserted):
 * its cache entry, or null when it fails (lastError set).
 */
function compileElement(bytes: ArrayBuffer, i: i32, scratch: RouteTable): CachedVhost | null {
  let segments = SEGMENTS;
  let l = segments.lengths.at(i);
  let piece = new ArrayBuffer(l);
  memory.copy(changetype<usize>(piece), changetype<usize>(bytes) + <usize>segments.starts.at(i), <usize>l);
  clearRecord();
  deferDomains = true;
  let good = compileBytes(scratch, piece, i) && recVhosts.count == 1;
  deferDomains = false;
  if (!good) return null;
  let rec = new Pending(piece, recVhosts, recKeys, recKinds, recKeyEnds);
  let entry = rec.entry(0);
  return entry;
}

/** The table from the cache and the changed elements; null to compile the whole document instead. */
function compileChanged(bytes: ArrayBuffer, old: VhostCache): RouteTable | null {
  let segments = SEGMENTS;
  let n = segments.starts.count;
  let table = compileSkeleton(bytes);
  if (table === null) return null;
  // The new cache: each element's entry is the old one when its bytes are unchanged, else it is
  // compiled on its own (domains recorded, not inserted: that comes next, for all of them).
  let next = cacheOfSegments(bytes);
  let entries = next.entries;
  let scratch = new RouteTable();
  let domains = 0;
  for (let i = 0; i < n; i++) {
    let src = segments.sources.at(i);
    if (src >= 0) {
      let entry = unchecked(old.entries[src]);
      unchecked(entries[i] = entry);
      domains += entry.keys.length;
      continue;
    }
    let entry = compileElement(bytes, i, scratch);
    if (entry === null) return null;
    unchecked(entries[i] = entry);
    domains += entry.keys.length;
    compiledCount++;
  }
  // The lookups, with the whole compile's duplicate checks (a failure: the whole compile reports it).
  sizeExact(table, domains);
  for (let i = 0; i < n; i++) {
    let entry = unchecked(entries[i]);
    let vh = entry.vh;
    let keys = entry.keys;
    let kinds = entry.kinds;
    for (let m = 0; m < keys.length; m++) {
      if (insertDomain(table, unchecked(kinds[m]), unchecked(keys[m]), vh)) return null;
    }
    table.routeCount += vh.routes.length;
    if (entry.hasDelays) table.hasDelays = true;
  }
  table.virtualHostCount = n;
  let ambiguous = table.ambiguous.keys();
  for (let i = 0; i < ambiguous.length; i++) {
    if (table.exact.has(ambiguous[i])) return null;
  }
  setCache(next);
  lastError = "";
  return table;
}

// ---------------------------------------------------------------------------------------------
// The canary's fast path (docs/filter.md). A VM without a cache (a fresh one: Envoy's canary clone
// on every update) reads the shared entry (shared.ts: the last document a VM of this build
// accepted, with each element's span and lookup keys), segments the new document against it,
// compiles the skeleton and the changed elements as compileChanged does, and runs the lookups'
// checks (a domain used twice, a second catch-all, an ambiguous host that is also a domain) on
// the unchanged elements' stored keys and the changed ones' recorded keys. If everything passes,
// the table is accepted without compiling the unchanged elements: each is byte-identical to an
// element of a document this build accepted, and compiling an element depends on nothing but its
// bytes, so it compiles again; the checks across elements are the ones done here. The result is
// a placeholder (RouteTable.lazy): contexts.ts completes it with the whole compile at the first
// tick, request or configure, whichever comes first; Envoy's canary is destroyed before any of
// them. Anything unexpected, and every failure, returns null: the whole compile decides (and
// words every rejection). A document byte-identical to the entry's is compiled whole too: that
// is the VM that wrote it, or a VM Envoy keeps being given the table the canary just accepted.

function compileFromShared(bytes: ArrayBuffer): RouteTable | null {
  let entry = readEntry();
  if (entry === null) {
    sharedOutcome = entryProblem();
    return null;
  }
  let base = changetype<usize>(bytes);
  let len = bytes.byteLength;
  if (entry.docLength == len && bytesEqual(entry.doc, base, len)) {
    sharedOutcome = "same";
    return null;
  }
  sharedOutcome = "declined";
  if (!scanDocument(base, len, entry.view())) return null;
  let table = compileSkeleton(bytes);
  if (table === null) return null;
  let segments = SEGMENTS;
  let n = segments.starts.count;
  // The changed elements, compiled; the routes, delays and number of keys of all.
  let changed = new StaticArray<CachedVhost | null>(n);
  let scratch = new RouteTable();
  let routes = 0;
  let delays = false;
  let keyCount = 0;
  let changedChars = 0;
  for (let i = 0; i < n; i++) {
    let src = segments.sources.at(i);
    if (src >= 0) {
      routes += entry.routeCount(src);
      if (entry.hasDelays(src)) delays = true;
      keyCount += entry.keysEnd(src) - entry.keysStart(src);
      continue;
    }
    let compiled = compileElement(bytes, i, scratch);
    if (compiled === null) return null;
    routes += compiled.vh.routes.length;
    if (compiled.hasDelays) delays = true;
    let keys = compiled.keys;
    keyCount += keys.length;
    for (let m = 0; m < keys.length; m++) changedChars += unchecked(keys[m]).length;
    unchecked(changed[i] = compiled);
    compiledCount++;
  }
  // The lookups' checks, on bytes: the stored keys in place, the changed ones' keys copied out
  // (validated host names are ASCII; anything else is left to the whole compile).
  let set = new KeySet(keyCount);
  let chars = new ArrayBuffer(changedChars);
  let c = changetype<usize>(chars);
  let catchAlls = 0;
  for (let i = 0; i < n; i++) {
    let src = segments.sources.at(i);
    if (src >= 0) {
      let end = entry.keysEnd(src);
      for (let m = entry.keysStart(src); m < end; m++) {
        let kind = entry.keyKind(m);
        if (kind == DOMAIN_CATCH_ALL) catchAlls++;
        else if (!set.add(kind, entry.keyPtr(m), entry.keyEnd(m) - entry.keyStart(m))) return null;
      }
      continue;
    }
    let compiled = unchecked(changed[i])!;
    let keys = compiled.keys;
    let kinds = compiled.kinds;
    for (let m = 0; m < keys.length; m++) {
      let kind = unchecked(kinds[m]);
      if (kind == DOMAIN_CATCH_ALL) {
        catchAlls++;
        continue;
      }
      let key = unchecked(keys[m]);
      let kl = asciiInto(key, c);
      if (kl < 0 || !set.add(kind, c, kl)) return null;
      c += <usize>kl;
    }
  }
  if (catchAlls > 1) return null;
  let ambiguous = table.ambiguous.keys();
  for (let i = 0; i < ambiguous.length; i++) {
    let host = String.UTF8.encode(ambiguous[i]);
    if (set.has(DOMAIN_EXACT, changetype<usize>(host), host.byteLength)) return null;
  }
  // Accepted: a placeholder with what the log line and the tick period need.
  table.virtualHostCount = n;
  table.routeCount = routes;
  table.hasDelays = delays;
  table.lazy = bytes;
  sharedOutcome = "taken";
  lastError = "";
  return table;
}

/**
 * Sizes the exact-domain map for every domain of the table up front, so it does not grow (and
 * rehash every key) a dozen times while 40,000 domains go in. AS 0.17's Map has no capacity
 * argument; its (unenforced) private rehash(bucketsMask) makes room for bucketsMask+1 buckets
 * and 8/3 entries per bucket (std/assembly/map.ts of the pinned assemblyscript 0.17.14).
 */
function presizeExact(table: RouteTable, vhs: i32, count: i32): void {
  let domains = 0;
  let vh = vhs + 1;
  for (let i = 0; i < count; i++) {
    if (kindOf(vh) == J_OBJECT) {
      let d = get(vh, "domains");
      if (d >= 0 && kindOf(d) == J_ARRAY) domains += sizeOf(d);
    }
    vh = nextOf(vh);
  }
  sizeExact(table, domains);
  // The record (for the cache) gets its room up front too.
  recKeys.reserve(recKeys.count + domains);
  recKinds.reserve(recKinds.count + domains);
}

function sizeExact(table: RouteTable, domains: i32): void {
  let buckets: u32 = 4;
  while (<i64>buckets * 8 / 3 < <i64>domains) buckets <<= 1;
  if (buckets > 4) table.exact.rehash(buckets - 1);
}

function compileDocument(doc: i32, table: RouteTable): void {
  if (!expect(doc, J_OBJECT, child(ROOT, "(table)"))) return;
  if (!onlyKeys(doc, TOP_KEYS, ROOT)) return;
  let f = requireMember(doc, "format", ROOT);
  let ver = requireMember(doc, "version", ROOT);
  let vhs = requireMember(doc, "virtualHosts", ROOT);
  if (f < 0 || ver < 0 || vhs < 0) return;
  if (kindOf(f) != J_NUMBER || T.num(f) != FORMAT) {
    fail(child(ROOT, "format"), "unsupported table format (this filter reads format 1)");
    return;
  }
  table.version = getString(ver, child(ROOT, "version"));
  if (!ok()) return;
  if (table.version.length == 0 || table.version.length > 128 || !validHeaderValueString(table.version)) {
    fail(child(ROOT, "version"), "must be 1-128 printable characters");
    return;
  }
  table.versionBytes = encode(table.version);
  let vp = child(ROOT, "virtualHosts");
  if (!expect(vhs, J_ARRAY, vp)) return;
  vhostsNode = vhs;
  let count = sizeOf(vhs);
  presizeExact(table, vhs, count);
  recVhosts.reserve(count);
  recKeyEnds.reserve(count);
  let item = vhs + 1;
  let mark = segTop;
  for (let i = 0; i < count; i++) {
    segTop = mark; // the previous virtual host's path segments are no longer needed
    compileVirtualHost(item, index(vp, i), table);
    if (!ok()) return;
    item = nextOf(item);
  }
  segTop = mark;
  let amb = get(doc, "ambiguousHosts");
  if (amb >= 0) compileAmbiguous(amb, child(ROOT, "ambiguousHosts"), table);
  if (!ok()) return;
  let keys = table.ambiguous.keys();
  for (let i = 0; i < keys.length; i++) {
    let key = keys[i];
    if (table.exact.has(key)) {
      let bytes = encode(key);
      fail(child(ROOT, "ambiguousHosts"), "host \"" + key + "\" is also a domain of " + firstUse(changetype<usize>(bytes), bytes.byteLength));
      return;
    }
  }
}
