// The sharded WasmPlugin flags of `canal controller` (ADR 0005): when to shard and the gateway's
// loopback table port. Added to the WasmPlugin config only when given, so the defaults live in
// one place (sinks/wasmplugin-sink.ts).
import { DEFAULT_TABLE_PORT, SHARD_MODES, type ShardMode } from "../sinks/wasmplugin-sink.ts";
import { UsageError } from "./command.ts";

export const WASMPLUGIN_SHARD_USAGE = `  --wasmplugin-shards MODE with --wasm-url: auto | always | never (default: auto): auto writes one
                           WasmPlugin while the table fits one object (1.4 MB), shards past it and
                           one object again below half of it; docs/adr/0005-wasmplugin-shards.md
  --wasmplugin-table-port N
                           with --wasm-url: the gateway Gateway's loopback table server port, where
                           the shard WasmPlugins attach (default: ${DEFAULT_TABLE_PORT}; the canal chart's tablePort)
`;

export const WASMPLUGIN_SHARD_FLAG_OPTIONS = {
  "wasmplugin-shards": { type: "string" },
  "wasmplugin-table-port": { type: "string" },
} as const;

export function parseShardFlags(values: { "wasmplugin-shards"?: string | boolean; "wasmplugin-table-port"?: string | boolean }, wasmPlugin: boolean): { shards?: ShardMode; tablePort?: number } {
  const mode = values["wasmplugin-shards"];
  const port = values["wasmplugin-table-port"];
  if (!wasmPlugin && (mode !== undefined || port !== undefined)) throw new UsageError("canal controller: --wasmplugin-shards and --wasmplugin-table-port are for WasmPlugin mode (--wasm-url), not --no-wasmplugin");
  const out: { shards?: ShardMode; tablePort?: number } = {};
  if (mode !== undefined) {
    if (typeof mode !== "string" || !(SHARD_MODES as readonly string[]).includes(mode)) throw new UsageError(`canal controller: --wasmplugin-shards must be auto, always or never, got "${String(mode)}"`);
    out.shards = mode as ShardMode;
  }
  if (port !== undefined) {
    const n = Number(port);
    if (typeof port !== "string" || !/^\d+$/.test(port) || n < 1 || n > 65535) throw new UsageError(`canal controller: --wasmplugin-table-port must be a port number 1-65535, got "${String(port)}"`);
    out.tablePort = n;
  }
  return out;
}
