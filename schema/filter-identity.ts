// How Envoy knows the canal filter: its name, Proxy-Wasm root id, VM id and failure policy. One
// definition for the gateway bootstrap (envoy/bootstrap.ts) and the controller's ECDS resource
// (controller/src/sinks/ecds/resource.ts), which must match for a new table to reuse the running
// VM. The root id is defined with the filter itself, which must build from its own folder.

/** The filter's name in the HTTP filter chain; with ECDS it is also the resource name. */
export const CANAL_FILTER_NAME = "canal";
/** The Proxy-Wasm root id the filter registers (defined with the filter: filter/assembly/root-id.ts). */
export { CANAL_ROOT_ID } from "../filter/assembly/root-id.ts";
/** The vm_id of every Canal filter config: configs with the same one share the VM. */
export const CANAL_VM_ID = "canal";
/** Envoy's PluginConfig.failure_policy for every Canal filter config (docs/envoy.md, "Failure policy"). */
export const WASM_FAILURE_POLICY = "FAIL_RELOAD";
