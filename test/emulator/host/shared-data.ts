// Proxy-Wasm shared data, one store per process as Envoy keeps it.

import { WasmResult } from "./abi.ts";

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
