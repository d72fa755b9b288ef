// Issue 12, finding 8 (second half): with Envoy's default failure policy a VM that trapped kept
// that worker failing every request until the next config. Every Wasm filter config Canal renders
// or writes now asks for FAIL_RELOAD (Envoy reloads the failed VM; never FAIL_OPEN, which would
// bypass routing), and a real Envoy 1.40 runs with it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { renderCanalBootstrap, renderWasmFilterConfig } from "../../envoy/bootstrap.ts";
import { toEnvoyJson, TYPED_EXTENSION_CONFIG } from "../../controller/src/sinks/ecds/proto.ts";
import { encodeCanalResource } from "../../controller/src/sinks/ecds/resource.ts";
import { FIELD_MANAGER, WasmPluginWriter } from "../../controller/src/sinks/wasmplugin.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { table, to, vhost } from "../support/tables.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

// The security suite runs beside the 1,000,000-request property test on a shared machine.
vi.setConfig({ testTimeout: 60_000 });

const ROOT = join(import.meta.dirname, "..", "..");

/** Every `failure_policy` value anywhere in a config. */
function policies(config: unknown): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === "failure_policy") out.push(x);
        walk(x);
      }
    }
  };
  walk(config);
  return out;
}

describe("every Wasm filter config asks Envoy to reload a failed VM", () => {
  it("the rendered filter config, the inline and the ECDS bootstraps", () => {
    expect(policies(renderWasmFilterConfig("/w.wasm", ""))).toEqual(["FAIL_RELOAD"]);
    expect(policies(renderCanalBootstrap({ listenerPort: 0, adminPort: 0, wasmPath: "/w.wasm", table: { kind: "inline", table: "" }, clusters: [] }))).toEqual(["FAIL_RELOAD"]);
    expect(policies(renderCanalBootstrap({ listenerPort: 0, adminPort: 0, wasmPath: "/w.wasm", table: { kind: "ads", adsCluster: { name: "xds", host: "127.0.0.1", port: 1 } }, clusters: [] }))).toEqual(["FAIL_RELOAD"]);
  });

  it("the resource the ECDS server sends (decoded from its protobuf bytes)", () => {
    const bytes = encodeCanalResource({ code: { local: "/w.wasm" } }, JSON.stringify({ format: 1, version: "v", virtualHosts: [] }));
    expect(policies(toEnvoyJson(TYPED_EXTENSION_CONFIG, bytes))).toEqual(["FAIL_RELOAD"]);
  });

  it("the WasmPlugin the controller writes (istiod renders failStrategy as failure_policy)", () => {
    const wp = WasmPluginWriter.render({ namespace: "istio-system", name: "canal", selector: { app: "canal-gateway" }, url: "file:///w.wasm" }, table("v", []));
    expect(wp.spec["failStrategy"]).toBe("FAIL_RELOAD");
  });

  it("the chart's ECDS default_config and the example bootstrap", () => {
    for (const f of ["charts/canal-control/templates/ecds.yaml", "envoy/canal.yaml"]) {
      const text = readFileSync(join(ROOT, f), "utf8");
      expect(text.match(/failure_policy: (\w+)/g), f).toEqual(["failure_policy: FAIL_RELOAD"]);
    }
  });
});

describe("real Envoy 1.40 runs the filter with FAIL_RELOAD", () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ name: "failure-policy", wasmPath: ensureCanalWasm(), services: ["alpha"] });
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it("keeps it in the loaded filter config (default and delivered) and routes", async () => {
    expect(await gw.apply(table("sha256:fp-1", [vhost("a", ["a.test"], [{ route: to("alpha") }])]))).toBe("applied");
    const dump = JSON.parse(await gw.envoy.admin("/config_dump?resource=ecds_filters")) as unknown;
    const found = policies(dump);
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found)).toEqual(new Set(["FAIL_RELOAD"]));
  });
});

describe("a WasmPlugin written before failStrategy existed gets it (real kube-apiserver, Istio's CRD)", () => {
  let api: KubeApi;
  beforeAll(async () => {
    api = await startKubeApi({ name: "failure-policy" });
    await api.prepareForCanal();
  }, 180_000);
  afterAll(async () => {
    await api?.stop();
  });

  it("re-applies once with the table unchanged, then leaves it alone", async () => {
    const writer = new WasmPluginWriter(api.kubeConfig());
    const target = { namespace: "istio-system", name: "canal-canal", selector: { app: "canal-gateway" }, url: "file:///w.wasm" };
    const t = table("sha256:fp-k8s", [vhost("a", ["a.test"], [{ route: to("alpha") }])]);
    // What an older controller wrote: the same annotations, no failStrategy.
    const old = WasmPluginWriter.render(target, t);
    delete old.spec["failStrategy"];
    await api.apply([JSON.parse(JSON.stringify(old)) as KubeObject], { fieldManager: FIELD_MANAGER });
    const path = await api.resourcePath("extensions.istio.io/v1alpha1", "WasmPlugin", "istio-system", "canal-canal");
    expect((await api.get<KubeObject & { spec: Record<string, unknown> }>(path)).spec["failStrategy"]).toBeUndefined();
    expect(await writer.apply(target, t)).toBe("written");
    // The CRD's structural schema prunes unknown fields and checks the enum: it is Istio's field.
    expect((await api.get<KubeObject & { spec: Record<string, unknown> }>(path)).spec["failStrategy"]).toBe("FAIL_RELOAD");
    expect(await writer.apply(target, t)).toBe("unchanged");
  });
});
