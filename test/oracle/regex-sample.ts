// A string a (RE2-syntax) regex matches in full, for deriving requests from match conditions:
// the shortest choice at every step (first alternative, fewest repetitions, first allowed
// character). Checked against JavaScript's RegExp; undefined when the sampler cannot produce a
// match (constructs it does not know), so the caller skips that condition instead of guessing.

const CANDIDATES = "a0bZ_-./:~ ";

type Node =
  | { t: "chars"; test: (c: string) => boolean; literal?: string }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; options: Node[] }
  | { t: "rep"; node: Node; min: number };

class Parser {
  i = 0;
  constructor(private readonly s: string) {}

  alt(): Node {
    const options = [this.seq()];
    while (this.s[this.i] === "|") {
      this.i += 1;
      options.push(this.seq());
    }
    return options.length === 1 ? options[0]! : { t: "alt", options };
  }

  private seq(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== "|" && this.s[this.i] !== ")") items.push(this.quantified(this.atom()));
    return { t: "seq", items };
  }

  private quantified(node: Node): Node {
    const c = this.s[this.i];
    let min: number | undefined;
    if (c === "*" || c === "?") min = 0;
    else if (c === "+") min = 1;
    else if (c === "{") {
      const m = /^\{(\d+)(,\d*)?\}/.exec(this.s.slice(this.i));
      if (m === null) throw new Error("bad repetition");
      this.i += m[0].length - 1;
      min = Number(m[1]);
    }
    if (min === undefined) return node;
    this.i += 1;
    if (this.s[this.i] === "?") this.i += 1;
    return { t: "rep", node, min };
  }

  private atom(): Node {
    const c = this.s[this.i++]!;
    if (c === "(") {
      if (this.s.startsWith("?:", this.i)) this.i += 2;
      else if (this.s[this.i] === "?") throw new Error("group flags");
      const inner = this.alt();
      if (this.s[this.i++] !== ")") throw new Error("unclosed group");
      return inner;
    }
    if (c === "[") return this.cls();
    if (c === ".") return { t: "chars", test: (x) => x !== "\n" };
    if (c === "^" || c === "$") return { t: "seq", items: [] };
    if (c === "\\") return this.escape();
    return { t: "chars", test: (x) => x === c, literal: c };
  }

  private escape(): Node {
    const e = this.s[this.i++]!;
    const classes: Record<string, (x: string) => boolean> = {
      d: (x) => /\d/.test(x),
      D: (x) => !/\d/.test(x),
      w: (x) => /\w/.test(x),
      W: (x) => !/\w/.test(x),
      s: (x) => /\s/.test(x),
      S: (x) => !/\s/.test(x),
    };
    const f = classes[e];
    if (f !== undefined) return { t: "chars", test: f };
    if (/[A-Za-z0-9]/.test(e)) throw new Error(`escape \\${e}`);
    return { t: "chars", test: (x) => x === e, literal: e };
  }

  private cls(): Node {
    const end = this.s.indexOf("]", this.i + 1);
    if (end < 0) throw new Error("unclosed class");
    const body = this.s.slice(this.i, end);
    this.i = end + 1;
    const re = new RegExp(`^[${body}]$`);
    return { t: "chars", test: (x) => re.test(x) };
  }
}

function emit(n: Node): string | undefined {
  switch (n.t) {
    case "chars":
      return n.literal ?? [...CANDIDATES].find((c) => n.test(c));
    case "seq": {
      let out = "";
      for (const item of n.items) {
        const s = emit(item);
        if (s === undefined) return undefined;
        out += s;
      }
      return out;
    }
    case "alt":
      for (const o of n.options) {
        const s = emit(o);
        if (s !== undefined) return s;
      }
      return undefined;
    case "rep": {
      const one = emit(n.node);
      return one === undefined ? (n.min === 0 ? "" : undefined) : one.repeat(n.min);
    }
  }
}

export function sampleRegex(regex: string): string | undefined {
  try {
    const p = new Parser(regex);
    const tree = p.alt();
    if (p.i !== regex.length) return undefined;
    const s = emit(tree);
    return s !== undefined && new RegExp(`^(?:${regex})$`).test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}
