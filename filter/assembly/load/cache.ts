// Incremental configure, the byte level: the cache of compiled virtual hosts (by the bytes of their
// element of the `virtualHosts` array), and a structural scan that finds the top-level members
// of a route table document and the span (offset, length) of every element of that array,
// matching each against the cache. load/incremental.ts does the rest.
//
// The scan validates nothing: it only segments the document. load/from-shared-entry.ts accepts a table on the
// fast path only when every segment was checked by the real parser (load/json.ts): the skeleton (the
// document with the virtualHosts array emptied) and every changed element are parsed on their own,
// and an unchanged element is byte-identical to one that was part of an accepted document. A valid
// JSON value is segmented by this scan exactly as the parser sees it, so the pieces being valid
// (and the elements' nesting within what load/json.ts allows at their depth, checked here) makes the
// whole document valid with the same structure. Anything unexpected returns false and the caller
// compiles the whole document as before.
import { VirtualHost } from "../table";

/** A growable list that doubles (AS 0.17's Array#push reallocates to the exact length each time). */
export class Grow<T> {
  items: StaticArray<T>;
  count: i32 = 0;

  constructor(capacity: i32 = 16) {
    this.items = new StaticArray<T>(max(capacity, 4));
  }

  push(x: T): void {
    let items = this.items;
    let n = this.count;
    if (n == items.length) {
      let bigger = new StaticArray<T>(n * 2);
      for (let i = 0; i < n; i++) unchecked(bigger[i] = items[i]);
      this.items = bigger;
      items = bigger;
    }
    unchecked(items[n] = x);
    this.count = n + 1;
  }

  /** Makes room for n items (one allocation instead of doubling up to it). */
  reserve(n: i32): void {
    let items = this.items;
    if (n <= items.length) return;
    let bigger = new StaticArray<T>(n);
    for (let i = 0; i < this.count; i++) unchecked(bigger[i] = items[i]);
    this.items = bigger;
  }

  @inline at(i: i32): T {
    return unchecked(this.items[i]);
  }

  /** Empties the list and drops its references (a fresh small buffer, nothing kept alive). */
  reset(): void {
    this.items = new StaticArray<T>(16);
    this.count = 0;
  }
}

/**
 * Element nesting the parser allows inside the virtualHosts array: the document object and the
 * array are levels 1 and 2 of load/json.ts's 64, so an element parsed on its own may use 62.
 */
const MAX_ELEMENT_DEPTH: i32 = 62;

/** Where the last successful scanDocument found the virtualHosts array and its elements. */
export class Segments {
  /** Offset of the virtualHosts array's '[' and of its ']'. */
  open: i32 = -1;
  close: i32 = -1;
  starts: Grow<i32> = new Grow<i32>(1024);
  lengths: Grow<i32> = new Grow<i32>(1024);
  hashes: Grow<u32> = new Grow<u32>(1024);
  /** The cache entry with the element's bytes, or -1. */
  sources: Grow<i32> = new Grow<i32>(1024);
  /** Elements found in the cache. */
  reused: i32 = 0;
  /** Cache candidates with the element's hash and length but other bytes. */
  collisions: i32 = 0;
}

export const SEGMENTS = new Segments();

@inline function byteAt(base: usize, pos: i32): i32 {
  return <i32>load<u8>(base + <usize>pos);
}

export function skipSpace(base: usize, len: i32, pos: i32): i32 {
  while (pos < len) {
    let c = byteAt(base, pos);
    if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) pos++;
    else break;
  }
  return pos;
}

const ONES: u64 = 0x0101010101010101;
const HIGH: u64 = 0x8080808080808080;

/** Whether none of the 8 bytes is '"' or '\\'. */
@inline function noQuoteWord(x: u64): bool {
  let quote = x ^ (ONES * 0x22);
  let backslash = x ^ (ONES * 0x5c);
  return ((((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash)) & HIGH) == 0;
}

/** pos at an opening quote: the position after the closing quote, or -1. */
export function skipString(base: usize, len: i32, pos: i32): i32 {
  pos++;
  while (pos < len) {
    while (pos + 8 <= len && noQuoteWord(load<u64>(base + <usize>pos))) pos += 8;
    if (pos >= len) break;
    let c = byteAt(base, pos);
    if (c == 0x22) return pos + 1;
    if (c == 0x5c) pos += 2;
    else pos++;
  }
  return -1;
}

let lastDepth: i32 = 0;

/**
 * pos at '{' or '[': the position after the matching bracket, or -1. lastDepth gets the deepest
 * nesting inside, the value itself counting 1.
 */
function skipNested(base: usize, len: i32, pos: i32): i32 {
  let depth = 0;
  let deepest = 0;
  while (pos < len) {
    let c = byteAt(base, pos);
    if (c == 0x22) {
      pos = skipString(base, len, pos);
      if (pos < 0) return -1;
      continue;
    }
    if (c == 0x7b || c == 0x5b) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (c == 0x7d || c == 0x5d) {
      depth--;
      if (depth == 0) {
        lastDepth = deepest;
        return pos + 1;
      }
    }
    pos++;
  }
  return -1;
}

/** Any value at pos: the position after it, or -1. Scalars end at a delimiter. */
export function skipValue(base: usize, len: i32, pos: i32): i32 {
  if (pos >= len) return -1;
  let c = byteAt(base, pos);
  if (c == 0x7b || c == 0x5b) return skipNested(base, len, pos);
  if (c == 0x22) return skipString(base, len, pos);
  let start = pos;
  while (pos < len) {
    c = byteAt(base, pos);
    if (c == 0x2c || c == 0x7d || c == 0x5d || c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) break;
    pos++;
  }
  if (pos == start) return -1;
  return pos;
}

/** Whether the key string at [start, end) (quotes excluded) is "virtualHosts", byte for byte. */
function isVirtualHostsKey(base: usize, start: i32, end: i32): bool {
  let key = "virtualHosts";
  if (end - start != key.length) return false;
  for (let i = 0; i < key.length; i++) {
    if (byteAt(base, start + i) != <i32>key.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Segments a document: a top-level object with exactly one (unescaped) "virtualHosts" member
 * whose value is an array of objects. Fills SEGMENTS, matching each element against `cache`
 * (may be null); false when the document is anything else (the caller then compiles it whole).
 */
export function scanDocument(base: usize, len: i32, cache: VhostCache | null): bool {
  let s = SEGMENTS;
  s.open = -1;
  s.close = -1;
  s.starts.count = 0;
  s.lengths.count = 0;
  s.hashes.count = 0;
  s.sources.count = 0;
  s.reused = 0;
  s.collisions = 0;
  let pos = skipSpace(base, len, 0);
  if (pos >= len || byteAt(base, pos) != 0x7b) return false;
  pos = skipSpace(base, len, pos + 1);
  if (pos < len && byteAt(base, pos) == 0x7d) return false; // {}: no virtualHosts
  while (true) {
    if (pos >= len || byteAt(base, pos) != 0x22) return false;
    let keyStart = pos + 1;
    let keyEnd = skipString(base, len, pos);
    if (keyEnd < 0) return false;
    pos = skipSpace(base, len, keyEnd);
    keyEnd--; // the closing quote
    if (pos >= len || byteAt(base, pos) != 0x3a) return false;
    pos = skipSpace(base, len, pos + 1);
    if (isVirtualHostsKey(base, keyStart, keyEnd)) {
      if (s.open >= 0) return false; // a duplicate key: the parser's message decides
      pos = scanVirtualHosts(base, len, pos, cache);
    } else {
      // An escaped key might spell virtualHosts: leave such documents to the full compile.
      for (let i = keyStart; i < keyEnd; i++) if (byteAt(base, i) == 0x5c) return false;
      pos = skipValue(base, len, pos);
    }
    if (pos < 0) return false;
    pos = skipSpace(base, len, pos);
    if (pos >= len) return false;
    let c = byteAt(base, pos);
    pos = skipSpace(base, len, pos + 1);
    if (c == 0x2c) continue;
    // Return from inside the loop: after a `while (true)` that breaks, AS 0.17 returned without
    // releasing the reference parameters (the cache leaked a reference per configure).
    if (c == 0x7d) return s.open >= 0 && pos == len;
    return false;
  }
}

/**
 * pos at the virtualHosts value: records its elements; the position after the array, or -1.
 * An element is first compared with the cache entry after the last one found (a table changes in
 * few places, so this is usually it): when the bytes there equal that entry's, the element is
 * that entry (a complete JSON value ends where its bytes end) and is neither scanned nor hashed.
 * Otherwise it is scanned, hashed and looked up.
 */
function scanVirtualHosts(base: usize, len: i32, pos: i32, cache: VhostCache | null): i32 {
  let s = SEGMENTS;
  if (pos >= len || byteAt(base, pos) != 0x5b) return -1;
  s.open = pos;
  pos = skipSpace(base, len, pos + 1);
  if (pos < len && byteAt(base, pos) == 0x5d) {
    s.close = pos;
    return pos + 1;
  }
  let next = 0;
  while (true) {
    if (pos >= len || byteAt(base, pos) != 0x7b) return -1;
    let e = -1;
    let end = -1;
    let h: u32 = 0;
    if (cache !== null && next < cache.count) {
      let l = unchecked(cache.lengths[next]);
      if (l <= len - pos && bytesEqual(cache.at(next), base + <usize>pos, l)) {
        e = next;
        end = pos + l;
        h = unchecked(cache.hashes[next]);
      }
    }
    if (e < 0) {
      end = skipNested(base, len, pos);
      if (end < 0 || lastDepth > MAX_ELEMENT_DEPTH) return -1;
      h = spanHash(base + <usize>pos, end - pos);
      if (cache !== null) e = cache.find(base + <usize>pos, end - pos, h);
    }
    if (e >= 0) {
      s.reused++;
      next = e + 1;
    }
    s.starts.push(pos);
    s.lengths.push(end - pos);
    s.hashes.push(h);
    s.sources.push(e);
    pos = skipSpace(base, len, end);
    if (pos >= len) return -1;
    let c = byteAt(base, pos);
    if (c == 0x5d) {
      s.close = pos;
      return pos + 1;
    }
    if (c != 0x2c) return -1;
    pos = skipSpace(base, len, pos + 1);
  }
}

/** Whether [a, a+n) and [b, b+n) hold the same bytes (eight at a time, unaligned). */
export function bytesEqual(a: usize, b: usize, n: i32): bool {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    if (load<u64>(a + <usize>i) != load<u64>(b + <usize>i)) return false;
  }
  for (; i < n; i++) {
    if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  }
  return true;
}

/** What compiling one element made: the virtual host and its lookup keys (load/document.ts DOMAIN_*). */
export class CachedVhost {
  constructor(
    public vh: VirtualHost,
    /** Map keys: the domain, a wildcard's suffix after "*.", "*" for the catch-all. */
    public keys: StaticArray<string>,
    public kinds: StaticArray<u8>,
    /** Whether a route has a fault delay (RouteTable.hasDelays). */
    public hasDelays: bool,
  ) {}
}

/** The elements of the last accepted document, by their bytes. */
export class VhostCache {
  /** The buffer holding the document the spans point into. */
  buf: ArrayBuffer;
  /**
   * The document's address (kept as a number: reading it from the reference costs a retain each
   * time): buf's own, or inside buf (a shared entry, load/shared-entry.ts).
   */
  base: usize;
  count: i32;
  offsets: StaticArray<i32>;
  lengths: StaticArray<i32>;
  hashes: StaticArray<u32>;
  entries: StaticArray<CachedVhost>;
  /** Open addressing by hash: entry + 1, 0 = empty; at least half empty. */
  index: StaticArray<i32>;

  /** Room for `count` elements of the document at `base` (in `buf`); put() fills them. */
  constructor(buf: ArrayBuffer, count: i32, base: usize) {
    this.buf = buf;
    this.base = base;
    this.count = count;
    this.offsets = new StaticArray<i32>(count);
    this.lengths = new StaticArray<i32>(count);
    this.hashes = new StaticArray<u32>(count);
    let size = 4;
    while (size < count * 2) size <<= 1;
    this.index = new StaticArray<i32>(size);
    this.entries = new StaticArray<CachedVhost>(count);
  }

  /** Element i: its span and hash (the caller fills `entries`, when it keeps them). */
  put(i: i32, offset: i32, length: i32, h: u32): void {
    unchecked(this.offsets[i] = offset);
    unchecked(this.lengths[i] = length);
    unchecked(this.hashes[i] = h);
    let index = this.index;
    let mask = index.length - 1;
    let slot = <i32>h & mask;
    while (unchecked(index[slot]) != 0) slot = (slot + 1) & mask;
    unchecked(index[slot] = i + 1);
  }

  @inline at(e: i32): usize {
    return this.base + <usize>unchecked(this.offsets[e]);
  }

  /** The entry whose bytes equal [p, p+len): the hash finds candidates, the bytes decide. -1: none. */
  find(p: usize, len: i32, h: u32): i32 {
    let index = this.index;
    let mask = index.length - 1;
    let slot = <i32>h & mask;
    while (true) {
      let e = unchecked(index[slot]) - 1;
      if (e < 0) return -1;
      if (unchecked(this.hashes[e]) == h && unchecked(this.lengths[e]) == len) {
        if (bytesEqual(this.at(e), p, len)) return e;
        SEGMENTS.collisions++; // same key, other bytes: not this entry
      }
      slot = (slot + 1) & mask;
    }
  }
}

/** A cache for `buf` as segmented in SEGMENTS; the caller fills `entries`. */
export function cacheOfSegments(buf: ArrayBuffer): VhostCache {
  let s = SEGMENTS;
  let count = s.starts.count;
  let c = new VhostCache(buf, count, changetype<usize>(buf));
  for (let i = 0; i < count; i++) c.put(i, s.starts.at(i), s.lengths.at(i), s.hashes.at(i));
  return c;
}

/**
 * The cache key of a span: 32 bits over its bytes, four at a time, and its length. Only a key: a
 * hit is confirmed by comparing the bytes (VhostCache.find), so a collision costs a compare, never a
 * wrong virtual host. (test/emulator/incremental.test.ts computes the same function to build
 * colliding spans.)
 */
export function spanHash(p: usize, len: i32): u32 {
  let h: u32 = 0x811c9dc5 ^ <u32>len;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    h = (h ^ load<u32>(p + <usize>i)) * 0x01000193;
    h ^= h >> 15;
  }
  for (; i < len; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 0x01000193;
  h ^= h >> 16;
  return h;
}
