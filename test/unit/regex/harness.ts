// Builds test/unit/regex/entry.ts (which imports filter/assembly/regex) with asc 0.17 and
// drives it from Node. The wasm is cached in the OS temp dir by a hash of its sources.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const regexDir = path.join(root, "filter/assembly/regex");
const entry = path.join(here, "entry.ts");
const config = path.join(here, "asconfig.json");
const asc = path.join(root, "node_modules/assemblyscript/bin/asc");

export function buildRegexWasm(): string {
  const hash = createHash("sha256");
  const files = fs.readdirSync(regexDir).filter((f) => f.endsWith(".ts")).sort().map((f) => path.join(regexDir, f));
  for (const f of [...files, entry, config, path.join(root, "node_modules/assemblyscript/package.json")]) {
    hash.update(f);
    hash.update(fs.readFileSync(f));
  }
  const out = path.join(os.tmpdir(), `canal-regex-test-${hash.digest("hex").slice(0, 16)}.wasm`);
  if (fs.existsSync(out)) return out;
  // Test files run in parallel workers: one builds, the others wait for its output.
  const lock = `${out}.lock`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (fs.existsSync(out)) return out;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 240_000 || Date.now() > deadline) {
        fs.rmSync(lock, { recursive: true, force: true }); // stale: its builder died
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (fs.existsSync(out)) return out;
    const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
    execFileSync(process.execPath, [
      asc, path.relative(root, entry), "--config", path.relative(root, config),
      "-O3", "--runtime", "full", "--use", "abort=regexTestAbort", "-b", tmp,
    ], { cwd: root, stdio: "pipe" });
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  return out;
}

interface Exports {
  memory: WebAssembly.Memory;
  buffer(which: number, size: number): number;
  compile(units: number): number;
  release(h: number): void;
  errorText(): number;
  programSize(h: number): number;
  matchBytes(h: number, len: number): number;
  matchUtf16(h: number, units: number): number;
  matchBytesLoop(h: number, len: number, iters: number): number;
  compileDropLoop(units: number, iters: number): number;
  steps(): number;
  resetSteps(): void;
  setProgramLimit(n: number): void;
  setDfaStates(n: number): void;
  usesDfa(h: number): number;
  dfaFlushes(h: number): number;
  memoryBytes(): number;
}

export class RegexModule {
  readonly e: Exports;
  aborts: string[] = [];

  constructor(wasmPath: string) {
    let mem: WebAssembly.Memory | null = null;
    const str = (p: number): string => {
      if (!p || mem === null) return "";
      const n = new Uint32Array(mem.buffer)[(p - 4) >>> 2];
      return Buffer.from(new Uint8Array(mem.buffer, p, n)).toString("utf16le");
    };
    const imports = {
      env: {
        reportAbort: (m: number, f: number, l: number, c: number): void => {
          const msg = `abort: ${str(m)} at ${str(f)}:${l}:${c}`;
          this.aborts.push(msg);
          throw new Error(msg);
        },
      },
    };
    const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(wasmPath)), imports);
    this.e = instance.exports as unknown as Exports;
    mem = this.e.memory;
  }

  private putUnits(which: number, s: string): number {
    const p = this.e.buffer(which, s.length * 2 + 2);
    const u = new Uint16Array(this.e.memory.buffer, p, s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return s.length;
  }

  private putBytes(b: Uint8Array): number {
    const p = this.e.buffer(1, b.length + 1);
    new Uint8Array(this.e.memory.buffer, p, b.length).set(b);
    return b.length;
  }

  /** Compiles with the DFA enabled (states > 0) or disabled (0). Returns a handle or -1. */
  compile(pattern: string, dfaStates = 64): number {
    this.e.setDfaStates(dfaStates);
    return this.e.compile(this.putUnits(0, pattern));
  }

  error(): string {
    const n = this.e.errorText();
    const p = this.e.buffer(0, 0);
    return Buffer.from(new Uint8Array(this.e.memory.buffer, p, n * 2)).toString("utf16le");
  }

  /** Compile error message, or "" when the pattern compiles (the handle is released). */
  compileError(pattern: string): string {
    const h = this.compile(pattern);
    if (h >= 0) {
      this.e.release(h);
      return "";
    }
    return this.error();
  }

  release(h: number): void {
    this.e.release(h);
  }

  matchBytes(h: number, input: Uint8Array): number {
    return this.e.matchBytes(h, this.putBytes(input));
  }

  /** UTF-8 encodes `s` (lone surrogates become U+FFFD, as TextEncoder does) and matches. */
  match(h: number, s: string): number {
    return this.matchBytes(h, Buffer.from(s, "utf8"));
  }

  matchString(h: number, s: string): number {
    return this.e.matchUtf16(h, this.putUnits(1, s));
  }

  loadInput(input: Uint8Array): number {
    return this.putBytes(input);
  }

  setPattern(pattern: string): number {
    return this.putUnits(0, pattern);
  }
}

let cached: string | null = null;
export function loadRegex(): RegexModule {
  if (cached === null) cached = buildRegexWasm();
  return new RegexModule(cached);
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
