;; The host-call floor (bench:filter --floors): the platform floor (platform.wat) plus exactly the
;; host calls Canal's filter makes for a routed request, with no routing logic, so that it costs
;; what those calls cost and nothing else. Per request, in Canal's order (filter/assembly/contexts.ts
;; onRequestHeaders and forward, route/request.ts RequestView):
;;   proxy_get_header_map_pairs(request headers): every header in one buffer, which the host
;;     allocates through the module's `malloc` (Canal reads :path and :authority from it),
;;   proxy_replace_header_map_value(x-canal-cluster, a fixed cluster).
;; Canal counts canal_requests_total in the VM and adds to Envoy's counter on its tick (1 s), so no
;; per-request metric call is left; until then it also called proxy_increment_metric per request,
;; and read :path and :authority with one proxy_get_header_map_value each (and until e13c098 it
;; called the foreign function clear_route_cache; the header write already clears the route cache).
;; `malloc` is a bump allocator reset per request, as cheap as an allocator can be.
;; Run on Canal's route configuration (cluster_header), so the cluster it writes is what routes.
;; @WRITE@ is the x-canal-cluster write (floors/build.ts HEADER_WRITE); the read-only floor
;; (bench:filter --floors, "read floor") is this module without it, run on native routes.
(module
  (import "env" "proxy_get_header_map_pairs" (func $get_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $replace_header (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; Out-params at 0..15 (buffer pointer, buffer size).
  (data (i32.const 96) "x-canal-cluster")
  ;; The cluster name is written at 256 by the bench (a data segment it fills in; see floors/build.ts).
  (data (i32.const 256) "@CLUSTER@")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "malloc") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8))))
    (if (i32.gt_u (global.get $heap) (i32.const 60000)) (then (global.set $heap (i32.const 4096)) (local.set $p (i32.const 4096))))
    (local.get $p))
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_validate_configuration") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_tick") (param i32))
  (func (export "proxy_on_foreign_function") (param i32 i32 i32))
  (func (export "proxy_on_queue_ready") (param i32 i32))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $heap (i32.const 4096))
    (drop (call $get_pairs (i32.const 0) (i32.const 0) (i32.const 8)))
    @WRITE@
    (i32.const 0))
  (global $cluster_len i32 (i32.const @CLUSTER_LEN@))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_request_metadata") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_metadata") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32))
  (func (export "proxy_on_grpc_receive_initial_metadata") (param i32 i32 i32))
  (func (export "proxy_on_grpc_trailing_metadata") (param i32 i32 i32))
  (func (export "proxy_on_grpc_receive") (param i32 i32 i32))
  (func (export "proxy_on_grpc_close") (param i32 i32 i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))
)
