// Canal's router filter: the Proxy-Wasm entry points (from the runtime) and the root context
// factory. Envoy's `root_id` must be CANAL_ROOT_ID (schema/filter-identity.ts, shared with the
// controller and the bootstrap); an empty root_id is accepted too.
export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";
import { CanalRoot } from "./contexts";
import { CANAL_ROOT_ID } from "../../schema/filter-identity";

function createRoot(context_id: u32): RootContext {
  return new CanalRoot(context_id);
}

registerRootContext(createRoot, CANAL_ROOT_ID);
registerRootContext(createRoot, "");
