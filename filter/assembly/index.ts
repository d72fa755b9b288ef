// Canal's router filter: the Proxy-Wasm entry points (from the runtime) and the root context
// factory. Envoy's `root_id` must be "canal" (an empty root_id is accepted too).
export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";
import { CanalRoot } from "./contexts";

function createRoot(context_id: u32): RootContext {
  return new CanalRoot(context_id);
}

registerRootContext(createRoot, "canal");
registerRootContext(createRoot, "");
