// The canary's fast path: a VM without a cache accepts a table against the shared entry.
import { CachedVhost, SEGMENTS, bytesEqual, scanDocument } from "./cache";
import { KeySet, asciiInto, entryProblem, readEntry } from "./shared-entry";
import { RouteTable } from "../table";
import { DOMAIN_CATCH_ALL, DOMAIN_EXACT } from "./document";
import { compileElement, compileSkeleton } from "./incremental";
import { compiledCount, lastError, sharedEntryOutcome } from "./loader";

// ---------------------------------------------------------------------------------------------
// The canary's fast path (docs/filter.md). A VM without a cache (a fresh one: Envoy's canary clone
// on every update) reads the shared entry (load/shared-entry.ts: the last document a VM of this build
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

export function compileFromShared(bytes: ArrayBuffer): RouteTable | null {
  let entry = readEntry();
  if (entry === null) {
    sharedEntryOutcome = entryProblem();
    return null;
  }
  let base = changetype<usize>(bytes);
  let len = bytes.byteLength;
  if (entry.docLength == len && bytesEqual(entry.doc, base, len)) {
    sharedEntryOutcome = "same";
    return null;
  }
  sharedEntryOutcome = "declined";
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
  sharedEntryOutcome = "taken";
  lastError = "";
  return table;
}
