// The leak test CI carries (FACTS.md, "Either way"): a million full request lifecycles through the
// SDK probe — context create, request headers (a header read and a counter increment), response
// headers (a header added), done, log, delete — with wasm memory and the root context's reference
// count flat. Without the patch (defect 1) every request leaks its Context (memory grows by
// megabytes per 100k requests) and the root's count grows by 2; sdk-patch.test.ts shows that.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LogLevel, type HeaderList, type ProxyWasmHost } from "./host.js";
import type { WasmBytes } from "./compile.js";
import { buildProbe, startProbe } from "./sdk-probe.js";

let dir = "";
let wasm: WasmBytes;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "canal-leak-"));
  wasm = await buildProbe(dir);
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function lifecycles(host: ProxyWasmHost, n: number): number {
  const request: HeaderList = [[":method", "GET"], [":path", "/"], [":authority", "svc.ns"]];
  const response: HeaderList = [[":status", "200"]];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) host.runRequest(request, response);
  return ((performance.now() - t0) * 1000) / n;
}

it("1,000,000 request lifecycles leave wasm memory and the root's reference count flat", async () => {
  const host = await startProbe(wasm, { logLevel: LogLevel.trace });
  const rootRefcount = host.exports.probe_root_refcount as () => number;

  lifecycles(host, 100_000);
  const memAt100k = host.memoryBytes;
  const rcAt100k = rootRefcount();

  const usPerLifecycle = lifecycles(host, 900_000);

  expect(host.memoryBytes).toBe(memAt100k);
  expect(rootRefcount()).toBe(rcAt100k);
  expect(host.liveContexts).toBe(0);
  expect(host.getMetricValue("sdk_probe_requests")).toBe(1_000_000n);
  // The patched runtime emits nothing per request, even at trace level (defect 4).
  expect(host.logMessages(LogLevel.trace)).toEqual(["sdk-probe configured"]);
  console.info(
    `lifecycle: ${usPerLifecycle.toFixed(2)} µs per request in the emulator; wasm memory ${memAt100k} bytes; root refcount ${rcAt100k}`,
  );
}, 180_000);
