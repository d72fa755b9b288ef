// Non-aborting access to the host for the filter's hot path. Every call resets its out-params
// first and reports the host's result instead of aborting the VM: a missing header, a stream that
// has already ended or a header the host refuses are ordinary events for a gateway.
import * as imports from "@solo-io/proxy-runtime/imports";
import { free } from "@solo-io/proxy-runtime/malloc";
import { WasmResultValues } from "@solo-io/proxy-runtime";

/** Proxy-Wasm header map types (ABI 0.2). */
export const REQUEST_HEADERS: i32 = 0;
export const RESPONSE_HEADERS: i32 = 2;

// Out-params the host writes into. One static object is fine: the VM is single threaded and
// every call consumes them before the next one.
class OutSlot {
  ptr: usize = 0;
  len: usize = 0;
  wide: u64 = 0;
}
const outSlot = new OutSlot();
const SLOT: usize = changetype<usize>(outSlot) + offsetof<OutSlot>("ptr");
const SLOT_LEN: usize = changetype<usize>(outSlot) + offsetof<OutSlot>("len");
const SLOT_WIDE: usize = changetype<usize>(outSlot) + offsetof<OutSlot>("wide");

function takeBuffer(): ArrayBuffer {
  let ptr = load<usize>(SLOT);
  let len = load<usize>(SLOT_LEN);
  if (ptr == 0 || len == 0) {
    if (ptr != 0) free(ptr);
    return new ArrayBuffer(0);
  }
  // The host allocated this buffer through the module's malloc (an ArrayBuffer of len bytes,
  // retained once); the local reference retains it again, so drop the host's reference.
  let buf = changetype<ArrayBuffer>(ptr);
  free(ptr);
  return buf;
}

function resetSlot(): void {
  store<usize>(SLOT, 0);
  store<usize>(SLOT_LEN, 0);
}

/** A request/response header's bytes, or null when the header is absent. */
export function getHeader(map: i32, key: ArrayBuffer): ArrayBuffer | null {
  resetSlot();
  let r = imports.proxy_get_header_map_value(map, changetype<usize>(key), key.byteLength, SLOT, SLOT_LEN);
  if (r != WasmResultValues.Ok) return null;
  return takeBuffer();
}

/** All headers of a map, serialized by the host (count, sizes, NUL-terminated data); empty on error. */
export function getHeaderPairs(map: i32): ArrayBuffer {
  resetSlot();
  let r = imports.proxy_get_header_map_pairs(map, SLOT, SLOT_LEN);
  if (r != WasmResultValues.Ok) return new ArrayBuffer(0);
  return takeBuffer();
}

export function replaceHeader(map: i32, key: ArrayBuffer, value: ArrayBuffer): WasmResultValues {
  return imports.proxy_replace_header_map_value(map, changetype<usize>(key), key.byteLength, changetype<usize>(value), value.byteLength);
}

export function addHeader(map: i32, key: ArrayBuffer, value: ArrayBuffer): WasmResultValues {
  return imports.proxy_add_header_map_value(map, changetype<usize>(key), key.byteLength, changetype<usize>(value), value.byteLength);
}

export function removeHeader(map: i32, key: ArrayBuffer): WasmResultValues {
  return imports.proxy_remove_header_map_value(map, changetype<usize>(key), key.byteLength);
}

/** The plugin configuration's bytes (the route table), read with a real size pointer. */
export function getPluginConfiguration(size: u32): ArrayBuffer {
  if (size == 0) return new ArrayBuffer(0);
  resetSlot();
  let r = imports.proxy_get_buffer_bytes(7 /* PluginConfiguration */, 0, size, SLOT, SLOT_LEN);
  if (r != WasmResultValues.Ok) return new ArrayBuffer(0);
  return takeBuffer();
}

export function nowNanos(): u64 {
  let slot = SLOT_WIDE;
  store<u64>(slot, 0);
  imports.proxy_get_current_time_nanoseconds(slot);
  return load<u64>(slot);
}

/** Serialized header pairs for proxy_send_local_response (count, sizes, NUL-terminated data). */
export function serializePairs(keys: Array<ArrayBuffer>, values: Array<ArrayBuffer>): ArrayBuffer {
  let n = keys.length;
  let size = 4 + 8 * n;
  for (let i = 0; i < n; i++) size += keys[i].byteLength + values[i].byteLength + 2;
  let out = new ArrayBuffer(size);
  let p = changetype<usize>(out);
  store<u32>(p, n);
  for (let i = 0; i < n; i++) {
    store<u32>(p + 4 + 8 * i, keys[i].byteLength);
    store<u32>(p + 8 + 8 * i, values[i].byteLength);
  }
  let d = p + 4 + 8 * <usize>n;
  for (let i = 0; i < n; i++) {
    let k = keys[i];
    memory.copy(d, changetype<usize>(k), k.byteLength);
    d += k.byteLength + 1; // the buffer is zeroed, so the terminator is already there
    let v = values[i];
    memory.copy(d, changetype<usize>(v), v.byteLength);
    d += v.byteLength + 1;
  }
  return out;
}

/** Sends a local reply; an invalid gRPC status (-1) makes it a plain HTTP reply. */
export function sendLocalReply(status: u32, details: ArrayBuffer, body: ArrayBuffer, pairs: ArrayBuffer): WasmResultValues {
  return imports.proxy_send_local_response(status, changetype<usize>(details), details.byteLength,
    changetype<usize>(body), body.byteLength, changetype<usize>(pairs), pairs.byteLength, -1);
}

export function setEffectiveContext(id: u32): WasmResultValues {
  return imports.proxy_set_effective_context(id);
}

export function continueRequest(): WasmResultValues {
  return imports.proxy_continue_stream(0 /* Request */);
}

export function setTickPeriod(ms: u32): WasmResultValues {
  return imports.proxy_set_tick_period_milliseconds(ms);
}

export function defineCounter(name: string): u32 {
  let n = String.UTF8.encode(name);
  let slot = SLOT_WIDE;
  store<u32>(slot, 0);
  let r = imports.proxy_define_metric(0 /* Counter */, changetype<usize>(n), n.byteLength, slot);
  if (r != WasmResultValues.Ok) return 0xffffffff;
  return load<u32>(slot);
}

/** Adds `delta` (> 0) to a counter; 0xffffffff (a failed definition) is ignored. */
export function incrementCounter(id: u32, delta: u64): void {
  if (id != 0xffffffff && delta > 0) imports.proxy_increment_metric(id, <i64>delta);
}

/** The value of a Proxy-Wasm shared data key (process-wide in Envoy, per vm_id), or null. */
export function getSharedData(key: ArrayBuffer): ArrayBuffer | null {
  resetSlot();
  store<u64>(SLOT_WIDE, 0); // the cas
  let r = imports.proxy_get_shared_data(changetype<usize>(key), key.byteLength, SLOT, SLOT_LEN, SLOT_WIDE);
  if (r != WasmResultValues.Ok) {
    let ptr = load<usize>(SLOT);
    if (ptr != 0) free(ptr);
    return null;
  }
  return takeBuffer();
}

/** Sets a shared data key to [ptr, ptr+len) unconditionally (cas 0). */
export function setSharedData(key: ArrayBuffer, ptr: usize, len: i32): WasmResultValues {
  return imports.proxy_set_shared_data(changetype<usize>(key), key.byteLength, ptr, <usize>len, 0);
}
