// Which host functions exist (per ABI version, and during module start) and the import object
// built from them.

import { ProxyWasmVmError, type AbiVersion, type HostFn } from "./abi.ts";

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

export type HostFailures = Map<string, { result: number; remaining: number }>;

/**
 * The import object for `module`: every function it imports from `env` (only those of its ABI)
 * and from WASI, each wrapped by `guard`; a missing one fails the load as Envoy does.
 */
export function assembleImports(
  module: WebAssembly.Module,
  abi: AbiVersion,
  env: Record<string, HostFn>,
  wasi: Record<string, HostFn>,
  guard: (name: string, fn: HostFn) => HostFn,
): WebAssembly.Imports {
  const provided = new Set(Object.keys(env).filter((n) => !ALL_ABI_ONLY.has(n) || ABI_ONLY[abi].includes(n)));
  const out: Record<string, Record<string, HostFn>> = { env: {}, wasi_unstable: {}, wasi_snapshot_preview1: {} };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") continue;
    const table = imp.module === "env" ? env : imp.module in out ? wasi : undefined;
    const fn = table?.[imp.name];
    if (!fn || (imp.module === "env" && !provided.has(imp.name))) {
      throw new ProxyWasmVmError(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
    }
    out[imp.module][imp.name] = guard(imp.name, fn);
  }
  return out as WebAssembly.Imports;
}

/** Wraps a host function with the start-phase restriction and injected failures. */
export function guarded(name: string, fn: HostFn, inStart: () => boolean, failures: HostFailures): HostFn {
  const wrapped = (...args: never[]): number | void => {
    if (inStart() && !START_ALLOWED.has(name)) {
      throw new ProxyWasmVmError(`host call ${name} is not allowed during module start`);
    }
    if (failures.size !== 0) {
      const f = failures.get(name);
      if (f && f.remaining > 0) {
        f.remaining--;
        return f.result;
      }
    }
    return fn(...args);
  };
  return wrapped;
}
