// Proxy-Wasm metrics as Envoy keeps them: counters reject increments <= 0, record adds to a
// counter and sets a gauge, get_metric of a histogram is BadArgument, unknown ids NotFound.

import { MetricType, WasmResult, type HostFn, type MetricState } from "./abi.ts";
import type { ModuleMemory } from "./memory.ts";

export class HostMetrics {
  private readonly byName = new Map<string, MetricState>();
  private readonly ids = new Map<number, MetricState>();
  private nextId = 1;

  /** A metric by name (as defined by the module, without Envoy's prefix). */
  get(name: string): MetricState | undefined {
    return this.byName.get(name);
  }

  all(): MetricState[] {
    return [...this.byName.values()];
  }

  private byId(id: number): MetricState | undefined {
    return this.ids.get(id >>> 0);
  }

  imports(mem: ModuleMemory): Record<string, HostFn> {
    const R = WasmResult;
    return {
      proxy_define_metric: (type: number, namePtr: number, nameSize: number, idPtr: number) => {
        if (type >>> 0 > MetricType.Histogram) return R.BadArgument;
        const name = mem.readString(namePtr, nameSize);
        let m = this.byName.get(name);
        if (!m) {
          m = { name, type: type >>> 0, value: 0n, samples: [] };
          this.byName.set(name, m);
        } else if (m.type !== type >>> 0) {
          return R.BadArgument;
        }
        const id = this.nextId++;
        this.ids.set(id, m);
        mem.setU32(idPtr, id);
        return R.Ok;
      },
      proxy_increment_metric: (id: number, offset: bigint) => {
        const m = this.byId(id);
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
        const m = this.byId(id);
        if (!m) return R.NotFound;
        const v = BigInt.asUintN(64, value);
        if (m.type === MetricType.Counter) m.value += v;
        else if (m.type === MetricType.Gauge) m.value = v;
        else m.samples.push(v);
        return R.Ok;
      },
      proxy_get_metric: (id: number, ptr: number) => {
        const m = this.byId(id);
        if (!m) return R.NotFound;
        if (m.type === MetricType.Histogram) return R.BadArgument;
        mem.setU64(ptr, m.value);
        return R.Ok;
      },
    };
  }
}
