// Envoy configurations for the floor modules. The platform and SDK floors run in the native
// gateway (bench:filter's native routes) with the module as an HTTP filter before the router: they
// decide nothing, so native routing does the work and the difference to native is the module's.
// The host-call floor runs in Canal's gateway (one catch-all route, cluster_header) because the
// cluster it writes is what routes there, as with Canal.
import {
  renderCanalBootstrap,
  renderNativeBootstrap,
  renderWasmFilterConfig,
  CANAL_FILTER_NAME,
  type EnvoyConfig,
  type Json,
  type UpstreamCluster,
} from "../../envoy/bootstrap.ts";
import type { RouteTable } from "../../schema/route-table.ts";

function isObject(j: Json | undefined): j is EnvoyConfig {
  return typeof j === "object" && j !== null && !Array.isArray(j);
}

/** The HTTP filter list of the bootstrap's one listener (throws on another shape). */
function httpFilters(bootstrap: EnvoyConfig): Json[] {
  const sr = bootstrap.static_resources;
  const listener = isObject(sr) && Array.isArray(sr.listeners) ? sr.listeners[0] : undefined;
  const chain = isObject(listener) && Array.isArray(listener.filter_chains) ? listener.filter_chains[0] : undefined;
  const hcm = isObject(chain) && Array.isArray(chain.filters) ? chain.filters[0] : undefined;
  const typed = isObject(hcm) ? hcm.typed_config : undefined;
  if (!isObject(typed) || !Array.isArray(typed.http_filters)) throw new Error("native bootstrap: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters not found");
  return typed.http_filters;
}

/** The native gateway for `table` with the module at `wasmPath` as the first HTTP filter. */
export function renderNativeWithModule(opts: { wasmPath: string; table: RouteTable; clusters: UpstreamCluster[] }): EnvoyConfig {
  const bootstrap = renderNativeBootstrap({ listenerPort: 0, adminPort: 0, table: opts.table, clusters: opts.clusters });
  httpFilters(bootstrap).unshift({ name: CANAL_FILTER_NAME, typed_config: renderWasmFilterConfig(opts.wasmPath, "") });
  return bootstrap;
}

/** Canal's gateway running the module at `wasmPath` (with an empty configuration) in place of Canal. */
export function renderCanalWithModule(opts: { wasmPath: string; clusters: UpstreamCluster[] }): EnvoyConfig {
  return renderCanalBootstrap({ listenerPort: 0, adminPort: 0, wasmPath: opts.wasmPath, table: { kind: "inline", table: "" }, clusters: opts.clusters });
}
