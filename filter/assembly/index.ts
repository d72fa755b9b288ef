// Canal's router filter: the Proxy-Wasm entry points (from the runtime) and the root context
// factory. Envoy's `root_id` must be CANAL_ROOT_ID (root-id.ts, which the controller and the
// bootstraps read through schema/filter-identity.ts); an empty root_id is accepted too.
//
// Only the callbacks Canal acts on are exported: Envoy does not call a callback the module does
// not export (it takes Continue, or true for proxy_on_done), so each one left out is a call into
// the VM saved per request. Left out: the response body, trailers and metadata callbacks and
// proxy_on_log (Canal's are no-ops), and the HTTP/gRPC call, queue and foreign-function
// callbacks (never used), and proxy_on_done (Envoy then takes true, which is all Canal's answered;
// the root's pending counters are added in its onDelete instead). Kept: request body and trailers
// (they hold a delayed request), response headers (the route's response header operations) and
// delete (the SDK frees, here recycles, the stream's context there).
export { malloc, free } from "@solo-io/proxy-runtime/malloc";
export {
  proxy_abi_version_0_2_0, proxy_on_vm_start, proxy_validate_configuration, proxy_on_configure, proxy_on_tick,
  proxy_on_context_create, proxy_on_request_headers, proxy_on_request_body, proxy_on_request_trailers,
  proxy_on_response_headers, proxy_on_delete,
} from "@solo-io/proxy-runtime/exports";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";
import { CanalRoot } from "./contexts";
import { CANAL_ROOT_ID } from "./root-id";

function createRoot(context_id: u32): RootContext {
  return new CanalRoot(context_id);
}

registerRootContext(createRoot, CANAL_ROOT_ID);
registerRootContext(createRoot, "");
