// A small Proxy-Wasm host in TypeScript for tests: ABI 0.1.0 / 0.2.0 / 0.2.1, modelled on Envoy's
// proxy-wasm-cpp-host (src/exports.cc) and Envoy's Wasm Context (source/extensions/common/wasm/
// context.cc). The test API follows proxy-wasm-go-sdk's proxytest. See README.md in this folder.
//
// Host semantics reproduced on purpose (each one matters to an SDK or filter bug):
// - Only the imports of the module's ABI exist; any other `env.*` import fails the load with
//   "Failed to load Wasm module due to a missing import" (proxy_clear_route_cache on 0.2.x).
// - Values are returned in memory allocated by the module's exported `malloc`
//   (or `proxy_on_memory_allocate`), pointer and size written to the given addresses.
// - get_header_map_value of a missing header: NotFound (ABI 0.1.0: Ok and ""). A header map that
//   is not available in the current callback: BadArgument (NotFound in the log phase).
//   Request headers are available while onRequestHeaders runs, or until the stream is continued
//   after StopIteration; response headers likewise.
// - PluginConfiguration is served only while proxy_on_vm_start / proxy_on_configure run
//   (NotFound otherwise); VmConfiguration always.
// - proxy_set_effective_context of an unknown or deleted context: BadArgument.
// - Properties are NUL-separated paths ("source\0address"); unknown: NotFound. plugin_root_id,
//   plugin_name and plugin_vm_id are built in.
// - Metrics: counters reject increments <= 0 (BadArgument), record adds to a counter and sets a
//   gauge, get_metric of a histogram is BadArgument; ids of unknown metrics are NotFound.
// - During module start (instantiation, `_start`, `_initialize`) only logging, clock, random,
//   args and environ calls are allowed; any other host call fails the VM.
// - A trap or proc_exit fails the VM: the call throws ProxyWasmVmError and later calls refuse.
import { randomFillSync } from "node:crypto";
import {
  Action,
  BufferType,
  dec,
  EMPTY,
  enc,
  HeaderMapType,
  LogLevel,
  MetricType,
  ProcExit,
  ProxyWasmVmError,
  StreamType,
  toBytes,
  WasmResult,
  type AbiVersion,
  type Bytes,
  type ForeignCall,
  type ForeignFunction,
  type HeaderList,
  type HostFn,
  type HostOptions,
  type HttpContextOptions,
  type LocalResponse,
  type LogEntry,
  type MetricState,
  type StreamState,
} from "./host/abi.ts";
import { ABI_EXPORTS, ABI_ONLY, ALL_ABI_ONLY, START_ALLOWED } from "./host/import-table.ts";
import { SharedData } from "./host/shared-data.ts";

export {
  Action,
  BufferType,
  HeaderMapType,
  LogLevel,
  MetricType,
  ProxyWasmVmError,
  StreamType,
  WasmResult,
  type AbiVersion,
  type Bytes,
  type ForeignCall,
  type ForeignFunction,
  type ForeignFunctionResult,
  type HeaderList,
  type HostOptions,
  type HttpContextOptions,
  type LocalResponse,
  type LogEntry,
  type MetricState,
  type StreamState,
} from "./host/abi.ts";
export { SharedData } from "./host/shared-data.ts";

export class ProxyWasmHost {
  readonly abiVersion: AbiVersion;
  readonly rootId: string;
  /** The module's exports, for module-specific probes. */
  exports!: WebAssembly.Exports;
  /** `env.*` functions the module imports. */
  readonly importedFunctions: string[];

  logs: LogEntry[] = [];
  foreignCalls: ForeignCall[] = [];
  /** Tick period the root context asked for, in ms (0 = none). */
  tickPeriodMs = 0;
  /** Current time in nanoseconds (proxy_get_current_time_nanoseconds, clock_time_get). */
  nowNs: bigint;
  rootContextId = 0;
  /** Set once the VM has failed; every later call throws. */
  vmError: ProxyWasmVmError | null = null;

  private readonly module: WebAssembly.Module;
  private memory!: WebAssembly.Memory;
  private memBuf: ArrayBuffer | null = null;
  private u8 = EMPTY;
  private dv = new DataView(new ArrayBuffer(0));
  private alloc!: (size: number) => number;

  private readonly opts: HostOptions;
  private pluginConfig: Uint8Array;
  private readonly vmConfig: Uint8Array;
  private readonly properties = new Map<string, Uint8Array>();
  private readonly logLevel: number;
  private readonly maxLogs: number;

  private readonly streams = new Map<number, StreamState>();
  private readonly done = new Map<number, StreamState>();
  private nextContextId = 1;
  private currentContextId = 0;
  private effectiveContextId = 0;
  private inStart = false;
  private servingPluginConfig = false;

  private readonly metricsByName = new Map<string, MetricState>();
  private readonly metricIds = new Map<number, MetricState>();
  private nextMetricId = 1;
  private readonly failures = new Map<string, { result: number; remaining: number }>();
  private readonly foreignFunctions = new Map<string, ForeignFunction>();
  /** Shared data (HostOptions.sharedData; by default this host's own). */
  readonly sharedData: SharedData;
  private readonly queues = new Map<number, { name: string; items: Uint8Array[] }>();
  private readonly queueTokens = new Map<string, number>();

  private constructor(module: WebAssembly.Module, abi: AbiVersion, opts: HostOptions) {
    this.module = module;
    this.abiVersion = abi;
    this.opts = opts;
    this.rootId = opts.rootId ?? "";
    this.pluginConfig = toBytes(opts.pluginConfig);
    this.vmConfig = toBytes(opts.vmConfig);
    this.logLevel = opts.logLevel ?? LogLevel.trace;
    this.maxLogs = opts.maxLogs ?? 10_000;
    this.nowNs = opts.nowNs ?? 1_700_000_000_000_000_000n;
    this.sharedData = opts.sharedData ?? new SharedData();
    for (const [k, v] of Object.entries(opts.properties ?? {})) this.properties.set(k, toBytes(v));
    this.importedFunctions = WebAssembly.Module.imports(module)
      .filter((i) => i.module === "env" && i.kind === "function")
      .map((i) => i.name);
    this.foreignFunctions.set("clear_route_cache", () => ({ result: WasmResult.Ok }));
  }

  /** Compiles and instantiates a module (runs its start function); then call startVm(). */
  static async load(wasm: Uint8Array<ArrayBuffer> | ArrayBuffer, opts: HostOptions = {}): Promise<ProxyWasmHost> {
    const module = await WebAssembly.compile(wasm);
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    const abis = names.filter((n) => n in ABI_EXPORTS);
    if (abis.length !== 1) throw new ProxyWasmVmError("Missing or unknown Proxy-Wasm ABI version");
    const host = new ProxyWasmHost(module, ABI_EXPORTS[abis[0]], opts);
    host.instantiate();
    return host;
  }

  // ---------------------------------------------------------------- lifecycle (calls in)

  /** proxy_on_context_create(root, 0) then proxy_on_vm_start(root, vm config size). */
  startVm(): boolean {
    this.rootContextId = this.nextContextId++;
    this.callIn("proxy_on_context_create", this.rootContextId, this.rootContextId, 0);
    this.servingPluginConfig = true;
    try {
      return this.callIn("proxy_on_vm_start", this.rootContextId, this.rootContextId, this.vmConfig.length) !== 0;
    } finally {
      this.servingPluginConfig = false;
    }
  }

  /** Runs proxy_on_configure with the plugin config (replacing it if given); true = accepted. */
  configure(config?: Bytes): boolean {
    if (config !== undefined) this.pluginConfig = toBytes(config);
    this.servingPluginConfig = true;
    try {
      return this.callIn("proxy_on_configure", this.rootContextId, this.rootContextId, this.pluginConfig.length) !== 0;
    } finally {
      this.servingPluginConfig = false;
    }
  }

  /** Creates an HTTP stream context under the root; returns its id. */
  newHttpContext(options: HttpContextOptions = {}): number {
    const id = this.nextContextId++;
    let props: Map<string, Uint8Array> | null = null;
    if (options.properties) {
      props = new Map();
      for (const [k, v] of Object.entries(options.properties)) props.set(k, toBytes(v));
    }
    this.streams.set(id, {
      id,
      requestHeaders: null,
      requestTrailers: null,
      responseHeaders: null,
      responseTrailers: null,
      requestBody: EMPTY,
      responseBody: EMPTY,
      requestEnd: false,
      responseEnd: false,
      attached: { request: false, response: false, requestTrailers: false, responseTrailers: false },
      inLog: false,
      localResponse: null,
      continueCalls: [],
      closeCalls: [],
      properties: props,
      completed: false,
    });
    this.callIn("proxy_on_context_create", id, id, this.rootContextId);
    return id;
  }

  /** proxy_on_request_headers; returns the action (Action.Continue, Action.StopIteration, ...). */
  requestHeaders(id: number, headers: HeaderList, endOfStream = false): number {
    const s = this.stream(id);
    s.requestHeaders = headers.map(([k, v]) => [k.toLowerCase(), v]);
    s.requestEnd = endOfStream;
    s.attached.request = true;
    const action = this.callIn("proxy_on_request_headers", id, id, s.requestHeaders.length, endOfStream ? 1 : 0);
    if (action === Action.Continue) s.attached.request = false;
    return action;
  }

  /** proxy_on_request_body with this chunk as the buffered body; returns the action. */
  requestBody(id: number, body: Bytes, endOfStream = true): number {
    const s = this.stream(id);
    s.requestBody = toBytes(body);
    s.requestEnd = endOfStream;
    const action = this.callIn("proxy_on_request_body", id, id, s.requestBody.length, endOfStream ? 1 : 0);
    if (action === Action.Continue) s.requestBody = EMPTY;
    return action;
  }

  requestTrailers(id: number, trailers: HeaderList): number {
    const s = this.stream(id);
    s.requestTrailers = trailers.map(([k, v]) => [k.toLowerCase(), v]);
    s.attached.requestTrailers = true;
    const action = this.callIn("proxy_on_request_trailers", id, id, trailers.length);
    if (action === Action.Continue) s.attached.requestTrailers = false;
    return action;
  }

  responseHeaders(id: number, headers: HeaderList, endOfStream = false): number {
    const s = this.stream(id);
    s.responseHeaders = headers.map(([k, v]) => [k.toLowerCase(), v]);
    s.responseEnd = endOfStream;
    s.attached.response = true;
    const action = this.callIn("proxy_on_response_headers", id, id, s.responseHeaders.length, endOfStream ? 1 : 0);
    if (action === Action.Continue) s.attached.response = false;
    return action;
  }

  responseBody(id: number, body: Bytes, endOfStream = true): number {
    const s = this.stream(id);
    s.responseBody = toBytes(body);
    s.responseEnd = endOfStream;
    const action = this.callIn("proxy_on_response_body", id, id, s.responseBody.length, endOfStream ? 1 : 0);
    if (action === Action.Continue) s.responseBody = EMPTY;
    return action;
  }

  responseTrailers(id: number, trailers: HeaderList): number {
    const s = this.stream(id);
    s.responseTrailers = trailers.map(([k, v]) => [k.toLowerCase(), v]);
    s.attached.responseTrailers = true;
    const action = this.callIn("proxy_on_response_trailers", id, id, trailers.length);
    if (action === Action.Continue) s.attached.responseTrailers = false;
    return action;
  }

  /** Ends the stream like Envoy: proxy_on_done, proxy_on_log, proxy_on_delete. */
  completeRequest(id: number): void {
    const s = this.stream(id);
    s.attached.request = s.attached.response = false;
    s.attached.requestTrailers = s.attached.responseTrailers = false;
    this.callIn("proxy_on_done", id, id);
    s.inLog = true;
    try {
      this.callIn("proxy_on_log", id, id);
    } finally {
      s.inLog = false;
    }
    this.callIn("proxy_on_delete", id, id);
    s.completed = true;
    this.streams.delete(id);
    this.done.set(id, s);
    if (this.done.size > 1000) this.done.delete(this.done.keys().next().value as number);
  }

  /** One full request: create, request headers, response headers, done/log/delete. */
  runRequest(requestHeaders: HeaderList, responseHeaders: HeaderList = [[":status", "200"]]): StreamState {
    const id = this.newHttpContext();
    this.requestHeaders(id, requestHeaders, true);
    this.responseHeaders(id, responseHeaders, true);
    this.completeRequest(id);
    return this.done.get(id) as StreamState;
  }

  /** proxy_on_tick on the root context. */
  tick(): void {
    this.callIn("proxy_on_tick", this.rootContextId, this.rootContextId);
  }

  advanceTime(ms: number): void {
    this.nowNs += BigInt(Math.round(ms * 1e6));
  }

  /** proxy_on_foreign_function on the root context (args served as BufferType.CallData). */
  callOnForeignFunction(functionId: number, args: Bytes = EMPTY): void {
    const data = toBytes(args);
    this.callData = data;
    try {
      this.callIn("proxy_on_foreign_function", this.rootContextId, this.rootContextId, functionId, data.length);
    } finally {
      this.callData = null;
    }
  }

  /** proxy_on_done on the root context (VM shutdown); true if the module is done. */
  shutdown(): boolean {
    return this.callIn("proxy_on_done", this.rootContextId, this.rootContextId) !== 0;
  }

  // ---------------------------------------------------------------- inspection

  /** State of a live or recently completed stream (the last 1000 completed are kept). */
  getStream(id: number): StreamState {
    const s = this.streams.get(id) ?? this.done.get(id);
    if (!s) throw new Error(`unknown http context ${id}`);
    return s;
  }
  getRequestHeaders(id: number): HeaderList {
    return this.getStream(id).requestHeaders ?? [];
  }
  getResponseHeaders(id: number): HeaderList {
    return this.getStream(id).responseHeaders ?? [];
  }
  /** First value of a header (name is case-insensitive), or undefined. */
  getRequestHeader(id: number, name: string): string | undefined {
    return this.getRequestHeaders(id).find(([k]) => k === name.toLowerCase())?.[1];
  }
  getResponseHeader(id: number, name: string): string | undefined {
    return this.getResponseHeaders(id).find(([k]) => k === name.toLowerCase())?.[1];
  }
  getLocalResponse(id: number): LocalResponse | null {
    return this.getStream(id).localResponse;
  }
  /** Stream types passed to proxy_continue_stream for this context (effective context). */
  getContinueCalls(id: number): number[] {
    return this.getStream(id).continueCalls;
  }
  get liveContexts(): number {
    return this.streams.size;
  }

  /** A metric by name (as defined by the module, without Envoy's prefix). */
  getMetric(name: string): MetricState | undefined {
    return this.metricsByName.get(name);
  }
  getMetricValue(name: string): bigint | undefined {
    return this.metricsByName.get(name)?.value;
  }
  get metrics(): MetricState[] {
    return [...this.metricsByName.values()];
  }

  /** Logs at or above a level; messages only. */
  logMessages(minLevel: number = LogLevel.trace): string[] {
    return this.logs.filter((l) => l.level >= minLevel).map((l) => l.message);
  }
  clearLogs(): void {
    this.logs = [];
  }

  /** Size of the module's linear memory in bytes. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  // ---------------------------------------------------------------- test controls

  /** Makes host function `name` (e.g. "proxy_get_property") return `result` without acting. */
  failHostCall(name: string, result: WasmResult, times = Infinity): void {
    this.failures.set(name, { result, remaining: times });
  }
  clearHostFailures(): void {
    this.failures.clear();
  }
  setProperty(path: string | string[], value: Bytes): void {
    this.properties.set(Array.isArray(path) ? path.join("\0") : path, toBytes(value));
  }
  deleteProperty(path: string | string[]): void {
    this.properties.delete(Array.isArray(path) ? path.join("\0") : path);
  }
  /** Registers a foreign function for proxy_call_foreign_function ("clear_route_cache" exists). */
  registerForeignFunction(name: string, fn: ForeignFunction): void {
    this.foreignFunctions.set(name, fn);
  }

  // ---------------------------------------------------------------- internals

  private callData: Uint8Array | null = null;

  private stream(id: number): StreamState {
    const s = this.streams.get(id);
    if (!s) throw new Error(`http context ${id} does not exist (or was completed)`);
    return s;
  }

  private instantiate(): void {
    const imports = this.buildImports();
    this.inStart = true;
    try {
      const instance = new WebAssembly.Instance(this.module, imports);
      this.exports = instance.exports;
      const mem = instance.exports.memory;
      if (!(mem instanceof WebAssembly.Memory)) throw new ProxyWasmVmError("module exports no memory");
      this.memory = mem;
      const malloc = (instance.exports.malloc ?? instance.exports.proxy_on_memory_allocate) as
        | ((n: number) => number)
        | undefined;
      if (typeof malloc !== "function") throw new ProxyWasmVmError("module exports neither malloc nor proxy_on_memory_allocate");
      this.alloc = malloc;
      for (const entry of ["_start", "_initialize"]) {
        const f = instance.exports[entry];
        if (typeof f === "function") (f as () => void)();
      }
    } catch (e) {
      throw this.fail(e, "start");
    } finally {
      this.inStart = false;
    }
  }

  private fail(e: unknown, where: string): ProxyWasmVmError {
    if (e instanceof ProxyWasmVmError) {
      this.vmError ??= e;
      return e;
    }
    const critical = this.logs.filter((l) => l.level === LogLevel.critical).at(-1)?.message;
    const what = e instanceof ProcExit ? e.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const err = new ProxyWasmVmError(`VM failed in ${where}: ${what}${critical ? ` (last critical log: ${critical})` : ""}`, { cause: e });
    this.vmError = err;
    return err;
  }

  private callIn(name: string, contextId: number, ...args: number[]): number {
    if (this.vmError) throw new ProxyWasmVmError(`VM has failed: ${this.vmError.message}`);
    const f = this.exports[name] as ((...a: number[]) => number | undefined) | undefined;
    if (typeof f !== "function") return 0; // Envoy skips callbacks the module does not export.
    const savedCurrent = this.currentContextId;
    const savedEffective = this.effectiveContextId;
    this.currentContextId = contextId;
    this.effectiveContextId = 0;
    try {
      return (f(...args) ?? 0) >>> 0;
    } catch (e) {
      throw this.fail(e, name);
    } finally {
      this.currentContextId = savedCurrent;
      this.effectiveContextId = savedEffective;
    }
  }

  /** The context host calls act on: the effective one if set and alive, else the current one. */
  private ctxId(): number {
    const e = this.effectiveContextId;
    if (e !== 0 && (e === this.rootContextId || this.streams.has(e))) return e;
    return this.currentContextId;
  }

  private view(): DataView {
    if (this.memBuf !== this.memory.buffer) {
      this.memBuf = this.memory.buffer;
      this.u8 = new Uint8Array(this.memBuf);
      this.dv = new DataView(this.memBuf);
    }
    return this.dv;
  }
  private bytes(): Uint8Array {
    this.view();
    return this.u8;
  }
  private readBytes(ptr: number, len: number): Uint8Array {
    return this.bytes().slice(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
  }
  private readString(ptr: number, len: number): string {
    const u8 = this.bytes();
    ptr >>>= 0;
    len >>>= 0;
    if (len < 48) {
      let s = "";
      for (let i = 0; i < len; i++) {
        const c = u8[ptr + i];
        if (c >= 0x80) return dec.decode(u8.subarray(ptr, ptr + len));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return dec.decode(u8.subarray(ptr, ptr + len));
  }
  private setU32(ptr: number, v: number): void {
    this.view().setUint32(ptr >>> 0, v >>> 0, true);
  }
  private setU64(ptr: number, v: bigint): void {
    this.view().setBigUint64(ptr >>> 0, BigInt.asUintN(64, v), true);
  }
  /** Copies bytes into module memory allocated by its malloc; writes pointer and size. */
  private copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): number {
    let p = 0;
    if (data.length > 0) {
      p = this.alloc(data.length) >>> 0;
      if (p === 0) return WasmResult.InvalidMemoryAccess;
      this.bytes().set(data, p);
    }
    this.setU32(ptrPtr, p);
    this.setU32(sizePtr, data.length);
    return WasmResult.Ok;
  }
  private copyOutString(s: string, ptrPtr: number, sizePtr: number): number {
    return this.copyOut(s.length === 0 ? EMPTY : enc.encode(s), ptrPtr, sizePtr);
  }

  private pushLog(level: number, message: string): void {
    if (level < this.logLevel) return;
    this.logs.push({ level, message, contextId: this.currentContextId });
    // Trim in batches so a chatty module stays O(1) per log.
    if (this.logs.length >= this.maxLogs + 1024) this.logs.splice(0, this.logs.length - this.maxLogs);
  }

  // Header map access for the acting context: null = not available.
  private mapFor(type: number, forWrite: boolean): HeaderList | null | undefined {
    const s = this.streams.get(this.ctxId());
    if (!s) return undefined; // root context or unknown: no maps
    if (s.inLog && !forWrite) {
      if (type === HeaderMapType.RequestHeaders) return s.requestHeaders;
      if (type === HeaderMapType.ResponseHeaders) return s.responseHeaders;
      if (type === HeaderMapType.ResponseTrailers) return s.responseTrailers;
      return null;
    }
    switch (type) {
      case HeaderMapType.RequestHeaders:
        return s.attached.request ? s.requestHeaders : null;
      case HeaderMapType.ResponseHeaders:
        return s.attached.response ? s.responseHeaders : null;
      case HeaderMapType.RequestTrailers:
        return s.attached.requestTrailers ? s.requestTrailers : null;
      case HeaderMapType.ResponseTrailers:
        return s.attached.responseTrailers ? s.responseTrailers : null;
      default:
        return null;
    }
  }
  private inLogPhase(): boolean {
    return this.streams.get(this.ctxId())?.inLog ?? false;
  }

  private serializePairs(pairs: HeaderList): Uint8Array {
    const encoded = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)] as const);
    let size = 4 + 8 * pairs.length;
    for (const [k, v] of encoded) size += k.length + v.length + 2;
    const out = new Uint8Array(size);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, pairs.length, true);
    let off = 4;
    for (const [k, v] of encoded) {
      dv.setUint32(off, k.length, true);
      dv.setUint32(off + 4, v.length, true);
      off += 8;
    }
    for (const [k, v] of encoded) {
      out.set(k, off);
      off += k.length + 1;
      out.set(v, off);
      off += v.length + 1;
    }
    return out;
  }
  private deserializePairs(data: Uint8Array): HeaderList {
    if (data.length < 4) return [];
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const n = dv.getUint32(0, true);
    const out: HeaderList = [];
    let off = 4 + 8 * n;
    for (let i = 0; i < n; i++) {
      const kl = dv.getUint32(4 + 8 * i, true);
      const vl = dv.getUint32(8 + 8 * i, true);
      const k = dec.decode(data.subarray(off, off + kl));
      off += kl + 1;
      const v = dec.decode(data.subarray(off, off + vl));
      off += vl + 1;
      out.push([k, v]);
    }
    return out;
  }

  private getProperty(path: string): Uint8Array | undefined {
    const s = this.streams.get(this.ctxId());
    const own = s?.properties?.get(path);
    if (own) return own;
    const v = this.properties.get(path);
    if (v) return v;
    switch (path) {
      case "plugin_root_id":
        return enc.encode(this.rootId);
      case "plugin_name":
        return enc.encode(this.opts.pluginName ?? this.rootId);
      case "plugin_vm_id":
        return enc.encode(this.opts.vmId ?? "");
      default:
        return undefined;
    }
  }

  private getBuffer(type: number): Uint8Array | null {
    const s = this.streams.get(this.ctxId());
    switch (type) {
      case BufferType.VmConfiguration:
        return this.vmConfig;
      case BufferType.PluginConfiguration:
        return this.servingPluginConfig ? this.pluginConfig : null;
      case BufferType.HttpRequestBody:
        return s ? s.requestBody : EMPTY;
      case BufferType.HttpResponseBody:
        return s ? s.responseBody : EMPTY;
      case BufferType.CallData:
        return this.callData ?? EMPTY;
      default:
        return null;
    }
  }

  private metricFor(id: number): MetricState | undefined {
    return this.metricIds.get(id >>> 0);
  }

  private buildImports(): WebAssembly.Imports {
    const R = WasmResult;
    const env: Record<string, HostFn> = {
      proxy_log: (level: number, ptr: number, size: number) => {
        if (level >= this.logLevel) this.pushLog(level, this.readString(ptr, size));
        return R.Ok;
      },
      proxy_get_log_level: (ptr: number) => {
        this.setU32(ptr, this.logLevel);
        return R.Ok;
      },
      proxy_get_status: (codePtr: number, ptrPtr: number, sizePtr: number) => {
        this.setU32(codePtr, 0);
        return this.copyOut(EMPTY, ptrPtr, sizePtr);
      },
      proxy_set_tick_period_milliseconds: (ms: number) => {
        this.tickPeriodMs = ms >>> 0;
        return R.Ok;
      },
      proxy_get_current_time_nanoseconds: (ptr: number) => {
        this.setU64(ptr, this.nowNs);
        return R.Ok;
      },
      proxy_get_property: (pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number) => {
        const v = this.getProperty(this.readString(pathPtr, pathSize));
        if (v === undefined) return R.NotFound;
        return this.copyOut(v, ptrPtr, sizePtr);
      },
      proxy_set_property: (pathPtr: number, pathSize: number, valPtr: number, valSize: number) => {
        const s = this.streams.get(this.ctxId());
        if (!s) return R.NotFound; // no stream info on the root context
        s.properties ??= new Map();
        s.properties.set(this.readString(pathPtr, pathSize), this.readBytes(valPtr, valSize));
        return R.Ok;
      },
      proxy_send_local_response: (
        status: number,
        detailsPtr: number,
        detailsSize: number,
        bodyPtr: number,
        bodySize: number,
        hdrPtr: number,
        hdrSize: number,
        grpcStatus: number,
      ) => {
        const s = this.streams.get(this.ctxId());
        const body = this.readBytes(bodyPtr, bodySize);
        const headers = this.deserializePairs(this.readBytes(hdrPtr, hdrSize)).map(
          ([k, v]) => [k.toLowerCase(), v] as [string, string],
        );
        if (s) {
          s.localResponse = {
            status: status >>> 0,
            details: this.readString(detailsPtr, detailsSize),
            body,
            bodyText: dec.decode(body),
            headers,
            grpcStatus: grpcStatus | 0,
          };
        }
        return R.Ok;
      },
      proxy_continue_stream: (type: number) => this.continueStream(type >>> 0),
      proxy_close_stream: (type: number) => {
        if (type >>> 0 > StreamType.Upstream) return R.BadArgument;
        this.streams.get(this.ctxId())?.closeCalls.push(type >>> 0);
        return R.Ok;
      },
      proxy_continue_request: () => this.continueStream(StreamType.Request),
      proxy_continue_response: () => this.continueStream(StreamType.Response),
      proxy_clear_route_cache: () => R.Ok,
      proxy_get_configuration: (ptrPtr: number, sizePtr: number) =>
        this.copyOut(this.servingPluginConfig ? this.pluginConfig : this.vmConfig, ptrPtr, sizePtr),
      proxy_add_header_map_value: (type: number, kp: number, ks: number, vp: number, vs: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        map.push([this.readString(kp, ks).toLowerCase(), this.readString(vp, vs)]);
        return R.Ok;
      },
      proxy_get_header_map_value: (type: number, kp: number, ks: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, false);
        if (!map) {
          if (this.inLogPhase()) return this.abiVersion === "0.1.0" ? this.copyOut(EMPTY, ptrPtr, sizePtr) : R.NotFound;
          return R.BadArgument;
        }
        const key = this.readString(kp, ks).toLowerCase();
        for (let i = 0; i < map.length; i++) {
          if (map[i][0] === key) return this.copyOutString(map[i][1], ptrPtr, sizePtr);
        }
        return this.abiVersion === "0.1.0" ? this.copyOut(EMPTY, ptrPtr, sizePtr) : R.NotFound;
      },
      proxy_get_header_map_pairs: (type: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, false);
        if (!map || map.length === 0) return this.copyOut(EMPTY, ptrPtr, sizePtr);
        return this.copyOut(this.serializePairs(map), ptrPtr, sizePtr);
      },
      proxy_set_header_map_pairs: (type: number, ptr: number, size: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        const pairs = this.deserializePairs(this.readBytes(ptr, size));
        map.length = 0;
        for (const [k, v] of pairs) map.push([k.toLowerCase(), v]);
        return R.Ok;
      },
      proxy_replace_header_map_value: (type: number, kp: number, ks: number, vp: number, vs: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        const key = this.readString(kp, ks).toLowerCase();
        const value = this.readString(vp, vs);
        const i = map.findIndex(([k]) => k === key);
        if (i < 0) map.push([key, value]);
        else map[i] = [key, value]; // Envoy's setCopy: the first entry is replaced
        return R.Ok;
      },
      proxy_remove_header_map_value: (type: number, kp: number, ks: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        const key = this.readString(kp, ks).toLowerCase();
        for (let i = map.length - 1; i >= 0; i--) if (map[i][0] === key) map.splice(i, 1);
        return R.Ok;
      },
      proxy_get_header_map_size: (type: number, ptr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        let size = 0;
        for (const [k, v] of map) size += k.length + v.length;
        this.setU32(ptr, size);
        return R.Ok;
      },
      proxy_get_buffer_bytes: (type: number, start: number, length: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buf = this.getBuffer(type >>> 0);
        if (buf === null) return R.NotFound;
        start >>>= 0;
        length >>>= 0;
        if (start > buf.length) length = 0;
        else if (start + length > buf.length) length = buf.length - start;
        if (length === 0) {
          if (this.opts.emptyBufferUnwritten) return R.Ok;
          this.setU32(ptrPtr, 0);
          this.setU32(sizePtr, 0);
          return R.Ok;
        }
        return this.copyOut(buf.subarray(start, start + length), ptrPtr, sizePtr);
      },
      proxy_get_buffer_status: (type: number, lengthPtr: number, flagsPtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buf = this.getBuffer(type >>> 0);
        if (buf === null) return R.NotFound;
        this.setU32(lengthPtr, buf.length);
        this.setU32(flagsPtr, 0);
        return R.Ok;
      },
      proxy_set_buffer_bytes: (type: number, start: number, length: number, dataPtr: number, dataSize: number) => {
        const s = this.streams.get(this.ctxId());
        const t = type >>> 0;
        if (!s || (t !== BufferType.HttpRequestBody && t !== BufferType.HttpResponseBody)) return R.NotFound;
        const old = t === BufferType.HttpRequestBody ? s.requestBody : s.responseBody;
        const data = this.readBytes(dataPtr, dataSize);
        const from = Math.min(start >>> 0, old.length);
        const to = Math.min(from + (length >>> 0), old.length);
        const next = new Uint8Array(old.length - (to - from) + data.length);
        next.set(old.subarray(0, from), 0);
        next.set(data, from);
        next.set(old.subarray(to), from + data.length);
        if (t === BufferType.HttpRequestBody) s.requestBody = next;
        else s.responseBody = next;
        return R.Ok;
      },
      proxy_http_call: (...args: number[]) => {
        this.setU32(args[9], 0);
        return R.BadArgument; // no clusters in the emulator
      },
      proxy_grpc_call: () => R.ParseFailure,
      proxy_grpc_stream: () => R.ParseFailure,
      proxy_grpc_cancel: () => R.BadArgument,
      proxy_grpc_close: () => R.BadArgument,
      proxy_grpc_send: () => R.BadArgument,
      proxy_define_metric: (type: number, namePtr: number, nameSize: number, idPtr: number) => {
        if (type >>> 0 > MetricType.Histogram) return R.BadArgument;
        const name = this.readString(namePtr, nameSize);
        let m = this.metricsByName.get(name);
        if (!m) {
          m = { name, type: type >>> 0, value: 0n, samples: [] };
          this.metricsByName.set(name, m);
        } else if (m.type !== type >>> 0) {
          return R.BadArgument;
        }
        const id = this.nextMetricId++;
        this.metricIds.set(id, m);
        this.setU32(idPtr, id);
        return R.Ok;
      },
      proxy_increment_metric: (id: number, offset: bigint) => {
        const m = this.metricFor(id);
        if (!m) return R.NotFound;
        if (m.type === MetricType.Counter) {
          if (offset <= 0n) return R.BadArgument;
          m.value += offset;
          return R.Ok;
        }
        if (m.type === MetricType.Gauge) {
          m.value += offset;
          return R.Ok;
        }
        return R.BadArgument;
      },
      proxy_record_metric: (id: number, value: bigint) => {
        const m = this.metricFor(id);
        if (!m) return R.NotFound;
        const v = BigInt.asUintN(64, value);
        if (m.type === MetricType.Counter) m.value += v;
        else if (m.type === MetricType.Gauge) m.value = v;
        else m.samples.push(v);
        return R.Ok;
      },
      proxy_get_metric: (id: number, ptr: number) => {
        const m = this.metricFor(id);
        if (!m) return R.NotFound;
        if (m.type === MetricType.Histogram) return R.BadArgument;
        this.setU64(ptr, m.value);
        return R.Ok;
      },
      proxy_set_effective_context: (id: number) => {
        id >>>= 0;
        if (id !== this.rootContextId && !this.streams.has(id)) return R.BadArgument;
        this.effectiveContextId = id;
        return R.Ok;
      },
      proxy_done: () => R.Ok,
      proxy_call_foreign_function: (
        namePtr: number,
        nameSize: number,
        argsPtr: number,
        argsSize: number,
        resultsPtr: number,
        resultsSizePtr: number,
      ) => {
        const name = this.readString(namePtr, nameSize);
        const args = this.readBytes(argsPtr, argsSize);
        const fn = this.foreignFunctions.get(name);
        const call: ForeignCall = { name, args, contextId: this.ctxId(), result: R.NotFound };
        this.foreignCalls.push(call);
        if (!fn) return R.NotFound;
        const out = fn(args, call.contextId);
        call.result = out.result;
        const data = out.data ?? EMPTY;
        let p = 0;
        if (data.length > 0 && resultsPtr !== 0) {
          p = this.alloc(data.length) >>> 0;
          this.bytes().set(data, p);
        }
        if (resultsPtr !== 0) this.setU32(resultsPtr, p);
        if (resultsSizePtr !== 0) this.setU32(resultsSizePtr, data.length);
        return out.result;
      },
      proxy_get_shared_data: (kp: number, ks: number, ptrPtr: number, sizePtr: number, casPtr: number) => {
        const e = this.sharedData.get(this.opts.vmId ?? "", this.readString(kp, ks));
        if (!e) return R.NotFound;
        const r = this.copyOut(e.value, ptrPtr, sizePtr);
        this.setU32(casPtr, e.cas);
        return r;
      },
      proxy_set_shared_data: (kp: number, ks: number, vp: number, vs: number, cas: number) => {
        return this.sharedData.set(this.opts.vmId ?? "", this.readString(kp, ks), this.readBytes(vp, vs), cas);
      },
      proxy_register_shared_queue: (np: number, ns: number, tokenPtr: number) => {
        const name = this.readString(np, ns);
        let token = this.queueTokens.get(name);
        if (token === undefined) {
          token = this.queueTokens.size + 1;
          this.queueTokens.set(name, token);
          this.queues.set(token, { name, items: [] });
        }
        this.setU32(tokenPtr, token);
        return R.Ok;
      },
      proxy_resolve_shared_queue: (_vp: number, _vs: number, np: number, ns: number, tokenPtr: number) => {
        const token = this.queueTokens.get(this.readString(np, ns));
        if (token === undefined) return R.NotFound;
        this.setU32(tokenPtr, token);
        return R.Ok;
      },
      proxy_dequeue_shared_queue: (token: number, ptrPtr: number, sizePtr: number) => {
        const q = this.queues.get(token >>> 0);
        if (!q) return R.NotFound;
        const item = q.items.shift();
        if (!item) return R.Empty;
        return this.copyOut(item, ptrPtr, sizePtr);
      },
      proxy_enqueue_shared_queue: (token: number, ptr: number, size: number) => {
        const q = this.queues.get(token >>> 0);
        if (!q) return R.NotFound;
        q.items.push(this.readBytes(ptr, size));
        return R.Ok;
      },
    };

    const wasi: Record<string, HostFn> = {
      proc_exit: (code: number) => {
        throw new ProcExit(code);
      },
      fd_write: (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number) => {
        if (fd !== 1 && fd !== 2) return 8;
        const dv = this.view();
        let s = "";
        for (let i = 0; i < iovsLen; i++) {
          const p = dv.getUint32(iovs + i * 8, true);
          const l = dv.getUint32(iovs + i * 8 + 4, true);
          s += this.readString(p, l);
        }
        this.setU32(nwrittenPtr, enc.encode(s).length);
        if (s.endsWith("\n")) s = s.slice(0, -1);
        if (s.length > 0) this.pushLog(fd === 1 ? LogLevel.info : LogLevel.error, s);
        return 0;
      },
      fd_read: () => 52,
      fd_seek: () => 0,
      fd_close: () => 0,
      fd_fdstat_get: (fd: number, ptr: number) => {
        if (fd !== 1 && fd !== 2) return 8;
        const dv = this.view();
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
        this.setU32(countPtr, 0);
        this.setU32(sizePtr, 0);
        return 0;
      },
      args_get: () => 0,
      args_sizes_get: (argcPtr: number, sizePtr: number) => {
        this.setU32(argcPtr, 0);
        this.setU32(sizePtr, 0);
        return 0;
      },
      clock_time_get: (id: number, _precision: bigint, ptr: number) => {
        if (id > 1) return 58;
        this.setU64(ptr, this.nowNs);
        return 0;
      },
      random_get: (ptr: number, len: number) => {
        randomFillSync(this.bytes(), ptr >>> 0, len >>> 0);
        return 0;
      },
      sched_yield: () => 0,
    };

    const provided = new Set(
      Object.keys(env).filter((n) => !ALL_ABI_ONLY.has(n) || ABI_ONLY[this.abiVersion].includes(n)),
    );
    const out: Record<string, Record<string, HostFn>> = { env: {}, wasi_unstable: {}, wasi_snapshot_preview1: {} };
    for (const imp of WebAssembly.Module.imports(this.module)) {
      if (imp.kind !== "function") continue;
      const table = imp.module === "env" ? env : imp.module in out ? wasi : undefined;
      const fn = table?.[imp.name];
      if (!fn || (imp.module === "env" && !provided.has(imp.name))) {
        throw new ProxyWasmVmError(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
      }
      out[imp.module][imp.name] = this.guard(imp.name, fn);
    }
    return out as WebAssembly.Imports;
  }

  /** Wraps a host function with the start-phase restriction and injected failures. */
  private guard(name: string, fn: HostFn): HostFn {
    const failures = this.failures;
    const wrapped = (...args: never[]): number | void => {
      if (this.inStart && !START_ALLOWED.has(name)) {
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

  private continueStream(type: number): number {
    if (type > StreamType.Upstream) return WasmResult.BadArgument;
    if (type === StreamType.Upstream) return WasmResult.Unimplemented;
    const s = this.streams.get(this.ctxId());
    if (s) {
      s.continueCalls.push(type);
      // Envoy detaches the request maps once the request continues.
      if (type === StreamType.Request) s.attached.request = s.attached.requestTrailers = false;
    }
    return WasmResult.Ok;
  }
}
