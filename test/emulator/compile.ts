// Builds AssemblyScript Proxy-Wasm modules for tests with the repository's pinned compiler
// (assemblyscript 0.17.14), the same way for every suite.
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Wasm module bytes (backed by a plain ArrayBuffer, as WebAssembly.compile wants). */
export type WasmBytes = Uint8Array<ArrayBuffer>;

/** Repository root (two levels above test/emulator). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ASC = resolve(REPO_ROOT, "node_modules/assemblyscript/bin/asc");

export interface CompileOptions {
  /** Optimisation flag; default "-O3". Use "" for none. */
  optimize?: string;
  /** Also write the text format here. */
  textFile?: string;
  /**
   * Directory the compiler resolves packages from (its node_modules); default the repository
   * root. Point it elsewhere to build against another copy of a package.
   */
  baseDir?: string;
  /** Integer constants for the source, passed as `--use NAME=VALUE`. */
  constants?: Record<string, number>;
  /** Further asc arguments. */
  extraArgs?: string[];
  /** Abort after this many ms; default 180,000. */
  timeoutMs?: number;
}

/**
 * Compiles `entry` to `outFile` with `asc --use abort=abort_proc_exit -O3 --runtime full`
 * (the flags @solo-io/proxy-runtime 0.1.8 needs) and returns the wasm bytes.
 */
export async function compileAs(entry: string, outFile: string, opts: CompileOptions = {}): Promise<WasmBytes> {
  const out = resolve(outFile);
  await mkdir(dirname(out), { recursive: true });
  const args = [
    ASC,
    resolve(entry),
    "--binaryFile",
    out,
    "--use",
    "abort=abort_proc_exit",
    "--runtime",
    "full",
    "--baseDir",
    resolve(opts.baseDir ?? REPO_ROOT),
  ];
  const optimize = opts.optimize ?? "-O3";
  if (optimize) args.push(optimize);
  if (opts.textFile) args.push("--textFile", resolve(opts.textFile));
  for (const [k, v] of Object.entries(opts.constants ?? {})) args.push("--use", `${k}=${v}`);
  args.push(...(opts.extraArgs ?? []));
  try {
    await run(process.execPath, args, {
      cwd: resolve(opts.baseDir ?? REPO_ROOT),
      timeout: opts.timeoutMs ?? 180_000,
      maxBuffer: 16 << 20,
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`asc failed for ${entry}:\n${err.stderr || err.stdout || err.message}`, { cause: e });
  }
  return new Uint8Array(await readFile(out));
}
