// The stats configuration of an Istio proxy's bootstrap, as pilot-agent renders it (istio/istio
// tools/packaging/common/envoy_bootstrap.json with the default inclusion prefixes and suffixes of
// pkg/bootstrap): Istio's own tag extractors instead of Envoy's defaults, and an inclusion list
// that drops every other stat. Only its stats_config: the rest of an Istio bootstrap does not
// change which stats exist or how /stats/prometheus names them.
import type { Json } from "../../envoy/bootstrap.ts";

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
