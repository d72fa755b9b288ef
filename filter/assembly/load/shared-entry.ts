// The accepted table in Proxy-Wasm shared data, for Envoy's canary clone (docs/filter.md,
// "The canary's fast path"). Shared data is process-wide in Envoy (per vm_id), so a fresh VM can
// read what an earlier VM of this build stored: the last accepted document and, per element of its
// virtualHosts array, what a verdict needs without compiling the element (its span, its domains'
// lookup keys and kinds, its route count and whether it has a fault delay). load/from-shared-entry.ts
// (compileFromShared) segments a new document against it, compiles only the changed elements and
// checks the lookups with the stored keys.
//
// The key names this build (BUILD_ID: a hash of the filter's sources, generated at build time), so
// a VM of another build never reads this one's entry; the value starts with a magic number, a
// format version and the build's hash, and every size and offset in it is checked before use. An
// entry that fails any check is ignored (the configure compiles the whole document).
//
// The value (little-endian u32 unless said otherwise):
//   header   MAGIC, FORMAT, total size, elements n, keys k, key bytes kb, document length, build hash
//   n × 6    offset, length, spanHash, route count, flags (1 = a fault delay), end of its keys (cumulative)
//   k × 2    kind (load/document.ts DOMAIN_*), end of its bytes in the key bytes (cumulative)
//   kb bytes the keys (ASCII: validated host names)
//   the document
import { BUILD_ID } from "../build-id";
import { getSharedData, setSharedData } from "../host";
import { uninitialized } from "./json";
import { VhostCache } from "./cache";

const MAGIC: u32 = 0x4c4e4143; // "CANL"
const FORMAT: u32 = 1;
const HEADER: i32 = 32;
const ELEMENT: i32 = 24;
const KEY: i32 = 8;
const MAX_KIND: u32 = 2;

const SHARED_KEY = String.UTF8.encode("canal.accepted." + BUILD_ID);
/**
 * Which document the entry holds (its digest, length and element count), so that the other VMs
 * that accepted the same table (Envoy's main-thread VM and every worker's) do not write it again.
 * Only a hint: the entry is validated on its own, and if the two ever disagree (two writers
 * interleaved, or a digest collision) the entry is still a table this build accepted, just not
 * the newest: the next canary then compiles more virtual hosts.
 */
const HEAD_KEY = String.UTF8.encode("canal.accepted-head." + BUILD_ID);
const HEAD: i32 = 16;
const head = new ArrayBuffer(HEAD);

const PRIME64: u64 = 0x100000001b3;

/** A digest of the cache's document: its length, its elements' hashes and lengths, the bytes around them. */
function digest(cache: VhostCache): u64 {
  let base = cache.base;
  let dl = cache.buf.byteLength;
  let h: u64 = 0xcbf29ce484222325 ^ <u64>dl;
  let pos = 0;
  for (let i = 0; i < cache.count; i++) {
    let off = unchecked(cache.offsets[i]);
    for (; pos < off; pos++) h = (h ^ <u64>load<u8>(base + <usize>pos)) * PRIME64;
    let l = unchecked(cache.lengths[i]);
    h = (h ^ ((<u64>unchecked(cache.hashes[i]) << 32) | <u64><u32>l)) * PRIME64;
    pos = off + l;
  }
  for (; pos < dl; pos++) h = (h ^ <u64>load<u8>(base + <usize>pos)) * PRIME64;
  return h;
}

function fnv(s: string): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = (h ^ <u32>s.charCodeAt(i)) * 0x01000193;
  return h;
}
const BUILD_HASH: u32 = fnv(BUILD_ID);

/** A validated entry, read into this VM's memory. */
export class SharedEntry {
  constructor(
    /** The value as read (everything below points into it). */
    public buf: ArrayBuffer,
    public count: i32,
    public keyCount: i32,
    public elements: usize,
    public keys: usize,
    public keyBytes: usize,
    public doc: usize,
    public docLength: i32,
  ) {}

  @inline elementField(i: i32, field: i32): u32 {
    return load<u32>(this.elements + <usize>(i * ELEMENT + field * 4));
  }

  @inline routeCount(i: i32): i32 {
    return <i32>this.elementField(i, 3);
  }

  @inline hasDelays(i: i32): bool {
    return (this.elementField(i, 4) & 1) != 0;
  }

  /** Element i's keys are [keysStart(i), keysEnd(i)). */
  @inline keysStart(i: i32): i32 {
    if (i == 0) return 0;
    return <i32>this.elementField(i - 1, 5);
  }

  @inline keysEnd(i: i32): i32 {
    return <i32>this.elementField(i, 5);
  }

  @inline keyKind(m: i32): u8 {
    return <u8>load<u32>(this.keys + <usize>(m * KEY));
  }

  @inline keyStart(m: i32): i32 {
    if (m == 0) return 0;
    return <i32>load<u32>(this.keys + <usize>((m - 1) * KEY + 4));
  }

  @inline keyEnd(m: i32): i32 {
    return <i32>load<u32>(this.keys + <usize>(m * KEY + 4));
  }

  @inline keyPtr(m: i32): usize {
    return this.keyBytes + <usize>this.keyStart(m);
  }

  /** The elements as a cache for scanDocument (spans and hashes; no compiled entries). */
  view(): VhostCache {
    let n = this.count;
    let c = new VhostCache(this.buf, n, this.doc);
    for (let i = 0; i < n; i++) c.put(i, <i32>this.elementField(i, 0), <i32>this.elementField(i, 1), this.elementField(i, 2));
    return c;
  }
}

let problem: string = "";

/** Why the last readEntry returned null: "none" (no entry), "invalid", or "" (it did not). */
export function entryProblem(): string {
  return problem;
}

/** The entry of this build, validated; null when there is none or it fails a check. */
export function readEntry(): SharedEntry | null {
  problem = "";
  let buf = getSharedData(SHARED_KEY);
  if (buf === null) {
    problem = "none";
    return null;
  }
  let entry = validate(buf);
  if (entry === null) problem = "invalid";
  return entry;
}

function validate(buf: ArrayBuffer): SharedEntry | null {
  let len = buf.byteLength;
  if (len < HEADER) return null;
  let p = changetype<usize>(buf);
  if (load<u32>(p) != MAGIC || load<u32>(p, 4) != FORMAT || load<u32>(p, 8) != <u32>len || load<u32>(p, 28) != BUILD_HASH) return null;
  let n = load<u32>(p, 12);
  let k = load<u32>(p, 16);
  let kb = load<u32>(p, 20);
  let dl = load<u32>(p, 24);
  let total: u64 = <u64>HEADER + <u64>n * <u64>ELEMENT + <u64>k * <u64>KEY + <u64>kb + <u64>dl;
  if (total != <u64>len) return null;
  let elements = p + <usize>HEADER;
  let keys = elements + <usize>n * <usize>ELEMENT;
  let keyBytes = keys + <usize>k * <usize>KEY;
  let doc = keyBytes + <usize>kb;
  // Elements: in order, inside the document, objects by their first and last byte; their keys in order.
  let prevEnd: u32 = 0;
  let prevKeys: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let e = elements + <usize>(i * <u32>ELEMENT);
    let off = load<u32>(e);
    let l = load<u32>(e, 4);
    let flags = load<u32>(e, 16);
    let keysEnd = load<u32>(e, 20);
    if (off < prevEnd || l < 2 || <u64>off + <u64>l > <u64>dl || flags > 1) return null;
    if (load<u8>(doc + <usize>off) != 0x7b || load<u8>(doc + <usize>(off + l - 1)) != 0x7d) return null;
    if (keysEnd <= prevKeys || keysEnd > k) return null; // a virtual host has at least one domain
    prevEnd = off + l;
    prevKeys = keysEnd;
  }
  if (prevKeys != k) return null;
  // Keys: known kinds, 1-253 bytes each, together exactly the key bytes.
  let prevByte: u32 = 0;
  for (let m: u32 = 0; m < k; m++) {
    let q = keys + <usize>(m * <u32>KEY);
    let end = load<u32>(q, 4);
    if (load<u32>(q) > MAX_KIND || end <= prevByte || end - prevByte > 253 || end > kb) return null;
    prevByte = end;
  }
  if (prevByte != kb) return null;
  return new SharedEntry(buf, <i32>n, <i32>k, elements, keys, keyBytes, doc, <i32>dl);
}

/**
 * Stores the accepted document of `cache` (its whole buffer) with its elements' keys as this
 * build's entry, unless the head says the entry holds it already (0). -1 when the keys cannot be
 * stored (not ASCII: never for validated host names); otherwise the entry's size in bytes.
 */
export function writeEntry(cache: VhostCache): i32 {
  let n = cache.count;
  let d = digest(cache);
  let hp = changetype<usize>(head);
  store<u64>(hp, d);
  store<u32>(hp, <u32>cache.buf.byteLength, 8);
  store<u32>(hp, <u32>n, 12);
  let current = getSharedData(HEAD_KEY);
  if (current !== null && current.byteLength == HEAD && memory.compare(changetype<usize>(current), hp, <usize>HEAD) == 0) return 0;
  let size = writeValue(cache);
  if (size > 0) setSharedData(HEAD_KEY, hp, HEAD);
  return size;
}

function writeValue(cache: VhostCache): i32 {
  let n = cache.count;
  let entries = cache.entries;
  let k = 0;
  let kb = 0;
  for (let i = 0; i < n; i++) {
    let keys = unchecked(entries[i]).keys;
    k += keys.length;
    for (let m = 0; m < keys.length; m++) kb += unchecked(keys[m]).length;
  }
  let doc = cache.buf;
  let dl = doc.byteLength;
  let total: i64 = <i64>HEADER + <i64>n * ELEMENT + <i64>k * KEY + <i64>kb + <i64>dl;
  if (total > 0x7fffffff) return -1;
  let out = uninitialized(<i32>total);
  let p = changetype<usize>(out);
  store<u32>(p, MAGIC);
  store<u32>(p, FORMAT, 4);
  store<u32>(p, <u32>total, 8);
  store<u32>(p, <u32>n, 12);
  store<u32>(p, <u32>k, 16);
  store<u32>(p, <u32>kb, 20);
  store<u32>(p, <u32>dl, 24);
  store<u32>(p, BUILD_HASH, 28);
  let e = p + <usize>HEADER;
  let q = e + <usize>n * <usize>ELEMENT;
  let b = q + <usize>k * <usize>KEY;
  let keyBase = b;
  let keysEnd: u32 = 0;
  for (let i = 0; i < n; i++) {
    let entry = unchecked(entries[i]);
    let keys = entry.keys;
    let kinds = entry.kinds;
    let routes = entry.vh.routes.length;
    store<u32>(e, <u32>unchecked(cache.offsets[i]));
    store<u32>(e, <u32>unchecked(cache.lengths[i]), 4);
    store<u32>(e, unchecked(cache.hashes[i]), 8);
    store<u32>(e, <u32>routes, 12);
    store<u32>(e, entry.hasDelays ? 1 : 0, 16);
    keysEnd += <u32>keys.length;
    store<u32>(e, keysEnd, 20);
    e += <usize>ELEMENT;
    for (let m = 0; m < keys.length; m++) {
      let kl = asciiInto(unchecked(keys[m]), b);
      if (kl < 0) return -1;
      b += <usize>kl;
      store<u32>(q, <u32>unchecked(kinds[m]));
      store<u32>(q, <u32>(b - keyBase), 4);
      q += <usize>KEY;
    }
  }
  memory.copy(b, cache.base, <usize>dl);
  setSharedData(SHARED_KEY, p, <i32>total);
  return <i32>total;
}

/** Writes an ASCII string's characters as bytes at p: their number, or -1 if one is not ASCII. */
export function asciiInto(s: string, p: usize): i32 {
  let n = s.length;
  let q = changetype<usize>(s);
  for (let i = 0; i < n; i++) {
    let ch = load<u16>(q + (<usize>i << 1));
    if (ch >= 0x80) return -1;
    store<u8>(p + <usize>i, <u8>ch);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// A set of lookup keys by their bytes, for the verdict on the fast path: the same duplicate
// checks as the table's maps (load/document.ts insertDomain), without a string or a map entry per key.

function keyHash(p: usize, len: i32, kind: u8): u32 {
  let h: u32 = 0x811c9dc5 ^ (<u32>kind << 24) ^ <u32>len;
  for (let i = 0; i < len; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 0x01000193;
  h ^= h >> 15;
  return h;
}

export class KeySet {
  ptrs: StaticArray<usize>;
  lens: StaticArray<i32>;
  kinds: StaticArray<u8>;
  count: i32 = 0;
  /** Open addressing: key + 1, 0 = empty; at least half empty. */
  index: StaticArray<i32>;

  constructor(capacity: i32) {
    this.ptrs = new StaticArray<usize>(capacity);
    this.lens = new StaticArray<i32>(capacity);
    this.kinds = new StaticArray<u8>(capacity);
    let size = 4;
    while (size < capacity * 2) size <<= 1;
    this.index = new StaticArray<i32>(size);
  }

  /** The key index of (kind, bytes), or -1; `slot` gets where it would go. */
  private find(kind: u8, p: usize, len: i32): i32 {
    let index = this.index;
    let mask = index.length - 1;
    let slot = <i32>keyHash(p, len, kind) & mask;
    while (true) {
      let j = unchecked(index[slot]) - 1;
      if (j < 0) {
        lastSlot = slot;
        return -1;
      }
      if (unchecked(this.kinds[j]) == kind && unchecked(this.lens[j]) == len && memory.compare(unchecked(this.ptrs[j]), p, <usize>len) == 0) return j;
      slot = (slot + 1) & mask;
    }
  }

  /** Adds a key (its bytes must stay alive); false when the set already had it (insertDomain's "taken"). */
  add(kind: u8, p: usize, len: i32): bool {
    if (this.find(kind, p, len) >= 0) return false;
    let j = this.count;
    if (j == this.ptrs.length) return false; // more keys than sized for: the caller's bug, never a pass
    unchecked(this.ptrs[j] = p);
    unchecked(this.lens[j] = len);
    unchecked(this.kinds[j] = kind);
    unchecked(this.index[lastSlot] = j + 1);
    this.count = j + 1;
    return true;
  }

  has(kind: u8, p: usize, len: i32): bool {
    return this.find(kind, p, len) >= 0;
  }
}

let lastSlot: i32 = 0;
