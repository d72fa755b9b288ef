// Getting the .wasm files the real-Envoy tests load: Canal's filter (built with
// `npm run build:filter` when missing or older than its sources) and the harness's probe filter.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CANAL_WASM = join(REPO_ROOT, "build", "canal.wasm");

/** The newest modification time of any file under `dir` (ms). */
export function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Returns the path of build/canal.wasm, building it first when it is missing or older than any
 * file under filter/assembly/ (or asconfig.json). Concurrent test processes serialise on a lock
 * directory. Throws with the compiler output when the build fails.
 */
export function ensureCanalWasm(): string {
  const sources = Math.max(newestMtime(join(REPO_ROOT, "filter", "assembly")), statSync(join(REPO_ROOT, "asconfig.json")).mtimeMs);
  const fresh = (): boolean => existsSync(CANAL_WASM) && statSync(CANAL_WASM).mtimeMs >= sources;
  if (fresh()) return CANAL_WASM;
  mkdirSync(join(REPO_ROOT, "build"), { recursive: true });
  const lock = join(REPO_ROOT, "build", ".canal-build.lock");
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test process is building; a lock older than 5 minutes is stale.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the filter build lock ${lock}`);
      sleepSync(100);
    }
  }
  try {
    if (!fresh()) {
      try {
        execFileSync("npm", ["run", "--silent", "build:filter"], { cwd: REPO_ROOT, stdio: "pipe", timeout: 300_000 });
      } catch (err) {
        const e = err as { stdout?: Buffer; stderr?: Buffer };
        throw new Error(
          `npm run build:filter failed; the real-Envoy tests need build/canal.wasm.\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`,
          { cause: err },
        );
      }
      if (!existsSync(CANAL_WASM)) throw new Error("npm run build:filter succeeded but build/canal.wasm is missing");
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return CANAL_WASM;
}

/**
 * Compiles the harness's probe filter (test/support/fixtures/probe-filter/probe.ts, raw Proxy-Wasm ABI,
 * no SDK) into a temp file keyed by its source hash and returns the path.
 */
export function probeWasm(): string {
  return compileRawProbe(join(REPO_ROOT, "test", "support", "fixtures", "probe-filter", "probe.ts"), "canal-probe");
}

/**
 * The shard probe (test/fixtures/shard-probe, raw ABI): records every plugin's onConfigure in
 * module globals and shared data and answers a "router" plugin's requests with them (ADR 0005).
 */
export function shardProbeWasm(): string {
  return compileRawProbe(join(REPO_ROOT, "test", "fixtures", "shard-probe", "index.ts"), "canal-shard-probe");
}

/** A raw-ABI AssemblyScript module (stub runtime, no abort) compiled once per source hash. */
function compileRawProbe(src: string, prefix: string): string {
  const hash = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 16);
  const out = join(tmpdir(), `${prefix}-${hash}.wasm`);
  if (existsSync(out)) return out;
  const asc = join(REPO_ROOT, "node_modules", ".bin", "asc");
  const tmp = `${out}.${process.pid}.tmp`;
  // cwd: the probe's folder, so the repository's asconfig.json (Canal's options) does not apply.
  execFileSync(asc, [src, "--runtime", "stub", "--use", "abort=", "-O2", "-b", tmp], { cwd: dirname(src), stdio: "pipe" });
  execFileSync("mv", [tmp, out]);
  return out;
}
