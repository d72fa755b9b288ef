// An "old build" of the filter for the NACK scenario: today's sources with one change, route
// timeouts unknown (the route member `timeoutMs` is not in the allowed list), as a filter built
// before route timeouts would be. Its own BUILD_ID (filter/build-id.mjs on the copy), built with
// the project's asc and asconfig.json into build/chaos-old/ (kept while newer than its sources).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newestMtime, REPO_ROOT } from "../support/wasm.ts";

const OUT_DIR = join(REPO_ROOT, "build", "chaos-old");
const WASM = join(OUT_DIR, "canal-old.wasm");
/** The filter's list of route members, whatever else it holds, as long as it names `timeoutMs`. */
const ROUTE_KEYS = /const ROUTE_KEYS: Array<string> = \[[^\]]*"timeoutMs"[^\]]*\];/;

/** The old build's path, building it first when missing or older than filter/assembly. */
export function oldFilterWasm(): string {
  const src = join(REPO_ROOT, "filter", "assembly");
  if (existsSync(WASM) && statSync(WASM).mtimeMs >= newestMtime(src)) return WASM;
  const copy = join(OUT_DIR, "assembly");
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  cpSync(src, copy, { recursive: true });
  const compile = join(copy, "load", "elements.ts");
  const text = readFileSync(compile, "utf8");
  // A renamed slot keeps the member order the compiler's slots rely on.
  const keys = ROUTE_KEYS.exec(text);
  if (keys === null) throw new Error("filter/assembly/load/elements.ts: no ROUTE_KEYS list naming \"timeoutMs\"; update test/chaos/old-filter.ts");
  writeFileSync(compile, text.replace(keys[0], keys[0].replace(`"timeoutMs"`, `"timeoutMs (unknown to this build)"`)));
  execFileSync(process.execPath, [join(REPO_ROOT, "filter", "build-id.mjs"), copy], { cwd: REPO_ROOT, stdio: "pipe" });
  const asc = join(REPO_ROOT, "node_modules", "assemblyscript", "bin", "asc");
  execFileSync(process.execPath, [asc, join(copy, "index.ts"), "--config", join(REPO_ROOT, "asconfig.json"), "--target", "release", "--binaryFile", WASM], { cwd: REPO_ROOT, stdio: "pipe", timeout: 300_000 });
  return WASM;
}
