// Precompiled string matchers. Built once when a table loads; matching compares bytes in place
// and allocates nothing.
import { REGEX_BYTE_COST, REQUEST_REGEX_BUDGET } from "./limits";
import { Regex } from "./regex/index";

/** What is left of the current request's regex budget (limits.ts); reset per request. */
let regexBudgetLeft: i64 = REQUEST_REGEX_BUDGET;

/** Starts a request's regex budget (route/router.ts selectRoute). */
export function resetRegexBudget(): void {
  regexBudgetLeft = REQUEST_REGEX_BUDGET;
}

export const M_EXACT: i32 = 0;
export const M_PREFIX: i32 = 1;
export const M_REGEX: i32 = 2;
export const M_PRESENT: i32 = 3;

/** ASCII lower-casing; Envoy's ignore_case and Istio's ignoreUriCase fold ASCII only. */
@inline
export function lowerAscii(c: u32): u32 {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

export function bytesEqual(a: usize, b: usize, n: i32, ignoreCase: bool): bool {
  if (!ignoreCase) return memory.compare(a, b, <usize>n) == 0;
  for (let i = 0; i < n; i++) {
    if (lowerAscii(load<u8>(a + <usize>i)) != lowerAscii(load<u8>(b + <usize>i))) return false;
  }
  return true;
}

export class StringMatcher {
  kind: i32;
  /** UTF-8 bytes of the exact/prefix value; lower-cased when ignoreCase. */
  value: ArrayBuffer;
  ignoreCase: bool;
  regex: Regex | null;

  constructor(kind: i32, value: ArrayBuffer, ignoreCase: bool, regex: Regex | null) {
    this.kind = kind;
    this.value = value;
    this.ignoreCase = ignoreCase;
    this.regex = regex;
  }

  /** Matches the bytes [ptr, ptr+len). */
  matches(ptr: usize, len: i32): bool {
    let kind = this.kind;
    if (kind == M_PRESENT) return true;
    let v = this.value;
    let vlen = v.byteLength;
    if (kind == M_EXACT) return len == vlen && bytesEqual(ptr, changetype<usize>(v), vlen, this.ignoreCase);
    if (kind == M_PREFIX) return len >= vlen && bytesEqual(ptr, changetype<usize>(v), vlen, this.ignoreCase);
    let re = this.regex;
    if (re === null) return false;
    // A match the request's budget cannot pay for is not run and does not match, so no request
    // does more than ~1 ms of regex work: values longer than the budget allows (about 2,000 to
    // 8,000 bytes, by program size) never match a regex (docs/regex.md, "Budget").
    let cost = (<i64>re.programSize() + REGEX_BYTE_COST) * <i64>(len > 0 ? len : 1);
    if (cost > regexBudgetLeft) return false;
    regexBudgetLeft -= cost;
    return re.matchBytes(ptr, len);
  }

  matchesBuffer(buf: ArrayBuffer): bool {
    return this.matches(changetype<usize>(buf), buf.byteLength);
  }
}
