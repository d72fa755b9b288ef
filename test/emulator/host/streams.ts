// HTTP streams: their state, the calls in that deliver headers, bodies and trailers (with the
// attach/detach rules of Envoy's header maps), completion, and the host functions that read and
// change a stream's maps and buffers.

import {
  Action,
  BufferType,
  dec,
  EMPTY,
  HeaderMapType,
  StreamType,
  toBytes,
  WasmResult,
  type AbiVersion,
  type Bytes,
  type HeaderList,
  type HostFn,
  type HttpContextOptions,
  type StreamState,
} from "./abi.ts";
import type { ModuleMemory } from "./memory.ts";
import { deserializePairs, serializePairs } from "./pairs.ts";

export type CallIn = (name: string, contextId: number, ...args: number[]) => number;

export class HttpStreams {
  private readonly live = new Map<number, StreamState>();
  private readonly done = new Map<number, StreamState>();

  constructor(
    private readonly callIn: CallIn,
    /** The context host calls act on (the effective one, else the current one). */
    private readonly actingId: () => number,
  ) {}

  has(id: number): boolean {
    return this.live.has(id);
  }
  get liveCount(): number {
    return this.live.size;
  }
  /** The stream host calls act on, if the acting context is a live stream. */
  acting(): StreamState | undefined {
    return this.live.get(this.actingId());
  }

  /** Creates stream `id` under the root and calls proxy_on_context_create. */
  create(id: number, rootContextId: number, options: HttpContextOptions): void {
    let props: Map<string, Uint8Array> | null = null;
    if (options.properties) {
      props = new Map();
      for (const [k, v] of Object.entries(options.properties)) props.set(k, toBytes(v));
    }
    this.live.set(id, {
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
    this.callIn("proxy_on_context_create", id, id, rootContextId);
  }

  requestHeaders(id: number, headers: HeaderList, endOfStream: boolean): number {
    const s = this.stream(id);
    s.requestHeaders = headers.map(([k, v]) => [k.toLowerCase(), v]);
    s.requestEnd = endOfStream;
    s.attached.request = true;
    const action = this.callIn("proxy_on_request_headers", id, id, s.requestHeaders.length, endOfStream ? 1 : 0);
    if (action === Action.Continue) s.attached.request = false;
    return action;
  }

  requestBody(id: number, body: Bytes, endOfStream: boolean): number {
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

  responseHeaders(id: number, headers: HeaderList, endOfStream: boolean): number {
    const s = this.stream(id);
    s.responseHeaders = headers.map(([k, v]) => [k.toLowerCase(), v]);
    s.responseEnd = endOfStream;
    s.attached.response = true;
    const action = this.callIn("proxy_on_response_headers", id, id, s.responseHeaders.length, endOfStream ? 1 : 0);
    if (action === Action.Continue) s.attached.response = false;
    return action;
  }

  responseBody(id: number, body: Bytes, endOfStream: boolean): number {
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
  complete(id: number): void {
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
    this.live.delete(id);
    this.done.set(id, s);
    if (this.done.size > 1000) this.done.delete(this.done.keys().next().value as number);
  }

  /** State of a live or recently completed stream (the last 1000 completed are kept). */
  get(id: number): StreamState {
    const s = this.live.get(id) ?? this.done.get(id);
    if (!s) throw new Error(`unknown http context ${id}`);
    return s;
  }

  private stream(id: number): StreamState {
    const s = this.live.get(id);
    if (!s) throw new Error(`http context ${id} does not exist (or was completed)`);
    return s;
  }

  // Header map access for the acting context: null = not available.
  private mapFor(type: number, forWrite: boolean): HeaderList | null | undefined {
    const s = this.acting();
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
    return this.acting()?.inLog ?? false;
  }

  private continueStream(type: number): number {
    if (type > StreamType.Upstream) return WasmResult.BadArgument;
    if (type === StreamType.Upstream) return WasmResult.Unimplemented;
    const s = this.acting();
    if (s) {
      s.continueCalls.push(type);
      // Envoy detaches the request maps once the request continues.
      if (type === StreamType.Request) s.attached.request = s.attached.requestTrailers = false;
    }
    return WasmResult.Ok;
  }

  /**
   * Header maps, buffers (`buffer` serves a buffer type, null = not available), local replies,
   * continue and close. `emptyBufferUnwritten`: HostOptions.emptyBufferUnwritten.
   */
  imports(mem: ModuleMemory, abi: AbiVersion, buffer: (type: number) => Uint8Array | null, emptyBufferUnwritten: boolean): Record<string, HostFn> {
    const R = WasmResult;
    return {
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
        const s = this.acting();
        const body = mem.readBytes(bodyPtr, bodySize);
        const headers = deserializePairs(mem.readBytes(hdrPtr, hdrSize)).map(
          ([k, v]) => [k.toLowerCase(), v] as [string, string],
        );
        if (s) {
          s.localResponse = {
            status: status >>> 0,
            details: mem.readString(detailsPtr, detailsSize),
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
        this.acting()?.closeCalls.push(type >>> 0);
        return R.Ok;
      },
      proxy_continue_request: () => this.continueStream(StreamType.Request),
      proxy_continue_response: () => this.continueStream(StreamType.Response),
      proxy_clear_route_cache: () => R.Ok,
      proxy_add_header_map_value: (type: number, kp: number, ks: number, vp: number, vs: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        map.push([mem.readString(kp, ks).toLowerCase(), mem.readString(vp, vs)]);
        return R.Ok;
      },
      proxy_get_header_map_value: (type: number, kp: number, ks: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, false);
        if (!map) {
          if (this.inLogPhase()) return abi === "0.1.0" ? mem.copyOut(EMPTY, ptrPtr, sizePtr) : R.NotFound;
          return R.BadArgument;
        }
        const key = mem.readString(kp, ks).toLowerCase();
        for (let i = 0; i < map.length; i++) {
          if (map[i][0] === key) return mem.copyOutString(map[i][1], ptrPtr, sizePtr);
        }
        return abi === "0.1.0" ? mem.copyOut(EMPTY, ptrPtr, sizePtr) : R.NotFound;
      },
      proxy_get_header_map_pairs: (type: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, false);
        if (!map || map.length === 0) return mem.copyOut(EMPTY, ptrPtr, sizePtr);
        return mem.copyOut(serializePairs(map), ptrPtr, sizePtr);
      },
      proxy_set_header_map_pairs: (type: number, ptr: number, size: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        const pairs = deserializePairs(mem.readBytes(ptr, size));
        map.length = 0;
        for (const [k, v] of pairs) map.push([k.toLowerCase(), v]);
        return R.Ok;
      },
      proxy_replace_header_map_value: (type: number, kp: number, ks: number, vp: number, vs: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        const key = mem.readString(kp, ks).toLowerCase();
        const value = mem.readString(vp, vs);
        const i = map.findIndex(([k]) => k === key);
        if (i < 0) map.push([key, value]);
        else map[i] = [key, value]; // Envoy's setCopy: the first entry is replaced
        return R.Ok;
      },
      proxy_remove_header_map_value: (type: number, kp: number, ks: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        const key = mem.readString(kp, ks).toLowerCase();
        for (let i = map.length - 1; i >= 0; i--) if (map[i][0] === key) map.splice(i, 1);
        return R.Ok;
      },
      proxy_get_header_map_size: (type: number, ptr: number) => {
        if (type >>> 0 > 7) return R.BadArgument;
        const map = this.mapFor(type, true);
        if (!map) return R.BadArgument;
        let size = 0;
        for (const [k, v] of map) size += k.length + v.length;
        mem.setU32(ptr, size);
        return R.Ok;
      },
      proxy_get_buffer_bytes: (type: number, start: number, length: number, ptrPtr: number, sizePtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buf = buffer(type >>> 0);
        if (buf === null) return R.NotFound;
        start >>>= 0;
        length >>>= 0;
        if (start > buf.length) length = 0;
        else if (start + length > buf.length) length = buf.length - start;
        if (length === 0) {
          if (emptyBufferUnwritten) return R.Ok;
          mem.setU32(ptrPtr, 0);
          mem.setU32(sizePtr, 0);
          return R.Ok;
        }
        return mem.copyOut(buf.subarray(start, start + length), ptrPtr, sizePtr);
      },
      proxy_get_buffer_status: (type: number, lengthPtr: number, flagsPtr: number) => {
        if (type >>> 0 > 8) return R.BadArgument;
        const buf = buffer(type >>> 0);
        if (buf === null) return R.NotFound;
        mem.setU32(lengthPtr, buf.length);
        mem.setU32(flagsPtr, 0);
        return R.Ok;
      },
      proxy_set_buffer_bytes: (type: number, start: number, length: number, dataPtr: number, dataSize: number) => {
        const s = this.acting();
        const t = type >>> 0;
        if (!s || (t !== BufferType.HttpRequestBody && t !== BufferType.HttpResponseBody)) return R.NotFound;
        const old = t === BufferType.HttpRequestBody ? s.requestBody : s.responseBody;
        const data = mem.readBytes(dataPtr, dataSize);
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
    };
  }
}
