// Proxy-Wasm shared data, one store per process as Envoy keeps it, and shared queues.

import { WasmResult, type HostFn } from "./abi.ts";
import type { ModuleMemory } from "./memory.ts";

/** Proxy-Wasm shared data as Envoy keeps it: per vm_id, per key, a value and its cas. */
export class SharedData {
  private readonly byVm = new Map<string, Map<string, { value: Uint8Array; cas: number }>>();
  private nextCas = 1;

  private vm(vmId: string): Map<string, { value: Uint8Array; cas: number }> {
    let m = this.byVm.get(vmId);
    if (!m) {
      m = new Map();
      this.byVm.set(vmId, m);
    }
    return m;
  }

  get(vmId: string, key: string): { value: Uint8Array; cas: number } | undefined {
    return this.byVm.get(vmId)?.get(key);
  }

  /** proxy_set_shared_data: CasMismatch when cas is non-zero and not the key's. */
  set(vmId: string, key: string, value: Uint8Array, cas = 0): number {
    const m = this.vm(vmId);
    const e = m.get(key);
    if (cas >>> 0 !== 0 && e && e.cas !== cas >>> 0) return WasmResult.CasMismatch;
    m.set(key, { value: value.slice(), cas: this.nextCas++ });
    return WasmResult.Ok;
  }

  keys(vmId = ""): string[] {
    return [...(this.byVm.get(vmId)?.keys() ?? [])];
  }

  delete(vmId: string, key: string): void {
    this.byVm.get(vmId)?.delete(key);
  }
}

/** Proxy-Wasm shared queues of one host: tokens by name, items by token. */
export class SharedQueues {
  private readonly queues = new Map<number, { name: string; items: Uint8Array[] }>();
  private readonly tokens = new Map<string, number>();

  imports(mem: ModuleMemory): Record<string, HostFn> {
    const R = WasmResult;
    return {
      proxy_register_shared_queue: (np: number, ns: number, tokenPtr: number) => {
        const name = mem.readString(np, ns);
        let token = this.tokens.get(name);
        if (token === undefined) {
          token = this.tokens.size + 1;
          this.tokens.set(name, token);
          this.queues.set(token, { name, items: [] });
        }
        mem.setU32(tokenPtr, token);
        return R.Ok;
      },
      proxy_resolve_shared_queue: (_vp: number, _vs: number, np: number, ns: number, tokenPtr: number) => {
        const token = this.tokens.get(mem.readString(np, ns));
        if (token === undefined) return R.NotFound;
        mem.setU32(tokenPtr, token);
        return R.Ok;
      },
      proxy_dequeue_shared_queue: (token: number, ptrPtr: number, sizePtr: number) => {
        const q = this.queues.get(token >>> 0);
        if (!q) return R.NotFound;
        const item = q.items.shift();
        if (!item) return R.Empty;
        return mem.copyOut(item, ptrPtr, sizePtr);
      },
      proxy_enqueue_shared_queue: (token: number, ptr: number, size: number) => {
        const q = this.queues.get(token >>> 0);
        if (!q) return R.NotFound;
        q.items.push(mem.readBytes(ptr, size));
        return R.Ok;
      },
    };
  }
}

/** proxy_get_shared_data / proxy_set_shared_data on `data`, in the namespace of `vmId`. */
export function sharedDataImports(mem: ModuleMemory, data: SharedData, vmId: string): Record<string, HostFn> {
  return {
    proxy_get_shared_data: (kp: number, ks: number, ptrPtr: number, sizePtr: number, casPtr: number) => {
      const e = data.get(vmId, mem.readString(kp, ks));
      if (!e) return WasmResult.NotFound;
      const r = mem.copyOut(e.value, ptrPtr, sizePtr);
      mem.setU32(casPtr, e.cas);
      return r;
    },
    proxy_set_shared_data: (kp: number, ks: number, vp: number, vs: number, cas: number) => {
      return data.set(vmId, mem.readString(kp, ks), mem.readBytes(vp, vs), cas);
    },
  };
}
