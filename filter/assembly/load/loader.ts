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
//
// This file: the loader; the whole compile, the incremental one (load/incremental.ts) or the
// shared entry's fast path (load/from-shared-entry.ts).
import { jsonError, parseJson, releaseTape } from "./json";
import { Grow, SEGMENTS, scanDocument } from "./cache";
import { RouteTable, VirtualHost } from "../table";
import { compileDocument, compileVirtualHost, vhostsNode } from "./document";
import { resetShared } from "./elements";
import { compileFromShared } from "./from-shared-entry";
import { Pending, buildPendingCache, cache, clearRecord, compileChanged, pending, recKeyEnds, recKeys, recKinds, recVhosts, setCache } from "./incremental";
import { NB, NO_TAPE, ROOT, T, child, encode, error, index, segTop } from "./tape";

export let lastError: string = "";

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
export function compileBytes(table: RouteTable, bytes: ArrayBuffer, vhostIndex: i32): bool {
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

export let compiledCount: i32 = 0;
let incremental = false;
let fromShared = false;
/** What the shared entry did in the last compileTable ("" when it was not consulted). */
export let sharedOutcome: string = "";
export let cacheBuiltAtConfigure: i32 = -1;

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
