// A full garbage collection while the controller is idle after a translation, once the heap has
// grown since the last one.
//
// At 10,000 VirtualServices the live heap is ~100 MB, and each change leaves a few MB more in the
// old generation. V8 starts incremental marking well before its limit (live x the growing factor:
// once the room left is about the young generation's size), so in `--trace-gc` of the bench's
// controller full collections started ~4 MB above the live heap, every 3-7 changes, in the middle
// of one. Its incremental marking then ran on
// the main thread during the change (150-300 ms of steps in `--trace-gc`, 450-550 ms wall), on
// 2 CPUs shared with Envoy, so that change's table reached Envoy late and Envoy's own work was
// slowed. Collecting while idle (no translation for `delayMs`, by then Envoy has usually ACKed)
// does the same work between changes instead, and keeps the heap near what is live, so V8 rarely
// reaches its limit during a change. It is skipped while the heap grew less than MIN_GROWTH since
// the last collection, so a quiet controller does not collect again and again; under a stream of
// changes the timer keeps being pushed back and V8 collects as it always did.
//
// A full collection is not free for what follows: V8 drops optimized code that embedded objects
// which died in it (`--trace-deopt`: translateGateway and exposedDomains, "reason: weak objects"),
// and in process the next translation took ~1.5x as long on an idle machine, 2-3x on a busy one
// (V8's own collections do the same; a rehearsal translation right after collecting did not bring
// it back). In bench:controller at 10,000 it made changes slower (docs/controller.md, "Memory"),
// hence off by default.
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | undefined;

/** V8's gc(), exposed at run time (the `node` command line stays as it is). */
function gc(): () => void {
  if (collect !== undefined) return collect;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") {
    collect = exposed;
  } else {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  return collect;
}

/** Growth of the used heap since the last idle collection that makes the next one worth it. */
export const MIN_GROWTH_BYTES = 4 * 1024 * 1024;
export const MIN_GROWTH_FRACTION = 0.05;

export interface IdleCollectorOptions {
  /** Quiet time after the last `busy()` before collecting; 0: never collect. */
  delayMs: number;
  /** Called after each collection with the number run so far. */
  onRun?: (runs: number) => void;

  /** The used heap in bytes (V8's by default). */
  heapUsed?: () => number;
  /** The collection itself (V8's gc() by default). */
  collect?: () => void;
}

export class IdleCollector {
  private timer?: NodeJS.Timeout;
  /** Full collections run, for /metrics. */
  runs = 0;
  /** Idle checks that found too little growth to collect. */
  skipped = 0;
  /** The used heap right after the last idle collection; undefined: none yet. */
  private baseline?: number;
  private readonly delayMs: number;
  private readonly onRun: (runs: number) => void;
  private readonly heapUsed: () => number;
  private readonly collect: () => void;

  constructor(options: IdleCollectorOptions) {
    this.delayMs = options.delayMs;
    this.onRun = options.onRun ?? (() => undefined);
    this.heapUsed = options.heapUsed ?? (() => getHeapStatistics().used_heap_size);
    this.collect = options.collect ?? (this.delayMs > 0 ? gc() : () => undefined);
  }

  /** Work just happened: check once `delayMs` pass without more. */
  busy(): void {
    if (this.delayMs <= 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.idle();
    }, this.delayMs);
    this.timer.unref();
  }

  /** The idle check: collect when the heap grew enough since the last collection. */
  idle(): boolean {
    const used = this.heapUsed();
    if (this.baseline !== undefined && used - this.baseline < Math.max(MIN_GROWTH_BYTES, this.baseline * MIN_GROWTH_FRACTION)) {
      this.skipped++;
      return false;
    }
    this.collect();
    this.baseline = this.heapUsed();
    this.runs++;
    this.onRun(this.runs);
    return true;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
