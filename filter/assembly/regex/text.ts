// UTF-8/UTF-16 decoding and the code-point helpers the parser, the compiler and the matcher share.
import { A_BOL, A_BOT, A_EOL, A_EOT, A_NWORDB, A_WORDB } from "./syntax";

const BAD_CP: i32 = 0xfffd | (1 << 24);
export const CP_MASK: i32 = 0x1fffff;

// Decoders return (code point | width << 24).

function decode8slow(base: usize, pos: i32, end: i32, b0: i32): i32 {
  let rem = end - pos;
  let p = base + <usize>pos;
  if (b0 < 0xc2) return BAD_CP;
  if (b0 < 0xe0) {
    if (rem < 2) return BAD_CP;
    let b1 = <i32>load<u8>(p, 1);
    if ((b1 & 0xc0) != 0x80) return BAD_CP;
    return (((b0 & 0x1f) << 6) | (b1 & 0x3f)) | (2 << 24);
  }
  if (b0 < 0xf0) {
    if (rem < 3) return BAD_CP;
    let b1 = <i32>load<u8>(p, 1);
    let b2 = <i32>load<u8>(p, 2);
    let lo = b0 == 0xe0 ? 0xa0 : 0x80;
    let hi = b0 == 0xed ? 0x9f : 0xbf;
    if (b1 < lo || b1 > hi || (b2 & 0xc0) != 0x80) return BAD_CP;
    return (((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f)) | (3 << 24);
  }
  if (b0 < 0xf5) {
    if (rem < 4) return BAD_CP;
    let b1 = <i32>load<u8>(p, 1);
    let b2 = <i32>load<u8>(p, 2);
    let b3 = <i32>load<u8>(p, 3);
    let lo = b0 == 0xf0 ? 0x90 : 0x80;
    let hi = b0 == 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi || (b2 & 0xc0) != 0x80 || (b3 & 0xc0) != 0x80) return BAD_CP;
    return (((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f)) | (4 << 24);
  }
  return BAD_CP;
}

function decode16slow(base: usize, pos: i32, end: i32, u: i32): i32 {
  if (u <= 0xdbff && pos + 1 < end) {
    let v = <i32>load<u16>(base + (<usize>(pos + 1) << 1));
    if (v >= 0xdc00 && v <= 0xdfff) return (0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00)) | (2 << 24);
  }
  return BAD_CP;
}

// @ts-ignore: decorator
@inline export function decodeAt<T>(base: usize, pos: i32, end: i32): i32 {
  if (sizeof<T>() == 1) {
    let b0 = <i32>load<u8>(base + <usize>pos);
    if (b0 < 0x80) return b0 | (1 << 24);
    return decode8slow(base, pos, end, b0);
  } else {
    let u = <i32>load<u16>(base + (<usize>pos << 1));
    if (u < 0xd800 || u > 0xdfff) return u | (1 << 24);
    return decode16slow(base, pos, end, u);
  }
}

// @ts-ignore: decorator
@inline export function isWordCp(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
}

export function assertHolds(kind: i32, pos: i32, len: i32, prev: i32, next: i32): bool {
  switch (kind) {
    case A_BOT: return pos == 0;
    case A_EOT: return pos == len;
    case A_BOL: return pos == 0 || prev == 0x0a;
    case A_EOL: return pos == len || next == 0x0a;
    case A_WORDB: return isWordCp(prev) != isWordCp(next);
    case A_NWORDB: return isWordCp(prev) == isWordCp(next);
  }
  return false;
}

function utf8Len(cp: i32): i32 {
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp < 0x10000) return 3;
  return 4;
}

/** Encodes code points as UTF-8 (surrogate code points become U+FFFD). */
export function toUtf8(cps: Array<i32>): StaticArray<u8> {
  let n = 0;
  for (let i = 0, k = cps.length; i < k; i++) {
    let c = unchecked(cps[i]);
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    n += utf8Len(c);
  }
  let out = new StaticArray<u8>(n);
  let o = 0;
  for (let i = 0, k = cps.length; i < k; i++) {
    let c = unchecked(cps[i]);
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) {
      unchecked(out[o++] = <u8>c);
    } else if (c < 0x800) {
      unchecked(out[o++] = <u8>(0xc0 | (c >> 6)));
      unchecked(out[o++] = <u8>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
      unchecked(out[o++] = <u8>(0xe0 | (c >> 12)));
      unchecked(out[o++] = <u8>(0x80 | ((c >> 6) & 0x3f)));
      unchecked(out[o++] = <u8>(0x80 | (c & 0x3f)));
    } else {
      unchecked(out[o++] = <u8>(0xf0 | (c >> 18)));
      unchecked(out[o++] = <u8>(0x80 | ((c >> 12) & 0x3f)));
      unchecked(out[o++] = <u8>(0x80 | ((c >> 6) & 0x3f)));
      unchecked(out[o++] = <u8>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

/** Encodes code points as UTF-16 code units. */
export function toUtf16(cps: Array<i32>): StaticArray<u16> {
  let n = 0;
  for (let i = 0, k = cps.length; i < k; i++) n += unchecked(cps[i]) >= 0x10000 ? 2 : 1;
  let out = new StaticArray<u16>(n);
  let o = 0;
  for (let i = 0, k = cps.length; i < k; i++) {
    let c = unchecked(cps[i]);
    if (c >= 0x10000) {
      c -= 0x10000;
      unchecked(out[o++] = <u16>(0xd800 + (c >> 10)));
      unchecked(out[o++] = <u16>(0xdc00 + (c & 0x3ff)));
    } else {
      unchecked(out[o++] = <u16>c);
    }
  }
  return out;
}

export function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}
export function isHex(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
export function unHex(c: i32): i32 {
  if (c <= 0x39) return c - 0x30;
  if (c <= 0x46) return c - 0x41 + 10;
  return c - 0x61 + 10;
}
export function isAlpha(c: i32): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
export function isWordName(c: i32): bool {
  return isAlpha(c) || isDigit(c) || c == 0x5f;
}
