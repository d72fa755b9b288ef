// The SDK probe in REAL Envoy (the binary scripts/tools.sh caches): proves that the patched
// runtime loads on Envoy's ABI 0.2.x host and that the behaviour the emulator reproduces is
// Envoy's — config read, an empty body, missing properties, header-map errors, the
// clear_route_cache foreign function, get_metric, local replies and a delayed request continued
// from onTick. Loopback only; ports are picked free, the process is always killed.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProbe, PROBE_DIR } from "./sdk-probe.js";

const ENVOY_VERSION = process.env.ENVOY_VERSION ?? "1.40.0";
const ENVOY_BIN = join(process.env.CANAL_CACHE ?? join(homedir(), ".cache/canal"), "envoy", ENVOY_VERSION, "envoy");
const PLUGIN_CONFIG = "probe-config";

let dir = "";
let envoy: ChildProcess | undefined;
let output = "";
let base = "";
let admin = "";

/** A free loopback port: listen on 0, read the port, close. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (envoy?.exitCode !== null && envoy?.exitCode !== undefined) {
      throw new Error(`envoy exited with ${envoy.exitCode} before it was ready:\n${output.slice(-4000)}`);
    }
    try {
      const res = await fetch(url);
      if (res.status === 200 && (await res.text()).trim() === "LIVE") return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`envoy not ready after ${timeoutMs} ms:\n${output.slice(-4000)}`);
}

beforeAll(async () => {
  if (!existsSync(ENVOY_BIN)) {
    throw new Error(`Envoy ${ENVOY_VERSION} is missing at ${ENVOY_BIN}: run scripts/tools.sh envoy`);
  }
  dir = await mkdtemp(join(tmpdir(), "canal-probe-envoy-"));
  await buildProbe(dir);
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const config = (await readFile(join(PROBE_DIR, "envoy.yaml"), "utf8"))
    .replaceAll("${ADMIN_PORT}", String(adminPort))
    .replaceAll("${LISTEN_PORT}", String(listenPort))
    .replaceAll("${PLUGIN_CONFIG}", JSON.stringify(PLUGIN_CONFIG))
    .replaceAll("${WASM_PATH}", JSON.stringify(join(dir, "sdk-probe.wasm")));
  await writeFile(join(dir, "envoy.yaml"), config);
  // --disable-hot-restart: no shared-memory region, so no --base-id clash with other Envoys.
  envoy = spawn(
    ENVOY_BIN,
    ["-c", join(dir, "envoy.yaml"), "--disable-hot-restart", "--concurrency", "1", "-l", "info"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  envoy.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  envoy.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  base = `http://127.0.0.1:${listenPort}`;
  admin = `http://127.0.0.1:${adminPort}`;
  await waitReady(`${admin}/ready`, 30_000);
}, 300_000);

afterAll(async () => {
  const p = envoy;
  if (p && p.exitCode === null) {
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function probe(mode: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/`, { headers: { "x-probe": mode, ...headers } });
}

describe("the SDK probe on the patched runtime in Envoy", () => {
  it("loads (ABI 0.2.0, no proxy_clear_route_cache import) and adds its response header", async () => {
    const res = await probe("");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-probe")).toBe("1");
  });

  it("reads the plugin configuration in onConfigure", async () => {
    const res = await probe("config");
    expect(res.headers.get("x-probe-config")).toBe(PLUGIN_CONFIG);
    expect(res.headers.get("x-probe-config-bytes")).toBe(String(PLUGIN_CONFIG.length));
  });

  it("reads an empty request body after a header read, and the VM lives on", async () => {
    const res = await probe("body");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-probe-body-len")).toBe("0");
    expect((await probe("")).status).toBe(200);
  });

  it("gets a NUL-separated property and survives a missing one (NotFound)", async () => {
    const present = await probe("prop", { "x-probe-prop": "source.address" });
    expect(present.headers.get("x-probe-prop-result")).toBe("0");
    expect(present.headers.get("x-probe-prop")).toMatch(/^127\.0\.0\.1:\d+$/);
    const missing = await probe("prop", { "x-probe-prop": "no.such.property" });
    expect(missing.status).toBe(200);
    expect(missing.headers.get("x-probe-prop-result")).toBe("1");
    expect(missing.headers.get("x-probe-prop")).toBe("");
  });

  it("gets BadArgument for the response map while decoding, Ok for the request map", async () => {
    const early = await probe("replace-response");
    expect(early.status).toBe(200);
    expect(early.headers.get("x-probe-replace-result")).toBe("2");
    expect(early.headers.get("x-probe-remove-result")).toBe("2");
    const req = await probe("replace", { "x-probe-remove-me": "1" });
    expect(req.headers.get("x-probe-replace-result")).toBe("0");
    expect(req.headers.get("x-probe-remove-result")).toBe("0");
  });

  it("clears the route cache through the foreign function clear_route_cache (Ok)", async () => {
    const res = await probe("crc");
    expect(res.headers.get("x-probe-crc-result")).toBe("0");
  });

  it("reads its counter with get_metric, matching Envoy's wasmcustom stat", async () => {
    const res = await probe("metric");
    expect(res.headers.get("x-probe-metric-result")).toBe("0");
    const seen = Number(res.headers.get("x-probe-metric"));
    const stats = await (await fetch(`${admin}/stats?filter=sdk_probe_requests`)).text();
    const stat = Number(/wasmcustom\.sdk_probe_requests: (\d+)/.exec(stats)?.[1]);
    expect(seen).toBeGreaterThan(0);
    expect(stat).toBe(seen); // no request ran in between; get_metric changed nothing
  });

  it("sends a local response", async () => {
    const res = await probe("local");
    expect(res.status).toBe(403);
    expect(res.headers.get("x-probe-local")).toBe("1");
    expect(await res.text()).toBe("denied by probe");
  });

  it("continues a request stopped in onRequestHeaders from onTick", async () => {
    const res = await probe("delay");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-probe-mode")).toBe("delay");
  });

  it("logged no critical wasm message and no failed wasm call", async () => {
    await new Promise((r) => setTimeout(r, 200));
    expect(output).toContain("sdk-probe configured");
    expect(output).not.toMatch(/\[critical\]\[wasm\]/);
    expect(output).not.toMatch(/Function: proxy_\w+ failed/);
  });
});
