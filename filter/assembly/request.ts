// The per-request view of the request headers the router reads. Pseudo-headers are fetched once;
// everything else is fetched only when a match condition asks for it.
import { getHeader, REQUEST_HEADERS } from "./host";
import { lowerAscii } from "./matcher";

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

  constructor() {
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
