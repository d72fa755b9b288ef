// The per-request view of the request headers the router reads. All of them come from one host
// call (proxy_get_header_map_pairs) per request: :path and :authority are needed by every request,
// and the other headers a route may ask about (method, scheme, header conditions) are then read from
// the same copy instead of one host call each (docs/benchmarks.md, "Canal's per-request cost").
import { getHeaderPairs, REQUEST_HEADERS } from "../host";
import { StringMatcher, lowerAscii } from "../matcher";

const REQ = REQUEST_HEADERS;
export const KEY_PATH = String.UTF8.encode(":path");
export const KEY_AUTHORITY = String.UTF8.encode(":authority");
export const KEY_METHOD = String.UTF8.encode(":method");
export const KEY_SCHEME = String.UTF8.encode(":scheme");

/** Hosts longer than a DNS name can be never match a virtual host; no need to look them up. */
const MAX_HOST: i32 = 253;

const EMPTY = new ArrayBuffer(0);

/** A copy of `len` bytes at `ptr` (the shared empty buffer for none). */
function copyOut(ptr: usize, len: usize): ArrayBuffer {
  if (len == 0) return EMPTY;
  let out = new ArrayBuffer(<i32>len);
  memory.copy(changetype<usize>(out), ptr, len);
  return out;
}

export class RequestView {
  path: ArrayBuffer;
  /** Bytes of path before '?' or '#'. */
  pathLength: i32;
  /** Index of '?' in path, or -1. */
  queryStart: i32 = -1;
  authority: ArrayBuffer;
  /** Lower-cased host without port; "" when it cannot name a virtual host. */
  host: string = "";
  private method: ArrayBuffer | null = null;
  private scheme: ArrayBuffer | null = null;
  /** The request's header pairs as the host serialized them (see checkPairs), read once per request. */
  private pairs: ArrayBuffer = EMPTY;
  /** Header count of `pairs`; 0 when the host's buffer was empty or malformed. */
  private count: usize = 0;

  constructor() {
    this.path = EMPTY;
    this.authority = EMPTY;
    this.pathLength = 0;
  }

  /**
   * Reads the current request's headers into this view, forgetting the previous request's. One
   * view serves every request (contexts.ts): the VM is single threaded and a view is used only
   * within the onRequestHeaders call that read it, so no request allocates one.
   */
  read(): void {
    this.method = null;
    this.scheme = null;
    this.queryStart = -1;
    let pairs = getHeaderPairs(REQ);
    this.pairs = pairs;
    this.count = checkPairs(pairs);
    this.path = this.value(KEY_PATH);
    this.authority = this.value(KEY_AUTHORITY);
    this.pathLength = this.path.byteLength;
    let p = changetype<usize>(this.path);
    for (let i = 0; i < this.path.byteLength; i++) {
      let c = load<u8>(p + <usize>i);
      if (c == 0x3f || c == 0x23) {
        this.pathLength = i;
        if (c == 0x3f) this.queryStart = i;
        break;
      }
    }
    this.host = normalizeHost(this.authority);
  }

  /** The first value of header `name` (lower case), copied; empty when absent. */
  private value(name: ArrayBuffer): ArrayBuffer {
    let at = findValue(this.pairs, this.count, name);
    if (at == 0) return EMPTY;
    return copyOut(changetype<usize>(this.pairs) + at, foundLength);
  }

  getMethod(): ArrayBuffer {
    let m = this.method;
    if (m === null) {
      m = this.value(KEY_METHOD);
      this.method = m;
    }
    return m;
  }

  getScheme(): ArrayBuffer {
    let s = this.scheme;
    if (s === null) {
      s = this.value(KEY_SCHEME);
      this.scheme = s;
    }
    return s;
  }

  /** Whether request header `name` (lower case) is present. */
  hasHeader(name: ArrayBuffer): bool {
    return findValue(this.pairs, this.count, name) != 0;
  }

  /**
   * Whether any value of request header `name` (lower case) satisfies `m`: Envoy 1.40's header
   * matchers match a repeated header when any of its values does (and `invert_match` when none
   * does), checked against native route config in test/security/filter-envoy-semantics.test.ts.
   */
  headerMatch(name: ArrayBuffer, m: StringMatcher): i32 {
    return matchValues(this.pairs, this.count, name, m);
  }

  /** End of the query string: the first '#' after '?', or the end of the path. */
  queryEnd(): i32 {
    let p = changetype<usize>(this.path);
    for (let i = this.queryStart + 1; i < this.path.byteLength; i++) {
      if (load<u8>(p + <usize>i) == 0x23) return i;
    }
    return this.path.byteLength;
  }
}

/**
 * ":authority" → lower-case host without port. "[v6]:port" keeps the bracketed address. Returns
 * "" for anything that is not plain printable ASCII or is too long to be a host name.
 */
export function normalizeHost(authority: ArrayBuffer): string {
  let p = changetype<usize>(authority);
  let len = authority.byteLength;
  let end = len;
  if (len > 0 && load<u8>(p) == 0x5b) {
    end = -1;
    for (let i = 1; i < len; i++) if (load<u8>(p + <usize>i) == 0x5d) { end = i + 1; break; }
    if (end < 0) return "";
  } else {
    for (let i = len - 1; i >= 0; i--) {
      let c = load<u8>(p + <usize>i);
      if (c == 0x3a) { end = i; break; }
      if (c < 0x30 || c > 0x39) break;
    }
  }
  if (end == 0 || end > MAX_HOST) return "";
  let upper = false;
  for (let i = 0; i < end; i++) {
    let c = load<u8>(p + <usize>i);
    if (c <= 0x20 || c >= 0x7f) return "";
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  if (!upper) return String.UTF8.decodeUnsafe(p, <usize>end);
  let lower = new ArrayBuffer(end);
  let q = changetype<usize>(lower);
  for (let i = 0; i < end; i++) store<u8>(q + <usize>i, <u8>lowerAscii(load<u8>(p + <usize>i)));
  return String.UTF8.decodeUnsafe(q, <usize>end);
}

/** headerMatch results. */
export const HEADER_ABSENT: i32 = -1;
export const HEADER_NO_MATCH: i32 = 0;
export const HEADER_MATCH: i32 = 1;

/**
 * The header count of serialized pairs (u32 count, count x (u32 key size, u32 value size), then
 * each key and value NUL-terminated), after checking every size against the buffer, so a bad
 * buffer from the host never traps: it reads as no headers at all (0).
 */
function checkPairs(pairs: ArrayBuffer): usize {
  let size = <usize>pairs.byteLength;
  if (size < 4) return 0;
  let p = changetype<usize>(pairs);
  let count = <usize>load<u32>(p);
  if (count > (size - 4) / 8) return 0;
  let data: usize = 4 + count * 8;
  for (let i: usize = 0; i < count; i++) {
    let k = <usize>load<u32>(p + 4 + i * 8);
    let v = <usize>load<u32>(p + 8 + i * 8);
    if (k > size || v > size || data + k + v + 2 > size) return 0;
    data += k + v + 2;
  }
  return count;
}

/** The value length of the last findValue that found one. */
let foundLength: usize = 0;

/**
 * Offset in checked pairs of the first value of header `name`, its length in foundLength; 0 when
 * absent (no value starts at 0: the count comes first).
 */
function findValue(pairs: ArrayBuffer, count: usize, name: ArrayBuffer): usize {
  let p = changetype<usize>(pairs);
  let nameLen = <usize>name.byteLength;
  let np = changetype<usize>(name);
  let data: usize = 4 + count * 8;
  for (let i: usize = 0; i < count; i++) {
    let k = <usize>load<u32>(p + 4 + i * 8);
    let v = <usize>load<u32>(p + 8 + i * 8);
    if (k == nameLen && memory.compare(p + data, np, nameLen) == 0) {
      foundLength = v;
      return data + k + 1;
    }
    data += k + v + 2;
  }
  return 0;
}

/** Whether any value of `name` in checked pairs satisfies `m`, compared in place. */
function matchValues(pairs: ArrayBuffer, count: usize, name: ArrayBuffer, m: StringMatcher): i32 {
  let p = changetype<usize>(pairs);
  let nameLen = <usize>name.byteLength;
  let np = changetype<usize>(name);
  let found = false;
  let data: usize = 4 + count * 8;
  for (let i: usize = 0; i < count; i++) {
    let k = <usize>load<u32>(p + 4 + i * 8);
    let v = <usize>load<u32>(p + 8 + i * 8);
    if (k == nameLen && memory.compare(p + data, np, nameLen) == 0) {
      if (m.matches(p + data + k + 1, <i32>v)) return HEADER_MATCH;
      found = true;
    }
    data += k + v + 2;
  }
  return found ? HEADER_NO_MATCH : HEADER_ABSENT;
}
