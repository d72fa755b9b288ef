// Builds the three floor modules at bench time into build/floors/: the two hand-written
// Proxy-Wasm modules (WAT, assembled with the npm `wabt` package) and the SDK floor
// (AssemblyScript, compiled with the filter's compiler and asconfig.json options).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import wabtInit from "wabt";
import { REPO_ROOT } from "../../test/support/wasm.ts";

export interface FloorModules {
  /** platform.wat: every callback returns at once. */
  platform: string;
  /** sdk/index.ts: the patched SDK with a filter that does nothing. */
  sdk: string;
  /** hostcalls.wat: Canal's per-request host calls, no logic. */
  hostcalls: string;
  /** hostcalls.wat without the x-canal-cluster write: the header read alone (run on native routes). */
  read: string;
}

/** The x-canal-cluster write of hostcalls.wat (its @WRITE@). */
const HEADER_WRITE = "(drop (call $replace_header (i32.const 0) (i32.const 96) (i32.const 15) (i32.const 256) (global.get $cluster_len)))";

const HERE = join(REPO_ROOT, "bench", "floors");

/** Assembles a WAT file, with `@NAME@` placeholders replaced, to a validated .wasm at `out`. */
async function assemble(watFile: string, values: Record<string, string>, out: string): Promise<void> {
  const wabt = await wabtInit();
  let text = readFileSync(join(HERE, watFile), "utf8");
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`@${k}@`, v);
  const module = wabt.parseWat(watFile, text);
  try {
    module.validate();
    writeFileSync(out, Buffer.from(module.toBinary({}).buffer));
  } finally {
    module.destroy();
  }
}

/** The floor modules; the host-call floor writes `cluster` as Canal writes the routed cluster. */
export async function buildFloors(cluster: string): Promise<FloorModules> {
  if (!/^[\x21-\x7e]+$/.test(cluster) || cluster.includes('"') || cluster.includes("\\")) throw new Error(`floor cluster name not plain: ${cluster}`);
  const dir = join(REPO_ROOT, "build", "floors");
  mkdirSync(dir, { recursive: true });
  const mods: FloorModules = { platform: join(dir, "platform.wasm"), sdk: join(dir, "sdk.wasm"), hostcalls: join(dir, "hostcalls.wasm"), read: join(dir, "read.wasm") };
  await assemble("platform.wat", {}, mods.platform);
  const values = { CLUSTER: cluster, CLUSTER_LEN: String(Buffer.byteLength(cluster)) };
  await assemble("hostcalls.wat", { ...values, WRITE: HEADER_WRITE }, mods.hostcalls);
  await assemble("hostcalls.wat", { ...values, WRITE: "" }, mods.read);
  execFileSync(join(REPO_ROOT, "node_modules", ".bin", "asc"), [join(HERE, "sdk", "index.ts"), "--config", "asconfig.json", "--target", "release", "--binaryFile", mods.sdk], {
    cwd: REPO_ROOT,
    stdio: "pipe",
    timeout: 300_000,
  });
  return mods;
}
