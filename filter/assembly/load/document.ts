// The document pass: the top-level object, each virtual host (its domains into the table's
// lookups) and the ambiguous hosts.
import { J_ARRAY, J_NUMBER, J_OBJECT, J_STRING } from "./json";
import { Route, RouteTable, VirtualHost } from "../table";
import { validHeaderValueString, validHostName, validVhostName } from "./checks";
import { AMBIGUOUS_KEYS, FORMAT, TOP_KEYS, VHOST_KEYS, VHOST_SLOTS, compileRoute } from "./elements";
import { recKeyEnds, recKeys, recKinds, recVhosts } from "./incremental";
import { ROOT, T, child, encode, expect, fail, get, getString, index, kindOf, lenOf, members, nextOf, ok, onlyKeys, ptrOf, requireMember, required, segTop, sizeOf } from "./tape";

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

export const DOMAIN_EXACT: u8 = 0;
const DOMAIN_WILDCARD: u8 = 1;
export const DOMAIN_CATCH_ALL: u8 = 2;
const CATCH_ALL_KEY = "*";

/**
 * Puts a domain into the table's lookup: its map key (the name; a wildcard's suffix after "*.")
 * by kind. One hash per domain: set, and a map that did not grow already had the name (the table
 * is then rejected, so the overwritten entry does not matter). True when it was taken.
 */
export function insertDomain(table: RouteTable, kind: u8, key: string, vh: VirtualHost): bool {
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

export function compileVirtualHost(v: i32, path: i32, table: RouteTable): void {
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

/** The virtualHosts array node, for finding where a duplicate domain was first used. */
export let vhostsNode: i32 = -1;

/** Compiling one element on its own: addDomain records the domains but does not insert them. */
export let deferDomains = false;


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

export function sizeExact(table: RouteTable, domains: i32): void {
  let buckets: u32 = 4;
  while (<i64>buckets * 8 / 3 < <i64>domains) buckets <<= 1;
  if (buckets > 4) table.exact.rehash(buckets - 1);
}

export function compileDocument(doc: i32, table: RouteTable): void {
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
