// The served resource is exactly what the bootstrap's file-based ECDS and default_config use
// (envoy/bootstrap.ts), decoded from the protobuf bytes the server sends, with the table in the
// plugin configuration and nothing in vm_config.configuration.

import { describe, expect, it } from "vitest";
import {
  CANAL_FILTER_NAME,
  CANAL_ROOT_ID as BOOTSTRAP_ROOT_ID,
  TYPED_EXTENSION_CONFIG_TYPE_URL as BOOTSTRAP_TEC_URL,
  renderTypedExtensionConfig,
  renderWasmFilterConfig,
} from "../../../../envoy/bootstrap.ts";
import { toEnvoyJson, TYPED_EXTENSION_CONFIG } from "./proto.ts";
import { CANAL_RESOURCE_NAME, CANAL_ROOT_ID, CANAL_VM_ID, encodeCanalResource } from "./resource.ts";
import { TYPED_EXTENSION_CONFIG_TYPE_URL } from "./server.ts";

const WASM = "/work/build/canal.wasm";

describe("the canal ECDS resource", () => {
  it("uses the bootstrap's names", () => {
    expect(CANAL_RESOURCE_NAME).toBe(CANAL_FILTER_NAME);
    expect(CANAL_ROOT_ID).toBe(BOOTSTRAP_ROOT_ID);
    expect(TYPED_EXTENSION_CONFIG_TYPE_URL).toBe(BOOTSTRAP_TEC_URL);
    const vm = (renderWasmFilterConfig(WASM, "") as { config: { vm_config: { vm_id: string } } }).config.vm_config;
    expect(CANAL_VM_ID).toBe(vm.vm_id);
  });

  for (const [name, json] of [
    ["a table", JSON.stringify({ format: 1, version: "sha256:abc", virtualHosts: [{ name: "a", domains: ["a"], routes: [] }] })],
    ["the empty configuration", ""],
    ["non-ASCII text", JSON.stringify({ format: 1, version: "v", virtualHosts: [], note: "grüße ✓ \u{1F600}" })],
  ] as const) {
    it(`decodes to renderTypedExtensionConfig() for ${name}`, () => {
      const bytes = encodeCanalResource({ code: { local: WASM } }, json);
      expect(toEnvoyJson(TYPED_EXTENSION_CONFIG, bytes)).toEqual(renderTypedExtensionConfig(WASM, json));
    });
  }

  it("keeps the table out of vm_config (the VM key) and in the plugin configuration", () => {
    const json = JSON.stringify({ format: 1, version: "v1", virtualHosts: [] });
    const decoded = toEnvoyJson(TYPED_EXTENSION_CONFIG, encodeCanalResource({ code: { local: WASM } }, json)) as {
      typed_config: { config: { vm_config: Record<string, unknown>; configuration: { "@type": string; value: string } } };
    };
    expect(decoded.typed_config.config.vm_config.configuration).toBeUndefined();
    expect(decoded.typed_config.config.configuration).toEqual({ "@type": "type.googleapis.com/google.protobuf.StringValue", value: json });
  });

  it("encodes remote code with sha256 and a timeout", () => {
    const sha = "a".repeat(64);
    const decoded = toEnvoyJson(
      TYPED_EXTENSION_CONFIG,
      encodeCanalResource({ code: { remote: { uri: "http://wasm.example/canal.wasm", cluster: "wasm-store", sha256: sha, timeoutMs: 2500 } } }, ""),
    ) as { typed_config: { config: { vm_config: { code: unknown } } } };
    expect(decoded.typed_config.config.vm_config.code).toEqual({
      remote: { http_uri: { uri: "http://wasm.example/canal.wasm", cluster: "wasm-store", timeout: { seconds: "2", nanos: 500_000_000 } }, sha256: sha },
    });
    expect(() => encodeCanalResource({ code: { remote: { uri: "u", cluster: "c", sha256: "xyz" } } }, "")).toThrow(/sha256/);
    expect(() => encodeCanalResource({ code: { local: "" } }, "")).toThrow(/empty/);
  });
});
