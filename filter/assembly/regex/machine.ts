// The compiled Regex: its program, classes and literal prefix/suffix, matched by a lazily
// built DFA for ASCII with the Pike VM (Thompson NFA over sparse sets) behind it.
import { OP_ANY, OP_ANYNOTNL, OP_ASSERT, OP_CHAR, OP_CHARI, OP_CLASS, OP_JMP, OP_SPLIT } from "./compiler";
import { DFA_FLUSHES_PER_MATCH, DFA_MAX_POOL, DFA_MAX_TRANS, dfaStateLimit, stepCounter } from "./index";
import { CP_MASK, assertHolds, decodeAt, isWordCp, toUtf16, toUtf8 } from "./text";

// DFA transition sentinels
const T_UNKNOWN: i32 = -1;

export class Regex {
  /** The source pattern. */
  pattern: string;
  /** 3 i32 per instruction: op, x, y. */
  prog: StaticArray<i32>;
  nInst: i32;
  matchPc: i32;
  /** 4 u32 per class: bitmap of ASCII members. */
  clsAscii: StaticArray<u32>;
  /** 2 i32 per class: first pair index and pair count in clsRanges. */
  clsIndex: StaticArray<i32>;
  clsRanges: StaticArray<i32>;
  /** Literal prefix/suffix (required at the start/end of every match), stripped from prog. */
  pre8: StaticArray<u8>;
  pre16: StaticArray<u16>;
  preLast: i32;
  suf8: StaticArray<u8>;
  suf16: StaticArray<u16>;
  /** True when the whole pattern is the literal prefix (prog is just MATCH). */
  literalOnly: bool;
  // Preallocated simulation state (two sparse sets and the closure stack).
  sparseA: StaticArray<i32>;
  denseA: StaticArray<i32>;
  sparseB: StaticArray<i32>;
  denseB: StaticArray<i32>;
  stack: StaticArray<i32>;

  // Lazy DFA. A state is a set of "seed" pcs (threads not yet epsilon-closed) plus context
  // flags about the previous character (word char, newline, at start of text), so empty-width
  // assertions are evaluated when the next character is known. Transitions are cached for
  // ASCII input per ASCII equivalence class; other code points are stepped without caching.
  // The cache is preallocated and flushed when full, so the cost per input character stays
  // O(program size) in the worst case and O(1) once the states exist.
  dfaCap: i32 = 0; //             max states (0 = DFA disabled)
  dfaK: i32 = 0; //               number of ASCII classes
  dfaClass: StaticArray<u8> = new StaticArray<u8>(0); //   ASCII char -> class
  dfaTrans: StaticArray<i32> = new StaticArray<i32>(0); //  state * K + class -> state, or T_UNKNOWN
  dfaStart: StaticArray<i32> = new StaticArray<i32>(0); //  state -> first pc index in dfaPool
  dfaLen: StaticArray<i32> = new StaticArray<i32>(0); //    state -> number of pcs
  dfaFlags: StaticArray<u8> = new StaticArray<u8>(0); //   state -> context flags (CTX_*)
  dfaFinal: StaticArray<u8> = new StaticArray<u8>(0); //   state -> accepts at the end: 0, 1, 2 = unknown
  dfaPool: StaticArray<i32> = new StaticArray<i32>(0);
  dfaHash: StaticArray<i32> = new StaticArray<i32>(0); //   open addressing table of state ids (-1 = empty)
  dfaN: i32 = 0;
  dfaUsed: i32 = 0;
  dfaStartState: i32 = -1;
  dfaFlushes: i32 = 0;
  dfaDead: i32 = -2; //            id of the empty (dead) state, -2 while it does not exist
  /** Context at the end of the simulated range: next code point (-1 at end of text). */
  endNext: i32 = -1;
  /** Context flags that matter to this program (the others are dropped from DFA states). */
  ctxMask: i32 = CTX_START;

  constructor(pattern: string, prog: StaticArray<i32>, nInst: i32, clsAscii: StaticArray<u32>,
              clsIndex: StaticArray<i32>, clsRanges: StaticArray<i32>, pre: Array<i32>, suf: Array<i32>,
              hasWordAssert: bool, hasLineAssert: bool) {
    this.pattern = pattern;
    this.prog = prog;
    this.nInst = nInst;
    this.matchPc = nInst - 1;
    this.clsAscii = clsAscii;
    this.clsIndex = clsIndex;
    this.clsRanges = clsRanges;
    this.pre8 = toUtf8(pre);
    this.pre16 = toUtf16(pre);
    this.preLast = pre.length > 0 ? unchecked(pre[pre.length - 1]) : -1;
    this.suf8 = toUtf8(suf);
    this.suf16 = toUtf16(suf);
    this.literalOnly = nInst == 1 && suf.length == 0;
    this.sparseA = new StaticArray<i32>(nInst);
    this.denseA = new StaticArray<i32>(nInst);
    this.sparseB = new StaticArray<i32>(nInst);
    this.denseB = new StaticArray<i32>(nInst);
    this.stack = new StaticArray<i32>(nInst + 1);

    this.endNext = suf.length > 0 ? unchecked(suf[0]) : -1;
    this.ctxMask = CTX_START | (hasWordAssert ? CTX_WORD : 0) | (hasLineAssert ? CTX_NL : 0);
    let cap = !this.literalOnly ? dfaStateLimit : 0;
    let k = 0;
    let cls = new StaticArray<u8>(128);
    if (cap > 0) {
      k = this.buildAsciiClasses(cls, hasWordAssert, hasLineAssert);
      // Keep the transition table within DFA_MAX_TRANS entries.
      let byTable = DFA_MAX_TRANS / (k > 0 ? k : 1);
      if (cap > byTable) cap = byTable;
      if (cap < 2) cap = 0;
    }
    this.dfaCap = cap;
    this.dfaK = k;
    this.dfaClass = cls;
    let poolSize = cap > 0 ? min(cap * nInst, max(DFA_MAX_POOL, nInst * 2)) : 0;
    let hashSize = 1;
    while (hashSize < cap * 2) hashSize <<= 1;
    this.dfaTrans = new StaticArray<i32>(cap * k);
    this.dfaStart = new StaticArray<i32>(cap);
    this.dfaLen = new StaticArray<i32>(cap);
    this.dfaFlags = new StaticArray<u8>(cap);
    this.dfaFinal = new StaticArray<u8>(cap);
    this.dfaPool = new StaticArray<i32>(poolSize);
    this.dfaHash = new StaticArray<i32>(cap > 0 ? hashSize : 0);
    this.dfaFlush();
  }

  /** Full match of UTF-8 bytes [ptr, ptr + len). */
  matchBytes(ptr: usize, len: i32): bool {
    return this.run<u8>(ptr, len);
  }

  /** Full match of a string (UTF-16; lone surrogates read as U+FFFD). */
  matchString(s: string): bool {
    return this.run<u16>(changetype<usize>(s), s.length);
  }

  /** Number of NFA instructions (after literal prefix/suffix stripping). */
  programSize(): i32 {
    return this.nInst;
  }

  /** Whether this regex uses the lazy DFA (assertion-free program and DFA enabled). */
  usesDfa(): bool {
    return this.dfaCap > 0;
  }

  /** Number of DFA cache flushes so far (instrumentation). */
  dfaFlushCount(): i32 {
    return this.dfaFlushes;
  }

  /** Partitions ASCII into intervals on which every consuming instruction is constant. */
  private buildAsciiClasses(cls: StaticArray<u8>, word: bool, line: bool): i32 {
    let mark = new StaticArray<u8>(129);
    unchecked(mark[0] = 1);
    if (word) { // the transition depends on whether the character is a word character
      markInterval(mark, 0x30, 0x39);
      markInterval(mark, 0x41, 0x5a);
      markInterval(mark, 0x5f, 0x5f);
      markInterval(mark, 0x61, 0x7a);
    }
    if (line) markInterval(mark, 0x0a, 0x0a);
    let prog = this.prog;
    for (let pc = 0; pc < this.nInst; pc++) {
      let op = unchecked(prog[pc * 3]);
      let x = unchecked(prog[pc * 3 + 1]);
      if (op == OP_CHAR) {
        markInterval(mark, x, x);
      } else if (op == OP_CHARI) {
        markInterval(mark, x, x);
        markInterval(mark, x - 32, x - 32);
      } else if (op == OP_ANYNOTNL) {
        markInterval(mark, 0x0a, 0x0a);
      } else if (op == OP_CLASS) {
        let s = unchecked(this.clsIndex[x * 2]);
        let cnt = unchecked(this.clsIndex[x * 2 + 1]);
        for (let r = s; r < s + cnt; r++) {
          let lo = unchecked(this.clsRanges[r * 2]);
          if (lo > 127) break;
          markInterval(mark, lo, unchecked(this.clsRanges[r * 2 + 1]));
        }
      }
    }
    let k = -1;
    for (let c = 0; c < 128; c++) {
      if (unchecked(mark[c]) != 0) k++;
      unchecked(cls[c] = <u8>k);
    }
    return k + 1;
  }

  private dfaFlush(): void {
    this.dfaN = 0;
    this.dfaUsed = 0;
    this.dfaStartState = -1;
    this.dfaDead = -2;
    let t = this.dfaTrans;
    if (t.length > 0) memory.fill(changetype<usize>(t), 0xff, <usize>t.length << 2);
    let h = this.dfaHash;
    if (h.length > 0) memory.fill(changetype<usize>(h), 0xff, <usize>h.length << 2);
  }

  /**
   * Finds or adds the DFA state (seed set in (sparseA, denseA, n), flags). Returns the state
   * id, or -1 when the set cannot be stored at all (larger than the pool). May flush the
   * cache: then this.dfaFlushed is set and all previous state ids are invalid.
   */
  private dfaIntern(n: i32, flags: i32): i32 {
    if (n == 0) flags = 0; // a single dead state
    let dense = changetype<usize>(this.denseA);
    let sparse = changetype<usize>(this.sparseA);
    // Order-independent hash of the set, plus the flags.
    let h: u32 = <u32>flags * 0xc2b2ae35;
    for (let i = 0; i < n; i++) {
      let pc = <u32>load<i32>(dense + (<usize>i << 2));
      let m = (pc + 1) * 0x9e3779b1;
      h += m ^ (m >>> 16);
    }
    h += <u32>n * 0x85ebca6b;
    h ^= h >>> 13;
    let hash = changetype<usize>(this.dfaHash);
    let mask = <u32>this.dfaHash.length - 1;
    let slot = h & mask;
    let pool = changetype<usize>(this.dfaPool);
    let flagsArr = changetype<usize>(this.dfaFlags);
    while (true) {
      let id = load<i32>(hash + (<usize>slot << 2));
      if (id < 0) break;
      if (load<i32>(changetype<usize>(this.dfaLen) + (<usize>id << 2)) == n &&
          <i32>load<u8>(flagsArr + <usize>id) == flags) {
        let st = pool + (<usize>load<i32>(changetype<usize>(this.dfaStart) + (<usize>id << 2)) << 2);
        let same = true;
        for (let i = 0; i < n; i++) {
          let pc = load<i32>(st + (<usize>i << 2));
          let idx = load<i32>(sparse + (<usize>pc << 2));
          if (!(<u32>idx < <u32>n && load<i32>(dense + (<usize>idx << 2)) == pc)) {
            same = false;
            break;
          }
        }
        if (same) return id;
      }
      slot = (slot + 1) & mask;
    }
    if (n > this.dfaPool.length) return -1;
    if (this.dfaN >= this.dfaCap || this.dfaUsed + n > this.dfaPool.length) {
      this.dfaFlush();
      this.dfaFlushes++;
      this.dfaFlushed = true;
      slot = h & mask;
      while (load<i32>(hash + (<usize>slot << 2)) >= 0) slot = (slot + 1) & mask;
    }
    let id = this.dfaN++;
    let at = this.dfaUsed;
    memory.copy(pool + (<usize>at << 2), dense, <usize>n << 2);
    this.dfaUsed = at + n;
    store<i32>(changetype<usize>(this.dfaStart) + (<usize>id << 2), at);
    store<i32>(changetype<usize>(this.dfaLen) + (<usize>id << 2), n);
    store<u8>(flagsArr + <usize>id, <u8>flags);
    store<u8>(changetype<usize>(this.dfaFinal) + <usize>id, 2);
    store<i32>(hash + (<usize>slot << 2), id);
    if (n == 0) this.dfaDead = id;
    return id;
  }

  dfaFlushed: bool = false;

  // @ts-ignore: decorator
  @inline private consumes(op: i32, x: i32, c: i32): bool {
    switch (op) {
      case OP_CHAR: return c == x;
      case OP_CHARI: return (c | 0x20) == x;
      case OP_CLASS: return this.inClass(x, c);
      case OP_ANYNOTNL: return c != 0x0a;
      case OP_ANY: return true;
    }
    return false;
  }

  // @ts-ignore: decorator
  @inline private inClass(cls: i32, c: i32): bool {
    if (c < 128) {
      let w = load<u32>(changetype<usize>(this.clsAscii) + (<usize>cls << 4) + (<usize>(c >> 5) << 2));
      return ((w >>> (<u32>c & 31)) & 1) != 0;
    }
    return this.inClassSlow(cls, c);
  }

  private inClassSlow(cls: i32, c: i32): bool {
    let idx = changetype<usize>(this.clsIndex) + (<usize>cls << 3);
    let lo = load<i32>(idx);
    let hi = lo + load<i32>(idx, 4) - 1;
    let r = changetype<usize>(this.clsRanges);
    while (lo <= hi) {
      let mid = (lo + hi) >>> 1;
      let p = r + (<usize>mid << 3);
      if (c < load<i32>(p)) hi = mid - 1;
      else if (c > load<i32>(p, 4)) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Adds the epsilon closure of pc0 to the sparse set (sparse, dense, size); returns the new size. */
  private addThread(sparse: usize, dense: usize, size: i32, pc0: i32, pos: i32, len: i32, prev: i32, next: i32): i32 {
    let prog = changetype<usize>(this.prog);
    let stack = changetype<usize>(this.stack);
    store<i32>(stack, pc0);
    let sp = 1;
    while (sp > 0) {
      sp--;
      let pc = load<i32>(stack + (<usize>sp << 2));
      while (true) {
        let idx = load<i32>(sparse + (<usize>pc << 2));
        if (<u32>idx < <u32>size && load<i32>(dense + (<usize>idx << 2)) == pc) break;
        store<i32>(sparse + (<usize>pc << 2), size);
        store<i32>(dense + (<usize>size << 2), pc);
        size++;
        let ip = prog + <usize>pc * 12;
        let op = load<i32>(ip);
        if (op == OP_JMP) {
          pc = load<i32>(ip, 4);
          continue;
        }
        if (op == OP_SPLIT) {
          store<i32>(stack + (<usize>sp << 2), load<i32>(ip, 8));
          sp++;
          pc = load<i32>(ip, 4);
          continue;
        }
        if (op == OP_ASSERT && assertHolds(load<i32>(ip, 4), pos, len, prev, next)) {
          pc++;
          continue;
        }
        break;
      }
    }
    return size;
  }

  /**
   * Epsilon closure of the seed list (list, n) into set B, in the context given by the DFA
   * flags and the next code point (-1 at the end of the range), at the end of text or not.
   * Returns |B|.
   */
  private closeSeeds(list: usize, n: i32, flags: i32, next: i32, atEnd: bool): i32 {
    let sB = changetype<usize>(this.sparseB);
    let dB = changetype<usize>(this.denseB);
    // Synthesize a context equivalent to the flags for assertHolds.
    let pos = (flags & CTX_START) != 0 ? 0 : 1;
    let len = atEnd ? pos : 0x7fffffff;
    let prev = (flags & CTX_WORD) != 0 ? 0x61 : (flags & CTX_NL) != 0 ? 0x0a : (flags & CTX_START) != 0 ? -1 : 0x20;
    let nB = 0;
    for (let i = 0; i < n; i++) {
      nB = this.addThread(sB, dB, nB, load<i32>(list + (<usize>i << 2)), pos, len, prev, next);
    }
    return nB;
  }

  /**
   * DFA transition from state s on code point c: closes the seeds with c as the next
   * character, steps every consuming thread that accepts c, and leaves the new seed set
   * (pc + 1 of each) in set A. Returns |A|. Adds the work done to this.work.
   */
  private dfaStep(s: i32, c: i32): i32 {
    let n = load<i32>(changetype<usize>(this.dfaLen) + (<usize>s << 2));
    let list = changetype<usize>(this.dfaPool) + (<usize>load<i32>(changetype<usize>(this.dfaStart) + (<usize>s << 2)) << 2);
    let flags = <i32>load<u8>(changetype<usize>(this.dfaFlags) + <usize>s);
    let nB = this.closeSeeds(list, n, flags, c, false);
    this.work += nB;
    let prog = changetype<usize>(this.prog);
    let dB = changetype<usize>(this.denseB);
    let sA = changetype<usize>(this.sparseA);
    let dA = changetype<usize>(this.denseA);
    let nA = 0;
    for (let i = 0; i < nB; i++) {
      let pc = load<i32>(dB + (<usize>i << 2));
      let ip = prog + <usize>pc * 12;
      if (!this.consumes(load<i32>(ip), load<i32>(ip, 4), c)) continue;
      let npc = pc + 1;
      let idx = load<i32>(sA + (<usize>npc << 2));
      if (!(<u32>idx < <u32>nA && load<i32>(dA + (<usize>idx << 2)) == npc)) {
        store<i32>(sA + (<usize>npc << 2), nA);
        store<i32>(dA + (<usize>nA << 2), npc);
        nA++;
      }
    }
    return nA;
  }

  /** Whether state s accepts at the end of the simulated range (cached per state). */
  private dfaAccepts(s: i32): bool {
    let fin = changetype<usize>(this.dfaFinal) + <usize>s;
    let f = <i32>load<u8>(fin);
    if (f != 2) return f != 0;
    let n = load<i32>(changetype<usize>(this.dfaLen) + (<usize>s << 2));
    let list = changetype<usize>(this.dfaPool) + (<usize>load<i32>(changetype<usize>(this.dfaStart) + (<usize>s << 2)) << 2);
    let flags = <i32>load<u8>(changetype<usize>(this.dfaFlags) + <usize>s);
    let nB = this.closeSeeds(list, n, flags, this.endNext, this.endNext < 0);
    this.work += nB;
    let idx = load<i32>(changetype<usize>(this.sparseB) + (<usize>this.matchPc << 2));
    let ok = <u32>idx < <u32>nB && load<i32>(changetype<usize>(this.denseB) + (<usize>idx << 2)) == this.matchPc;
    store<u8>(fin, ok ? 1 : 0);
    return ok;
  }

  work: i64 = 0;

  private run<T>(base: usize, len: i32): bool {
    if (len < 0) return false;
    let preLen: i32;
    let sufLen: i32;
    if (sizeof<T>() == 1) {
      preLen = this.pre8.length;
      sufLen = this.suf8.length;
    } else {
      preLen = this.pre16.length;
      sufLen = this.suf16.length;
    }
    if (len < preLen + sufLen) return false;
    let preBytes = <usize>preLen << alignof<T>();
    let sufBytes = <usize>sufLen << alignof<T>();
    if (preBytes > 0) {
      let pp = sizeof<T>() == 1 ? changetype<usize>(this.pre8) : changetype<usize>(this.pre16);
      if (memory.compare(base, pp, preBytes) != 0) return false;
    }
    if (this.literalOnly) return len == preLen;
    if (sufBytes > 0) {
      let sp = sizeof<T>() == 1 ? changetype<usize>(this.suf8) : changetype<usize>(this.suf16);
      if (memory.compare(base + (<usize>len << alignof<T>()) - sufBytes, sp, sufBytes) != 0) return false;
    }
    let start = preLen;
    let stop = len - sufLen;
    if (this.dfaCap > 0) return this.runDfa<T>(base, len, start, stop);
    return this.runNfaFrom<T>(base, len, start, stop);
  }

  private runNfaFrom<T>(base: usize, len: i32, start: i32, stop: i32): bool {
    let prev = start == 0 ? -1 : this.preLast;
    let cur = start < len ? decodeAt<T>(base, start, len) : -1;
    let sA = changetype<usize>(this.sparseA);
    let dA = changetype<usize>(this.denseA);
    let nA = this.addThread(sA, dA, 0, 0, start, len, prev, cur < 0 ? -1 : cur & CP_MASK);
    return this.runNfa<T>(base, len, start, stop, prev, cur, sA, dA, changetype<usize>(this.sparseB), changetype<usize>(this.denseB), nA);
  }

  /** Lazy-DFA simulation of [pos, stop); falls back to the NFA if a state cannot be cached. */
  private runDfa<T>(base: usize, len: i32, pos: i32, stop: i32): bool {
    let k = <usize>this.dfaK;
    let trans = changetype<usize>(this.dfaTrans);
    let cls = changetype<usize>(this.dfaClass);
    this.work = 0;
    let s = this.dfaStartState;
    if (s < 0) {
      store<i32>(changetype<usize>(this.sparseA), 0);
      store<i32>(changetype<usize>(this.denseA), 0);
      s = this.dfaIntern(1, ctxFlags(pos == 0 ? -1 : this.preLast, pos == 0) & this.ctxMask);
      if (s < 0) return this.runNfaFrom<T>(base, len, pos, stop); // unreachable: pool >= 1
      this.dfaStartState = s;
    }
    let first = pos;
    let dead = this.dfaDead;
    // A match that flushes the cache more than this hands over to the Pike VM: a thrashing DFA
    // costs far more per byte (a state computed, hashed and stored) than the Pike VM's at most
    // program-size thread steps, which is what the regex budget counts (docs/regex.md).
    let flushLimit = this.dfaFlushes + DFA_FLUSHES_PER_MATCH;
    while (pos < stop) {
      let c: i32;
      if (sizeof<T>() == 1) c = <i32>load<u8>(base + <usize>pos);
      else c = <i32>load<u16>(base + (<usize>pos << 1));
      let t: i32;
      let w = 1;
      if (c < 128) {
        let slot = trans + ((<usize>s * k + <usize>load<u8>(cls + <usize>c)) << 2);
        t = load<i32>(slot);
        if (t < 0) {
          let n = this.dfaStep(s, c);
          this.dfaFlushed = false;
          t = this.dfaIntern(n, ctxFlags(c, false) & this.ctxMask);
          if (t < 0 || this.dfaFlushes > flushLimit) {
            stepCounter += <i64>(pos - first) + this.work;
            return this.nfaFromSeeds<T>(base, len, pos + 1, stop, c, n);
          }
          if (!this.dfaFlushed) store<i32>(slot, t);
          dead = this.dfaDead;
        }
      } else {
        let d = decodeAt<T>(base, pos, len);
        c = d & CP_MASK;
        w = d >>> 24;
        let n = this.dfaStep(s, c);
        t = this.dfaIntern(n, ctxFlags(c, false) & this.ctxMask);
        if (t < 0 || this.dfaFlushes > flushLimit) {
          stepCounter += <i64>(pos - first) + this.work;
          return this.nfaFromSeeds<T>(base, len, pos + w, stop, c, n);
        }
        dead = this.dfaDead;
      }
      s = t;
      pos += w;
      if (s == dead) {
        stepCounter += <i64>(pos - first) + this.work;
        return false;
      }
    }
    let ok = pos == stop && this.dfaAccepts(s);
    stepCounter += <i64>(pos - first) + this.work;
    return ok;
  }

  /** Continues with the NFA from the seed set held in set A (n seeds), at pos. */
  private nfaFromSeeds<T>(base: usize, len: i32, pos: i32, stop: i32, prev: i32, n: i32): bool {
    let cur = pos < len ? decodeAt<T>(base, pos, len) : -1;
    let nextCp = cur < 0 ? -1 : cur & CP_MASK;
    let sB = changetype<usize>(this.sparseB);
    let dB = changetype<usize>(this.denseB);
    let dA = changetype<usize>(this.denseA);
    let nB = 0;
    for (let i = 0; i < n; i++) nB = this.addThread(sB, dB, nB, load<i32>(dA + (<usize>i << 2)), pos, len, prev, nextCp);
    return this.runNfa<T>(base, len, pos, stop, prev, cur, sB, dB, changetype<usize>(this.sparseA), dA, nB);
  }

  /** Pike-VM simulation; the current thread set (sA, dA, nA) is the closure at pos. */
  private runNfa<T>(base: usize, len: i32, pos: i32, stop: i32, prev: i32, cur: i32,
                    sA: usize, dA: usize, sB: usize, dB: usize, nA: i32): bool {
    let prog = changetype<usize>(this.prog);
    let steps: i64 = 0;
    let matchPc = this.matchPc;
    while (true) {
      if (nA == 0) break;
      steps += nA;
      if (pos >= stop) {
        let idx = load<i32>(sA + (<usize>matchPc << 2));
        let ok = pos == stop && <u32>idx < <u32>nA && load<i32>(dA + (<usize>idx << 2)) == matchPc;
        stepCounter += steps;
        return ok;
      }
      let c = cur & CP_MASK;
      let npos = pos + (cur >>> 24);
      let nxt = npos < len ? decodeAt<T>(base, npos, len) : -1;
      let nxtCp = nxt < 0 ? -1 : nxt & CP_MASK;
      let nB = 0;
      for (let i = 0; i < nA; i++) {
        let pc = load<i32>(dA + (<usize>i << 2));
        let ip = prog + <usize>pc * 12;
        if (!this.consumes(load<i32>(ip), load<i32>(ip, 4), c)) continue;
        // Fast path: the next instruction is not an epsilon op, so its closure is itself.
        let npc = pc + 1;
        let nop = load<i32>(ip, 12);
        if (nop != OP_JMP && nop != OP_SPLIT && nop != OP_ASSERT) {
          let idx = load<i32>(sB + (<usize>npc << 2));
          if (!(<u32>idx < <u32>nB && load<i32>(dB + (<usize>idx << 2)) == npc)) {
            store<i32>(sB + (<usize>npc << 2), nB);
            store<i32>(dB + (<usize>nB << 2), npc);
            nB++;
          }
        } else {
          nB = this.addThread(sB, dB, nB, npc, npos, len, c, nxtCp);
        }
      }
      let t = sA; sA = sB; sB = t;
      t = dA; dA = dB; dB = t;
      nA = nB;
      pos = npos;
      prev = c;
      cur = nxt;
    }
    stepCounter += steps;
    return false;
  }
}

const CTX_WORD: i32 = 1;
const CTX_NL: i32 = 2;
const CTX_START: i32 = 4;

/** DFA context flags for a previous code point (-1: none). */
function ctxFlags(prev: i32, atStart: bool): i32 {
  return (isWordCp(prev) ? CTX_WORD : 0) | (prev == 0x0a ? CTX_NL : 0) | (atStart ? CTX_START : 0);
}

function markInterval(mark: StaticArray<u8>, lo: i32, hi: i32): void {
  if (lo < 0) lo = 0;
  if (hi > 127) hi = 127;
  if (lo > hi) return;
  unchecked(mark[lo] = 1);
  unchecked(mark[hi + 1] = 1);
}
