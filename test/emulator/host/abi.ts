// The Proxy-Wasm ABI as the emulator speaks it: result codes, enums, the types of the test API,
// and the VM error.

import type { SharedData } from "./shared-data.ts";

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;
export type WasmResult = (typeof WasmResult)[keyof typeof WasmResult];

export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

export const Action = {
  Continue: 0,
  StopIteration: 1,
  ContinueAndEndStream: 2,
  StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
} as const;

export const StreamType = { Request: 0, Response: 1, Downstream: 2, Upstream: 3 } as const;
export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
export const HeaderMapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;
export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  NetworkDownstreamData: 2,
  NetworkUpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
} as const;

export type AbiVersion = "0.1.0" | "0.2.0" | "0.2.1";
export type Bytes = Uint8Array | string;
export type HeaderList = Array<[string, string]>;

export interface HostOptions {
  /** Root id of the plugin (property plugin_root_id); default "". */
  rootId?: string;
  /** Plugin configuration, served as BufferType.PluginConfiguration during configure. */
  pluginConfig?: Bytes;
  /** VM configuration (BufferType.VmConfiguration), its size passed to proxy_on_vm_start. */
  vmConfig?: Bytes;
  /** Host properties by NUL-separated path, e.g. {"source\0address": "10.0.0.1:5000"}. */
  properties?: Record<string, Bytes>;
  pluginName?: string;
  vmId?: string;
  /** Logs below this level are dropped (and answered Ok), as Envoy's logger does. Default trace. */
  logLevel?: LogLevel;
  /** How many log entries to keep (oldest dropped first). Default 10,000. */
  maxLogs?: number;
  /** Initial clock in nanoseconds since the epoch. Default 1_700_000_000 s. */
  nowNs?: bigint;
  /**
   * The shared data store (proxy_get_shared_data / proxy_set_shared_data). Envoy keeps one per
   * process, keyed by vm_id then key, so every VM (and Envoy's canary clones) of a vm_id sees
   * the same data: pass one SharedData to several hosts for that. Default: a store of this host's
   * own, so tests do not see each other's data.
   */
  sharedData?: SharedData;
  /**
   * Emulate hosts that answer Ok to proxy_get_buffer_bytes for an empty range without writing
   * the pointer and size (proxy-wasm-cpp-host before it zeroed them). Default false: like current
   * hosts, write 0 and 0.
   */
  emptyBufferUnwritten?: boolean;
}

export interface LogEntry {
  level: number;
  message: string;
  contextId: number;
}
export interface LocalResponse {
  status: number;
  details: string;
  body: Uint8Array;
  bodyText: string;
  headers: HeaderList;
  grpcStatus: number;
}
export interface ForeignCall {
  name: string;
  args: Uint8Array;
  contextId: number;
  result: number;
}
export interface MetricState {
  name: string;
  type: number;
  value: bigint;
  /** Values recorded into a histogram. */
  samples: bigint[];
}
export interface ForeignFunctionResult {
  result: WasmResult;
  data?: Uint8Array;
}
export type ForeignFunction = (args: Uint8Array, contextId: number) => ForeignFunctionResult;

export interface HttpContextOptions {
  /** Per-stream properties, overriding the host's (e.g. "source\0address"). */
  properties?: Record<string, Bytes>;
}

/** Everything the host knows about one HTTP stream; kept after completion for inspection. */
export interface StreamState {
  id: number;
  requestHeaders: HeaderList | null;
  requestTrailers: HeaderList | null;
  responseHeaders: HeaderList | null;
  responseTrailers: HeaderList | null;
  requestBody: Uint8Array;
  responseBody: Uint8Array;
  requestEnd: boolean;
  responseEnd: boolean;
  /** Which maps are attached (available to the module) right now. */
  attached: { request: boolean; response: boolean; requestTrailers: boolean; responseTrailers: boolean };
  inLog: boolean;
  localResponse: LocalResponse | null;
  continueCalls: number[];
  closeCalls: number[];
  properties: Map<string, Uint8Array> | null;
  completed: boolean;
}

/** The VM failed (trap, abort, proc_exit, missing import, ...). */
export class ProxyWasmVmError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProxyWasmVmError";
  }
}

export class ProcExit extends Error {
  constructor(readonly code: number) {
    super(`proc_exit(${code})`);
  }
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();
export const EMPTY = new Uint8Array(0);
export const toBytes = (b: Bytes | undefined): Uint8Array =>
  b === undefined ? EMPTY : typeof b === "string" ? enc.encode(b) : b;

export type HostFn = (...args: never[]) => number | void;
