// The WASI functions a Proxy-Wasm module may import (wasi_unstable / wasi_snapshot_preview1):
// stdout and stderr go to the log, the clock is the host's, no files, no arguments, no environment.

import { randomFillSync } from "node:crypto";
import { enc, LogLevel, ProcExit, type HostFn } from "./abi.ts";
import type { HostLogs } from "./logs.ts";
import type { ModuleMemory } from "./memory.ts";

export function wasiImports(mem: ModuleMemory, logs: HostLogs, now: () => bigint): Record<string, HostFn> {
  return {
    proc_exit: (code: number) => {
      throw new ProcExit(code);
    },
    fd_write: (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number) => {
      if (fd !== 1 && fd !== 2) return 8;
      const dv = mem.view();
      let s = "";
      for (let i = 0; i < iovsLen; i++) {
        const p = dv.getUint32(iovs + i * 8, true);
        const l = dv.getUint32(iovs + i * 8 + 4, true);
        s += mem.readString(p, l);
      }
      mem.setU32(nwrittenPtr, enc.encode(s).length);
      if (s.endsWith("\n")) s = s.slice(0, -1);
      if (s.length > 0) logs.push(fd === 1 ? LogLevel.info : LogLevel.error, s);
      return 0;
    },
    fd_read: () => 52,
    fd_seek: () => 0,
    fd_close: () => 0,
    fd_fdstat_get: (fd: number, ptr: number) => {
      if (fd !== 1 && fd !== 2) return 8;
      const dv = mem.view();
      dv.setBigUint64(ptr, 0n, true);
      dv.setBigUint64(ptr + 8, 64n, true);
      dv.setBigUint64(ptr + 16, 0n, true);
      return 0;
    },
    fd_prestat_get: () => 8,
    fd_prestat_dir_name: () => 52,
    path_open: () => 44,
    environ_get: () => 0,
    environ_sizes_get: (countPtr: number, sizePtr: number) => {
      mem.setU32(countPtr, 0);
      mem.setU32(sizePtr, 0);
      return 0;
    },
    args_get: () => 0,
    args_sizes_get: (argcPtr: number, sizePtr: number) => {
      mem.setU32(argcPtr, 0);
      mem.setU32(sizePtr, 0);
      return 0;
    },
    clock_time_get: (id: number, _precision: bigint, ptr: number) => {
      if (id > 1) return 58;
      mem.setU64(ptr, now());
      return 0;
    },
    random_get: (ptr: number, len: number) => {
      randomFillSync(mem.bytes(), ptr >>> 0, len >>> 0);
      return 0;
    },
    sched_yield: () => 0,
  };
}
