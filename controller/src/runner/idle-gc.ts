// A full garbage collection once the controller is idle after a translation (none for `delayMs`)
// and the heap grew by MIN_GROWTH since the last one: V8's own full collections otherwise start in
// the middle of a change and delay its table. Off by default, because V8 then drops optimized code
// and the next translation is slower; the measurements are in docs/controller.md, "Memory".
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
