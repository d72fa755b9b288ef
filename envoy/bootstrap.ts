// Renders router-mode Envoy bootstraps for Canal: the gateway itself (the Wasm filter picks the
// cluster, Envoy's router forwards by `cluster_header`), and the comparison configs the bench
// uses (Envoy-native routes generated from the same route table, a plain router, a fixed
// direct-response upstream). Every function is pure: options in, plain bootstrap object out.
// `toYaml` turns any of them into the text Envoy reads. docs/envoy.md explains the choices.

import { stringify } from "yaml";
import { CANAL_FILTER_NAME, CANAL_ROOT_ID, CANAL_VM_ID, WASM_FAILURE_POLICY } from "../schema/filter-identity.ts";
import type { RouteTable } from "../schema/route-table.ts";

export const WASM_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
export const TYPED_EXTENSION_CONFIG_TYPE_URL = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
const HCM_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const STRING_VALUE_TYPE_URL = "type.googleapis.com/google.protobuf.StringValue";

export { CANAL_FILTER_NAME, CANAL_ROOT_ID, CANAL_VM_ID, WASM_FAILURE_POLICY };
/** The request header through which the filter hands the chosen cluster to Envoy's router. */
export const CLUSTER_HEADER = "x-canal-cluster";

/** A JSON value as Envoy's config parser sees it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
/** A bootstrap (or any config message) as a plain object. */
export type EnvoyConfig = { [key: string]: Json };

/** An upstream cluster: one static endpoint. Names are Istio's, e.g. `outbound|5000||x.ns.svc.cluster.local`. */
export interface UpstreamCluster {
  name: string;
  host: string;
  port: number;
  /** Connect timeout in milliseconds (default 1000). */
  connectTimeoutMs?: number;
}

/**
 * Where the filter's route table comes from.
 * - `file`: ECDS from a watched file (the live-update path used locally and in tests). The file
 *   holds a DiscoveryResponse with one TypedExtensionConfig (see `renderEcdsFile`); replace it by
 *   atomic rename inside `watchedDirectory` (default: the file's directory).
 * - `ads`: ECDS over the ADS gRPC stream from a controller (`adsCluster` gets an HTTP/2 cluster).
 * - `inline`: no ECDS; the table is baked into the bootstrap (benchmarks, one-off runs).
 */
export type TableSource =
  | { kind: "file"; path: string; watchedDirectory?: string }
  | { kind: "ads"; adsCluster: UpstreamCluster; tls?: AdsTls }
  | { kind: "inline"; table: RouteTable | string };

/**
 * TLS to the controller's ECDS port (the controller's --ecds-tls-cert): the gateway checks the
 * server's certificate against `caFile` and its DNS SAN against `serverName`; with `certFile` and
 * `keyFile` it also shows a client certificate (for --ecds-tls-client-ca). docs/ecds.md, "TLS".
 */
export interface AdsTls {
  caFile: string;
  /** SNI and the DNS SAN the server certificate must carry, e.g. "canal-controller.istio-system.svc". */
  serverName: string;
  certFile?: string;
  keyFile?: string;
}

/** The UpstreamTlsContext transport socket of the ADS cluster; gRPC needs ALPN h2. */
export function renderAdsTransportSocket(tls: AdsTls): EnvoyConfig {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      sni: tls.serverName,
      common_tls_context: {
        alpn_protocols: ["h2"],
        validation_context: {
          trusted_ca: { filename: tls.caFile },
          match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: tls.serverName } }],
        },
        ...(tls.certFile !== undefined && tls.keyFile !== undefined
          ? { tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }] }
          : {}),
      },
    },
  };
}

export interface AdminOptions {
  /** Admin port on `adminAddress`; 0 lets the kernel pick one (read it with --admin-address-path). */
  adminPort: number;
  adminAddress?: string;
}

export interface CanalBootstrapOptions extends AdminOptions {
  /** Listener port on `listenerAddress`; 0 lets the kernel pick (read it from admin /listeners). */
  listenerPort: number;
  listenerAddress?: string;
  /** Path of the compiled filter (build/canal.wasm). */
  wasmPath: string;
  table: TableSource;
  clusters: UpstreamCluster[];
  /** HCM max_request_headers_kb (Envoy's default is 60; Canal uses 96 so a 60 KB header reaches the filter). */
  maxRequestHeadersKb?: number;
  /** Optional access log file (text, one line per request). */
  accessLogPath?: string;
  /**
   * Envoy's node.cluster. With ECDS from the controller it must be the InternalGateway,
   * "namespace/name": the controller serves each InternalGateway's table to its own gateways.
   */
  nodeCluster?: string;
  nodeId?: string;
}

/**
 * `stats_config.stats_tags` that turn the filter's counter
 * `wasmcustom.canal_requests_total.<vhost>.<outcome>` into
 * `canal_requests_total{vhost="<vhost>",outcome="<outcome>"}` in /stats/prometheus.
 * The outcome is the last segment ([a-z_]+); the vhost is everything between, dots included.
 * Each regex's first group is removed from the name, the second is the tag's value.
 */
export const CANAL_STATS_TAGS: { tag_name: string; regex: string }[] = [
  { tag_name: "vhost", regex: "^wasmcustom\\.canal_requests_total(\\.(.+))\\.[a-z_]+$" },
  { tag_name: "outcome", regex: "^wasmcustom\\.canal_requests_total\\..+(\\.([a-z_]+))$" },
];

/**
 * The HTTP connection manager's path normalization, as Istio's gateways and sidecars have it with
 * the mesh's default `pathNormalization` (BASE): istio.io/istio
 * pilot/pkg/networking/core/listener_builder.go, buildHTTPConnectionManager. Envoy then decodes
 * percent-encoded unreserved characters and resolves `.` and `..` segments before any filter
 * runs, so the filter matches (and a prefix rule guards) the path the backend receives; `%2F`
 * and repeated slashes stay as sent.
 */
export const ISTIO_PATH_NORMALIZATION: EnvoyConfig = Object.freeze({
  normalize_path: true,
  merge_slashes: false,
  path_with_escaped_slashes_action: "KEEP_UNCHANGED",
});

function socketAddress(address: string, port: number): EnvoyConfig {
  return { socket_address: { address, port_value: port } };
}

function admin(opts: AdminOptions): EnvoyConfig {
  return { address: socketAddress(opts.adminAddress ?? "127.0.0.1", opts.adminPort) };
}

/** A STATIC cluster with one endpoint. */
export function renderCluster(c: UpstreamCluster, http2 = false): EnvoyConfig {
  const cluster: EnvoyConfig = {
    name: c.name,
    type: "STATIC",
    connect_timeout: `${(c.connectTimeoutMs ?? 1000) / 1000}s`,
    load_assignment: {
      cluster_name: c.name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(c.host, c.port) } }] }],
    },
  };
  if (http2) {
    cluster.typed_extension_protocol_options = {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        // Keepalive: a gateway notices a controller that vanished without closing the stream.
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: "15s", timeout: "5s" } } },
      },
    };
  }
  return cluster;
}

function tableText(table: RouteTable | string): string {
  return typeof table === "string" ? table : JSON.stringify(table);
}

/**
 * The filter's config message (envoy.extensions.filters.http.wasm.v3.Wasm) with `table` as the
 * plugin configuration. `vm_config` is identical for every table, so a new table reuses the VM.
 */
export function renderWasmFilterConfig(wasmPath: string, table: RouteTable | string): EnvoyConfig {
  return {
    "@type": WASM_TYPE_URL,
    config: {
      name: CANAL_FILTER_NAME,
      root_id: CANAL_ROOT_ID,
      vm_config: {
        vm_id: CANAL_VM_ID,
        runtime: "envoy.wasm.runtime.v8",
        code: { local: { filename: wasmPath } },
      },
      configuration: { "@type": STRING_VALUE_TYPE_URL, value: tableText(table) },
      // A VM that trapped is reloaded (the request that finds it failed is refused) instead of
      // failing every request until the next config; never FAIL_OPEN, which would bypass routing
      // (docs/envoy.md, "Failure policy").
      failure_policy: WASM_FAILURE_POLICY,
    },
  };
}

/** The TypedExtensionConfig an ECDS server (or file) delivers for the canal filter. */
export function renderTypedExtensionConfig(wasmPath: string, table: RouteTable | string): EnvoyConfig {
  return { name: CANAL_FILTER_NAME, typed_config: renderWasmFilterConfig(wasmPath, table) };
}

/**
 * The content of the ECDS file for `TableSource.file`: a DiscoveryResponse holding the one
 * TypedExtensionConfig (Envoy's file subscriptions read DiscoveryResponses). JSON text, so write
 * it to a `.json` path (Envoy picks the parser from the extension).
 */
export function renderEcdsFile(wasmPath: string, table: RouteTable | string): string {
  const response = {
    version_info: typeof table === "string" ? `text-${table.length}` : table.version,
    type_url: TYPED_EXTENSION_CONFIG_TYPE_URL,
    resources: [{ "@type": TYPED_EXTENSION_CONFIG_TYPE_URL, ...renderTypedExtensionConfig(wasmPath, table) }],
  };
  return JSON.stringify(response);
}

function configSource(source: TableSource): EnvoyConfig {
  if (source.kind === "file") {
    const dir = source.watchedDirectory ?? source.path.slice(0, Math.max(source.path.lastIndexOf("/"), 1));
    return {
      resource_api_version: "V3",
      path_config_source: { path: source.path, watched_directory: { path: dir } },
    };
  }
  return { resource_api_version: "V3", ads: {} };
}

function canalHttpFilter(wasmPath: string, source: TableSource): EnvoyConfig {
  if (source.kind === "inline") {
    return { name: CANAL_FILTER_NAME, typed_config: renderWasmFilterConfig(wasmPath, source.table) };
  }
  return {
    name: CANAL_FILTER_NAME,
    config_discovery: {
      config_source: configSource(source),
      // Until the first table arrives (and if it never does) the filter runs with the empty
      // table: every request is a 404 from the filter, never a 500/503 from a missing config.
      default_config: renderWasmFilterConfig(wasmPath, ""),
      apply_default_config_without_warming: true,
      type_urls: [WASM_TYPE_URL],
    },
  };
}

const ROUTER_FILTER: EnvoyConfig = {
  name: "envoy.filters.http.router",
  typed_config: { "@type": ROUTER_TYPE_URL },
};

function accessLog(path: string | undefined): Json[] {
  if (path === undefined) return [];
  return [
    {
      name: "envoy.access_loggers.file",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        path,
      },
    },
  ];
}

function hcm(statPrefix: string, routeConfig: EnvoyConfig, httpFilters: EnvoyConfig[], extra: EnvoyConfig): EnvoyConfig {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": HCM_TYPE_URL,
      stat_prefix: statPrefix,
      route_config: routeConfig,
      http_filters: [...httpFilters, ROUTER_FILTER],
      ...extra,
    },
  };
}

function listener(name: string, address: string, port: number, filter: EnvoyConfig): EnvoyConfig {
  return { name, address: socketAddress(address, port), filter_chains: [{ filters: [filter] }] };
}

/**
 * The one route configuration of every Canal gateway: Canal's bootstrap and, through the chart's
 * EnvoyFilter canal-cluster-header, istiod's gateways (a charts test keeps the two equal). One
 * virtual host for every host, one route to the cluster the filter named.
 */
export function canalRouteConfig(): EnvoyConfig {
  return {
    name: "canal",
    // The HCM strips a client-sent x-canal-cluster before any filter runs. Without this, a request
    // the filter never saw (plugin failed to load, fail-open) could pick its cluster.
    internal_only_headers: [CLUSTER_HEADER],
    virtual_hosts: [
      {
        name: "canal",
        domains: ["*"],
        // As istiod's virtual hosts: the upstream sees x-envoy-attempt-count (1, 2, ... per retry).
        include_request_attempt_count: true,
        routes: [
          {
            match: { prefix: "/" },
            // timeout 0s: no route-level timeout (Istio's default); the filter sets
            // x-envoy-upstream-rq-timeout-ms when the table has one.
            route: {
              cluster_header: CLUSTER_HEADER,
              timeout: "0s",
              // Istio's retry host selection: a retry avoids the endpoint that just failed (up to
              // 5 picks). No retry_on here: the conditions and the count come per request from
              // the filter (x-envoy-retry-on, x-envoy-max-retries); only the predicate is the route's.
              retry_policy: {
                retry_host_predicate: [
                  {
                    name: "envoy.retry_host_predicates.previous_hosts",
                    typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" },
                  },
                ],
                host_selection_retry_max_attempts: 5,
              },
            },
            // The routing decision is internal: never leak it upstream.
            request_headers_to_remove: [CLUSTER_HEADER],
          },
        ],
      },
    ],
  };
}

/** The gateway: one listener, the canal Wasm filter, Envoy's router, the given clusters. */
export function renderCanalBootstrap(opts: CanalBootstrapOptions): EnvoyConfig {
  const clusters = opts.clusters.map((c) => renderCluster(c));
  const bootstrap: EnvoyConfig = {
    node: { id: opts.nodeId ?? "canal-gateway", cluster: opts.nodeCluster ?? "canal" },
    admin: admin(opts),
    stats_config: { stats_tags: CANAL_STATS_TAGS },
    static_resources: {
      listeners: [
        listener(
          "canal",
          opts.listenerAddress ?? "127.0.0.1",
          opts.listenerPort,
          hcm("canal", canalRouteConfig(), [canalHttpFilter(opts.wasmPath, opts.table)], {
            ...ISTIO_PATH_NORMALIZATION,
            max_request_headers_kb: opts.maxRequestHeadersKb ?? 96,
            access_log: accessLog(opts.accessLogPath),
          }),
        ),
      ],
      clusters,
    },
  };
  if (opts.table.kind === "ads") {
    const ads = renderCluster(opts.table.adsCluster, true);
    if (opts.table.tls !== undefined) ads.transport_socket = renderAdsTransportSocket(opts.table.tls);
    clusters.push(ads);
    bootstrap.dynamic_resources = {
      ads_config: {
        api_type: "GRPC",
        transport_api_version: "V3",
        grpc_services: [
          {
            envoy_grpc: {
              cluster_name: opts.table.adsCluster.name,
              // Find a restarted controller within seconds (Envoy's default backoff cap is 30 s).
              retry_policy: { retry_back_off: { base_interval: "0.25s", max_interval: "3s" } },
            },
          },
        ],
      },
    };
  }
  return bootstrap;
}

// ---------------------------------------------------------------------------------------------
// Comparison configs (bench/filter.ts)

export interface NativeBootstrapOptions extends AdminOptions {
  listenerPort: number;
  listenerAddress?: string;
  table: RouteTable;
  clusters: UpstreamCluster[];
}

function nativeMatch(uri: { exact: string } | { prefix: string } | { regex: string } | undefined, ignoreCase: boolean): EnvoyConfig {
  const m: EnvoyConfig =
    uri === undefined
      ? { prefix: "/" }
      : "exact" in uri
        ? { path: uri.exact }
        : "prefix" in uri
          ? { prefix: uri.prefix }
          : { safe_regex: { regex: uri.regex } };
  if (ignoreCase) m.case_sensitive = false;
  return m;
}

/**
 * The same routing as Envoy-native route config, for the subset the bench uses: domains, and
 * per route the uri of each match block (exact / prefix / regex) to the first destination
 * (or weighted clusters), and `rewrite.uri` of blocks matched by exact or prefix uri as
 * `prefix_rewrite` (what the filter does there: the matched prefix, or the whole path, replaced).
 * Other conditions and modifiers are not translated.
 */
export function renderNativeRouteConfig(table: RouteTable): EnvoyConfig {
  const virtualHosts: Json[] = table.virtualHosts.map((vh) => {
    const routes: Json[] = [];
    for (const r of vh.routes) {
      if (r.route === undefined) continue;
      const action: EnvoyConfig =
        r.route.length === 1
          ? { cluster: r.route[0].cluster, timeout: "0s" }
          : {
              weighted_clusters: {
                clusters: r.route.map((d) => ({ name: d.cluster, weight: d.weight ?? 100 })),
              },
              timeout: "0s",
            };
      const blocks = r.match === undefined || r.match.length === 0 ? [undefined] : r.match;
      const rewriteUri = r.rewrite?.uri;
      for (const b of blocks) {
        const uri = b?.uri;
        const route = rewriteUri !== undefined && uri !== undefined && !("regex" in uri) ? { ...action, prefix_rewrite: rewriteUri } : action;
        routes.push({ match: nativeMatch(uri, b?.ignoreUriCase === true), route });
      }
    }
    return { name: vh.name, domains: vh.domains, routes };
  });
  return { name: "native", virtual_hosts: virtualHosts };
}

/** Envoy-native equivalent of the gateway for `table` (no Wasm), for the bench. */
export function renderNativeBootstrap(opts: NativeBootstrapOptions): EnvoyConfig {
  return {
    node: { id: "canal-native", cluster: "canal" },
    admin: admin(opts),
    static_resources: {
      listeners: [
        listener(
          "native",
          opts.listenerAddress ?? "127.0.0.1",
          opts.listenerPort,
          // Normalized like the gateway, so the bench compares the same routing.
          hcm("native", renderNativeRouteConfig(opts.table), [], { ...ISTIO_PATH_NORMALIZATION, strip_any_host_port: true }),
        ),
      ],
      clusters: opts.clusters.map((c) => renderCluster(c)),
    },
  };
}

export interface RouterBootstrapOptions extends AdminOptions {
  listenerPort: number;
  listenerAddress?: string;
  upstream: UpstreamCluster;
}

/** A plain router: every request to one cluster (a sidecar hop in the bench). */
export function renderRouterBootstrap(opts: RouterBootstrapOptions): EnvoyConfig {
  const routeConfig: EnvoyConfig = {
    name: "router",
    virtual_hosts: [
      { name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: opts.upstream.name, timeout: "0s" } }] },
    ],
  };
  return {
    node: { id: "canal-router", cluster: "canal" },
    admin: admin(opts),
    static_resources: {
      listeners: [listener("router", opts.listenerAddress ?? "127.0.0.1", opts.listenerPort, hcm("router", routeConfig, [], {}))],
      clusters: [renderCluster(opts.upstream)],
    },
  };
}

export interface DirectResponseBootstrapOptions extends AdminOptions {
  listenerPort: number;
  listenerAddress?: string;
  status?: number;
  body?: string;
}

/** A fixed-response upstream (fast enough not to be the bottleneck of the bench). */
export function renderDirectResponseBootstrap(opts: DirectResponseBootstrapOptions): EnvoyConfig {
  const routeConfig: EnvoyConfig = {
    name: "fixed",
    virtual_hosts: [
      {
        name: "all",
        domains: ["*"],
        routes: [
          {
            match: { prefix: "/" },
            direct_response: { status: opts.status ?? 200, body: { inline_string: opts.body ?? "ok\n" } },
          },
        ],
      },
    ],
  };
  return {
    node: { id: "canal-fixed-upstream", cluster: "canal" },
    admin: admin(opts),
    static_resources: {
      listeners: [listener("fixed", opts.listenerAddress ?? "127.0.0.1", opts.listenerPort, hcm("fixed", routeConfig, [], {}))],
    },
  };
}

/** YAML text of a config (Envoy reads YAML or JSON by file extension). */
export function toYaml(config: EnvoyConfig, header?: string): string {
  const body = stringify(config, { lineWidth: 0, aliasDuplicateObjects: false });
  return header === undefined ? body : `${header.replace(/^/gm, "# ")}\n${body}`;
}
