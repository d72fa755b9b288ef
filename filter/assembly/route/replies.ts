// Local replies the filter sends itself: 404s that explain what matched nothing, redirects,
// direct responses and fault aborts. Every one carries the table version.
import { sendLocalReply, serializePairs } from "../host";
import { RequestView } from "./request";
import { HeaderOps, Redirect, RouteTable } from "../table";

const KEY_TABLE = String.UTF8.encode("x-canal-table");
const KEY_CONTENT_TYPE = String.UTF8.encode("content-type");
const KEY_LOCATION = String.UTF8.encode("location");
const TEXT_PLAIN = String.UTF8.encode("text/plain");
const DETAILS_NO_ROUTE = String.UTF8.encode("canal_no_route");
const DETAILS_AMBIGUOUS = String.UTF8.encode("canal_ambiguous_host");
const DETAILS_DIRECT = String.UTF8.encode("canal_direct_response");
const DETAILS_REDIRECT = String.UTF8.encode("canal_redirect");
const DETAILS_ABORT = String.UTF8.encode("canal_fault_abort");
const FAULT_BODY = String.UTF8.encode("fault filter abort");
const NO_ROUTE_1 = String.UTF8.encode("canal: no route for host \"");
const NO_ROUTE_2 = String.UTF8.encode("\" path \"");
const NO_ROUTE_3 = String.UTF8.encode("\"\n");
const ELLIPSIS = String.UTF8.encode("...");
const EMPTY = new ArrayBuffer(0);

/** Longest piece of client input echoed back in a 404 body. */
const ECHO_LIMIT: i32 = 256;

class Bytes {
  parts: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  starts: Array<i32> = new Array<i32>();
  lengths: Array<i32> = new Array<i32>();
  total: i32 = 0;

  add(b: ArrayBuffer): Bytes {
    return this.addRange(b, 0, b.byteLength);
  }

  addRange(b: ArrayBuffer, start: i32, length: i32): Bytes {
    this.parts.push(b);
    this.starts.push(start);
    this.lengths.push(length);
    this.total += length;
    return this;
  }

  /** Client input, cut at ECHO_LIMIT bytes so a huge header never makes a huge reply. */
  addEcho(b: ArrayBuffer, length: i32): Bytes {
    if (length <= ECHO_LIMIT) return this.addRange(b, 0, length);
    return this.addRange(b, 0, ECHO_LIMIT).add(ELLIPSIS);
  }

  build(): ArrayBuffer {
    let out = new ArrayBuffer(this.total);
    let d = changetype<usize>(out);
    for (let i = 0; i < this.parts.length; i++) {
      let len = this.lengths[i];
      memory.copy(d, changetype<usize>(this.parts[i]) + <usize>this.starts[i], <usize>len);
      d += <usize>len;
    }
    return out;
  }
}

function reply(table: RouteTable, status: u32, details: ArrayBuffer, body: ArrayBuffer, extraKey: ArrayBuffer, extraValue: ArrayBuffer, ops: HeaderOps | null = null): void {
  let keys = new Array<ArrayBuffer>();
  let values = new Array<ArrayBuffer>();
  keys.push(KEY_TABLE);
  values.push(table.versionBytes);
  if (body.byteLength > 0) {
    keys.push(KEY_CONTENT_TYPE);
    values.push(TEXT_PLAIN);
  }
  if (extraKey.byteLength > 0) {
    keys.push(extraKey);
    values.push(extraValue);
  }
  if (ops === null) {
    sendLocalReply(status, details, body, serializePairs(keys, values));
    return;
  }
  let pairs = withResponseOps(keys, values, ops);
  sendLocalReply(status, details, body, serializePairs(pairs.keys, pairs.values));
}

class Pairs {
  keys: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  values: Array<ArrayBuffer> = new Array<ArrayBuffer>();
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): bool {
  let n = a.byteLength;
  if (n != b.byteLength) return false;
  return memory.compare(changetype<usize>(a), changetype<usize>(b), <usize>n) == 0;
}

function listed(list: Array<ArrayBuffer>, key: ArrayBuffer): bool {
  for (let i = 0; i < list.length; i++) if (sameBytes(list[i], key)) return true;
  return false;
}

/**
 * A route's response header operations on a local reply's headers, in Envoy's order (remove,
 * set, add): Envoy applies the route's response_headers_to_add/remove to the replies the fault
 * filter sends for it, so an aborted request carries them (found by the Istio oracle). New
 * arrays, never splice: removing objects from an AS 0.17 array leaks.
 */
function withResponseOps(keys: Array<ArrayBuffer>, values: Array<ArrayBuffer>, ops: HeaderOps): Pairs {
  let out = new Pairs();
  for (let i = 0; i < keys.length; i++) {
    if (listed(ops.remove, keys[i]) || listed(ops.setKeys, keys[i])) continue;
    out.keys.push(keys[i]);
    out.values.push(values[i]);
  }
  for (let i = 0; i < ops.setKeys.length; i++) {
    out.keys.push(ops.setKeys[i]);
    out.values.push(ops.setValues[i]);
  }
  for (let i = 0; i < ops.addKeys.length; i++) {
    out.keys.push(ops.addKeys[i]);
    out.values.push(ops.addValues[i]);
  }
  return out;
}

export function replyNoRoute(table: RouteTable, req: RequestView): void {
  let body = new Bytes()
    .add(NO_ROUTE_1).addEcho(req.authority, req.authority.byteLength)
    .add(NO_ROUTE_2).addEcho(req.path, req.pathLength)
    .add(NO_ROUTE_3).build();
  reply(table, 404, DETAILS_NO_ROUTE, body, EMPTY, EMPTY);
}

export function replyAmbiguous(table: RouteTable, body: ArrayBuffer): void {
  reply(table, 404, DETAILS_AMBIGUOUS, body, EMPTY, EMPTY);
}

export function replyDirect(table: RouteTable, status: u32, body: ArrayBuffer): void {
  reply(table, status, DETAILS_DIRECT, body, EMPTY, EMPTY);
}

/** The fault filter's abort, with the route's response header operations (`ops`) as Envoy applies them. */
export function replyAbort(table: RouteTable, status: u32, ops: HeaderOps | null = null): void {
  reply(table, status, DETAILS_ABORT, FAULT_BODY, EMPTY, EMPTY, ops);
}

/** End of the host part of an authority (before ":port"; "[v6]" kept whole). */
function hostEnd(a: ArrayBuffer): i32 {
  let p = changetype<usize>(a);
  let len = a.byteLength;
  if (len > 0 && load<u8>(p) == 0x5b) {
    for (let i = 1; i < len; i++) if (load<u8>(p + <usize>i) == 0x5d) return i + 1;
    return len;
  }
  for (let i = len - 1; i >= 0; i--) {
    let c = load<u8>(p + <usize>i);
    if (c == 0x3a) return i;
    if (c < 0x30 || c > 0x39) break;
  }
  return len;
}

const SCHEME_SEP = String.UTF8.encode("://");
const COLON = String.UTF8.encode(":");

/** `rewritten`: the path after r.prefixRewrite (computed by the caller, which knows the block). */
export function replyRedirect(table: RouteTable, r: Redirect, req: RequestView, rewritten: ArrayBuffer | null): void {
  let loc = new Bytes();
  let scheme = r.scheme;
  // (No ternaries over references here: AS 0.17 miscounts references through them.)
  if (scheme !== null) loc.add(scheme);
  else loc.add(req.getScheme());
  loc.add(SCHEME_SEP);
  let a = req.authority;
  let authority = r.authority;
  if (authority !== null) a = authority;
  if (r.port > 0) {
    loc.addRange(a, 0, hostEnd(a)).add(COLON).add(String.UTF8.encode(r.port.toString()));
  } else {
    loc.add(a);
  }
  let uri = r.uri;
  if (rewritten !== null) {
    loc.add(rewritten);
  } else if (uri === null) {
    loc.add(req.path);
  } else {
    loc.add(uri);
    if (!r.uriHasQuery && req.queryStart >= 0) loc.addRange(req.path, req.queryStart, req.queryEnd() - req.queryStart);
  }
  reply(table, r.code, DETAILS_REDIRECT, EMPTY, KEY_LOCATION, loc.build());
}
