// Reading the route table's JSON tape (load/json.ts) during one compile: the tape being
// compiled, its node accessors, field paths (segments rendered only for an error message) and
// the first failure of the compile.
import { J_ARRAY, J_NUMBER, J_STRING, Tape, kindName } from "./json";

/** Whether string node v has the bytes of `buf`. */
export function equalsBuffer(v: i32, buf: ArrayBuffer): bool {
  let len = buf.byteLength;
  return lenOf(v) == len && memory.compare(ptrOf(v), changetype<usize>(buf), <usize>len) == 0;
}

/** The document being compiled (one compile at a time: the VM is single threaded). */
export let T: Tape = new Tape(new ArrayBuffer(0), new ArrayBuffer(0));
export const NO_TAPE: Tape = T;
/** T's node array (raw: the hot accessors below read it without touching reference counts). */
export let NB: usize = 0;

@inline export function kindOf(v: i32): i32 {
  return load<i32>(NB + (<usize>v << 4));
}

/** Items of an array, members of an object. */
@inline export function sizeOf(v: i32): i32 {
  return load<i32>(NB + (<usize>v << 4), 4);
}

/** The node after v and everything inside it. */
@inline export function nextOf(v: i32): i32 {
  let p = NB + (<usize>v << 4);
  if (load<i32>(p) >= J_ARRAY) return load<i32>(p, 12);
  return v + 1;
}

@inline export function ptrOf(v: i32): usize {
  return <usize>load<u32>(NB + (<usize>v << 4), 4);
}

@inline export function lenOf(v: i32): i32 {
  return load<i32>(NB + (<usize>v << 4), 8);
}

/** Whether string node v equals an ASCII literal. */
export function is(v: i32, lit: string): bool {
  let len = lenOf(v);
  if (len != lit.length) return false;
  let p = ptrOf(v);
  let q = changetype<usize>(lit);
  for (let i = 0; i < len; i++) {
    if (<u32>load<u8>(p + <usize>i) != <u32>load<u16>(q + (<usize>i << 1))) return false;
  }
  return true;
}

/** The value of member `key` of object v; -1 when absent. */
export function get(v: i32, key: string): i32 {
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    if (is(k, key)) return k + 1;
    k = nextOf(k + 1);
  }
  return -1;
}

/**
 * One pass over object v's members: slot j of `slots` gets the value node of allowed[j] (-1 when
 * absent). A member not in `allowed` fails as onlyKeys does. Each caller has its own slots
 * (a compile function is never re-entered while its slots are in use).
 */
export function members(v: i32, allowed: Array<string>, slots: StaticArray<i32>, path: i32): bool {
  let n = allowed.length;
  for (let j = 0; j < n; j++) unchecked(slots[j] = -1);
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    let found = -1;
    for (let j = 0; j < n; j++) {
      if (is(k, unchecked(allowed[j]))) { found = j; break; }
    }
    if (found < 0) {
      fail(childNode(path, k), "unknown field (allowed: " + allowed.join(", ") + ")");
      return false;
    }
    unchecked(slots[found] = k + 1);
    k = nextOf(k + 1);
  }
  return true;
}

export let error: string = "";

// ---------------------------------------------------------------------------------------------
// Field paths. A path is a segment index: 0 is the document itself; every other segment is
// (parent, kind, value) with kind a literal key (value: the string's address; literals are
// static and never freed), a key of the document (value: its node) or an array index. child()
// and index() are three stores; render() builds the string only for an error message. The pool
// is rewound after each virtual host, so it stays small.

const SEG_LITERAL: i32 = 0;
const SEG_NODE: i32 = 1;
const SEG_INDEX: i32 = 2;
export const ROOT: i32 = 0;

let segs: ArrayBuffer = new ArrayBuffer(12 * 256);
export let segTop: i32 = 1;

function segment(parent: i32, kind: i32, value: i32): i32 {
  if (<usize>(segTop + 1) * 12 > <usize>segs.byteLength) {
    let bigger = new ArrayBuffer(segs.byteLength * 2);
    memory.copy(changetype<usize>(bigger), changetype<usize>(segs), <usize>segs.byteLength);
    segs = bigger;
  }
  let p = changetype<usize>(segs) + <usize>segTop * 12;
  store<i32>(p, parent);
  store<i32>(p, kind, 4);
  store<i32>(p, value, 8);
  return segTop++;
}

/** path.key for a key written in this file (a string literal). */
export function child(path: i32, key: string): i32 {
  return segment(path, SEG_LITERAL, <i32>changetype<usize>(key));
}

/** path.key for a key of the document (a string node). */
export function childNode(path: i32, keyNode: i32): i32 {
  return segment(path, SEG_NODE, keyNode);
}

export function index(path: i32, i: i32): i32 {
  return segment(path, SEG_INDEX, i);
}

// No ternaries that yield references anywhere in the filter: AS 0.17 miscounts the reference
// when one arm is an existing object (double free or corrupted count, then an abort).
function render(path: i32): string {
  if (path == ROOT) return "";
  let p = changetype<usize>(segs) + <usize>path * 12;
  let parent = load<i32>(p);
  let kind = load<i32>(p, 4);
  let value = load<i32>(p, 8);
  let head = render(parent);
  if (kind == SEG_INDEX) return head + "[" + value.toString() + "]";
  let key: string;
  if (kind == SEG_LITERAL) key = changetype<string>(<usize>value);
  else key = T.str(value);
  if (head.length == 0) return key;
  return head + "." + key;
}

export function fail(path: i32, msg: string): void {
  if (error.length == 0) error = render(path) + ": " + msg;
}

export function ok(): bool {
  return error.length == 0;
}

// ---------------------------------------------------------------------------------------------
// Reading the tape

export function expect(v: i32, kind: i32, path: i32): bool {
  let k = kindOf(v);
  if (k != kind) {
    fail(path, "expected " + kindName(kind) + ", got " + kindName(k));
    return false;
  }
  return true;
}

/** Rejects members not in `allowed`, so a typo never silently drops a condition. */
export function onlyKeys(v: i32, allowed: Array<string>, path: i32): bool {
  let count = sizeOf(v);
  let k = v + 1;
  for (let i = 0; i < count; i++) {
    let known = false;
    for (let j = 0; j < allowed.length; j++) {
      if (is(k, unchecked(allowed[j]))) { known = true; break; }
    }
    if (!known) {
      fail(childNode(path, k), "unknown field (allowed: " + allowed.join(", ") + ")");
      return false;
    }
    k = nextOf(k + 1);
  }
  return true;
}

/** The member's value node, or -1 (and a failure) when it is missing. */
export function requireMember(v: i32, key: string, path: i32): i32 {
  return required(get(v, key), key, path);
}

/** A member found by members(): fails when it is missing (-1). */
export function required(m: i32, key: string, path: i32): i32 {
  if (m < 0) fail(child(path, key), "required field is missing");
  return m;
}

export function getString(v: i32, path: i32): string {
  if (!expect(v, J_STRING, path)) return "";
  return T.str(v);
}

export function getInt(v: i32, path: i32, min: f64, max: f64): i64 {
  if (!expect(v, J_NUMBER, path)) return 0;
  let n = T.num(v);
  if (n != Math.floor(n)) { fail(path, "expected an integer, got " + n.toString()); return 0; }
  if (n < min || n > max) { fail(path, "must be between " + min.toString() + " and " + max.toString() + ", got " + n.toString()); return 0; }
  return <i64>n;
}

export function getPercent(v: i32, path: i32): u32 {
  if (!expect(v, J_NUMBER, path)) return 0;
  let n = T.num(v);
  if (!(n >= 0 && n <= 100)) { fail(path, "must be a percentage between 0 and 100"); return 0; }
  return <u32>Math.round(n * 10000);
}

export function encode(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Decimal digits of a non-negative integer as bytes (a router header value). */
export function decimalBytes(n: i64): ArrayBuffer {
  let digits = 1;
  for (let x = n; x >= 10; x /= 10) digits++;
  let out = new ArrayBuffer(digits);
  let p = changetype<usize>(out);
  let x = n;
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(p + <usize>i, <u8>(0x30 + <i32>(x % 10)));
    x /= 10;
  }
  return out;
}
