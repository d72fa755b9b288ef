// Builds build/regex-check.wasm: entry.ts (this directory) + the filter's regex engine
// (filter/assembly/regex), compiled with the repository's pinned AssemblyScript 0.17 exactly as
// `asc controller/src/translate/regex-check/entry.ts -O3 --runtime full --use abort=regexCheckAbort`.
// A stamp file holds the hash of every input, so the build is skipped when nothing changed and
// redone when the engine changes. Run it directly:
//
//   node --import tsx controller/src/translate/regex-check/build.ts
//
// Not part of the pure translator: it runs the compiler.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, "../../../..");
export const REGEX_CHECK_WASM = join(REPO_ROOT, "build", "regex-check.wasm");
const STAMP = `${REGEX_CHECK_WASM}.inputs`;
const LOCK = `${REGEX_CHECK_WASM}.lock`;
const ENGINE = join(REPO_ROOT, "filter", "assembly", "regex");
const ENTRY = join(HERE, "entry.ts");
/** The filter's limits (the regex budget), which entry.ts imports. */
const LIMITS = join(REPO_ROOT, "filter", "assembly", "limits.ts");
const CONFIG = join(HERE, "asconfig.json");
const ASC = join(REPO_ROOT, "node_modules", "assemblyscript", "bin", "asc");
const ASC_PACKAGE = join(REPO_ROOT, "node_modules", "assemblyscript", "package.json");

/** The asc arguments (relative to the repository root). */
export function ascArgs(out: string): string[] {
  return [
    relative(REPO_ROOT, ENTRY), "--config", relative(REPO_ROOT, CONFIG),
    "-O3", "--runtime", "full", "--use", "abort=regexCheckAbort", "--binaryFile", out,
  ];
}

/** sha256 over every input file (engine sources, entry, config, compiler version). */
export function inputsHash(): string {
  const h = createHash("sha256");
  const engine = readdirSync(ENGINE).filter((f) => f.endsWith(".ts")).sort().map((f) => join(ENGINE, f));
  for (const f of [...engine, ENTRY, LIMITS, CONFIG, ASC_PACKAGE]) {
    h.update(relative(REPO_ROOT, f));
    h.update("\0");
    h.update(readFileSync(f));
  }
  return h.digest("hex");
}

function upToDate(hash: string): boolean {
  return existsSync(REGEX_CHECK_WASM) && existsSync(STAMP) && readFileSync(STAMP, "utf8").trim() === hash;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes the build lock (a directory), waiting for another builder; stale locks expire. */
function lock(): void {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const held = statSync(LOCK, { throwIfNoEntry: false });
      if (held !== undefined && Date.now() - held.mtimeMs > 300_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`regex-check build: lock ${LOCK} held for too long`);
      sleep(250);
    }
  }
}

/** Builds build/regex-check.wasm unless it is current; returns its path. Safe to call concurrently. */
export function buildRegexCheck(options: { force?: boolean } = {}): string {
  const hash = inputsHash();
  if (!options.force && upToDate(hash)) return REGEX_CHECK_WASM;
  mkdirSync(dirname(REGEX_CHECK_WASM), { recursive: true });
  lock();
  try {
    if (!options.force && upToDate(hash)) return REGEX_CHECK_WASM;
    const tmp = `${REGEX_CHECK_WASM}.${process.pid}.tmp`;
    try {
      execFileSync(process.execPath, [ASC, ...ascArgs(relative(REPO_ROOT, tmp))], { cwd: REPO_ROOT, stdio: "pipe", timeout: 300_000 });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`regex-check build failed:\n${err.stderr?.toString() || err.message}`, { cause: e });
    }
    renameSync(tmp, REGEX_CHECK_WASM);
    writeFileSync(STAMP, `${hash}\n`);
    return REGEX_CHECK_WASM;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes("--force");
  const out = buildRegexCheck({ force });
  process.stdout.write(`${relative(REPO_ROOT, out)} (${statSync(out).size} bytes)\n`);
}
