// The incremental configure and the cache it keeps between configures.
import { CachedVhost, Grow, SEGMENTS, VhostCache, cacheOfSegments, scanDocument } from "./cache";
import { writeEntry } from "./shared-entry";
import { RouteTable, VirtualHost } from "../table";
import { deferDomains, insertDomain, sizeExact } from "./document";
import { compileBytes, compiledCount, lastError } from "./loader";

// ---------------------------------------------------------------------------------------------
// Incremental configure. A VM keeps the last accepted document and, per element of its
// virtualHosts array, the element's bytes (a span of that document) and what compiling it made:
// the VirtualHost (routes and all) and its domains as lookup keys (load/cache.ts). A new document is
// segmented and each element matched against them by its bytes (load/cache.ts: a hash finds
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
export let recVhosts = new Grow<VirtualHost>();
/** Every virtual host's lookup keys and their kinds (DOMAIN_*); recKeyEnds[i] ends host i's. */
export let recKeys = new Grow<string>();
export let recKinds = new Grow<u8>();
export let recKeyEnds = new Grow<i32>();

/** Empties the record (the references stay until overwritten; reset() would drop them). */
export function clearRecord(): void {
  recVhosts.count = 0;
  recKeys.count = 0;
  recKinds.count = 0;
  recKeyEnds.count = 0;
}

/** A whole compile's record and its document: the cache, when the VM configures again. */
export class Pending {
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
 * loadTable calls it first when no tick came in between.
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

export function setCache(c: VhostCache | null): void {
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

/**
 * Whether ticks have cache work left: a whole compile's record waiting for buildPendingCache, or
 * a shared entry to write.
 */
export function cacheWorkLeft(): bool {
  return pending !== null || entryUnwritten();
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

/** The cache of the last accepted table (null: none, e.g. a fresh VM). */
export let cache: VhostCache | null = null;
/** Or, after a whole compile, what it is made from (see loadTable). */
export let pending: Pending | null = null;

function vhostHasDelays(vh: VirtualHost): bool {
  let routes = vh.routes;
  for (let i = 0; i < routes.length; i++) {
    let r = unchecked(routes[i]);
    if (r.delayPpm > 0 && r.delayMs > 0) return true;
  }
  return false;
}

/** Everything but the virtual hosts, with today's checks: the document (as segmented) with an empty array. */
export function compileSkeleton(bytes: ArrayBuffer): RouteTable | null {
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
export function compileElement(bytes: ArrayBuffer, i: i32, scratch: RouteTable): CachedVhost | null {
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
export function compileChanged(bytes: ArrayBuffer, old: VhostCache): RouteTable | null {
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
