// Character-class range sets used by the regex parser (compile time only).
//
// A range list is a flat Array<i32> of (lo, hi) pairs of Unicode code points.
// All functions here are total: they never index out of range and never throw.

export const MAX_RUNE: i32 = 0x10ffff;

/** Appends the closed range [lo, hi] (ignored when lo > hi). */
export function addRange(out: Array<i32>, lo: i32, hi: i32): void {
  if (lo < 0) lo = 0;
  if (hi > MAX_RUNE) hi = MAX_RUNE;
  if (lo > hi) return;
  out.push(lo);
  out.push(hi);
}

/** Appends every pair of `src` to `out`. */
export function addAll(out: Array<i32>, src: Array<i32>): void {
  let n = src.length & ~1;
  for (let i = 0; i < n; i += 2) addRange(out, unchecked(src[i]), unchecked(src[i + 1]));
}

/** Sorts and merges overlapping/adjacent ranges, returning a new canonical list. */
export function normalize(src: Array<i32>): Array<i32> {
  let n = src.length >> 1;
  let keys = new Array<i64>(n);
  for (let i = 0; i < n; i++) {
    let lo = unchecked(src[i << 1]);
    let hi = unchecked(src[(i << 1) + 1]);
    unchecked(keys[i] = (<i64>lo << 32) | <i64>(<u32>hi));
  }
  keys.sort();
  let out = new Array<i32>();
  let curLo = -1;
  let curHi = -2;
  for (let i = 0; i < n; i++) {
    let k = unchecked(keys[i]);
    let lo = <i32>(k >> 32);
    let hi = <i32>(k & 0xffffffff);
    if (curLo >= 0 && lo <= curHi + 1) {
      if (hi > curHi) curHi = hi;
    } else {
      if (curLo >= 0) {
        out.push(curLo);
        out.push(curHi);
      }
      curLo = lo;
      curHi = hi;
    }
  }
  if (curLo >= 0) {
    out.push(curLo);
    out.push(curHi);
  }
  return out;
}

/** Complement of a canonical (normalized) list over [0, MAX_RUNE]. */
export function negate(src: Array<i32>): Array<i32> {
  let out = new Array<i32>();
  let next = 0;
  let n = src.length & ~1;
  for (let i = 0; i < n; i += 2) {
    let lo = unchecked(src[i]);
    let hi = unchecked(src[i + 1]);
    if (lo > next) addRange(out, next, lo - 1);
    next = hi + 1;
  }
  if (next <= MAX_RUNE) addRange(out, next, MAX_RUNE);
  return out;
}

function overlaps(lo: i32, hi: i32, a: i32, b: i32): bool {
  return lo <= b && a <= hi;
}

/**
 * Adds the simple case-fold equivalents of every range (ASCII letters, plus the two
 * non-ASCII members of ASCII fold orbits that RE2 also folds: U+212A KELVIN SIGN ~ k and
 * U+017F LATIN SMALL LETTER LONG S ~ s). Returns a canonical list.
 */
export function foldRanges(src: Array<i32>): Array<i32> {
  let out = new Array<i32>();
  let n = src.length & ~1;
  for (let i = 0; i < n; i += 2) {
    let lo = unchecked(src[i]);
    let hi = unchecked(src[i + 1]);
    addRange(out, lo, hi);
    // A-Z -> a-z
    let a = max(lo, 0x41);
    let b = min(hi, 0x5a);
    if (a <= b) addRange(out, a + 32, b + 32);
    // a-z -> A-Z
    a = max(lo, 0x61);
    b = min(hi, 0x7a);
    if (a <= b) addRange(out, a - 32, b - 32);
    if (overlaps(lo, hi, 0x4b, 0x4b) || overlaps(lo, hi, 0x6b, 0x6b) || overlaps(lo, hi, 0x212a, 0x212a)) {
      addRange(out, 0x4b, 0x4b);
      addRange(out, 0x6b, 0x6b);
      addRange(out, 0x212a, 0x212a);
    }
    if (overlaps(lo, hi, 0x53, 0x53) || overlaps(lo, hi, 0x73, 0x73) || overlaps(lo, hi, 0x17f, 0x17f)) {
      addRange(out, 0x53, 0x53);
      addRange(out, 0x73, 0x73);
      addRange(out, 0x17f, 0x17f);
    }
  }
  return normalize(out);
}

/** True when `cp` has a case-fold partner (see foldRanges). */
export function hasFold(cp: i32): bool {
  return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp == 0x212a || cp == 0x17f;
}

// ---- Perl and POSIX classes -------------------------------------------------------------

/** Perl class by letter (d, s, w; lower case only). Returns false when unknown. */
export function addPerlClass(out: Array<i32>, letter: i32): bool {
  switch (letter) {
    case 0x64: // d
      addRange(out, 0x30, 0x39);
      return true;
    case 0x73: // s: [\t\n\f\r ] (RE2: no \v)
      addRange(out, 0x09, 0x0a);
      addRange(out, 0x0c, 0x0d);
      addRange(out, 0x20, 0x20);
      return true;
    case 0x77: // w
      addRange(out, 0x30, 0x39);
      addRange(out, 0x41, 0x5a);
      addRange(out, 0x5f, 0x5f);
      addRange(out, 0x61, 0x7a);
      return true;
  }
  return false;
}

/** POSIX class by name (without "[:", ":]" and "^"). Returns false when unknown. */
export function addPosixClass(out: Array<i32>, name: string): bool {
  if (name == "alnum") {
    addRange(out, 0x30, 0x39);
    addRange(out, 0x41, 0x5a);
    addRange(out, 0x61, 0x7a);
  } else if (name == "alpha") {
    addRange(out, 0x41, 0x5a);
    addRange(out, 0x61, 0x7a);
  } else if (name == "ascii") {
    addRange(out, 0x00, 0x7f);
  } else if (name == "blank") {
    addRange(out, 0x09, 0x09);
    addRange(out, 0x20, 0x20);
  } else if (name == "cntrl") {
    addRange(out, 0x00, 0x1f);
    addRange(out, 0x7f, 0x7f);
  } else if (name == "digit") {
    addRange(out, 0x30, 0x39);
  } else if (name == "graph") {
    addRange(out, 0x21, 0x7e);
  } else if (name == "lower") {
    addRange(out, 0x61, 0x7a);
  } else if (name == "print") {
    addRange(out, 0x20, 0x7e);
  } else if (name == "punct") {
    addRange(out, 0x21, 0x2f);
    addRange(out, 0x3a, 0x40);
    addRange(out, 0x5b, 0x60);
    addRange(out, 0x7b, 0x7e);
  } else if (name == "space") {
    addRange(out, 0x09, 0x0d);
    addRange(out, 0x20, 0x20);
  } else if (name == "upper") {
    addRange(out, 0x41, 0x5a);
  } else if (name == "word") {
    addRange(out, 0x30, 0x39);
    addRange(out, 0x41, 0x5a);
    addRange(out, 0x5f, 0x5f);
    addRange(out, 0x61, 0x7a);
  } else if (name == "xdigit") {
    addRange(out, 0x30, 0x39);
    addRange(out, 0x41, 0x46);
    addRange(out, 0x61, 0x66);
  } else {
    return false;
  }
  return true;
}
