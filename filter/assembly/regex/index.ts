// Linear-time RE2-syntax regular expressions with full-match semantics (Envoy safe_regex).
//
//   let re = compileRegex("/api/v[0-9]+/users/[^/]+");   // null on error, see regexError()
//   re.matchBytes(ptr, len);   // UTF-8 bytes (invalid bytes read as U+FFFD, one per byte)
//   re.matchString(s);         // AssemblyScript (UTF-16) string
//
// Matching is a Thompson NFA simulation over sparse sets (no backtracking): time is
// O(len(input) x program size), and it allocates nothing (all state is preallocated by
// compileRegex). The Regex object holds only flat StaticArrays: no cycles, so ARC frees it
// as soon as the last reference goes. See docs/regex.md.

import { Parser } from "./parser";
import { A_BOT, A_EOT, A_BOL, A_EOL, N_LIT, N_CONCAT, N_ASSERT } from "./syntax";
import { Compiler, DEFAULT_MAX_PROGRAM, OP_MATCH, OP_CLASS, OP_SPLIT, OP_JMP, OP_ASSERT } from "./compiler";
import { Regex } from "./machine";
export { Regex } from "./machine";
export { DEFAULT_MAX_PROGRAM as REGEX_DEFAULT_MAX_PROGRAM } from "./compiler";

/** Error text used when the program exceeds the instruction cap. */
export const E_TOO_LARGE = "pattern too large";

let programLimit: i32 = DEFAULT_MAX_PROGRAM;
let lastError: string = "";
export let dfaStateLimit: i32 = DEFAULT_DFA_STATES;
export let stepCounter: i64 = 0;

/** Default number of cached DFA states per regex (0 disables the DFA). */
export const DEFAULT_DFA_STATES: i32 = 64;
/** Cap on DFA transition-table entries per regex (states x ASCII classes). */
export const DFA_MAX_TRANS: i32 = 4096;
/** Cache flushes one match may cause before it continues in the Pike VM (see runDfa). */
export const DFA_FLUSHES_PER_MATCH: i32 = 2;
/** Minimum pc-pool size (i32 entries) per regex with a DFA. */
export const DFA_MAX_POOL: i32 = 4096;

/** Sets the number of cached DFA states for regexes compiled afterwards (0 = NFA only). */
export function setRegexDfaStates(n: i32): void {
  dfaStateLimit = n < 0 ? 0 : n;
}

/** Sets the cap on NFA instructions per pattern (default 10,000). Values < 2 become 2. */
export function setRegexProgramLimit(n: i32): void {
  programLimit = n < 2 ? 2 : n;
}

export function regexProgramLimit(): i32 {
  return programLimit;
}

/** The message of the last failed compileRegex ("" after a success). */
export function regexError(): string {
  return lastError;
}

/** Instrumentation: total NFA thread-steps executed by all matches since the last reset. */
export function regexSteps(): i64 {
  return stepCounter;
}

export function resetRegexSteps(): void {
  stepCounter = 0;
}


/** Compiles an RE2-syntax pattern for full matching. Returns null (see regexError()) on error. */
export function compileRegex(pattern: string): Regex | null {
  lastError = "";
  let p = new Parser(pattern);
  let root = p.parse();
  if (root < 0 || p.errOff >= 0) {
    lastError = formatError(p.err, p.errFrag, p.errOff);
    return null;
  }

  // Literal prefix/suffix extraction from the top-level concatenation.
  let first = 0;
  let count = 1;
  let listed = root < p.kind.length && unchecked(p.kind[root]) == N_CONCAT;
  if (listed) {
    first = unchecked(p.na[root]);
    count = unchecked(p.nb[root]);
  }
  let i = 0;
  let j = count;
  let pre = new Array<i32>();
  let suf = new Array<i32>();
  // Leading ^ / \A hold at offset 0 and trailing $ / \z hold at the end: drop them.
  while (i < j && nodeIsAssert(p, kidAt(p, listed, root, first, i), A_BOT, A_BOL)) i++;
  while (i < j && nodeIsAssert(p, kidAt(p, listed, root, first, j - 1), A_EOT, A_EOL)) j--;
  while (i < j) {
    let n = kidAt(p, listed, root, first, i);
    if (!nodeIsPlainLit(p, n)) break;
    pre.push(unchecked(p.na[n]));
    i++;
  }
  let sufRev = new Array<i32>();
  while (i < j) {
    let n = kidAt(p, listed, root, first, j - 1);
    if (!nodeIsPlainLit(p, n)) break;
    sufRev.push(unchecked(p.na[n]));
    j--;
  }
  for (let k = sufRev.length - 1; k >= 0; k--) suf.push(unchecked(sufRev[k]));

  let c = new Compiler(p, programLimit);
  if (listed) c.emitSeq(first + i, first + j);
  else if (i < j) c.emitNode(root);
  c.emit(OP_MATCH, 0, 0);
  if (c.tooLarge) {
    lastError = E_TOO_LARGE + ": at offset 0";
    return null;
  }

  // Validate the program so matching can use unchecked loads.
  let n = c.n;
  let nCls = p.clsStart.length;
  let code = c.code;
  if (code.length != n * 3) {
    lastError = "internal error: at offset 0";
    return null;
  }
  for (let pc = 0; pc < n; pc++) {
    let op = unchecked(code[pc * 3]);
    let x = unchecked(code[pc * 3 + 1]);
    let y = unchecked(code[pc * 3 + 2]);
    let bad = false;
    if (op == OP_SPLIT) bad = x < 0 || x >= n || y < 0 || y >= n;
    else if (op == OP_JMP) bad = x < 0 || x >= n;
    else if (op == OP_CLASS) bad = x < 0 || x >= nCls;
    else if (op == OP_MATCH) bad = pc != n - 1;
    else bad = op < OP_MATCH || op > OP_ASSERT || pc == n - 1;
    if (bad) {
      lastError = "internal error: at offset 0";
      return null;
    }
  }
  let prog = new StaticArray<i32>(n * 3);
  for (let k = 0; k < n * 3; k++) unchecked(prog[k] = unchecked(code[k]));

  // Class tables.
  let clsAscii = new StaticArray<u32>(nCls * 4);
  let clsIndex = new StaticArray<i32>(nCls * 2);
  let nr = p.clsRanges.length >> 1;
  let clsRanges = new StaticArray<i32>(nr * 2);
  for (let k = 0; k < nr * 2; k++) unchecked(clsRanges[k] = unchecked(p.clsRanges[k]));
  for (let k = 0; k < nCls; k++) {
    let s = unchecked(p.clsStart[k]);
    let cnt = unchecked(p.clsCount[k]);
    if (s < 0 || cnt < 0 || s + cnt > nr) {
      lastError = "internal error: at offset 0";
      return null;
    }
    unchecked(clsIndex[k * 2] = s);
    unchecked(clsIndex[k * 2 + 1] = cnt);
    for (let r = s; r < s + cnt; r++) {
      let lo = unchecked(clsRanges[r * 2]);
      let hi = unchecked(clsRanges[r * 2 + 1]);
      if (hi > 127) hi = 127;
      for (let ch = lo; ch <= hi; ch++) {
        let w = k * 4 + (ch >> 5);
        unchecked(clsAscii[w] = unchecked(clsAscii[w]) | (<u32>1 << (<u32>ch & 31)));
      }
    }
  }
  return new Regex(pattern, prog, n, clsAscii, clsIndex, clsRanges, pre, suf, c.hasWordAssert, c.hasLineAssert);
}

function kidAt(p: Parser, listed: bool, root: i32, first: i32, i: i32): i32 {
  if (!listed) return root;
  let k = first + i;
  return k >= 0 && k < p.kids.length ? unchecked(p.kids[k]) : -1;
}

function nodeIsAssert(p: Parser, n: i32, a: i32, b: i32): bool {
  if (n < 0 || n >= p.kind.length || unchecked(p.kind[n]) != N_ASSERT) return false;
  let k = unchecked(p.na[n]);
  return k == a || k == b;
}

function nodeIsPlainLit(p: Parser, n: i32): bool {
  if (n < 0 || n >= p.kind.length || unchecked(p.kind[n]) != N_LIT || unchecked(p.nb[n]) != 0) return false;
  let cp = unchecked(p.na[n]);
  // Surrogate code points never match, and U+FFFD also matches invalid input that is not its
  // encoding: leave both to the automaton instead of the byte-compared prefix/suffix.
  return (cp < 0xd800 || cp > 0xdfff) && cp != 0xfffd;
}

function formatError(code: string, frag: string, off: i32): string {
  if (code.length == 0) code = "internal error";
  if (off < 0) off = 0;
  if (frag.length > 0) return code + ": `" + frag + "` at offset " + off.toString();
  return code + ": at offset " + off.toString();
}