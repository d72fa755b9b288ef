// The one resource the ECDS sink serves: the `canal` HTTP filter's config as a
// TypedExtensionConfig. It must match the bootstrap's `default_config` (envoy/bootstrap.ts,
// renderWasmFilterConfig) in everything but the plugin configuration, so that a new table reuses
// the running VM: same vm_id, runtime and code. The table is the PLUGIN configuration
// (PluginConfig.configuration, a StringValue), never vm_config.configuration, which is part of the
// VM key (docs/route-table.md, "Delivery").
//
//   TypedExtensionConfig{ name: "canal",
//     typed_config: Any(envoy.extensions.filters.http.wasm.v3.Wasm{ config: PluginConfig{
//       name: "canal", root_id: "canal",
//       vm_config: { vm_id: "canal", runtime: "envoy.wasm.runtime.v8", code: {local: {filename}} },
//       configuration: Any(google.protobuf.StringValue{ value: <table JSON> }),
//       failure_policy: FAIL_RELOAD }}) }

import { CANAL_FILTER_NAME, CANAL_ROOT_ID, CANAL_VM_ID, WASM_FAILURE_POLICY } from "../../../../schema/filter-identity.ts";
import { encodeNested, joinJson, level, type TableJson } from "./nested.ts";
import { ANY, encodeMessage, failurePolicyNumber, fieldNumber, packAny, PLUGIN_CONFIG, STRING_VALUE, TYPED_EXTENSION_CONFIG, typeUrl, WASM, type ProtoObject } from "./proto.ts";

/** The ECDS resource name: the filter's name in the HTTP filter chain. */
export const CANAL_RESOURCE_NAME = CANAL_FILTER_NAME;
export { CANAL_ROOT_ID, CANAL_VM_ID };
export const V8_RUNTIME = "envoy.wasm.runtime.v8";
/**
 * What Envoy does with a VM that failed at runtime (a trap): reload it (after a backoff, the
 * failed request is refused) rather than fail every later request until the next config
 * (FAIL_CLOSED) or bypass the filter (FAIL_OPEN). The bootstrap's default_config uses the same
 * (docs/envoy.md "Failure policy").
 */
export const FAILURE_POLICY = WASM_FAILURE_POLICY;

/** Where Envoy gets the filter's code. */
export type WasmCode =
  /** A file on the gateway's disk (the bootstrap's default_config uses the same path). */
  | { local: string }
  /**
   * Fetched over HTTP by Envoy from `cluster` (a cluster in the gateway's bootstrap), checked
   * against `sha256` (hex). Encodable, but EcdsServer refuses it: over ECDS, Envoy 1.40 ACKs it,
   * never fetches it, and bypasses the filter (docs/ecds.md, "Wasm code").
   */
  | { remote: { uri: string; cluster: string; sha256: string; timeoutMs?: number } };

export interface CanalResourceOptions {
  code: WasmCode;
  /** ECDS resource name = the HTTP filter's name; default "canal". */
  resourceName?: string;
  /** PluginConfig.name; default "canal" (as in the bootstrap). */
  pluginName?: string;
  rootId?: string;
  vmId?: string;
  runtime?: string;
}

function codeSource(code: WasmCode): ProtoObject {
  if ("local" in code) {
    if (code.local === "") throw new Error("wasm code: the local filename is empty");
    return { local: { filename: code.local } };
  }
  const r = code.remote;
  if (!/^[0-9a-f]{64}$/.test(r.sha256)) throw new Error(`wasm code: sha256 must be 64 lower-case hex digits, got "${r.sha256}"`);
  const ms = r.timeoutMs ?? 10_000;
  return {
    remote: {
      http_uri: { uri: r.uri, cluster: r.cluster, timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 } },
      sha256: r.sha256,
    },
  };
}

/**
 * Serialized TypedExtensionConfig carrying `tableJson` as the filter's plugin configuration.
 * This is `Any.value` of the DiscoveryResponse's resource.
 */
export function encodeCanalResource(opts: CanalResourceOptions, tableJson: TableJson): Uint8Array {
  // An empty table is an absent field in protobuf (proto3 default): only protobufjs writes that.
  if (tableJson === "" || (typeof tableJson !== "string" && tableJson.byteLength === 0)) return encodeCanalResourceWithProtobufjs(opts, joinJson(tableJson));
  const plugin = encodeMessage(PLUGIN_CONFIG, {
    name: opts.pluginName ?? CANAL_RESOURCE_NAME,
    root_id: opts.rootId ?? CANAL_ROOT_ID,
    vm_config: { vm_id: opts.vmId ?? CANAL_VM_ID, runtime: opts.runtime ?? V8_RUNTIME, code: codeSource(opts.code) },
  });
  // failure_policy (field 7) comes after the configuration (field 4), as protobufjs writes it.
  const after = encodeMessage(PLUGIN_CONFIG, { failure_policy: failurePolicyNumber(FAILURE_POLICY) });
  // The table is copied once, not once per level (nested.ts); the bytes equal the reference's.
  return encodeNested(
    [
      level(encodeMessage(TYPED_EXTENSION_CONFIG, { name: opts.resourceName ?? CANAL_RESOURCE_NAME }), fieldNumber(TYPED_EXTENSION_CONFIG, "typed_config")),
      level(encodeMessage(ANY, { type_url: typeUrl(WASM) }), fieldNumber(ANY, "value")),
      level(new Uint8Array(0), fieldNumber(WASM, "config")),
      level(plugin, fieldNumber(PLUGIN_CONFIG, "configuration"), after),
      level(encodeMessage(ANY, { type_url: typeUrl(STRING_VALUE) }), fieldNumber(ANY, "value")),
      level(new Uint8Array(0), fieldNumber(STRING_VALUE, "value")),
    ],
    tableJson,
  );
}

/** encodeCanalResource through protobufjs alone, level by level: the reference the fast path must equal. */
export function encodeCanalResourceWithProtobufjs(opts: CanalResourceOptions, tableJson: string): Uint8Array {
  const wasm = packAny(WASM, {
    config: {
      name: opts.pluginName ?? CANAL_RESOURCE_NAME,
      root_id: opts.rootId ?? CANAL_ROOT_ID,
      vm_config: {
        vm_id: opts.vmId ?? CANAL_VM_ID,
        runtime: opts.runtime ?? V8_RUNTIME,
        code: codeSource(opts.code),
      },
      configuration: packAny(STRING_VALUE, { value: tableJson }),
      failure_policy: failurePolicyNumber(FAILURE_POLICY),
    },
  });
  return encodeMessage(TYPED_EXTENSION_CONFIG, {
    name: opts.resourceName ?? CANAL_RESOURCE_NAME,
    typed_config: wasm,
  });
}
