// Builds the SDK probe (test/fixtures/sdk-probe) against the patched runtime in node_modules, and
// against an unpatched copy (node_modules' runtime with the patch reversed) so tests can show
// that each defect is real without the patch.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { compileAs, REPO_ROOT, type WasmBytes } from "./compile.js";
import { ProxyWasmHost, type HostOptions } from "./host.js";

const run = promisify(execFile);

export const PROBE_DIR = resolve(REPO_ROOT, "test/fixtures/sdk-probe");
export const RUNTIME_PATCH = resolve(REPO_ROOT, "patches/@solo-io+proxy-runtime+0.1.8.patch");
export const PROBE_ROOT_ID = "sdk-probe";

const CACHE_DIR = resolve(REPO_ROOT, "build/test-cache");
const RUNTIME_DIR = resolve(REPO_ROOT, "node_modules/@solo-io/proxy-runtime");

/**
 * Where the "patched" probe's runtime comes from: a directory holding
 * node_modules/@solo-io/proxy-runtime. Default the repository. CANAL_PROBE_RUNTIME_ROOT points the
 * suite at another copy, e.g. one with a single fix reverted to see its test fail.
 */
const PROBE_RUNTIME_ROOT = resolve(process.env.CANAL_PROBE_RUNTIME_ROOT ?? REPO_ROOT);

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

/**
 * Builds with `build(out)` unless build/test-cache holds a module built from the same inputs:
 * every probe source, the runtime's sources, the patch, the compiler version and these helpers.
 * Set CANAL_WASM_CACHE=0 to always compile.
 */
async function cachedBuild(
  name: string,
  variant: string,
  outFile: string,
  build: () => Promise<WasmBytes>,
  runtimeDir = RUNTIME_DIR,
): Promise<WasmBytes> {
  if (process.env.CANAL_WASM_CACHE === "0") return build();
  const inputs = [
    ...(await filesUnder(PROBE_DIR)),
    ...(await filesUnder(join(runtimeDir, "assembly"))),
    RUNTIME_PATCH,
    resolve(REPO_ROOT, "node_modules/assemblyscript/package.json"),
    resolve(REPO_ROOT, "test/emulator/compile.ts"),
    resolve(REPO_ROOT, "test/emulator/sdk-probe.ts"),
  ];
  const hash = createHash("sha256").update(variant).update(runtimeDir);
  for (const f of inputs) hash.update(relative(REPO_ROOT, f)).update(await readFile(f));
  const file = join(CACHE_DIR, `${name}-${hash.digest("hex").slice(0, 20)}.wasm`);
  try {
    const wasm = new Uint8Array(await readFile(file));
    await mkdir(dirname(outFile), { recursive: true });
    await writeFile(outFile, wasm);
    return wasm;
  } catch {
    const wasm = await build();
    await mkdir(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, wasm);
    await rename(tmp, file);
    // Drop this probe's older builds.
    for (const old of await readdir(CACHE_DIR)) {
      if (old !== basename(file) && new RegExp(`^${name}-[0-9a-f]{20}\\.wasm$`).test(old)) {
        await rm(join(CACHE_DIR, old), { force: true });
      }
    }
    return wasm;
  }
}

/** The probe built against node_modules' (patched) runtime, written to outDir/sdk-probe.wasm. */
export async function buildProbe(outDir: string): Promise<WasmBytes> {
  const out = join(outDir, "sdk-probe.wasm");
  return cachedBuild(
    "sdk-probe",
    "patched",
    out,
    () => compileAs(join(PROBE_DIR, "index.ts"), out, { textFile: join(outDir, "sdk-probe.wat"), baseDir: PROBE_RUNTIME_ROOT }),
    join(PROBE_RUNTIME_ROOT, "node_modules/@solo-io/proxy-runtime"),
  );
}

/**
 * The probe built against the UNPATCHED runtime: node_modules' copy with the patch reversed
 * (`git apply -R`), the probe's compat.ts swapped for stock/compat.ts. With `clearRouteCache`
 * the probe calls the stock clear_route_cache(), which imports proxy_clear_route_cache.
 */
export async function buildStockProbe(outDir: string, opts: { clearRouteCache?: boolean } = {}): Promise<WasmBytes> {
  const variant = opts.clearRouteCache ? "stock-crc" : "stock";
  const out = join(outDir, variant, "sdk-probe-stock.wasm");
  return cachedBuild(`sdk-probe-${variant}`, variant, out, () => compileStockProbe(outDir, opts));
}

async function compileStockProbe(outDir: string, opts: { clearRouteCache?: boolean }): Promise<WasmBytes> {
  const root = join(outDir, opts.clearRouteCache ? "stock-crc" : "stock");
  const runtime = join(root, "node_modules/@solo-io/proxy-runtime");
  await mkdir(join(root, "probe"), { recursive: true });
  await cp(resolve(REPO_ROOT, "node_modules/@solo-io/proxy-runtime"), runtime, { recursive: true });
  try {
    // The ceiling keeps git from treating an enclosing repository as the patch's root.
    await run("git", ["apply", "-R", RUNTIME_PATCH], {
      cwd: root,
      env: { ...process.env, GIT_CEILING_DIRECTORIES: dirname(root) },
    });
  } catch (e) {
    throw new Error(
      "node_modules/@solo-io/proxy-runtime does not carry patches/@solo-io+proxy-runtime+0.1.8.patch " +
        "(run `npm install`, whose postinstall applies it)",
      { cause: e },
    );
  }
  await cp(join(PROBE_DIR, "index.ts"), join(root, "probe/index.ts"));
  await cp(join(PROBE_DIR, "probe.ts"), join(root, "probe/probe.ts"));
  await cp(join(PROBE_DIR, "stock/compat.ts"), join(root, "probe/compat.ts"));
  return compileAs(join(root, "probe/index.ts"), join(root, "sdk-probe-stock.wasm"), {
    baseDir: root,
    constants: { STOCK_CRC: opts.clearRouteCache ? 1 : 0 },
  });
}

/** Loads a probe build, starts the VM and configures it (throws if configure is rejected). */
export async function startProbe(wasm: WasmBytes, opts: HostOptions = {}): Promise<ProxyWasmHost> {
  const host = await ProxyWasmHost.load(wasm, { rootId: PROBE_ROOT_ID, pluginConfig: "probe-config", ...opts });
  if (!host.startVm()) throw new Error("probe: proxy_on_vm_start returned false");
  if (!host.configure()) throw new Error("probe: proxy_on_configure returned false");
  return host;
}
