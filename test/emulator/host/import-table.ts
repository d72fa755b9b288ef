// Which host functions exist: per ABI version, and during module start.

import type { AbiVersion } from "./abi.ts";

export const START_ALLOWED = new Set([
  "proxy_log",
  "proxy_get_log_level",
  "proxy_get_current_time_nanoseconds",
  "fd_write",
  "clock_time_get",
  "random_get",
  "args_get",
  "args_sizes_get",
  "environ_get",
  "environ_sizes_get",
  "proc_exit",
]);

export const ABI_EXPORTS: Record<string, AbiVersion> = {
  proxy_abi_version_0_1_0: "0.1.0",
  proxy_abi_version_0_2_0: "0.2.0",
  proxy_abi_version_0_2_1: "0.2.1",
};

export const ABI_ONLY: Record<AbiVersion, string[]> = {
  "0.1.0": [
    "proxy_get_configuration",
    "proxy_continue_request",
    "proxy_continue_response",
    "proxy_clear_route_cache",
  ],
  "0.2.0": ["proxy_continue_stream", "proxy_close_stream"],
  "0.2.1": ["proxy_continue_stream", "proxy_close_stream", "proxy_get_log_level"],
};
export const ALL_ABI_ONLY = new Set(Object.values(ABI_ONLY).flat());
