// The bootstrap and the harness, proven in real Envoy with a minimal raw-ABI probe filter
// (test/support/fixtures/probe-filter/probe.ts) instead of Canal's filter: file-based ECDS starts on the
// default config, applies a new config live, keeps the last good one when the filter rejects
// an update, routes by cluster_header and strips it, and stats_tags render the filter's
// counter with vhost/outcome labels. These are facts about Envoy the gateway relies on.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderCanalBootstrap, toYaml } from "../../envoy/bootstrap.ts";
import { renderLocalYaml, writeLocalTable } from "../../envoy/local.ts";
import { envoyBinary } from "../support/envoy.ts";
import { clusterName, startGateway, type Gateway } from "../support/gateway.ts";
import { jsonBody } from "../support/http.ts";
import { pollUntil } from "../support/processes.ts";
import type { Echo } from "../support/upstream.ts";
import { ensureCanalWasm, probeWasm, REPO_ROOT } from "../support/wasm.ts";

let gw: Gateway;
const A = clusterName("alpha");

function probeConfig(cluster: string, vhost: string): string {
  return `cluster=${cluster};vhost=${vhost}`;
}

beforeAll(async () => {
  gw = await startGateway({
    name: "bootstrap-probe",
    wasmPath: probeWasm(),
    services: ["alpha", "beta"],
    // The probe filter has no x-canal-table; a config counts as served once requests route to
    // the cluster it names (or get the probe's 404 for an empty cluster).
    probe: async (g, table) => {
      const res = await g.send("any.host", "/");
      const m = /cluster=([^;]*)/.exec(String(table));
      const want = m?.[1] ?? "";
      if (want === "") return res.status === 404;
      return res.status === 200 && jsonBody<Echo>(res).upstream === (want === A ? "alpha" : "beta");
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

describe("bootstrap in real Envoy (probe filter)", () => {
  it("serves the default config (empty) before any table: the filter's 404, not a 5xx", async () => {
    const res = await gw.send("x.example", "/");
    expect(res.status).toBe(404);
    expect(res.body).toBe("probe: no cluster");
  });

  it("applies a new config live through the watched ECDS file, routes by cluster_header and strips it", async () => {
    expect(await gw.apply(probeConfig(A, "default/hello.world:v1"))).toBe("applied");
    const res = await gw.send("x.example", "/p?q=1", { headers: { "x-test-key": "strip" } });
    expect(res.status).toBe(200);
    const echo = jsonBody<Echo>(res);
    expect(echo.upstream).toBe("alpha");
    expect(echo.path).toBe("/p?q=1");
    expect(echo.headers["x-canal-cluster"]).toBeUndefined();
  });

  it("keeps the last good config when the filter rejects an update (on_configure false → NACK)", async () => {
    expect(await gw.apply(`${probeConfig(clusterName("beta"), "x")};reject`)).toBe("rejected");
    for (let i = 0; i < 5; i++) {
      const res = await gw.send("x.example", "/");
      expect(res.status).toBe(200);
      expect(jsonBody<Echo>(res).upstream).toBe("alpha");
    }
    expect(gw.envoy.log()).toMatch(/Filesystem config update rejected/);
  });

  it("takes a second live update (another cluster)", async () => {
    expect(await gw.apply(probeConfig(clusterName("beta"), "default/hello.world:v1"))).toBe("applied");
    const res = await gw.send("x.example", "/");
    expect(jsonBody<Echo>(res).upstream).toBe("beta");
  });

  it("renders wasmcustom.canal_requests_total.<vhost>.<outcome> as canal_requests_total{vhost,outcome}", async () => {
    const before = await gw.envoy.stat("wasmcustom.canal_requests_total.default/hello.world:v1.routed");
    await gw.send("x.example", "/");
    // The filter adds its counts to Envoy's counters on its tick (1 s), so poll for the new count.
    const routed = /^canal_requests_total\{vhost="default\/hello\.world:v1",outcome="routed"\} (\d+)$/m;
    let text = "";
    await pollUntil("canal_requests_total{outcome=\"routed\"} to count the request", async () => {
      text = await gw.envoy.prometheus();
      return Number(routed.exec(text)?.[1] ?? -1) > before ? true : undefined;
    }, { timeoutMs: 5_000, intervalMs: 100, onTimeout: () => text.split("\n").filter((l) => l.includes("canal")).join("\n") });
    expect(text).toContain("# TYPE canal_requests_total counter");
    const m = routed.exec(text);
    expect(m, text.split("\n").filter((l) => l.includes("canal")).join("\n")).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(before);
  });
});

describe("envoy/canal.yaml (local runs with func-e)", () => {
  it("is exactly what envoy/local.ts renders from envoy/bootstrap.ts", () => {
    expect(readFileSync(join(REPO_ROOT, "envoy", "canal.yaml"), "utf8")).toBe(renderLocalYaml());
  });

  it("passes envoy --mode validate with the filter and the demo table in place", () => {
    const root = mkdtempSync(join(tmpdir(), "canal-validate-"));
    mkdirSync(join(root, "build"));
    symlinkSync(ensureCanalWasm(), join(root, "build", "canal.wasm"));
    writeLocalTable(root, readFileSync(join(REPO_ROOT, "envoy", "demo-table.json"), "utf8"));
    const out = execFileSync(envoyBinary(), ["--mode", "validate", "-c", join(REPO_ROOT, "envoy", "canal.yaml"), "-l", "error"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(out).toContain("OK");
  });
});

describe("the ADS variant (ECDS from the controller, later)", () => {
  it("renders a bootstrap Envoy accepts: ads config source, ads_config and an HTTP/2 xDS cluster", () => {
    const config = renderCanalBootstrap({
      listenerPort: 10080,
      adminPort: 9901,
      wasmPath: ensureCanalWasm(),
      table: { kind: "ads", adsCluster: { name: "canal-controller", host: "127.0.0.1", port: 18000 } },
      clusters: [{ name: clusterName("alpha"), host: "127.0.0.1", port: 18081 }],
    });
    const dir = mkdtempSync(join(tmpdir(), "canal-ads-"));
    const path = join(dir, "ads.yaml");
    writeFileSync(path, toYaml(config));
    const out = execFileSync(envoyBinary(), ["--mode", "validate", "-c", path, "-l", "error"], { encoding: "utf8" });
    expect(out).toContain("OK");
    expect(JSON.stringify(config)).toContain('"config_source":{"resource_api_version":"V3","ads":{}}');
  });
});
