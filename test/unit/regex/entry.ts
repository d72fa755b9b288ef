// Test harness for filter/assembly/regex: compiled by regex.test.ts with asc 0.17.
import {
  Regex, compileRegex, regexError, regexSteps, resetRegexSteps, setRegexProgramLimit, setRegexDfaStates,
} from "../../../filter/assembly/regex/index";

// @ts-ignore: decorator
@external("env", "reportAbort")
declare function reportAbort(msg: usize, file: usize, line: u32, col: u32): void;

// @ts-ignore: decorator
@global
export function regexTestAbort(message: string | null, fileName: string | null, line: u32, col: u32): void {
  reportAbort(changetype<usize>(message), changetype<usize>(fileName), line, col);
  unreachable();
}

// Two scratch buffers written by the host: 0 = pattern (UTF-16), 1 = input (bytes or UTF-16).
let buf0 = new StaticArray<u8>(64);
let buf1 = new StaticArray<u8>(64);

export function buffer(which: i32, size: i32): usize {
  if (which == 0) {
    if (buf0.length < size) buf0 = new StaticArray<u8>(size);
    return changetype<usize>(buf0);
  }
  if (buf1.length < size) buf1 = new StaticArray<u8>(size);
  return changetype<usize>(buf1);
}

let handles = new Array<Regex | null>();

function patternFromBuffer(units: i32): string {
  return String.UTF16.decodeUnsafe(changetype<usize>(buf0), <usize>units << 1);
}

/** Compiles the pattern in buffer 0 (`units` UTF-16 code units); returns a handle or -1. */
export function compile(units: i32): i32 {
  let re = compileRegex(patternFromBuffer(units));
  if (re === null) return -1;
  for (let i = 0, n = handles.length; i < n; i++) {
    if (handles[i] === null) {
      handles[i] = re;
      return i;
    }
  }
  handles.push(re);
  return handles.length - 1;
}

export function release(h: i32): void {
  if (h >= 0 && h < handles.length) handles[h] = null;
}

/** Copies regexError() as UTF-16 into buffer 0 and returns its length in code units. */
export function errorText(): i32 {
  let e = regexError();
  let n = e.length;
  let p = buffer(0, n << 1);
  memory.copy(p, changetype<usize>(e), <usize>n << 1);
  return n;
}

export function programSize(h: i32): i32 {
  if (h < 0 || h >= handles.length) return -1;
  let re = handles[h];
  if (re === null) return -1;
  return re.programSize();
}

/** Full match of the `len` UTF-8 bytes in buffer 1: 1, 0, or -1 for a bad handle. */
export function matchBytes(h: i32, len: i32): i32 {
  if (h < 0 || h >= handles.length) return -1;
  let re = handles[h];
  if (re === null) return -1;
  return re.matchBytes(changetype<usize>(buf1), len) ? 1 : 0;
}

/** Full match of the `units` UTF-16 code units in buffer 1 via matchString. */
export function matchUtf16(h: i32, units: i32): i32 {
  if (h < 0 || h >= handles.length) return -1;
  let re = handles[h];
  if (re === null) return -1;
  let s = String.UTF16.decodeUnsafe(changetype<usize>(buf1), <usize>units << 1);
  return re.matchString(s) ? 1 : 0;
}

/** Runs matchBytes `iters` times; returns the number of matches. */
export function matchBytesLoop(h: i32, len: i32, iters: i32): i32 {
  if (h < 0 || h >= handles.length) return -1;
  let re = handles[h];
  if (re === null) return -1;
  let p = changetype<usize>(buf1);
  let hits = 0;
  for (let i = 0; i < iters; i++) if (re.matchBytes(p, len)) hits++;
  return hits;
}

/** Compiles the pattern in buffer 0 and drops it, `iters` times; returns how many compiled. */
export function compileDropLoop(units: i32, iters: i32): i32 {
  let pat = patternFromBuffer(units);
  let ok = 0;
  for (let i = 0; i < iters; i++) {
    let re = compileRegex(pat);
    if (re !== null) ok++;
  }
  return ok;
}

export function steps(): f64 {
  return <f64>regexSteps();
}

export function resetSteps(): void {
  resetRegexSteps();
}

export function setProgramLimit(n: i32): void {
  setRegexProgramLimit(n);
}

export function memoryBytes(): i32 {
  return memory.size() << 16;
}

export function setDfaStates(n: i32): void {
  setRegexDfaStates(n);
}

export function usesDfa(h: i32): i32 {
  if (h < 0 || h >= handles.length) return -1;
  let re = handles[h];
  if (re === null) return -1;
  return re.usesDfa() ? 1 : 0;
}

export function dfaFlushes(h: i32): i32 {
  if (h < 0 || h >= handles.length) return -1;
  let re = handles[h];
  if (re === null) return -1;
  return re.dfaFlushCount();
}
