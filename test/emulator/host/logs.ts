// The module's log as Envoy's logger takes it: entries below the level dropped, the oldest
// trimmed past a maximum.

import { LogLevel, WasmResult, type HostFn, type LogEntry } from "./abi.ts";
import type { ModuleMemory } from "./memory.ts";

export class HostLogs {
  entries: LogEntry[] = [];

  constructor(
    readonly level: number,
    private readonly max: number,
    /** The context the module is in when it logs. */
    private readonly contextId: () => number,
  ) {}

  push(level: number, message: string): void {
    if (level < this.level) return;
    this.entries.push({ level, message, contextId: this.contextId() });
    // Trim in batches so a chatty module stays O(1) per log.
    if (this.entries.length >= this.max + 1024) this.entries.splice(0, this.entries.length - this.max);
  }

  /** Logs at or above a level; messages only. */
  messages(minLevel: number = LogLevel.trace): string[] {
    return this.entries.filter((l) => l.level >= minLevel).map((l) => l.message);
  }

  clear(): void {
    this.entries = [];
  }

  imports(mem: ModuleMemory): Record<string, HostFn> {
    return {
      proxy_log: (level: number, ptr: number, size: number) => {
        if (level >= this.level) this.push(level, mem.readString(ptr, size));
        return WasmResult.Ok;
      },
      proxy_get_log_level: (ptr: number) => {
        mem.setU32(ptr, this.level);
        return WasmResult.Ok;
      },
    };
  }
}
