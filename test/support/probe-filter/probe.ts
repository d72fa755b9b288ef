// A tiny Proxy-Wasm filter written against the raw ABI (no SDK), used only to prove the Envoy
// harness itself (ECDS from a file, cluster_header routing, stats_tags, NACK of a rejected
// config) independently of Canal's filter. Configuration text: `key=value` pairs separated by
// `;`: cluster=<cluster name>, vhost=<stats vhost name>, reject (on_configure returns false).
// Build: asc probe.ts --runtime stub --use abort= -O2 (see test/support/probe.ts).

@external("env", "proxy_get_buffer_bytes")
declare function proxy_get_buffer_bytes(t: u32, start: u32, len: u32, ptrPtr: usize, sizePtr: usize): u32;
@external("env", "proxy_replace_header_map_value")
declare function proxy_replace_header_map_value(t: u32, k: usize, kl: u32, v: usize, vl: u32): u32;
@external("env", "proxy_send_local_response")
declare function proxy_send_local_response(status: u32, d: usize, dl: u32, b: usize, bl: u32, h: usize, hl: u32, grpc: i32): u32;
@external("env", "proxy_define_metric")
declare function proxy_define_metric(t: u32, n: usize, nl: u32, idPtr: usize): u32;
@external("env", "proxy_increment_metric")
declare function proxy_increment_metric(id: u32, offset: i64): u32;

let cluster: string = "";
let metricId: u32 = 0;
let hasMetric = false;

export function malloc(size: usize): usize { return __alloc(size); }
export function proxy_abi_version_0_2_0(): void {}
export function proxy_on_context_create(id: u32, parent: u32): void {}
export function proxy_on_vm_start(id: u32, size: u32): u32 { return 1; }
export function proxy_on_done(id: u32): u32 { return 1; }
export function proxy_on_log(id: u32): void {}
export function proxy_on_delete(id: u32): void {}

function utf8(s: string): ArrayBuffer { return String.UTF8.encode(s); }

export function proxy_on_configure(id: u32, size: u32): u32 {
  let text = "";
  if (size > 0) {
    const slots = __alloc(8);
    if (proxy_get_buffer_bytes(7, 0, size, slots, slots + 4) != 0) return 0;
    text = String.UTF8.decodeUnsafe(load<u32>(slots), load<u32>(slots + 4));
  }
  const parts = text.split(";");
  let c = "";
  let vhost = "probe";
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p == "reject") return 0;
    if (p.startsWith("cluster=")) c = p.substring(8);
    if (p.startsWith("vhost=")) vhost = p.substring(6);
  }
  cluster = c;
  const name = utf8("canal_requests_total." + vhost + ".routed");
  const idp = __alloc(4);
  hasMetric = proxy_define_metric(0, changetype<usize>(name), name.byteLength, idp) == 0;
  metricId = load<u32>(idp);
  return 1;
}

export function proxy_on_request_headers(id: u32, n: u32, eos: u32): u32 {
  if (cluster.length == 0) {
    const body = utf8("probe: no cluster");
    proxy_send_local_response(404, 0, 0, changetype<usize>(body), body.byteLength, 0, 0, -1);
    return 1;
  }
  const k = utf8("x-canal-cluster");
  const v = utf8(cluster);
  proxy_replace_header_map_value(0, changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
  if (hasMetric) proxy_increment_metric(metricId, 1);
  return 0;
}
