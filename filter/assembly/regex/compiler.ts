// AST -> Thompson NFA program (compile time only).
//
// Program layout: 3 i32 per instruction (op, x, y). The last instruction is the only MATCH.

import { Parser } from "./parser";
import {
  A_WORDB, A_NWORDB, A_BOL, A_EOL, N_EMPTY, N_LIT, N_CLASS, N_ANY, N_ANYNOTNL, N_ASSERT, N_CONCAT, N_ALT, N_REPEAT,
} from "./syntax";

export const OP_MATCH: i32 = 0;
export const OP_CHAR: i32 = 1; //     x = code point
export const OP_CHARI: i32 = 2; //    x = lower-case ASCII letter; matches it or its upper case
export const OP_ANYNOTNL: i32 = 3;
export const OP_ANY: i32 = 4;
export const OP_CLASS: i32 = 5; //    x = class id
export const OP_SPLIT: i32 = 6; //    x, y = targets
export const OP_JMP: i32 = 7; //      x = target
export const OP_ASSERT: i32 = 8; //   x = A_* kind

/** Default cap on the number of NFA instructions of one pattern (see setRegexProgramLimit). */
export const DEFAULT_MAX_PROGRAM: i32 = 10000;

export class Compiler {
  p: Parser;
  code: Array<i32> = new Array<i32>();
  n: i32 = 0;
  limit: i32;
  tooLarge: bool = false;
  hasWordAssert: bool = false;
  hasLineAssert: bool = false;

  constructor(p: Parser, limit: i32) {
    this.p = p;
    this.limit = limit;
  }

  emit(op: i32, x: i32, y: i32): i32 {
    let pc = this.n;
    if (pc >= this.limit) {
      this.tooLarge = true;
      return pc;
    }
    this.code.push(op);
    this.code.push(x);
    this.code.push(y);
    this.n++;
    return pc;
  }

  /** Sets operand x (which = 1) or y (which = 2) of instruction pc, if it exists. */
  patch(pc: i32, which: i32, v: i32): void {
    let i = pc * 3 + which;
    if (pc >= 0 && i < this.code.length) unchecked(this.code[i] = v);
  }

  /** Emits the nodes kids[from, to) of the parser in sequence. */
  emitSeq(from: i32, to: i32): void {
    let kids = this.p.kids;
    for (let i = from; i < to && !this.tooLarge; i++) {
      if (i >= 0 && i < kids.length) this.emitNode(unchecked(kids[i]));
    }
  }

  emitNode(node: i32): void {
    if (this.tooLarge) return;
    let p = this.p;
    if (node < 0 || node >= p.kind.length) return;
    let k = unchecked(p.kind[node]);
    let a = unchecked(p.na[node]);
    let b = unchecked(p.nb[node]);
    let c = unchecked(p.nc[node]);
    switch (k) {
      case N_EMPTY: return;
      case N_LIT: { this.emit(b != 0 ? OP_CHARI : OP_CHAR, a, 0); return; }
      case N_CLASS: { this.emit(OP_CLASS, a, 0); return; }
      case N_ANY: { this.emit(OP_ANY, 0, 0); return; }
      case N_ANYNOTNL: { this.emit(OP_ANYNOTNL, 0, 0); return; }
      case N_ASSERT: {
        if (a == A_WORDB || a == A_NWORDB) this.hasWordAssert = true;
        if (a == A_BOL || a == A_EOL) this.hasLineAssert = true;
        this.emit(OP_ASSERT, a, 0);
        return;
      }
      case N_CONCAT: { this.emitSeq(a, a + b); return; }
      case N_ALT: {
        // SPLIT L1, next; L1: e1; JMP end; next: SPLIT L2, next2; ... ; en; end:
        let jumps = new Array<i32>();
        for (let i = 0; i < b - 1 && !this.tooLarge; i++) {
          let split = this.emit(OP_SPLIT, this.n + 1, 0);
          this.emitSeq(a + i, a + i + 1);
          jumps.push(this.emit(OP_JMP, 0, 0));
          this.patch(split, 2, this.n);
        }
        this.emitSeq(a + b - 1, a + b);
        for (let i = 0, n = jumps.length; i < n; i++) this.patch(unchecked(jumps[i]), 1, this.n);
        return;
      }
      case N_REPEAT: { this.emitRepeat(a, b, c); return; }
    }
  }

  star(child: i32): void {
    // L: SPLIT body, end; body; JMP L; end:
    let l = this.emit(OP_SPLIT, this.n + 1, 0);
    this.emitNode(child);
    this.emit(OP_JMP, l, 0);
    this.patch(l, 2, this.n);
  }

  plus(child: i32): void {
    // L: body; SPLIT L, end; end:
    let l = this.n;
    this.emitNode(child);
    this.emit(OP_SPLIT, l, this.n + 1);
  }

  emitRepeat(child: i32, lo: i32, hi: i32): void {
    if (hi < 0) {
      if (lo == 0) {
        this.star(child);
        return;
      }
      for (let i = 0; i < lo - 1 && !this.tooLarge; i++) this.emitNode(child);
      this.plus(child);
      return;
    }
    for (let i = 0; i < lo && !this.tooLarge; i++) this.emitNode(child);
    if (hi > lo) {
      // (x(x(x)?)?)? flattened: every SPLIT skips to the common end.
      let splits = new Array<i32>();
      for (let i = lo; i < hi && !this.tooLarge; i++) {
        splits.push(this.emit(OP_SPLIT, this.n + 1, 0));
        this.emitNode(child);
      }
      for (let i = 0, n = splits.length; i < n; i++) this.patch(unchecked(splits[i]), 2, this.n);
    }
  }
}
