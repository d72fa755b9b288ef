// The stats configuration of an Istio proxy's bootstrap, as pilot-agent renders it (istio/istio
// tools/packaging/common/envoy_bootstrap.json with the default inclusion prefixes and suffixes of
// pkg/bootstrap): Istio's own tag extractors instead of Envoy's defaults, and an inclusion list
// that drops every other stat. Only its stats_config: the rest of an Istio bootstrap does not
// change which stats exist or how /stats/prometheus names them.
import { renderCanalBootstrap, type Json } from "../../envoy/bootstrap.ts";
import { AdsGateway, ADS_CLUSTER, Upstreams } from "../ecds/harness.ts";
import { startEnvoy } from "../support/envoy.ts";
import { LOOPBACK } from "../support/ports.ts";

const tag = (tag_name: string, regex: string): Json => ({ tag_name, regex });

export const ISTIO_STATS_CONFIG: Json = {
  use_all_default_tags: false,
  stats_tags: [
    tag("cluster_name", "^cluster\\.((.+?(\\..+?\\.svc\\.cluster\\.local)?)\\.)"),
    tag("tcp_prefix", "^tcp\\.((.*?)\\.)\\w+?$"),
    tag("response_code", "_rq(_(\\d{3}))$"),
    tag("response_code_class", "_rq(_(\\dxx))$"),
    tag("http_conn_manager_listener_prefix", "^listener(?=\\.).*?\\.http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)"),
    tag("http_conn_manager_prefix", "^http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)"),
    tag("listener_address", "^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)"),
    tag("mongo_prefix", "^mongo\\.(.+?)\\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$"),
    tag("cache", "(cache\\.(.+?)\\.)"),
    tag("component", "(component\\.(.+?)\\.)"),
    tag("tag", "(tag\\.(.+?);\\.)"),
    tag("wasm_filter", "(wasm_filter\\.(.+?)\\.)"),
    tag("authz_enforce_result", "rbac(\\.(allowed|denied))"),
    tag("authz_dry_run_action", "(\\.istio_dry_run_(allow|deny)_)"),
    tag("authz_dry_run_result", "(\\.shadow_(allowed|denied))"),
  ],
  stats_matcher: {
    inclusion_list: {
      patterns: [
        { prefix: "reporter=" },
        ...["cluster_manager", "listener_manager", "server", "cluster.xds-grpc", "wasm"].map((prefix) => ({ prefix })),
        ...["rbac.allowed", "rbac.denied", "shadow_allowed", "shadow_denied", "downstream_cx_active"].map((suffix) => ({ suffix })),
        { prefix: "component" },
        { prefix: "istio" },
      ],
    },
  },
};

/**
 * A gateway (Envoy with the filter, its table over ECDS from adsPort) with the stats configuration
 * of an Istio proxy and, when given, the chart's bootstrap override, which Envoy merges as it does
 * pilot-agent's ISTIO_BOOTSTRAP_OVERRIDE (--config-yaml).
 */
export async function startIstioGateway(o: { nodeId: string; nodeCluster?: string; wasmPath: string; adsPort: number; upstreams?: Upstreams; override?: string }): Promise<AdsGateway> {
  const config = renderCanalBootstrap({
    listenerPort: 0,
    adminPort: 0,
    wasmPath: o.wasmPath,
    nodeId: o.nodeId,
    nodeCluster: o.nodeCluster,
    table: { kind: "ads", adsCluster: { name: ADS_CLUSTER, host: LOOPBACK, port: o.adsPort } },
    clusters: (o.upstreams ?? new Upstreams(new Map())).clusters(),
  });
  // Istio's bootstrap has its own stats_config, not Canal's (which has the stats_tags).
  config.stats_config = ISTIO_STATS_CONFIG;
  const envoy = await startEnvoy({ name: `istio-stats-${o.nodeId}`, config, concurrency: 2, extraArgs: o.override === undefined ? [] : ["--config-yaml", o.override] });
  return new AdsGateway(o.nodeId, envoy);
}
