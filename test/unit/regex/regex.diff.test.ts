// Differential test against JavaScript's RegExp on the syntax subset where JS (with the `u`
// flag, wrapped as ^(?:p)$) and RE2 agree, plus a seeded no-trap fuzz over random patterns
// and random (often invalid UTF-8 / UTF-16) inputs.
import { beforeAll, describe, expect, it } from "vitest";
import { loadRegex, RegexModule, rng } from "./harness.ts";

// Input alphabet: no \r, \v, U+2028/9 (JS `.`/`\s` differ there), no K/S fold partners.
const ALPHABET = ["a", "b", "c", "x", "A", "B", "0", "5", "-", "/", "_", " ", "\n", "\u00e9", "\u263a", "\u{1F600}"];

type Node =
  | { t: "lit"; s: string; ch: string }
  | { t: "dot" }
  | { t: "cls"; s: string }
  | { t: "anchor"; s: string }
  | { t: "group"; capture: boolean; alt: Node[][] }
  | { t: "rep"; node: Node; min: number; max: number; op: string };

class Gen {
  constructor(private r: () => number, private fold: boolean) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(a: T[]): T {
    return a[this.int(a.length)];
  }
  atom(depth: number): Node {
    const k = this.int(depth > 2 ? 8 : 10);
    switch (k) {
      case 0: case 1: case 2: {
        const ch = this.pick(["a", "b", "c", "x", "0", "_", " ", "\u00e9", "\u263a", "\u{1F600}", ".", "-", "/"]);
        const s = ch === "." ? "\\." : ch === "/" ? "\\/" : ch; // JS u-mode rejects \\-
        return { t: "lit", s, ch };
      }
      case 3:
        return { t: "dot" };
      case 4: case 5: {
        const items = ["a", "b", "c", "a-c", "0-9", "x", "\\d", "\\w", "\\s", "A-Z", "\u00e9", "\u263a-\u263c"];
        let body = "";
        const n = 1 + this.int(3);
        for (let i = 0; i < n; i++) body += this.pick(items);
        if (this.int(5) === 0) body = "-" + body;
        const neg = this.int(3) === 0 ? "^" : "";
        if (this.int(4) === 0) return { t: "cls", s: this.pick(["\\d", "\\w", "\\s", "\\D", "\\W", "\\S"]) };
        return { t: "cls", s: `[${neg}${body}]` };
      }
      case 6:
        return { t: "anchor", s: this.pick(["^", "$", "\\b", "\\B"]) };
      case 7:
        return { t: "lit", s: this.fold ? "a" : "A", ch: "a" };
      default:
        return { t: "group", capture: this.int(2) === 0, alt: this.alt(depth + 1) };
    }
  }
  quantified(depth: number): Node {
    const a = this.atom(depth);
    if (a.t === "anchor" || this.int(3) !== 0) return a;
    const lazy = this.int(4) === 0 ? "?" : "";
    switch (this.int(6)) {
      case 0: return { t: "rep", node: a, min: 0, max: -1, op: "*" + lazy };
      case 1: return { t: "rep", node: a, min: 1, max: -1, op: "+" + lazy };
      case 2: return { t: "rep", node: a, min: 0, max: 1, op: "?" + lazy };
      case 3: { const n = this.int(4); return { t: "rep", node: a, min: n, max: n, op: `{${n}}` + lazy }; }
      case 4: { const n = this.int(3); return { t: "rep", node: a, min: n, max: -1, op: `{${n},}` + lazy }; }
      default: { const n = this.int(3); const m = n + this.int(3); return { t: "rep", node: a, min: n, max: m, op: `{${n},${m}}` + lazy }; }
    }
  }
  alt(depth: number): Node[][] {
    const branches: Node[][] = [];
    const nb = 1 + (this.int(3) === 0 ? this.int(3) : 0);
    for (let b = 0; b < nb; b++) {
      const items: Node[] = [];
      const n = this.int(depth > 2 ? 2 : 4) + (b === 0 ? 1 : 0);
      for (let i = 0; i < n; i++) items.push(this.quantified(depth));
      branches.push(items);
    }
    return branches;
  }
}

function show(n: Node): string {
  switch (n.t) {
    case "lit": case "cls": case "anchor": return n.s;
    case "dot": return ".";
    case "group": return (n.capture ? "(" : "(?:") + showAlt(n.alt) + ")";
    case "rep": return show(n.node) + n.op;
  }
}
function showAlt(alt: Node[][]): string {
  return alt.map((b) => b.map(show).join("")).join("|");
}

/** Produces a string that likely matches (anchors are ignored, so not always). */
function sample(alt: Node[][], g: Gen, budget: { n: number }): string {
  const branch = g.pick(alt);
  let out = "";
  for (const n of branch) out += sampleNode(n, g, budget);
  return out;
}
function sampleNode(n: Node, g: Gen, budget: { n: number }): string {
  if (--budget.n < 0) return "";
  switch (n.t) {
    case "lit": return n.ch;
    case "dot": return g.pick(ALPHABET.filter((c) => c !== "\n"));
    case "cls": {
      const re = new RegExp(`^${n.s}$`, "u");
      const members = ALPHABET.filter((c) => re.test(c));
      return members.length ? g.pick(members) : "";
    }
    case "anchor": return "";
    case "group": return sample(n.alt, g, budget);
    case "rep": {
      const hi = n.max < 0 ? n.min + 3 : n.max;
      const k = n.min + g.int(hi - n.min + 1);
      let s = "";
      for (let i = 0; i < k; i++) s += sampleNode(n.node, g, budget);
      return s;
    }
  }
}

function mutate(s: string, g: Gen): string {
  const cps = [...s];
  const k = g.int(3);
  const i = g.int(cps.length + 1);
  if (k === 0) cps.splice(i, 0, g.pick(ALPHABET));
  else if (k === 1 && cps.length) cps.splice(Math.min(i, cps.length - 1), 1);
  else if (cps.length) cps[Math.min(i, cps.length - 1)] = g.pick(ALPHABET);
  return cps.join("");
}

describe("regex vs JavaScript RegExp (common subset)", () => {
  let rx: RegexModule;
  beforeAll(() => {
    rx = loadRegex();
  }, 240_000);

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`agrees on 400 random patterns x 24 inputs (seed ${seed})`, () => {
      const r = rng(seed);
      let compared = 0;
      let positives = 0;
      for (let p = 0; p < 400; p++) {
        const fold = r() < 0.2;
        const g = new Gen(r, fold);
        const alt = g.alt(0);
        const body = showAlt(alt);
        const pattern = (fold ? "(?i)" : "") + body;
        const js = new RegExp(`^(?:${body})$`, fold ? "iu" : "u");
        const hd = rx.compile(pattern, 64);
        const hn = rx.compile(pattern, 0);
        expect(hd, `${pattern}: ${rx.error()}`).toBeGreaterThanOrEqual(0);
        expect(hn).toBeGreaterThanOrEqual(0);
        const inputs: string[] = [""];
        for (let i = 0; i < 10; i++) inputs.push(sample(alt, g, { n: 14 }));
        for (let i = 0; i < 8; i++) inputs.push(mutate(inputs[1 + g.int(10)], g));
        for (let i = 0; i < 5; i++) {
          let s = "";
          const len = g.int(7);
          for (let j = 0; j < len; j++) s += g.pick(ALPHABET);
          inputs.push(s);
        }
        for (const full of inputs) {
          // JS RegExp backtracks: keep inputs short so nested quantifiers stay cheap for it.
          const input = [...full].slice(0, 14).join("");
          const want = js.test(input) ? 1 : 0;
          const got = [rx.match(hd, input), rx.match(hn, input), rx.matchString(hd, input)];
          if (got[0] !== want || got[1] !== want || got[2] !== want) {
            expect({ pattern, input, got }).toEqual({ pattern, input, got: [want, want, want] });
          }
          compared++;
          positives += want;
        }
        rx.release(hd);
        rx.release(hn);
      }
      expect(compared).toBe(400 * 24);
      // The sampler makes the comparison meaningful: a good share of inputs match.
      expect(positives).toBeGreaterThan(compared * 0.2);
      expect(positives).toBeLessThan(compared * 0.9);
    }, 60_000); // JS RegExp backtracks; our side is linear
  }
});

describe("regex never traps (seeded fuzz)", () => {
  let rx: RegexModule;
  beforeAll(() => {
    rx = loadRegex();
  }, 240_000);

  const META = "()[]{}|*+?.^$\\-:!=<>,^PpQECxuiUsmAzbBdDwWsS0123456789aeZ_&# ";
  function randomPattern(r: () => number): string {
    const len = Math.floor(r() * 24);
    let s = "";
    for (let i = 0; i < len; i++) {
      const k = r();
      if (k < 0.85) s += META[Math.floor(r() * META.length)];
      else if (k < 0.9) s += String.fromCharCode(0xd800 + Math.floor(r() * 0x800)); // surrogates
      else s += String.fromCharCode(Math.floor(r() * 0x10000));
    }
    return s;
  }
  function randomBytes(r: () => number): Uint8Array {
    const len = Math.floor(r() * 48);
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = r() < 0.5 ? 0x61 + Math.floor(r() * 4) : Math.floor(r() * 256);
    return b;
  }
  function randomUnits(r: () => number): string {
    const len = Math.floor(r() * 24);
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCharCode(r() < 0.5 ? 0x61 + Math.floor(r() * 4) : Math.floor(r() * 0x10000));
    return s;
  }

  it("compiles 20,000 random patterns and matches random bytes/strings without a trap", () => {
    const r = rng(42);
    let compiled = 0;
    let matched = 0;
    for (let i = 0; i < 20000; i++) {
      const p = randomPattern(r);
      for (const dfa of [64, 0]) {
        const h = rx.compile(p, dfa);
        if (h < 0) {
          expect(rx.error()).toMatch(/ at offset \d+$/);
          continue;
        }
        compiled++;
        for (let k = 0; k < 4; k++) matched += rx.matchBytes(h, randomBytes(r));
        for (let k = 0; k < 2; k++) matched += rx.matchString(h, randomUnits(r));
        rx.release(h);
      }
    }
    expect(rx.aborts).toEqual([]);
    expect(compiled).toBeGreaterThan(2000);
    expect(matched).toBeGreaterThan(0);
  }, 120_000);

  it("survives adversarial shapes near the limits", () => {
    const shapes = [
      "(?:(?:(?:a{10}){10}){10})", "(?:a?){1000}", "(?:a*){1000}", "(?:\\b){1000}", "(?:|){1000}", "(?:(?:)*)*",
      "[\\x00-\\x{10FFFF}]{1000}", "(?i)[\\x00-\\x{10FFFF}]+", "(?:.{1000}){9}", "(((((((((((a)))))))))))*",
      "(?:a|b|c|d|e|f|g|h|i|j){1,1000}", "(?:^|$|\\b|\\B|\\A|\\z)*x", "\\Q" + "(".repeat(500), "x{1000,}",
      "(".repeat(999) + "a*" + ")*".repeat(999), "[" + "a-z".repeat(2000) + "]+",
    ];
    const r = rng(7);
    for (const p of shapes) {
      for (const dfa of [64, 0]) {
        const h = rx.compile(p, dfa);
        if (h < 0) continue;
        for (let k = 0; k < 20; k++) rx.matchBytes(h, randomBytes(r));
        rx.match(h, "a".repeat(5000));
        rx.release(h);
      }
    }
    expect(rx.aborts).toEqual([]);
  }, 120_000);
});
