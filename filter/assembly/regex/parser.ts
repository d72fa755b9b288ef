// RE2-syntax parser producing a flat AST (parallel i32 arrays, no object graph).
//
// Compile-time only. Every failure is reported through Parser.err/errFrag/errOff and a
// negative node id; nothing throws and no index is read without a bounds check.

import {
  addRange, addAll, normalize, negate, foldRanges, hasFold, addPerlClass, addPosixClass,
} from "./charclass";
import {
  N_EMPTY, N_LIT, N_CLASS, N_ANY, N_ANYNOTNL, N_ASSERT, N_CONCAT, N_ALT, N_REPEAT, A_BOT, A_EOT,
  A_BOL, A_EOL, A_WORDB, A_NWORDB, MAX_REPEAT, MAX_DEPTH, E_MISSING_PAREN, E_UNEXPECTED_PAREN,
  E_MISSING_BRACKET, E_BAD_RANGE, E_BAD_ESCAPE, E_TRAILING_BACKSLASH, E_REPEAT_ARG, E_REPEAT_OP,
  E_REPEAT_SIZE, E_PERL_OP, E_NAMED_CAPTURE, E_NESTING, E_UTF, E_UNICODE_CLASS, E_ANY_BYTE,
} from "./syntax";
import { isAlpha, isDigit, isHex, isWordName, unHex } from "./text";


// Flags
const F_I: i32 = 1;
const F_M: i32 = 2;
const F_S: i32 = 4;
const F_U: i32 = 8;

export class Parser {
  pat: string;
  len: i32;
  pos: i32 = 0;
  flags: i32 = 0;
  depth: i32 = 0;

  // AST
  kind: Array<i32> = new Array<i32>();
  na: Array<i32> = new Array<i32>();
  nb: Array<i32> = new Array<i32>();
  nc: Array<i32> = new Array<i32>();
  prod: Array<i32> = new Array<i32>(); // product of nested repeat counts below (and incl.) node
  kids: Array<i32> = new Array<i32>();

  // Class pool: class id -> [clsStart, clsStart + clsCount) pairs in clsRanges
  clsStart: Array<i32> = new Array<i32>();
  clsCount: Array<i32> = new Array<i32>();
  clsRanges: Array<i32> = new Array<i32>();

  names: Set<string> = new Set<string>();

  err: string = "";
  errFrag: string = "";
  errOff: i32 = -1;

  constructor(pat: string) {
    this.pat = pat;
    this.len = pat.length;
  }

  // ---- helpers --------------------------------------------------------------------------

  fail(code: string, from: i32, to: i32): i32 {
    if (this.errOff < 0) {
      this.err = code;
      if (from < 0) from = 0;
      if (to > this.len) to = this.len;
      this.errFrag = to > from ? this.pat.substring(from, to) : "";
      this.errOff = from;
    }
    return -1;
  }

  /** UTF-16 code unit at i, or -1 past the end. */
  @inline unit(i: i32): i32 {
    return i >= 0 && i < this.len ? <i32>this.pat.charCodeAt(i) : -1;
  }

  /**
   * Reads the code point at this.pos and advances. Returns -1 (and sets the error) on a
   * lone surrogate, or at the end of the pattern (no error set then).
   */
  readCp(): i32 {
    let c = this.unit(this.pos);
    if (c < 0) return -1;
    if (c >= 0xd800 && c <= 0xdbff) {
      let d = this.unit(this.pos + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        this.pos += 2;
        return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
      }
      return this.fail(E_UTF, this.pos, this.pos + 1);
    }
    if (c >= 0xdc00 && c <= 0xdfff) return this.fail(E_UTF, this.pos, this.pos + 1);
    this.pos++;
    return c;
  }

  node(k: i32, a: i32, b: i32, c: i32, p: i32): i32 {
    let id = this.kind.length;
    this.kind.push(k);
    this.na.push(a);
    this.nb.push(b);
    this.nc.push(c);
    this.prod.push(p);
    return id;
  }

  getProd(n: i32): i32 {
    return n >= 0 && n < this.prod.length ? unchecked(this.prod[n]) : 1;
  }

  literal(cp: i32): i32 {
    if ((this.flags & F_I) != 0 && hasFold(cp)) {
      // k, s and their non-ASCII partners fold to three code points: use a class.
      if (cp == 0x4b || cp == 0x6b || cp == 0x212a || cp == 0x53 || cp == 0x73 || cp == 0x17f) {
        let r = new Array<i32>();
        addRange(r, cp, cp);
        return this.classNode(foldRanges(r));
      }
      return this.node(N_LIT, cp | 0x20, 1, 0, 1);
    }
    return this.node(N_LIT, cp, 0, 0, 1);
  }

  /** Turns a canonical range list into a node (a literal when it is one code point). */
  classNode(r: Array<i32>): i32 {
    let n = r.length >> 1;
    if (n == 1 && unchecked(r[0]) == unchecked(r[1])) return this.node(N_LIT, unchecked(r[0]), 0, 0, 1);
    if (n == 2 && r.length >= 4) {
      let a = unchecked(r[0]);
      if (a == unchecked(r[1]) && a >= 0x41 && a <= 0x5a && a != 0x4b && a != 0x53 &&
          unchecked(r[2]) == a + 32 && unchecked(r[3]) == a + 32) {
        return this.node(N_LIT, a + 32, 1, 0, 1);
      }
    }
    let id = this.clsStart.length;
    this.clsStart.push(this.clsRanges.length >> 1);
    this.clsCount.push(n);
    addAll(this.clsRanges, r);
    return this.node(N_CLASS, id, 0, 0, 1);
  }

  /** Adds a group (Perl/POSIX) to a class under construction, honoring (?i) and negation. */
  addGroup(out: Array<i32>, group: Array<i32>, neg: bool): void {
    let g = normalize(group);
    if ((this.flags & F_I) != 0) g = foldRanges(g);
    if (neg) g = negate(g);
    addAll(out, g);
  }

  list(k: i32, items: Array<i32>): i32 {
    let start = this.kids.length;
    let p = 1;
    for (let i = 0, n = items.length; i < n; i++) {
      let it = unchecked(items[i]);
      let ip = this.getProd(it);
      if (ip > p) p = ip;
      // Flatten nested concatenations (groups are not captured).
      if (k == N_CONCAT && it >= 0 && it < this.kind.length && unchecked(this.kind[it]) == N_CONCAT) {
        let s = unchecked(this.na[it]);
        let c = unchecked(this.nb[it]);
        for (let j = 0; j < c; j++) {
          let idx = s + j;
          if (idx >= 0 && idx < this.kids.length) this.kids.push(unchecked(this.kids[idx]));
        }
      } else {
        this.kids.push(it);
      }
    }
    return this.node(k, start, this.kids.length - start, 0, p);
  }

  // ---- grammar --------------------------------------------------------------------------

  parse(): i32 {
    let n = this.parseAlt();
    if (n < 0) return -1;
    if (this.pos < this.len) {
      // parseAlt only stops early at ')'
      return this.fail(E_UNEXPECTED_PAREN, this.pos, this.pos + 1);
    }
    return n;
  }

  parseAlt(): i32 {
    let branches = new Array<i32>();
    while (true) {
      let c = this.parseConcat();
      if (c < 0) return -1;
      branches.push(c);
      if (this.unit(this.pos) == 0x7c /* | */) {
        this.pos++;
        continue;
      }
      break;
    }
    if (branches.length == 1) return unchecked(branches[0]);
    return this.list(N_ALT, branches);
  }

  parseConcat(): i32 {
    let items = new Array<i32>();
    let lastRepeat = -1; // start offset of the previous token when it was a repetition operator
    while (this.pos < this.len) {
      let c = this.unit(this.pos);
      if (c == 0x7c || c == 0x29) break; // | )
      let tok = this.pos;
      let isRepeat = false;
      let n = -2; // -2: no item produced
      switch (c) {
        case 0x28: { // (
          n = this.parseGroup();
          if (n == -1) return -1;
          break;
        }
        case 0x5b: { // [
          n = this.parseClass();
          if (n < 0) return -1;
          break;
        }
        case 0x2e: { // .
          this.pos++;
          n = this.node((this.flags & F_S) != 0 ? N_ANY : N_ANYNOTNL, 0, 0, 0, 1);
          break;
        }
        case 0x5e: { // ^
          this.pos++;
          n = this.node(N_ASSERT, (this.flags & F_M) != 0 ? A_BOL : A_BOT, 0, 0, 1);
          break;
        }
        case 0x24: { // $
          this.pos++;
          n = this.node(N_ASSERT, (this.flags & F_M) != 0 ? A_EOL : A_EOT, 0, 0, 1);
          break;
        }
        case 0x2a: // *
        case 0x2b: // +
        case 0x3f: { // ?
          this.pos++;
          if (this.unit(this.pos) == 0x3f) this.pos++; // lazy
          if (lastRepeat >= 0) return this.fail(E_REPEAT_OP, lastRepeat, this.pos);
          if (items.length == 0) return this.fail(E_REPEAT_ARG, tok, this.pos);
          let lo = c == 0x2b ? 1 : 0;
          let hi = c == 0x3f ? 1 : -1;
          let last = items.length - 1;
          let child = unchecked(items[last]);
          unchecked(items[last] = this.node(N_REPEAT, child, lo, hi, this.getProd(child)));
          isRepeat = true;
          break;
        }
        case 0x7b: { // {
          let r = this.parseRepeat(tok, lastRepeat, items);
          if (r == -1) return -1;
          if (r == 1) {
            isRepeat = true;
          } else {
            this.pos++;
            n = this.literal(0x7b);
          }
          break;
        }
        case 0x5c: { // backslash
          n = this.parseEscapeAtom(items);
          if (n == -1) return -1;
          break;
        }
        default: {
          let cp = this.readCp();
          if (cp < 0) return -1;
          n = this.literal(cp);
        }
      }
      if (n >= 0) items.push(n);
      lastRepeat = isRepeat ? tok : -1;
    }
    if (items.length == 0) return this.node(N_EMPTY, 0, 0, 0, 1);
    if (items.length == 1) return unchecked(items[0]);
    return this.list(N_CONCAT, items);
  }

  /**
   * At '{'. Returns 1 when a counted repetition was applied to the last item, 0 when the
   * brace is a literal (nothing consumed), -1 on error.
   */
  parseRepeat(tok: i32, lastRepeat: i32, items: Array<i32>): i32 {
    let p = tok + 1;
    let lo = this.parseInt(p);
    if (lo < 0) return 0;
    p = this.intEnd;
    let hi = lo;
    if (this.unit(p) == 0x2c) { // ,
      p++;
      if (this.unit(p) == 0x7d) {
        hi = -1;
      } else {
        hi = this.parseInt(p);
        if (hi < 0) return 0;
        p = this.intEnd;
      }
    }
    if (this.unit(p) != 0x7d) return 0;
    p++;
    if (this.unit(p) == 0x3f) p++; // lazy
    this.pos = p;
    if (lastRepeat >= 0) return this.fail(E_REPEAT_OP, lastRepeat, p);
    if (items.length == 0) return this.fail(E_REPEAT_ARG, tok, p);
    if (lo > MAX_REPEAT || hi > MAX_REPEAT || (hi >= 0 && hi < lo)) return this.fail(E_REPEAT_SIZE, tok, p);
    let last = items.length - 1;
    let child = unchecked(items[last]);
    let m = hi >= 0 ? hi : lo;
    if (m < 1) m = 1;
    let prod = <i64>this.getProd(child) * <i64>m;
    if (prod > <i64>MAX_REPEAT) return this.fail(E_REPEAT_SIZE, tok, p);
    unchecked(items[last] = this.node(N_REPEAT, child, lo, hi, <i32>prod));
    return 1;
  }

  intEnd: i32 = 0;
  /** Decimal integer at p (RE2 rules: no leading zeros, < 1e8). -1 when absent/invalid. */
  parseInt(p: i32): i32 {
    let c = this.unit(p);
    if (!isDigit(c)) return -1;
    if (c == 0x30 && isDigit(this.unit(p + 1))) return -1;
    let n = 0;
    while (isDigit(this.unit(p))) {
      if (n >= 100000000) return -1;
      n = n * 10 + this.unit(p) - 0x30;
      p++;
    }
    this.intEnd = p;
    return n;
  }

  /** At '('. Returns a node, -2 for a flags-only group "(?i)", -1 on error. */
  parseGroup(): i32 {
    let tok = this.pos;
    if (this.depth >= MAX_DEPTH) return this.fail(E_NESTING, tok, tok + 1);
    let newFlags = this.flags;
    if (this.unit(tok + 1) == 0x3f) { // (?
      let p = tok + 2;
      let c = this.unit(p);
      // Named groups: (?P<name>...) and (?<name>...)
      if ((c == 0x50 && this.unit(p + 1) == 0x3c) || (c == 0x3c && this.unit(p + 1) != 0x3d && this.unit(p + 1) != 0x21)) {
        let nameStart = c == 0x50 ? p + 2 : p + 1;
        let q = nameStart;
        while (q < this.len && this.unit(q) != 0x3e) q++;
        if (q >= this.len) return this.fail(E_NAMED_CAPTURE, tok, this.len);
        if (q == nameStart) return this.fail(E_NAMED_CAPTURE, tok, q + 1);
        for (let i = nameStart; i < q; i++) {
          if (!isWordName(this.unit(i))) return this.fail(E_NAMED_CAPTURE, tok, q + 1);
        }
        let name = this.pat.substring(nameStart, q);
        if (this.names.has(name)) return this.fail(E_NAMED_CAPTURE, tok, q + 1);
        this.names.add(name);
        this.pos = q + 1;
      } else {
        // Flags: (?flags) or (?flags:...)
        let negated = false;
        let saw = false;
        let done = false;
        let group = false;
        while (!done) {
          c = this.unit(p);
          p++;
          switch (c) {
            case 0x69: saw = true; newFlags = negated ? newFlags & ~F_I : newFlags | F_I; break; // i
            case 0x6d: saw = true; newFlags = negated ? newFlags & ~F_M : newFlags | F_M; break; // m
            case 0x73: saw = true; newFlags = negated ? newFlags & ~F_S : newFlags | F_S; break; // s
            case 0x55: saw = true; newFlags = negated ? newFlags & ~F_U : newFlags | F_U; break; // U
            case 0x2d: { // -
              if (negated) return this.fail(E_PERL_OP, tok, p);
              negated = true;
              saw = false;
              break;
            }
            case 0x3a: group = true; done = true; break; // :
            case 0x29: done = true; break; // )
            default: {
              // Include a whole surrogate pair in the fragment.
              if (c >= 0xd800 && c <= 0xdbff && this.unit(p) >= 0xdc00 && this.unit(p) <= 0xdfff) p++;
              return this.fail(E_PERL_OP, tok, c < 0 ? this.len : p);
            }
          }
        }
        if (negated && !saw) return this.fail(E_PERL_OP, tok, p);
        this.pos = p;
        if (!group) {
          this.flags = newFlags; // lasts until the enclosing group closes
          return -2;
        }
      }
    } else {
      this.pos = tok + 1;
    }
    let saved = this.flags;
    this.flags = newFlags;
    this.depth++;
    let n = this.parseAlt();
    this.depth--;
    this.flags = saved;
    if (n < 0) return -1;
    if (this.unit(this.pos) != 0x29) return this.fail(E_MISSING_PAREN, this.len, this.len);
    this.pos++;
    return n;
  }

  /** At a backslash outside a class. Returns a node, -2 for \Q..\E handled into items, -1 on error. */
  parseEscapeAtom(items: Array<i32>): i32 {
    let tok = this.pos;
    let c = this.unit(tok + 1);
    switch (c) {
      case 0x62: this.pos += 2; return this.node(N_ASSERT, A_WORDB, 0, 0, 1); // \b
      case 0x42: this.pos += 2; return this.node(N_ASSERT, A_NWORDB, 0, 0, 1); // \B
      case 0x41: this.pos += 2; return this.node(N_ASSERT, A_BOT, 0, 0, 1); // \A
      case 0x7a: this.pos += 2; return this.node(N_ASSERT, A_EOT, 0, 0, 1); // \z
      case 0x43: return this.fail(E_ANY_BYTE, tok, tok + 2); // \C
      case 0x70: // \p
      case 0x50: { // \P
        let end = tok + 3;
        if (this.unit(tok + 2) == 0x7b) {
          let q = tok + 3;
          while (q < this.len && this.unit(q) != 0x7d) q++;
          end = q + 1;
        }
        return this.fail(E_UNICODE_CLASS, tok, end);
      }
      case 0x51: { // \Q ... \E
        this.pos += 2;
        while (this.pos < this.len) {
          if (this.unit(this.pos) == 0x5c && this.unit(this.pos + 1) == 0x45) {
            this.pos += 2;
            break;
          }
          let cp = this.readCp();
          if (cp < 0) return -1;
          items.push(this.literal(cp));
        }
        return -2;
      }
      case 0x64: case 0x44: case 0x73: case 0x53: case 0x77: case 0x57: { // \d \D \s \S \w \W
        this.pos += 2;
        let g = new Array<i32>();
        addPerlClass(g, c | 0x20);
        let out = new Array<i32>();
        this.addGroup(out, g, c < 0x60);
        return this.classNode(normalize(out));
      }
    }
    let cp = this.parseEscapeChar();
    if (cp < 0) return -1;
    return this.literal(cp);
  }

  /** At a backslash: a single-character escape (RE2 ParseEscape). Returns the code point or -1. */
  parseEscapeChar(): i32 {
    let tok = this.pos;
    if (tok + 1 >= this.len) return this.fail(E_TRAILING_BACKSLASH, tok, this.len);
    this.pos = tok + 1;
    let c = this.readCp();
    if (c < 0) return -1;
    switch (c) {
      case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37: {
        // \1-\7 alone would be a backreference: unsupported. \1x with octal x is octal.
        let d = this.unit(this.pos);
        if (d < 0x30 || d > 0x37) return this.fail(E_BAD_ESCAPE, tok, this.pos);
      }
      // fallthrough
      case 0x30: {
        let code = c - 0x30;
        let d = this.unit(this.pos);
        if (d >= 0x30 && d <= 0x37) {
          code = code * 8 + d - 0x30;
          this.pos++;
          d = this.unit(this.pos);
          if (d >= 0x30 && d <= 0x37) {
            code = code * 8 + d - 0x30;
            this.pos++;
          }
        }
        return code;
      }
      case 0x78: { // x
        let d = this.unit(this.pos);
        if (d < 0) return this.fail(E_BAD_ESCAPE, tok, this.pos);
        if (d == 0x7b) {
          this.pos++;
          let code = 0;
          let nhex = 0;
          while (isHex(this.unit(this.pos))) {
            code = code * 16 + unHex(this.unit(this.pos));
            this.pos++;
            nhex++;
            if (code > 0x10ffff) return this.fail(E_BAD_ESCAPE, tok, this.pos);
          }
          if (nhex == 0 || this.unit(this.pos) != 0x7d) {
            if (this.pos < this.len) this.pos++;
            return this.fail(E_BAD_ESCAPE, tok, this.pos);
          }
          this.pos++;
          return code;
        }
        let e = this.unit(this.pos + 1);
        if (!isHex(d) || !isHex(e)) {
          this.pos = min(this.pos + 2, this.len);
          return this.fail(E_BAD_ESCAPE, tok, this.pos);
        }
        this.pos += 2;
        return unHex(d) * 16 + unHex(e);
      }
      case 0x6e: return 0x0a; // n
      case 0x72: return 0x0d; // r
      case 0x74: return 0x09; // t
      case 0x61: return 0x07; // a
      case 0x66: return 0x0c; // f
      case 0x76: return 0x0b; // v
    }
    if (c < 0x80 && !isAlpha(c) && !isDigit(c)) return c; // escaped punctuation (and \_)
    return this.fail(E_BAD_ESCAPE, tok, this.pos);
  }

  /** A character inside a class (escape or plain). -1 on error. */
  parseClassChar(classStart: i32): i32 {
    if (this.pos >= this.len) return this.fail(E_MISSING_BRACKET, classStart, this.len);
    if (this.unit(this.pos) == 0x5c) return this.parseEscapeChar();
    return this.readCp();
  }

  /** At '['. Returns a node or -1. */
  parseClass(): i32 {
    let start = this.pos;
    this.pos++;
    let negated = false;
    if (this.unit(this.pos) == 0x5e) {
      this.pos++;
      negated = true;
    }
    let out = new Array<i32>();
    let first = true;
    while (this.pos < this.len && (this.unit(this.pos) != 0x5d || first)) {
      first = false;
      let c = this.unit(this.pos);
      // [:name:] and [:^name:]
      if (c == 0x5b && this.unit(this.pos + 1) == 0x3a) {
        let q = this.pos + 2;
        while (q + 1 < this.len && !(this.unit(q) == 0x3a && this.unit(q + 1) == 0x5d)) q++;
        if (q + 1 < this.len) {
          let nameStart = this.pos + 2;
          let neg = this.unit(nameStart) == 0x5e;
          if (neg) nameStart++;
          let g = new Array<i32>();
          if (!addPosixClass(g, this.pat.substring(nameStart, q))) return this.fail(E_BAD_RANGE, this.pos, q + 2);
          this.addGroup(out, g, neg);
          this.pos = q + 2;
          continue;
        }
      }
      if (c == 0x5c) {
        let d = this.unit(this.pos + 1);
        if (d == 0x70 || d == 0x50) {
          let end = this.pos + 3;
          if (this.unit(this.pos + 2) == 0x7b) {
            let q = this.pos + 3;
            while (q < this.len && this.unit(q) != 0x7d) q++;
            end = q + 1;
          }
          return this.fail(E_UNICODE_CLASS, this.pos, end);
        }
        if (d == 0x64 || d == 0x44 || d == 0x73 || d == 0x53 || d == 0x77 || d == 0x57) {
          let g = new Array<i32>();
          addPerlClass(g, d | 0x20);
          this.addGroup(out, g, d < 0x60);
          this.pos += 2;
          continue;
        }
      }
      let rs = this.pos;
      let lo = this.parseClassChar(start);
      if (lo < 0) return -1;
      let hi = lo;
      if (this.unit(this.pos) == 0x2d && this.pos + 1 < this.len && this.unit(this.pos + 1) != 0x5d) {
        this.pos++;
        hi = this.parseClassChar(start);
        if (hi < 0) return -1;
        if (hi < lo) return this.fail(E_BAD_RANGE, rs, this.pos);
      }
      let r = new Array<i32>();
      addRange(r, lo, hi);
      if ((this.flags & F_I) != 0) r = foldRanges(r);
      addAll(out, r);
    }
    if (this.pos >= this.len) return this.fail(E_MISSING_BRACKET, start, this.len);
    this.pos++; // ]
    let canon = normalize(out);
    if (negated) canon = negate(canon);
    return this.classNode(canon);
  }
}
