// The route table's JSON reader: one pass over the bytes into a flat *tape* of fixed-size nodes in
// a single buffer (no object per value, no string per key). Strings stay where they are in the
// input and are referenced by pointer and length; only strings with escapes are decoded, into
// one side buffer. load/tape.ts walks the tape and allocates only what the compiled table keeps.
// (assemblyscript-json's tree API leaks about 10x its input per parse on AS 0.17, and a tree of
// objects costs an allocation, reference counting and a free per value: see docs/filter.md.)
//
// Strings must be valid UTF-8: String.UTF8.decode silently stops at the first invalid byte, which
// would turn a typo into a silently different route, so invalid input is an error instead.
// Duplicate keys in an object are an error too.

export const J_NULL: i32 = 0;
export const J_BOOL: i32 = 1;
export const J_NUMBER: i32 = 2;
export const J_STRING: i32 = 3;
export const J_ARRAY: i32 = 4;
export const J_OBJECT: i32 = 5;

const MAX_DEPTH: i32 = 64;

// A node is 4 i32 words (16 bytes):
//   word 0: kind
//   word 1: string/number: pointer to the bytes; bool: 0/1; array/object: item/member count
//   word 2: string/number: byte length
//   word 3: array/object: index of the node after the whole subtree; string: flags
// An object's members follow it as key (a string node), value (a subtree), key, value, ...
// An array's items follow it. So the tree is walked by index, and a subtree is skipped in O(1).
const NODE_SHIFT: usize = 4;
/** String flag: every byte is ASCII. */
const F_ASCII: i32 = 1;

export function kindName(kind: i32): string {
  if (kind == J_NULL) return "null";
  if (kind == J_BOOL) return "boolean";
  if (kind == J_NUMBER) return "number";
  if (kind == J_STRING) return "string";
  if (kind == J_ARRAY) return "array";
  return "object";
}

/**
 * A parsed document. load/tape.ts reads kinds, counts and links straight from `nodes` (see the
 * layout above); these methods are for strings and numbers and for the parser.
 */
export class Tape {
  /** The document; unescaped strings point into it, so the tape keeps it alive. */
  input: ArrayBuffer;
  nodes: ArrayBuffer;
  count: i32 = 0;
  /** Decoded strings that had escapes (allocated once, input-sized, on the first escape). */
  text: ArrayBuffer | null = null;

  constructor(input: ArrayBuffer, nodes: ArrayBuffer) {
    this.input = input;
    this.nodes = nodes;
  }

  @inline at(n: i32): usize {
    return changetype<usize>(this.nodes) + (<usize>n << NODE_SHIFT);
  }

  /** The node after n and everything inside it. */
  next(n: i32): i32 {
    let p = this.at(n);
    if (load<i32>(p) >= J_ARRAY) return load<i32>(p, 12);
    return n + 1;
  }

  bool(n: i32): bool {
    return load<i32>(this.at(n), 4) != 0;
  }

  /** Pointer to a string's (decoded) UTF-8 bytes or a number's text. */
  ptr(n: i32): usize {
    return <usize>load<u32>(this.at(n), 4);
  }

  /** Byte length of a string (decoded) or of a number's text. */
  len(n: i32): i32 {
    return load<i32>(this.at(n), 8);
  }

  isAscii(n: i32): bool {
    return (load<i32>(this.at(n), 12) & F_ASCII) != 0;
  }

  /** A string node as a string (allocates; for what the table keeps and for messages). */
  str(n: i32): string {
    return String.UTF8.decodeUnsafe(this.ptr(n), <usize>this.len(n));
  }

  /** A copy of a string node's bytes. */
  bytes(n: i32): ArrayBuffer {
    let len = this.len(n);
    let out = new ArrayBuffer(len);
    memory.copy(changetype<usize>(out), this.ptr(n), <usize>len);
    return out;
  }

  /** Length of a string node in UTF-16 code units (what String#length would say). */
  utf16Length(n: i32): i32 {
    let len = this.len(n);
    if (this.isAscii(n)) return len;
    let p = this.ptr(n);
    let units = 0;
    for (let i = 0; i < len; i++) {
      let b = <i32>load<u8>(p + <usize>i);
      if ((b & 0xc0) != 0x80) units += b >= 0xf0 ? 2 : 1;
    }
    return units;
  }

  /** Whether a string node's bytes equal [ptr, ptr+len). */
  equals(n: i32, ptr: usize, len: i32): bool {
    return this.len(n) == len && memory.compare(this.ptr(n), ptr, <usize>len) == 0;
  }

  /** A number node's value: integers of up to 15 digits exactly, anything else by parseFloat. */
  num(n: i32): f64 {
    let p = this.ptr(n);
    let len = this.len(n);
    let i = 0;
    let neg = false;
    if (load<u8>(p) == 0x2d) { neg = true; i = 1; }
    if (len - i <= 15) {
      let v: i64 = 0;
      let plain = true;
      for (; i < len; i++) {
        let c = <i32>load<u8>(p + <usize>i);
        if (c < 0x30 || c > 0x39) { plain = false; break; }
        v = v * 10 + <i64>(c - 0x30);
      }
      if (plain) {
        let f = <f64>v;
        if (neg) return -f;
        return f;
      }
    }
    return parseFloat(String.UTF8.decodeUnsafe(p, <usize>len));
  }

  /** Appends a node; returns its index. */
  @inline push(kind: i32, a: i32, b: i32, c: i32): i32 {
    let n = this.count;
    if (<usize>(n + 1) << NODE_SHIFT > <usize>this.nodes.byteLength) this.grow();
    let p = changetype<usize>(this.nodes) + (<usize>n << NODE_SHIFT);
    store<i32>(p, kind);
    store<i32>(p, a, 4);
    store<i32>(p, b, 8);
    store<i32>(p, c, 12);
    this.count = n + 1;
    return n;
  }

  grow(): void {
    let bigger = uninitialized(this.nodes.byteLength * 2 + 1024);
    memory.copy(changetype<usize>(bigger), changetype<usize>(this.nodes), <usize>this.nodes.byteLength);
    this.nodes = bigger;
  }
}

// SWAR: eight string bytes at once. A word needs a closer look when one of its bytes is '"',
// '\\', a control character (< 0x20) or not ASCII (>= 0x80).
const ONES: u64 = 0x0101010101010101;
const HIGH: u64 = 0x8080808080808080;

@inline function plainWord(x: u64): bool {
  let quote = x ^ (ONES * 0x22);
  let backslash = x ^ (ONES * 0x5c);
  let special = ((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash) | (x - ONES * 0x20) | x;
  return (special & HIGH) == 0;
}

class Parser {
  base: usize;
  len: i32;
  pos: i32 = 0;
  depth: i32 = 0;
  error: string = "";
  tape: Tape;
  /** Write position in tape.text. */
  textPos: usize = 0;

  constructor(input: ArrayBuffer) {
    this.base = changetype<usize>(input);
    this.len = input.byteLength;
    // About one node per 12 bytes of a typical table; the tape grows if needed.
    this.tape = new Tape(input, nodeBuffer(((this.len >> 3) + 16) << <i32>NODE_SHIFT));
  }

  fail(msg: string): i32 {
    if (this.error.length == 0) {
      this.error = "invalid JSON at byte " + this.pos.toString() + ": " + msg;
    }
    return -1;
  }

  @inline peek(): i32 {
    return this.pos < this.len ? <i32>load<u8>(this.base + <usize>this.pos) : -1;
  }

  skipSpace(): void {
    while (this.pos < this.len) {
      let c = load<u8>(this.base + <usize>this.pos);
      if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) this.pos++;
      else break;
    }
  }

  /** Parses a value into the tape; its node index, or -1 on error. */
  value(): i32 {
    this.skipSpace();
    let c = this.peek();
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) return this.string();
    if (c == 0x74) return this.literal("true", J_BOOL, 1);
    if (c == 0x66) return this.literal("false", J_BOOL, 0);
    if (c == 0x6e) return this.literal("null", J_NULL, 0);
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c < 0) return this.fail("unexpected end of input");
    return this.fail("unexpected character '" + String.fromCharCode(c) + "'");
  }

  literal(word: string, kind: i32, b: i32): i32 {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() != word.charCodeAt(i)) return this.fail("invalid literal, expected " + word);
      this.pos++;
    }
    return this.tape.push(kind, b, 0, 0);
  }

  digits(): i32 {
    let n = 0;
    while (this.pos < this.len) {
      let c = load<u8>(this.base + <usize>this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
      n++;
    }
    return n;
  }

  number(): i32 {
    let start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    if (this.digits() == 0) return this.fail("invalid number");
    if (this.peek() == 0x2e) {
      this.pos++;
      if (this.digits() == 0) return this.fail("invalid number");
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (this.digits() == 0) return this.fail("invalid number");
    }
    return this.tape.push(J_NUMBER, <i32>(this.base + <usize>start), this.pos - start, 0);
  }

  hex4(): i32 {
    if (this.pos + 4 > this.len) return -1;
    let r = 0;
    for (let i = 0; i < 4; i++) {
      let c = <i32>load<u8>(this.base + <usize>(this.pos + i));
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return -1;
      r = (r << 4) | d;
    }
    this.pos += 4;
    return r;
  }

  @inline put(b: i32): void {
    store<u8>(this.textPos, <u8>b);
    this.textPos++;
  }

  putCodePoint(cp: i32): void {
    if (cp < 0x80) {
      this.put(cp);
    } else if (cp < 0x800) {
      this.put(0xc0 | (cp >> 6));
      this.put(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      this.put(0xe0 | (cp >> 12));
      this.put(0x80 | ((cp >> 6) & 0x3f));
      this.put(0x80 | (cp & 0x3f));
    } else {
      this.put(0xf0 | (cp >> 18));
      this.put(0x80 | ((cp >> 12) & 0x3f));
      this.put(0x80 | ((cp >> 6) & 0x3f));
      this.put(0x80 | (cp & 0x3f));
    }
  }

  /** Length of the valid UTF-8 sequence starting at pos, or 0 if it is invalid. */
  utf8Length(): i32 {
    let c = <i32>load<u8>(this.base + <usize>this.pos);
    let n = 0;
    let min = 0;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; }
    else return 0;
    if (this.pos + n > this.len) return 0;
    let cp = c & (0x7f >> n);
    for (let i = 1; i < n; i++) {
      let b = <i32>load<u8>(this.base + <usize>(this.pos + i));
      if ((b & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
  }

  /** A string at pos (the opening quote) into a string node; -1 on error. */
  string(): i32 {
    this.pos++; // opening quote
    let start = this.pos;
    let base = this.base;
    let len = this.len;
    let flags = F_ASCII;
    // Fast path: plain ASCII up to the closing quote (the common case: keys, names, clusters),
    // a word at a time, then byte by byte.
    let pos = start;
    while (pos + 8 <= len && plainWord(load<u64>(base + <usize>pos))) pos += 8;
    while (pos < len) {
      let c = <i32>load<u8>(base + <usize>pos);
      if (c == 0x22 || c == 0x5c || c < 0x20 || c >= 0x80) break;
      pos++;
    }
    this.pos = pos;
    let escaped = false;
    let out: usize = 0;
    while (true) {
      if (this.pos >= len) return this.fail("unterminated string");
      let c = <i32>load<u8>(base + <usize>this.pos);
      if (c == 0x22) break;
      if (c < 0x20) return this.fail("control character in string");
      if (c == 0x5c) {
        if (!escaped) {
          escaped = true;
          let text = this.tape.text;
          if (text === null) {
            // Decoded text is never longer than its escaped source, so one input-sized buffer
            // holds every escaped string of the document.
            text = uninitialized(len);
            this.tape.text = text;
            this.textPos = changetype<usize>(text);
          }
          out = this.textPos;
          memory.copy(out, base + <usize>start, <usize>(this.pos - start));
          this.textPos += <usize>(this.pos - start);
        }
        this.pos++;
        let e = this.peek();
        this.pos++;
        if (e == 0x22 || e == 0x5c || e == 0x2f) this.put(e);
        else if (e == 0x62) this.put(0x08);
        else if (e == 0x66) this.put(0x0c);
        else if (e == 0x6e) this.put(0x0a);
        else if (e == 0x72) this.put(0x0d);
        else if (e == 0x74) this.put(0x09);
        else if (e == 0x75) {
          let cp = this.hex4();
          if (cp < 0) return this.fail("invalid \\u escape");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (this.peek() != 0x5c) return this.fail("unpaired surrogate");
            this.pos++;
            if (this.peek() != 0x75) return this.fail("unpaired surrogate");
            this.pos++;
            let lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) return this.fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return this.fail("unpaired surrogate");
          }
          if (cp >= 0x80) flags = 0;
          this.putCodePoint(cp);
        } else { this.pos--; return this.fail("invalid escape"); }
        continue;
      }
      if (c < 0x80) {
        if (escaped) this.put(c);
        this.pos++;
        continue;
      }
      let n = this.utf8Length();
      if (n == 0) return this.fail("invalid UTF-8 in string");
      flags = 0;
      if (escaped) {
        memory.copy(this.textPos, base + <usize>this.pos, <usize>n);
        this.textPos += <usize>n;
      }
      this.pos += n;
    }
    let end = this.pos;
    this.pos++; // closing quote
    if (!escaped) return this.tape.push(J_STRING, <i32>(base + <usize>start), end - start, flags);
    return this.tape.push(J_STRING, <i32>out, <i32>(this.textPos - out), flags);
  }

  array(): i32 {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.pos++;
    let tape = this.tape;
    let node = tape.push(J_ARRAY, 0, 0, 0);
    let count = 0;
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
    } else {
      while (true) {
        if (this.value() < 0) return -1;
        count++;
        this.skipSpace();
        let c = this.peek();
        this.pos++;
        if (c == 0x2c) continue;
        if (c == 0x5d) break;
        this.pos--;
        return this.fail("expected ',' or ']'");
      }
    }
    this.depth--;
    let p = tape.at(node);
    store<i32>(p, count, 4);
    store<i32>(p, tape.count, 12);
    return node;
  }

  object(): i32 {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.pos++;
    let tape = this.tape;
    let node = tape.push(J_OBJECT, 0, 0, 0);
    let count = 0;
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
    } else {
      while (true) {
        this.skipSpace();
        if (this.peek() != 0x22) return this.fail("expected a string key");
        let keyPos = this.pos;
        let key = this.string();
        if (key < 0) return -1;
        // Duplicate keys: compare with the earlier keys of this object (objects are small).
        let kp = tape.ptr(key);
        let kl = tape.len(key);
        let k = node + 1;
        for (let i = 0; i < count; i++) {
          if (tape.equals(k, kp, kl)) {
            this.pos = keyPos;
            return this.fail("duplicate key \"" + tape.str(key) + "\"");
          }
          k = tape.next(k + 1);
        }
        this.skipSpace();
        if (this.peek() != 0x3a) return this.fail("expected ':'");
        this.pos++;
        if (this.value() < 0) return -1;
        count++;
        this.skipSpace();
        let c = this.peek();
        this.pos++;
        if (c == 0x2c) continue;
        if (c == 0x7d) break;
        this.pos--;
        return this.fail("expected ',' or '}'");
      }
    }
    this.depth--;
    let p = tape.at(node);
    store<i32>(p, count, 4);
    store<i32>(p, tape.count, 12);
    return node;
  }
}

// The node buffer of the last tape, kept for the next parse when it is small: a table load then
// allocates no new buffer, and the heap does not fragment under repeated loads.
const KEEP_NODES_MAX: i32 = 1 << 20;
let spareNodes: ArrayBuffer | null = null;

function nodeBuffer(bytes: i32): ArrayBuffer {
  let spare = spareNodes;
  if (spare !== null && spare.byteLength >= bytes) {
    spareNodes = null;
    return spare;
  }
  return uninitialized(bytes);
}

/** An ArrayBuffer without the zero fill (every byte of it is written before it is read). */
export function uninitialized(bytes: i32): ArrayBuffer {
  let buf = __new(<usize>bytes, idof<ArrayBuffer>());
  return changetype<ArrayBuffer>(buf); // retains
}

/** Called when a tape is no longer used: its node buffer may serve the next parse. */
export function releaseTape(tape: Tape): void {
  let nodes = tape.nodes;
  if (nodes.byteLength <= KEEP_NODES_MAX) {
    let spare = spareNodes;
    if (spare === null || spare.byteLength < nodes.byteLength) spareNodes = nodes;
  }
  tape.nodes = new ArrayBuffer(0);
  tape.input = tape.nodes;
  tape.text = null;
}

let lastError: string = "";

/** The error of the last failed parseJson call. */
export function jsonError(): string {
  return lastError;
}

/** Parses a whole JSON document into a tape whose root is node 0; null on error (see jsonError). */
export function parseJson(input: ArrayBuffer): Tape | null {
  let p = new Parser(input);
  let root = p.value();
  if (root >= 0) {
    p.skipSpace();
    if (p.pos != p.len) {
      p.fail("trailing characters after the document");
      root = -1;
    }
  }
  lastError = p.error;
  if (root < 0) {
    releaseTape(p.tape);
    return null;
  }
  let tape = p.tape;
  return tape;
}
