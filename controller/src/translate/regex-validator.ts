// loadRegexValidator(): the filter's own regex engine, compiled to build/regex-check.wasm,
// as a synchronous (pattern) => error | null for translate()'s `validateRegex`. It lives outside
// the pure translator because it reads a file and instantiates WebAssembly.
import { existsSync, readFileSync } from "node:fs";
import type { RegexValidator } from "./context.ts";
import { REGEX_CHECK_WASM } from "./regex-check/build.ts";

interface Exports {
  memory: WebAssembly.Memory;
  buffer(bytes: number): number;
  check(ptr: number, units: number): number;
}

export interface RegexValidatorOptions {
  /** Default: build/regex-check.wasm in the repository. */
  wasmPath?: string;
  /** Results remembered (tables repeat the same patterns on every translation). Default 10,000. */
  cacheSize?: number;
}

class Engine {
  private e: Exports;

  constructor(private readonly module: WebAssembly.Module) {
    this.e = this.instantiate();
  }

  private instantiate(): Exports {
    let memory: WebAssembly.Memory | undefined;
    const text = (ptr: number): string => {
      if (ptr === 0 || memory === undefined) return "";
      const bytes = new Uint32Array(memory.buffer)[(ptr - 4) >>> 2] ?? 0;
      return Buffer.from(new Uint8Array(memory.buffer, ptr, bytes)).toString("utf16le");
    };
    const imports = {
      env: {
        regexCheckAbort: (msg: number, file: number, line: number, col: number): never => {
          throw new EngineAbort(`${text(msg)} at ${text(file)}:${line}:${col}`);
        },
      },
    };
    const instance = new WebAssembly.Instance(this.module, imports);
    const e = instance.exports as unknown as Exports;
    memory = e.memory;
    return e;
  }

  check(pattern: string): string | null {
    try {
      return this.run(pattern);
    } catch (err) {
      // An engine trap leaves the instance unusable: start a fresh one, refuse the pattern.
      this.e = this.instantiate();
      const why = err instanceof Error ? err.message : String(err);
      return `the regex engine failed on this pattern (${why})`;
    }
  }

  private run(pattern: string): string | null {
    const ptr = this.e.buffer(pattern.length * 2 + 2);
    const units = new Uint16Array(this.e.memory.buffer, ptr, pattern.length);
    for (let i = 0; i < pattern.length; i++) units[i] = pattern.charCodeAt(i);
    const n = this.e.check(ptr, pattern.length);
    if (n < 0) return null;
    const at = this.e.buffer(0);
    return Buffer.from(new Uint8Array(this.e.memory.buffer, at, n * 2)).toString("utf16le");
  }
}

class EngineAbort extends Error {}

export function loadRegexValidator(options: RegexValidatorOptions = {}): RegexValidator {
  const path = options.wasmPath ?? REGEX_CHECK_WASM;
  if (!existsSync(path)) {
    throw new Error(`regex check module ${path} is missing: build it with \`node --import tsx controller/src/translate/regex-check/build.ts\``);
  }
  const engine = new Engine(new WebAssembly.Module(readFileSync(path)));
  const limit = options.cacheSize ?? 10_000;
  const cache = new Map<string, string | null>();
  return (pattern: string): string | null => {
    const hit = cache.get(pattern);
    if (hit !== undefined || cache.has(pattern)) return hit ?? null;
    const result = engine.check(pattern);
    if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
    cache.set(pattern, result);
    return result;
  };
}
