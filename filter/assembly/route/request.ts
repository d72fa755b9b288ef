// The per-request view of the request headers the router reads. Pseudo-headers are fetched once;
// everything else is fetched only when a match condition asks for it.
import { getHeader, getHeaderPairs, REQUEST_HEADERS } from "../host";
import { StringMatcher, lowerAscii } from "../matcher";

const REQ = REQUEST_HEADERS;
export const KEY_PATH = String.UTF8.encode(":path");
export const KEY_AUTHORITY = String.UTF8.encode(":authority");
export const KEY_METHOD = String.UTF8.encode(":method");
export const KEY_SCHEME = String.UTF8.encode(":scheme");

/** Hosts longer than a DNS name can be never match a virtual host; no need to look them up. */
const MAX_HOST: i32 = 253;

const EMPTY = new ArrayBuffer(0);

function headerOrEmpty(key: ArrayBuffer): ArrayBuffer {
  let v = getHeader(REQ, key);
  if (v === null) return EMPTY;
  return v;
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
  /** The request's header pairs, fetched on the first header value match (headerValue). */
  private pairs: ArrayBuffer | null = null;

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
    this.pairs = null;
    this.queryStart = -1;
    this.path = headerOrEmpty(KEY_PATH);
    this.authority = headerOrEmpty(KEY_AUTHORITY);
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

  getMethod(): ArrayBuffer {
    let m = this.method;
    if (m === null) {
      m = headerOrEmpty(KEY_METHOD);
      this.method = m;
    }
    return m;
  }

  getScheme(): ArrayBuffer {
    let s = this.scheme;
    if (s === null) {
      s = headerOrEmpty(KEY_SCHEME);
      this.scheme = s;
    }
    return s;
  }

  /**
   * Whether any value of request header `name` (lower case) satisfies `m`: Envoy 1.40's header
   * matchers match a repeated header when any of its values does (and `invert_match` when none
   * does), checked against native route config in test/security/filter-envoy-semantics.test.ts.
   * The host's single-value call returns only the first value, so the header pairs are fetched,
   * once per request and only when a value condition (not `present`) is evaluated.
   */
  headerMatch(name: ArrayBuffer, m: StringMatcher): i32 {
    let pairs = this.pairs;
    if (pairs === null) {
      pairs = getHeaderPairs(REQ);
      this.pairs = pairs;
    }
    return matchValues(pairs, name, m);
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
 * Whether any value of `name` in serialized pairs (u32 count, count x (u32 key size, u32 value
 * size), then each key and value NUL-terminated) satisfies `m`, compared in place. Every offset
 * is checked against the buffer first, so a bad buffer from the host never traps (it reads as
 * absent).
 */
function matchValues(pairs: ArrayBuffer, name: ArrayBuffer, m: StringMatcher): i32 {
  let size = <usize>pairs.byteLength;
  if (size < 4) return HEADER_ABSENT;
  let p = changetype<usize>(pairs);
  let count = <usize>load<u32>(p);
  if (count > (size - 4) / 8) return HEADER_ABSENT;
  let data: usize = 4 + count * 8;
  for (let i: usize = 0; i < count; i++) {
    let k = <usize>load<u32>(p + 4 + i * 8);
    let v = <usize>load<u32>(p + 8 + i * 8);
    if (k > size || v > size || data + k + v + 2 > size) return HEADER_ABSENT;
    data += k + v + 2;
  }
  let nameLen = <usize>name.byteLength;
  let np = changetype<usize>(name);
  let found = false;
  data = 4 + count * 8;
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
