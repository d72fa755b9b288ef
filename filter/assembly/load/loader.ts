// Route table JSON → compiled RouteTable. Validates everything schema/route-table.schema.json
// says, so a table is either fully usable or rejected with the path of the first bad field
// (e.g. "virtualHosts[3].routes[0].match[1].uri.regex: missing ): at offset 7").
//
// Configure-time cost matters (a table of 10,000 virtual hosts is ~4.7 MB and Envoy runs this
// several times per update, see docs/filter.md), so the walk allocates only what the compiled
// table keeps:
// - the document is a flat tape (load/json.ts): values are node indices, keys are compared as bytes;
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
import { forgetLastParts } from "./elements";
import { compileFromShared } from "./from-shared-entry";
import { Pending, buildPendingCache, cache, clearRecord, compileChanged, pending, recKeyEnds, recKeys, recKinds, recVhosts, setCache } from "./incremental";
import { NB, NO_TAPE, ROOT, T, child, encode, error, index, segTop } from "./tape";

export let lastError: string = "";

/** The table of `bytes` (null: rejected); `reuse`: the cache or the shared entry may be used. */
function compileWith(bytes: ArrayBuffer, reuse: bool): RouteTable | null {
  error = "";
  compiledCount = 0;
  incremental = false;
  fromSharedEntry = false;
  sharedEntryOutcome = "";
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
  forgetLastParts();
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
      if (table !== null) fromSharedEntry = true;
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
  forgetLastParts();
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
let fromSharedEntry = false;
/** What the shared entry did in the last load ("" when it was not consulted). */
export let sharedEntryOutcome: string = "";
let cacheBuiltAtConfigure: i32 = -1;

/**
 * What one load did: its table (null: rejected, `error` says why) and how it was built. The root
 * context (contexts.ts) logs it; tests read its summary line (test/support/load-report.ts).
 */
export class LoadReport {
  table: RouteTable | null = null;
  /** Why the table was rejected ("" when it was accepted). */
  error: string = "";
  /**
   * "whole document", "incremental" (the changed virtual hosts on top of the previous table's,
   * load/incremental.ts) or "shared" (a placeholder accepted on the shared entry's fast path,
   * load/from-shared-entry.ts, completed later by loadWhole).
   */
  how: string = "whole document";
  /** Virtual hosts taken from the previous table (or the shared entry) unchanged. */
  reused: i32 = 0;
  /** Virtual hosts compiled (all of them when the whole document was). */
  compiled: i32 = 0;
  /** Cache candidates found by hash and length whose bytes differed. */
  collisions: i32 = 0;
  /**
   * What the shared entry did: "" (not consulted: the VM had a cache), "taken", "none" (no
   * entry), "invalid" (an entry that failed a check), "same" (the document is the entry's:
   * compiled whole), "declined" (something on the fast path failed: compiled whole).
   */
  sharedEntry: string = "";
  /** Virtual hosts of the cache a pending whole compile left, built first by this load (-1: none). */
  cacheBuilt: i32 = -1;

  /** How the table was built, as one log line (without the "canal: " prefix). */
  summary(): string {
    return "configure " + this.how + ": " + this.reused.toString() + " virtual hosts reused, " +
      this.compiled.toString() + " compiled, " + this.collisions.toString() + " hash collisions";
  }
}

/**
 * Loads a route table: parses, validates and compiles it. An empty document is the empty table.
 * A VM without a cache may accept it on the shared entry's fast path: the table is then a
 * placeholder (RouteTable.lazy holds the document) that loadWhole must complete before it routes.
 */
export function loadTable(bytes: ArrayBuffer): LoadReport {
  return report(compileWith(bytes, true));
}

/** The whole compile of `bytes`, nothing reused (a placeholder's completion). */
export function loadWhole(bytes: ArrayBuffer): LoadReport {
  return report(compileWith(bytes, false));
}

function report(table: RouteTable | null): LoadReport {
  let r = new LoadReport();
  r.table = table;
  r.error = lastError;
  if (incremental) r.how = "incremental";
  else if (fromSharedEntry) r.how = "shared";
  r.reused = SEGMENTS.reused;
  r.compiled = compiledCount;
  r.collisions = SEGMENTS.collisions;
  r.sharedEntry = sharedEntryOutcome;
  r.cacheBuilt = cacheBuiltAtConfigure;
  return r;
}
