// The head of a sharded-table document (ADR 0005): its top-level members, read without parsing
// what is nested (a shard's virtual hosts are skipped by bracket counting), so a carrier checks a
// 900 KB shard in one pass over its bytes and compiles nothing. A truncated or malformed document
// keeps the members read before the fault, so a carrier can still store its invalid marker under
// the key and index the document names.
import { skipSpace, skipString, skipValue } from "../load/cache";
import { MANIFEST_KIND, MAX_KEY_BYTES, MAX_SHARDS, SHARD_KIND } from "./contract";

/** What the document is, by its members. */
export const HEAD_TABLE: i32 = 0;
export const HEAD_SHARD: i32 = 1;
export const HEAD_MANIFEST: i32 = 2;
export const HEAD_ROUTER: i32 = 3;
/** A `kind` member that names neither kind. */
export const HEAD_FOREIGN: i32 = 4;

/** Most top-level members a head may have (a shard has 8). */
const MAX_MEMBERS: i32 = 16;
const SHARD_KEYS: Array<string> = ["kind", "format", "key", "index", "count", "version", "virtualHosts", "ambiguousHosts"];
const MANIFEST_KEYS: Array<string> = ["kind", "format", "key", "version", "shards"];
const ROUTER_KEYS: Array<string> = ["format", "shardedTable"];

/** One member: key and value as byte spans of the document (the key without its quotes). */
class Member {
  constructor(public keyStart: i32, public keyEnd: i32, public valueStart: i32, public valueEnd: i32) {}
}

export class Head {
  kind: i32 = HEAD_TABLE;
  /** The first fault ("" when the head is valid). Members before it are still read. */
  error: string = "";
  key: string = "";
  /** -1 when absent or invalid. */
  index: i32 = -1;
  count: i32 = -1;
  version: string = "";
  /** The shard's virtualHosts / ambiguousHosts values as spans (-1: absent). */
  vhostsStart: i32 = -1;
  vhostsEnd: i32 = -1;
  ambiguousStart: i32 = -1;
  ambiguousEnd: i32 = -1;
  /** The manifest's shard versions. */
  shards: Array<string> = new Array<string>();

  fail(message: string): void {
    if (this.error.length == 0) this.error = message;
  }
}

@inline function byteAt(base: usize, pos: i32): i32 {
  return <i32>load<u8>(base + <usize>pos);
}

/** Whether [start, end) of the document spells `lit` (ASCII), byte for byte. */
function spells(base: usize, start: i32, end: i32, lit: string): bool {
  if (end - start != lit.length) return false;
  for (let i = 0; i < lit.length; i++) {
    if (byteAt(base, start + i) != <i32>lit.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The members of the object at pos, up to MAX_MEMBERS; stops at the first fault (h.fail) and
 * returns what it read. `whole`: the object must end the document (only whitespace after it).
 */
function members(base: usize, len: i32, pos: i32, whole: bool, h: Head): Array<Member> {
  let out = new Array<Member>();
  pos = skipSpace(base, len, pos);
  if (pos >= len || byteAt(base, pos) != 0x7b) {
    h.fail("not a JSON object");
    return out;
  }
  pos = skipSpace(base, len, pos + 1);
  if (pos < len && byteAt(base, pos) == 0x7d) {
    if (whole && skipSpace(base, len, pos + 1) != len) h.fail("bytes after the document at offset " + (pos + 1).toString());
    return out;
  }
  for (let n = 0; n < MAX_MEMBERS; n++) {
    if (pos >= len || byteAt(base, pos) != 0x22) {
      h.fail("truncated or invalid JSON at offset " + pos.toString() + " (expected a member name)");
      return out;
    }
    let keyEnd = skipString(base, len, pos);
    if (keyEnd < 0) {
      h.fail("truncated JSON: a member name at offset " + pos.toString() + " never ends");
      return out;
    }
    let keyStart = pos + 1;
    pos = skipSpace(base, len, keyEnd);
    if (pos >= len || byteAt(base, pos) != 0x3a) {
      h.fail("truncated or invalid JSON at offset " + pos.toString() + " (expected ':')");
      return out;
    }
    let valueStart = skipSpace(base, len, pos + 1);
    let valueEnd = skipValue(base, len, valueStart);
    if (valueEnd < 0) {
      h.fail("truncated or invalid JSON: the value at offset " + valueStart.toString() + " never ends");
      return out;
    }
    out.push(new Member(keyStart, keyEnd - 1, valueStart, valueEnd));
    pos = skipSpace(base, len, valueEnd);
    if (pos >= len) {
      h.fail("truncated JSON: the object never ends");
      return out;
    }
    let c = byteAt(base, pos);
    pos = skipSpace(base, len, pos + 1);
    if (c == 0x2c) continue;
    if (c == 0x7d) {
      if (whole && pos != len) h.fail("bytes after the document at offset " + pos.toString());
      return out;
    }
    h.fail("invalid JSON at offset " + (pos - 1).toString() + " (expected ',' or '}')");
    return out;
  }
  h.fail("more than " + MAX_MEMBERS.toString() + " members");
  return out;
}

/** A string value without escapes of printable ASCII (0x21-0x7e), or null. */
function plainString(base: usize, m: Member, maxBytes: i32): string | null {
  let s = m.valueStart;
  let e = m.valueEnd;
  if (e - s < 3 || byteAt(base, s) != 0x22 || byteAt(base, e - 1) != 0x22 || e - s - 2 > maxBytes) return null;
  for (let i = s + 1; i < e - 1; i++) {
    let c = byteAt(base, i);
    if (c < 0x21 || c > 0x7e || c == 0x5c || c == 0x22) return null;
  }
  return String.UTF8.decodeUnsafe(base + <usize>(s + 1), <usize>(e - s - 2));
}

/** A non-negative integer written without sign, fraction or exponent, below 10^9; else -1. */
function smallInt(base: usize, start: i32, end: i32): i32 {
  let n = end - start;
  if (n < 1 || n > 9 || (n > 1 && byteAt(base, start) == 0x30)) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    let c = byteAt(base, i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/** A key's shape: 1..MAX_KEY_BYTES of [A-Za-z0-9._:/-]. */
function validKey(key: string): bool {
  if (key.length == 0 || key.length > MAX_KEY_BYTES) return false;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    let ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2f || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

function findMember(base: usize, ms: Array<Member>, name: string): Member | null {
  for (let i = 0; i < ms.length; i++) {
    let m = ms[i];
    if (spells(base, m.keyStart, m.keyEnd, name)) return m;
  }
  return null;
}

/** The kind of a document by its members: HEAD_TABLE when it has neither `kind` nor `shardedTable`. */
function kindOf(base: usize, ms: Array<Member>, h: Head): i32 {
  if (findMember(base, ms, "shardedTable") !== null) return HEAD_ROUTER;
  let k = findMember(base, ms, "kind");
  if (k === null) return HEAD_TABLE;
  let kind = plainString(base, k, 64);
  if (kind === null) return HEAD_FOREIGN;
  if (kind == SHARD_KIND) return HEAD_SHARD;
  if (kind == MANIFEST_KIND) return HEAD_MANIFEST;
  return HEAD_FOREIGN;
}

/** Unknown or repeated members are faults (the route table refuses them too). */
function checkNames(base: usize, ms: Array<Member>, allowed: Array<string>, h: Head): void {
  for (let i = 0; i < ms.length; i++) {
    let m = ms[i];
    let known = false;
    for (let j = 0; j < allowed.length; j++) if (spells(base, m.keyStart, m.keyEnd, allowed[j])) known = true;
    let name = String.UTF8.decodeUnsafe(base + <usize>m.keyStart, <usize>min(m.keyEnd - m.keyStart, 64));
    if (!known) h.fail("unknown member \"" + name + "\"");
    for (let j = 0; j < i; j++) {
      let o = ms[j];
      if (spells(base, o.keyStart, o.keyEnd, name)) h.fail("member \"" + name + "\" appears twice");
    }
  }
}

function readFormat(base: usize, ms: Array<Member>, h: Head): void {
  let f = findMember(base, ms, "format");
  if (f === null) h.fail("format is missing");
  else if (smallInt(base, f.valueStart, f.valueEnd) != 1) h.fail("unsupported format (this filter reads format 1)");
}

function readKey(base: usize, ms: Array<Member>, h: Head): void {
  let k = findMember(base, ms, "key");
  if (k === null) {
    h.fail("key is missing");
    return;
  }
  let key = plainString(base, k, MAX_KEY_BYTES);
  if (key === null || !validKey(key)) {
    h.fail("key must be 1-" + MAX_KEY_BYTES.toString() + " characters of [A-Za-z0-9._:/-]");
    return;
  }
  h.key = key;
}

function readVersion(base: usize, ms: Array<Member>, h: Head): void {
  let v = findMember(base, ms, "version");
  if (v === null) {
    h.fail("version is missing");
    return;
  }
  let version = plainString(base, v, 128);
  if (version === null) {
    h.fail("version must be 1-128 printable characters without escapes");
    return;
  }
  h.version = version;
}

function readShardHead(base: usize, ms: Array<Member>, h: Head): void {
  readKey(base, ms, h);
  let i = findMember(base, ms, "index");
  if (i === null) h.fail("index is missing");
  else {
    let n = smallInt(base, i.valueStart, i.valueEnd);
    if (n < 0 || n >= MAX_SHARDS) h.fail("index must be an integer 0-" + (MAX_SHARDS - 1).toString());
    else h.index = n;
  }
  let c = findMember(base, ms, "count");
  if (c === null) h.fail("count is missing");
  else {
    let n = smallInt(base, c.valueStart, c.valueEnd);
    if (n < 1 || n > MAX_SHARDS) h.fail("count must be an integer 1-" + MAX_SHARDS.toString());
    else h.count = n;
  }
  if (h.index >= 0 && h.count > 0 && h.index >= h.count) h.fail("index " + h.index.toString() + " is not below count " + h.count.toString());
  readFormat(base, ms, h);
  readVersion(base, ms, h);
  let vhs = findMember(base, ms, "virtualHosts");
  if (vhs === null || byteAt(base, vhs.valueStart) != 0x5b) h.fail("virtualHosts must be an array");
  else {
    h.vhostsStart = vhs.valueStart;
    h.vhostsEnd = vhs.valueEnd;
  }
  let amb = findMember(base, ms, "ambiguousHosts");
  if (amb !== null) {
    if (byteAt(base, amb.valueStart) != 0x5b) h.fail("ambiguousHosts must be an array");
    h.ambiguousStart = amb.valueStart;
    h.ambiguousEnd = amb.valueEnd;
  }
  checkNames(base, ms, SHARD_KEYS, h);
}

function readManifestHead(base: usize, len: i32, ms: Array<Member>, h: Head): void {
  readKey(base, ms, h);
  readFormat(base, ms, h);
  readVersion(base, ms, h);
  checkNames(base, ms, MANIFEST_KEYS, h);
  let s = findMember(base, ms, "shards");
  if (s === null) {
    h.fail("shards is missing");
    return;
  }
  // An array of 1..MAX_SHARDS version strings.
  let pos = skipSpace(base, len, s.valueStart + 1);
  if (byteAt(base, s.valueStart) != 0x5b || (pos < s.valueEnd && byteAt(base, pos) == 0x5d)) {
    h.fail("shards must be a non-empty array of versions");
    return;
  }
  while (pos < s.valueEnd) {
    if (h.shards.length == MAX_SHARDS) {
      h.fail("more than " + MAX_SHARDS.toString() + " shards");
      return;
    }
    let end = byteAt(base, pos) == 0x22 ? skipString(base, len, pos) : -1;
    let version: string | null = null;
    if (end > 0) version = plainString(base, new Member(0, 0, pos, end), 128);
    if (version === null) {
      h.fail("shards[" + h.shards.length.toString() + "] must be a version (1-128 printable characters)");
      return;
    }
    h.shards.push(version);
    pos = skipSpace(base, len, end);
    let c = byteAt(base, pos);
    pos = skipSpace(base, len, pos + 1);
    if (c == 0x5d) break;
    if (c != 0x2c) {
      h.fail("shards must be an array of versions");
      return;
    }
  }
  h.count = h.shards.length;
}

/** The head of a document: its kind and, for the sharded kinds, the checked head fields. */
export function readHead(bytes: ArrayBuffer): Head {
  let h = new Head();
  let base = changetype<usize>(bytes);
  let len = bytes.byteLength;
  let ms = members(base, len, 0, true, h);
  h.kind = kindOf(base, ms, h);
  if (h.kind == HEAD_SHARD) readShardHead(base, ms, h);
  else if (h.kind == HEAD_MANIFEST) readManifestHead(base, len, ms, h);
  else if (h.kind == HEAD_FOREIGN) h.fail("kind must be \"" + SHARD_KIND + "\" or \"" + MANIFEST_KIND + "\"");
  else if (h.kind == HEAD_ROUTER) readRouterConfig(base, len, ms, h);
  return h;
}

/** `{"format":1,"shardedTable":{"key":"..."}}`: the key goes to h.key. */
function readRouterConfig(base: usize, len: i32, ms: Array<Member>, h: Head): void {
  readFormat(base, ms, h);
  checkNames(base, ms, ROUTER_KEYS, h);
  let t = findMember(base, ms, "shardedTable");
  if (t === null) return;
  let inner = members(base, t.valueEnd, t.valueStart, false, h);
  if (!h.error.length) {
    checkNames(base, inner, ["key"], h);
    readKey(base, inner, h);
  }
}

/** Whether a document's first member is `kind`: a carrier's document, by the planner's order. */
export function startsWithKind(bytes: ArrayBuffer): bool {
  let base = changetype<usize>(bytes);
  let len = bytes.byteLength;
  let pos = skipSpace(base, len, 0);
  if (pos >= len || byteAt(base, pos) != 0x7b) return false;
  pos = skipSpace(base, len, pos + 1);
  return pos + 6 <= len && spells(base, pos, pos + 6, "\"kind\"");
}
