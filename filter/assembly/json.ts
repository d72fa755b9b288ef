// A small JSON reader for the route table. Hand-written because assemblyscript-json's tree API
// leaks about 10x its input per parse on AS 0.17 (see shared FACTS). The tree built here is
// acyclic, so ARC frees it as soon as the caller drops the root.
//
// Strings must be valid UTF-8: String.UTF8.decode silently stops at the first invalid byte, which
// would turn a typo into a silently different route, so invalid input is an error instead.

export const J_NULL: i32 = 0;
export const J_BOOL: i32 = 1;
export const J_NUMBER: i32 = 2;
export const J_STRING: i32 = 3;
export const J_ARRAY: i32 = 4;
export const J_OBJECT: i32 = 5;

const MAX_DEPTH: i32 = 64;

export class JValue {
  kind: i32 = J_NULL;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: Array<JValue> | null = null; // arrays
  keys: Array<string> | null = null; // objects, in document order
  values: Array<JValue> | null = null;

  /** Member by key; null when absent. Objects in the table are small, a scan is fine. */
  get(key: string): JValue | null {
    let keys = this.keys;
    let values = this.values;
    if (keys === null || values === null) return null;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] == key) {
        let v = values[i];
        return v;
      }
    }
    return null;
  }
}

export function kindName(kind: i32): string {
  if (kind == J_NULL) return "null";
  if (kind == J_BOOL) return "boolean";
  if (kind == J_NUMBER) return "number";
  if (kind == J_STRING) return "string";
  if (kind == J_ARRAY) return "array";
  return "object";
}

class Parser {
  base: usize;
  len: i32;
  pos: i32 = 0;
  depth: i32 = 0;
  error: string = "";
  scratch: Array<u8> = new Array<u8>();

  constructor(base: usize, len: i32) {
    this.base = base;
    this.len = len;
  }

  fail(msg: string): JValue | null {
    if (this.error.length == 0) {
      this.error = "invalid JSON at byte " + this.pos.toString() + ": " + msg;
    }
    return null;
  }

  peek(): i32 {
    return this.pos < this.len ? <i32>load<u8>(this.base + <usize>this.pos) : -1;
  }

  skipSpace(): void {
    while (this.pos < this.len) {
      let c = load<u8>(this.base + <usize>this.pos);
      if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) this.pos++;
      else break;
    }
  }

  value(): JValue | null {
    this.skipSpace();
    let c = this.peek();
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      let s = this.string();
      if (this.error.length) return null;
      let v = new JValue();
      v.kind = J_STRING;
      v.str = s;
      return v;
    }
    if (c == 0x74) return this.literal("true", J_BOOL, true);
    if (c == 0x66) return this.literal("false", J_BOOL, false);
    if (c == 0x6e) return this.literal("null", J_NULL, false);
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c < 0) return this.fail("unexpected end of input");
    return this.fail("unexpected character '" + String.fromCharCode(c) + "'");
  }

  literal(word: string, kind: i32, b: bool): JValue | null {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() != word.charCodeAt(i)) return this.fail("invalid literal, expected " + word);
      this.pos++;
    }
    let v = new JValue();
    v.kind = kind;
    v.bool = b;
    return v;
  }

  number(): JValue | null {
    let start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    let digits = 0;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) { this.pos++; digits++; }
    if (digits == 0) return this.fail("invalid number");
    if (this.peek() == 0x2e) {
      this.pos++;
      let frac = 0;
      while (this.peek() >= 0x30 && this.peek() <= 0x39) { this.pos++; frac++; }
      if (frac == 0) return this.fail("invalid number");
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      let exp = 0;
      while (this.peek() >= 0x30 && this.peek() <= 0x39) { this.pos++; exp++; }
      if (exp == 0) return this.fail("invalid number");
    }
    let text = String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start));
    let v = new JValue();
    v.kind = J_NUMBER;
    v.num = parseFloat(text);
    return v;
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

  pushCodePoint(cp: i32): void {
    let s = this.scratch;
    if (cp < 0x80) {
      s.push(<u8>cp);
    } else if (cp < 0x800) {
      s.push(<u8>(0xc0 | (cp >> 6)));
      s.push(<u8>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      s.push(<u8>(0xe0 | (cp >> 12)));
      s.push(<u8>(0x80 | ((cp >> 6) & 0x3f)));
      s.push(<u8>(0x80 | (cp & 0x3f)));
    } else {
      s.push(<u8>(0xf0 | (cp >> 18)));
      s.push(<u8>(0x80 | ((cp >> 12) & 0x3f)));
      s.push(<u8>(0x80 | ((cp >> 6) & 0x3f)));
      s.push(<u8>(0x80 | (cp & 0x3f)));
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

  string(): string {
    this.pos++; // opening quote
    let start = this.pos;
    let escaped = false;
    let s = this.scratch;
    s.length = 0;
    while (true) {
      if (this.pos >= this.len) { this.fail("unterminated string"); return ""; }
      let c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c == 0x22) break;
      if (c < 0x20) { this.fail("control character in string"); return ""; }
      if (c == 0x5c) {
        if (!escaped) {
          escaped = true;
          for (let i = start; i < this.pos; i++) s.push(load<u8>(this.base + <usize>i));
        }
        this.pos++;
        let e = this.peek();
        this.pos++;
        if (e == 0x22 || e == 0x5c || e == 0x2f) s.push(<u8>e);
        else if (e == 0x62) s.push(0x08);
        else if (e == 0x66) s.push(0x0c);
        else if (e == 0x6e) s.push(0x0a);
        else if (e == 0x72) s.push(0x0d);
        else if (e == 0x74) s.push(0x09);
        else if (e == 0x75) {
          let cp = this.hex4();
          if (cp < 0) { this.fail("invalid \\u escape"); return ""; }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (this.peek() != 0x5c) { this.fail("unpaired surrogate"); return ""; }
            this.pos++;
            if (this.peek() != 0x75) { this.fail("unpaired surrogate"); return ""; }
            this.pos++;
            let lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) { this.fail("unpaired surrogate"); return ""; }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            this.fail("unpaired surrogate");
            return "";
          }
          this.pushCodePoint(cp);
        } else { this.pos--; this.fail("invalid escape"); return ""; }
        continue;
      }
      if (c < 0x80) {
        if (escaped) s.push(<u8>c);
        this.pos++;
        continue;
      }
      let n = this.utf8Length();
      if (n == 0) { this.fail("invalid UTF-8 in string"); return ""; }
      if (escaped) {
        for (let i = 0; i < n; i++) s.push(load<u8>(this.base + <usize>(this.pos + i)));
      }
      this.pos += n;
    }
    let end = this.pos;
    this.pos++; // closing quote
    if (!escaped) return String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(end - start));
    return String.UTF8.decodeUnsafe(s.dataStart, <usize>s.length);
  }

  array(): JValue | null {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.pos++;
    let items = new Array<JValue>();
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
    } else {
      while (true) {
        let item = this.value();
        if (item === null) return null;
        items.push(item);
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
    let v = new JValue();
    v.kind = J_ARRAY;
    v.items = items;
    return v;
  }

  object(): JValue | null {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.pos++;
    let keys = new Array<string>();
    let values = new Array<JValue>();
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
    } else {
      while (true) {
        this.skipSpace();
        if (this.peek() != 0x22) return this.fail("expected a string key");
        let keyPos = this.pos;
        let key = this.string();
        if (this.error.length) return null;
        if (keys.includes(key)) {
          this.pos = keyPos;
          return this.fail("duplicate key \"" + key + "\"");
        }
        this.skipSpace();
        if (this.peek() != 0x3a) return this.fail("expected ':'");
        this.pos++;
        let item = this.value();
        if (item === null) return null;
        keys.push(key);
        values.push(item);
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
    let v = new JValue();
    v.kind = J_OBJECT;
    v.keys = keys;
    v.values = values;
    return v;
  }
}

let lastError: string = "";

/** The error of the last failed parseJson call. */
export function jsonError(): string {
  return lastError;
}

/** Parses a whole JSON document; null on error (see jsonError). */
export function parseJson(base: usize, len: i32): JValue | null {
  let p = new Parser(base, len);
  let v = p.value();
  if (v !== null) {
    p.skipSpace();
    if (p.pos != p.len) {
      p.fail("trailing characters after the document");
      v = null;
    }
  }
  lastError = p.error;
  return v;
}
