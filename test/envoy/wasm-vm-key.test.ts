// What decides whether two Wasm filters with the same code share a VM in Envoy 1.40 (ADR 0005):
// the shard probe (test/fixtures/shard-probe) as two HTTP filters of one listener, a "shard"
// then a "router"; the router answers with what its VM saw. Same vm_id (empty), same code, no VM
// configuration: one VM when the environment variables are equal, two when they differ, which is
// what istiod does to every WasmPlugin (its resourceVersion). Envoy's shared data crosses VMs.
import { afterEach, describe, expect, it } from "vitest";
import type { EnvoyConfig, Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { request } from "../support/http.ts";
import { LOOPBACK } from "../support/ports.ts";
import { shardProbeWasm } from "../support/wasm.ts";

let envoy: EnvoyProcess | undefined;

afterEach(async () => {
  await envoy?.stop();
  envoy = undefined;
});

function wasmFilter(name: string, config: Record<string, string>, env: Record<string, string> | undefined): Json {
  const vm: { [k: string]: Json } = { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: shardProbeWasm() } } };
  if (env !== undefined) vm.environment_variables = { key_values: env };
  return {
    name,
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      config: { name, configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: JSON.stringify(config) }, vm_config: vm },
    },
  };
}

function bootstrap(shardEnv: Record<string, string> | undefined, routerEnv: Record<string, string> | undefined): EnvoyConfig {
  return {
    admin: { address: { socket_address: { address: LOOPBACK, port_value: 0 } } },
    static_resources: {
      listeners: [
        {
          name: "l",
          address: { socket_address: { address: LOOPBACK, port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "hcm",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "l",
                    route_config: { virtual_hosts: [{ name: "a", domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 204 } }] }] },
                    http_filters: [
                      wasmFilter("shard", { role: "shard", tag: "s0-v1" }, shardEnv),
                      wasmFilter("router", { role: "router" }, routerEnv),
                      { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  };
}

/** The router's answer: the configurations its VM's root contexts hold, and the shared-data lines. */
async function routerView(shardEnv: Record<string, string> | undefined, routerEnv: Record<string, string> | undefined): Promise<{ configs: string[]; shared: string[] }> {
  envoy = await startEnvoy({ name: "wasm-vm-key", config: bootstrap(shardEnv, routerEnv) });
  const res = await request({ port: envoy.port("l"), host: "x", path: "/" });
  expect(res.status, res.body).toBe(200);
  const lines = res.body.split("\n");
  return { configs: lines.filter((l) => /^\d+=/.test(l)).map((l) => l.replace(/^\d+=/, "")), shared: lines.filter((l) => l.startsWith("shared=")) };
}

// Each test starts an Envoy with two Wasm VMs: seconds on a loaded 2-CPU machine, past vitest's 5 s default.
const ENVOY_TEST_MS = 30_000;

describe("Envoy 1.40: the Wasm VM key includes the environment variables", () => {
  it("same code, same (no) environment: one VM, the router sees the shard's root context", async () => {
    const v = await routerView(undefined, undefined);
    expect(v.configs).toEqual(['{"role":"shard","tag":"s0-v1"}', '{"role":"router"}']);
  }, ENVOY_TEST_MS);

  it("equal environment variables: still one VM", async () => {
    const v = await routerView({ RV: "7" }, { RV: "7" });
    expect(v.configs).toHaveLength(2);
  }, ENVOY_TEST_MS);

  it("different environment variables (istiod's per-WasmPlugin resourceVersion): two VMs, but shared data still crosses", async () => {
    const v = await routerView({ ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: "101" }, { ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: "102" });
    expect(v.configs).toEqual(['{"role":"router"}']);
    expect(v.shared.map((l) => l.replace(/ cas=\d+$/, ""))).toEqual(['shared={"role":"shard","tag":"s0-v1"}']);
  }, ENVOY_TEST_MS);
});
