// @ts-nocheck — AssemblyScript 0.17 source (decorators, i32/usize), compiled by build.ts with asc,
// not by tsc. Checks a route-table regex with the filter's own engine (filter/assembly/regex), so
// the controller rejects exactly the patterns the filter would reject.
import { compileRegex, regexError, setRegexProgramLimit } from "../../../../filter/assembly/regex/index";
import { MAX_REGEX_PROGRAM, explainRegexError } from "../../../../filter/assembly/limits";

// The filter's own limit (filter/assembly/load/elements.ts sets the same).
setRegexProgramLimit(MAX_REGEX_PROGRAM);

@external("env", "regexCheckAbort")
declare function hostAbort(msg: usize, file: usize, line: u32, col: u32): void;

// `--use abort=regexCheckAbort`: an engine assertion reaches the host (which throws) instead of
// killing the process.
@global
function regexCheckAbort(message: string | null, fileName: string | null, line: u32, col: u32): void {
  hostAbort(changetype<usize>(message), changetype<usize>(fileName), line, col);
  unreachable();
}

let scratch = new StaticArray<u8>(256);

/** A buffer of at least `bytes` bytes for the host to write into; valid until the next call. */
export function buffer(bytes: i32): usize {
  if (scratch.length < bytes) scratch = new StaticArray<u8>(bytes);
  return changetype<usize>(scratch);
}

/**
 * Compiles the pattern of `units` UTF-16 code units at `ptr` exactly as the filter does when it
 * loads a table. Returns -1 when it compiles; otherwise copies the error text (UTF-16) into the
 * scratch buffer and returns its length in code units.
 */
export function check(ptr: usize, units: i32): i32 {
  let pattern = String.UTF16.decodeUnsafe(ptr, <usize>units << 1);
  let re = compileRegex(pattern);
  if (re !== null) {
    re = null;
    __collect();
    return -1;
  }
  let e = explainRegexError(regexError());
  let n = e.length;
  let p = buffer(n << 1);
  memory.copy(p, changetype<usize>(e), <usize>n << 1);
  __collect();
  return n;
}
