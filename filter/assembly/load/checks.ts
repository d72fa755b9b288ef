// Name and header checks on the bytes of a string node of the tape.
import { lowerAscii } from "../matcher";
import { T, lenOf, ptrOf } from "./tape";

// ---------------------------------------------------------------------------------------------
// Validators, on the bytes of a string node. Each equals the string rule it replaced: the
// characters they accept are ASCII, and a UTF-8 byte ≥ 0x80 is never one of them.

function isHostChar(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d;
}

/** "*", "*.a.b" or "a.b": lower-case DNS labels, no port. */
export function validHostName(n: i32): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  if (len == 1 && load<u8>(p) == 0x2a) return true;
  let start = 0;
  if (len >= 2 && load<u8>(p) == 0x2a && load<u8>(p, 1) == 0x2e) start = 2;
  if (len - start < 1 || len > 253) return false;
  let labelLen = 0;
  let prev = 0;
  for (let i = start; i < len; i++) {
    let c = <i32>load<u8>(p + <usize>i);
    if (c == 0x2e) {
      if (labelLen == 0 || prev == 0x2d) return false;
      labelLen = 0;
      prev = c;
      continue;
    }
    if (!isHostChar(c)) return false;
    if (labelLen == 0 && c == 0x2d) return false;
    labelLen++;
    if (labelLen > 63) return false;
    prev = c;
  }
  return labelLen > 0 && prev != 0x2d;
}

function isTokenChar(c: i32): bool {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) return true;
  // !#$%&'*+.^_`|~-
  return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2e || c == 0x5e ||
    c == 0x5f || c == 0x60 || c == 0x7c || c == 0x7e || c == 0x2d;
}

export function validHeaderName(n: i32): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  let start = 0;
  if (len > 0 && load<u8>(p) == 0x3a) start = 1;
  if (len <= start) return false;
  for (let i = start; i < len; i++) if (!isTokenChar(<i32>load<u8>(p + <usize>i))) return false;
  return true;
}

/** No NUL, CR or LF. */
export function validHeaderValue(n: i32): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) {
    let c = load<u8>(p + <usize>i);
    if (c == 0 || c == 0x0a || c == 0x0d) return false;
  }
  return true;
}

export function validHeaderValueString(v: string): bool {
  for (let i = 0; i < v.length; i++) {
    let c = v.charCodeAt(i);
    if (c == 0 || c == 0x0a || c == 0x0d) return false;
  }
  return true;
}

function containsByte(n: i32, b: u8): bool {
  let len = lenOf(n);
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) if (load<u8>(p + <usize>i) == b) return true;
  return false;
}

/** The bytes of a string node, ASCII lower-cased. */
export function lowerAsciiBytes(n: i32): ArrayBuffer {
  let b = T.bytes(n);
  let p = changetype<usize>(b);
  for (let i = 0; i < b.byteLength; i++) store<u8>(p + <usize>i, <u8>lowerAscii(load<u8>(p + <usize>i)));
  return b;
}

export function validClusterName(n: i32): bool {
  let units = T.utf16Length(n);
  if (units == 0 || units > 512) return false;
  let len = lenOf(n);
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) if (load<u8>(p + <usize>i) <= 0x20) return false;
  return true;
}

export function validVhostName(n: i32): bool {
  let len = lenOf(n);
  if (len == 0 || len > 128) return false;
  let p = ptrOf(n);
  for (let i = 0; i < len; i++) {
    let c = <i32>load<u8>(p + <usize>i);
    let good = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      c == 0x5f || c == 0x2e || c == 0x3a || c == 0x2f || c == 0x2d;
    if (!good) return false;
  }
  return true;
}
