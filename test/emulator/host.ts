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
import {
  BufferType,
  EMPTY,
  enc,
  LogLevel,
  ProcExit,
  ProxyWasmVmError,
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
import { ABI_EXPORTS, assembleImports, guarded, type HostFailures } from "./host/import-table.ts";
import { HostLogs } from "./host/logs.ts";
import { ModuleMemory } from "./host/memory.ts";
import { HostMetrics } from "./host/metrics.ts";
import { SharedData, SharedQueues, sharedDataImports } from "./host/shared-data.ts";
import { HttpStreams } from "./host/streams.ts";
import { wasiImports } from "./host/wasi.ts";

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

  foreignCalls: ForeignCall[] = [];
  /** Tick period the root context asked for, in ms (0 = none). */
  tickPeriodMs = 0;
  /** Current time in nanoseconds (proxy_get_current_time_nanoseconds, clock_time_get). */
  nowNs: bigint;
  rootContextId = 0;
  /** Set once the VM has failed; every later call throws. */
  vmError: ProxyWasmVmError | null = null;
  /** Shared data (HostOptions.sharedData; by default this host's own). */
  readonly sharedData: SharedData;

  private readonly module: WebAssembly.Module;
  private readonly opts: HostOptions;
  private pluginConfig: Uint8Array;
  private readonly vmConfig: Uint8Array;
  private readonly properties = new Map<string, Uint8Array>();
  private nextContextId = 1;
  private currentContextId = 0;
  private effectiveContextId = 0;
  private inStart = false;
  private servingPluginConfig = false;
  private callData: Uint8Array | null = null;
  private readonly failures: HostFailures = new Map();
  private readonly foreignFunctions = new Map<string, ForeignFunction>();

  // The parts, each with its own state and host functions.
  private readonly mem = new ModuleMemory();
  private readonly log: HostLogs;
  private readonly http: HttpStreams;
  private readonly metricStore = new HostMetrics();
  private readonly queues = new SharedQueues();

  private constructor(module: WebAssembly.Module, abi: AbiVersion, opts: HostOptions) {
    this.module = module;
    this.abiVersion = abi;
    this.opts = opts;
    this.rootId = opts.rootId ?? "";
    this.pluginConfig = toBytes(opts.pluginConfig);
    this.vmConfig = toBytes(opts.vmConfig);
    this.log = new HostLogs(opts.logLevel ?? LogLevel.trace, opts.maxLogs ?? 10_000, () => this.currentContextId);
    this.http = new HttpStreams(
      (name, contextId, ...args) => this.callIn(name, contextId, ...args),
      () => this.ctxId(),
    );
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
    this.http.create(id, this.rootContextId, options);
    return id;
  }

  /** proxy_on_request_headers; returns the action (Action.Continue, Action.StopIteration, ...). */
  requestHeaders(id: number, headers: HeaderList, endOfStream = false): number {
    return this.http.requestHeaders(id, headers, endOfStream);
  }

  /** proxy_on_request_body with this chunk as the buffered body; returns the action. */
  requestBody(id: number, body: Bytes, endOfStream = true): number {
    return this.http.requestBody(id, body, endOfStream);
  }

  requestTrailers(id: number, trailers: HeaderList): number {
    return this.http.requestTrailers(id, trailers);
  }

  responseHeaders(id: number, headers: HeaderList, endOfStream = false): number {
    return this.http.responseHeaders(id, headers, endOfStream);
  }

  responseBody(id: number, body: Bytes, endOfStream = true): number {
    return this.http.responseBody(id, body, endOfStream);
  }

  responseTrailers(id: number, trailers: HeaderList): number {
    return this.http.responseTrailers(id, trailers);
  }

  /** Ends the stream like Envoy: proxy_on_done, proxy_on_log, proxy_on_delete. */
  completeRequest(id: number): void {
    this.http.complete(id);
  }

  /** One full request: create, request headers, response headers, done/log/delete. */
  runRequest(requestHeaders: HeaderList, responseHeaders: HeaderList = [[":status", "200"]]): StreamState {
    const id = this.newHttpContext();
    this.requestHeaders(id, requestHeaders, true);
    this.responseHeaders(id, responseHeaders, true);
    this.completeRequest(id);
    return this.http.get(id);
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
    return this.http.get(id);
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
    return this.http.liveCount;
  }

  /** A metric by name (as defined by the module, without Envoy's prefix). */
  getMetric(name: string): MetricState | undefined {
    return this.metricStore.get(name);
  }
  getMetricValue(name: string): bigint | undefined {
    return this.metricStore.get(name)?.value;
  }
  get metrics(): MetricState[] {
    return this.metricStore.all();
  }

  /** The module's log entries (oldest trimmed past HostOptions.maxLogs). */
  get logs(): LogEntry[] {
    return this.log.entries;
  }
  /** Logs at or above a level; messages only. */
  logMessages(minLevel: number = LogLevel.trace): string[] {
    return this.log.messages(minLevel);
  }
  clearLogs(): void {
    this.log.clear();
  }

  /** Size of the module's linear memory in bytes. */
  get memoryBytes(): number {
    return this.mem.byteLength;
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

  // ---------------------------------------------------------------- VM internals

  private instantiate(): void {
    const imports = assembleImports(this.module, this.abiVersion, this.envImports(), wasiImports(this.mem, this.log, () => this.nowNs), (name, fn) =>
      guarded(name, fn, () => this.inStart, this.failures),
    );
    this.inStart = true;
    try {
      const instance = new WebAssembly.Instance(this.module, imports);
      this.exports = instance.exports;
      const mem = instance.exports.memory;
      if (!(mem instanceof WebAssembly.Memory)) throw new ProxyWasmVmError("module exports no memory");
      const malloc = (instance.exports.malloc ?? instance.exports.proxy_on_memory_allocate) as
        | ((n: number) => number)
        | undefined;
      if (typeof malloc !== "function") throw new ProxyWasmVmError("module exports neither malloc nor proxy_on_memory_allocate");
      this.mem.attach(mem, malloc);
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
    if (e !== 0 && (e === this.rootContextId || this.http.has(e))) return e;
    return this.currentContextId;
  }

  private getProperty(path: string): Uint8Array | undefined {
    const own = this.http.acting()?.properties?.get(path);
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
    const s = this.http.acting();
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

  /** Every `env` function: the parts' and the VM's own (configuration, clock, properties, contexts, foreign functions). */
  private envImports(): Record<string, HostFn> {
    const R = WasmResult;
    const mem = this.mem;
    return {
      ...this.log.imports(mem),
      ...this.http.imports(mem, this.abiVersion, (type) => this.getBuffer(type), this.opts.emptyBufferUnwritten === true),
      ...this.metricStore.imports(mem),
      ...sharedDataImports(mem, this.sharedData, this.opts.vmId ?? ""),
      ...this.queues.imports(mem),
      proxy_get_status: (codePtr: number, ptrPtr: number, sizePtr: number) => {
        mem.setU32(codePtr, 0);
        return mem.copyOut(EMPTY, ptrPtr, sizePtr);
      },
      proxy_set_tick_period_milliseconds: (ms: number) => {
        this.tickPeriodMs = ms >>> 0;
        return R.Ok;
      },
      proxy_get_current_time_nanoseconds: (ptr: number) => {
        mem.setU64(ptr, this.nowNs);
        return R.Ok;
      },
      proxy_get_property: (pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number) => {
        const v = this.getProperty(mem.readString(pathPtr, pathSize));
        if (v === undefined) return R.NotFound;
        return mem.copyOut(v, ptrPtr, sizePtr);
      },
      proxy_set_property: (pathPtr: number, pathSize: number, valPtr: number, valSize: number) => {
        const s = this.http.acting();
        if (!s) return R.NotFound; // no stream info on the root context
        s.properties ??= new Map();
        s.properties.set(mem.readString(pathPtr, pathSize), mem.readBytes(valPtr, valSize));
        return R.Ok;
      },
      proxy_get_configuration: (ptrPtr: number, sizePtr: number) =>
        mem.copyOut(this.servingPluginConfig ? this.pluginConfig : this.vmConfig, ptrPtr, sizePtr),
      proxy_http_call: (...args: number[]) => {
        mem.setU32(args[9], 0);
        return R.BadArgument; // no clusters in the emulator
      },
      proxy_grpc_call: () => R.ParseFailure,
      proxy_grpc_stream: () => R.ParseFailure,
      proxy_grpc_cancel: () => R.BadArgument,
      proxy_grpc_close: () => R.BadArgument,
      proxy_grpc_send: () => R.BadArgument,
      proxy_set_effective_context: (id: number) => {
        id >>>= 0;
        if (id !== this.rootContextId && !this.http.has(id)) return R.BadArgument;
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
        const name = mem.readString(namePtr, nameSize);
        const args = mem.readBytes(argsPtr, argsSize);
        const fn = this.foreignFunctions.get(name);
        const call: ForeignCall = { name, args, contextId: this.ctxId(), result: R.NotFound };
        this.foreignCalls.push(call);
        if (!fn) return R.NotFound;
        const out = fn(args, call.contextId);
        call.result = out.result;
        const data = out.data ?? EMPTY;
        let p = 0;
        if (data.length > 0 && resultsPtr !== 0) {
          p = mem.allocate(data.length);
          mem.bytes().set(data, p);
        }
        if (resultsPtr !== 0) mem.setU32(resultsPtr, p);
        if (resultsSizePtr !== 0) mem.setU32(resultsSizePtr, data.length);
        return out.result;
      },
    };
  }
}
