// A bounded soak of Canal's filter in real Envoy: 20,000 warm-up requests, then 100,000 more
// (wrk in time-bounded runs until the count is reached), spread over 50 virtual hosts with routed
// requests (header operations included) and direct responses. Envoy's memory must stay flat.
//
// Bounds, and why:
// - Envoy heap (admin /memory `allocated`, tcmalloc) grows < 2 MiB over the 100,000 requests.
//   After warm-up every stat name, connection pool and buffer exists, so a steady load allocates
//   nothing lasting; a leak of only 21 bytes per request would cross 2 MiB.
// - Resident set (VmRSS) grows < 3 MiB. RSS also covers the Wasm VM's linear memory, which
//   tcmalloc does not see: that is where a filter leak shows (the published AssemblyScript SDK
//   leaks its per-request Context, ~33 bytes each: 3.3 MB per 100,000 requests per worker; the
//   bound sits just under that, with room for allocator page caching noise, measured at
//   ±0.25 MiB here).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderDirectResponseBootstrap } from "../../envoy/bootstrap.ts";
import { startEnvoy, wasmFailureLines, type EnvoyProcess } from "../support/envoy.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { table, vhost } from "../support/tables.ts";
import { runWrkAtLeast } from "../support/wrk.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const FAST = "outbound|80||fast.soak.svc.cluster.local";
const VHOSTS = 50;
const WARMUP = 20_000;
const SOAK = 100_000;
const MAX_HEAP_GROWTH = 2 * 1024 * 1024;
const MAX_RSS_GROWTH = 3 * 1024 * 1024;

const SOAK_TABLE = table(
  "sha256:soak-1",
  Array.from({ length: VHOSTS }, (_, i) =>
    vhost(`soak/svc-${i}`, [`svc-${i}.soak.svc.cluster.local`, `svc-${i}.soak`], [
      { match: [{ uri: { exact: "/local" } }], directResponse: { status: 200, body: "local" } },
      { match: [{ uri: { regex: "/items/[0-9]+" } }], route: [{ cluster: FAST }], timeoutMs: 5000 },
      {
        match: [{ uri: { prefix: "/api" } }],
        headers: { request: { set: { "x-soak": "1" }, remove: ["x-remove"] }, response: { set: { "x-canal-soak": "yes" } } },
        retries: { attempts: 2, retryOn: "5xx" },
        route: [{ cluster: FAST }],
      },
    ]),
  ),
);

let upstream: EnvoyProcess;
let gw: Gateway;

beforeAll(async () => {
  upstream = await startEnvoy({ name: "soak-upstream", config: renderDirectResponseBootstrap({ adminPort: 0, listenerPort: 0 }) });
  gw = await startGateway({
    name: "soak",
    wasmPath: ensureCanalWasm(),
    services: [],
    extraClusters: [{ name: FAST, host: "127.0.0.1", port: upstream.port() }],
    table: SOAK_TABLE,
  });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await upstream?.stop();
});

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

describe("soak", () => {
  it(`${WARMUP + SOAK} requests through the filter keep Envoy's memory flat`, async () => {
    const hosts: string[] = [];
    for (let i = 0; i < VHOSTS; i++) hosts.push(i % 2 === 0 ? `svc-${i}.soak.svc.cluster.local` : `svc-${i}.soak:80`);
    const load = { url: `http://127.0.0.1:${gw.port}`, hosts, paths: ["/api/a", "/items/42", "/local", "/api/b?x=1", "/items/7"], connections: 32, threads: 2 };
    const warm = await runWrkAtLeast(load, WARMUP, 60);
    expect(warm.requests).toBeGreaterThanOrEqual(WARMUP);
    expect(warm.non2xx).toBe(0);
    const heap0 = (await gw.envoy.memory()).allocated;
    const rss0 = gw.envoy.rssBytes();
    const run = await runWrkAtLeast(load, SOAK, 150);
    const heap1 = (await gw.envoy.memory()).allocated;
    const rss1 = gw.envoy.rssBytes();
    const report =
      `soak: ${run.requests} requests in ${run.durationS.toFixed(1)} s (${run.rps.toFixed(0)} req/s, ${run.runs.length} wrk runs); ` +
      `heap ${mib(heap0)} -> ${mib(heap1)} (growth ${mib(heap1 - heap0)}, bound ${mib(MAX_HEAP_GROWTH)}); ` +
      `RSS ${mib(rss0)} -> ${mib(rss1)} (growth ${mib(rss1 - rss0)}, bound ${mib(MAX_RSS_GROWTH)})`;
    console.log(report);
    expect(run.requests, report).toBeGreaterThanOrEqual(SOAK);
    expect(run.non2xx, report).toBe(0);
    expect(run.socketErrors, report).toBe(0);
    expect(heap1 - heap0, report).toBeLessThan(MAX_HEAP_GROWTH);
    expect(rss1 - rss0, report).toBeLessThan(MAX_RSS_GROWTH);
    const routed = await gw.envoy.stat("wasmcustom.canal_requests_total.soak/svc-0.routed");
    expect(routed).toBeGreaterThan(0);
    expect(wasmFailureLines(gw.envoy.log())).toEqual([]);
  }, 300_000);
});
