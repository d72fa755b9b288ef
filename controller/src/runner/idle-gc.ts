// A full garbage collection once the controller has been idle for a while after a translation.
//
// V8 sizes the old generation after each full collection by a factor of what survived (up to 4x,
// from its collector's speed), so the garbage of the initial full pass and of each change (the
// serialized table, arrays over every VirtualService) stays in the heap until the heap reaches
// that size: at 10,000 VirtualServices the controller's RSS settled far above its live heap.
// Collecting once the work is done brings the heap back to what is live, so the next change
// starts from there; the collection itself runs after the table has been handed to the sinks.
// Off by default (`--idle-gc-ms`): in the bench at 10,000 VirtualServices it cut the peak RSS
// from 501 to 370 MiB, but a full collection of that heap costs ~300 ms of CPU, and the next
// translation ran slower after it (translate p50 132 → 232 ms), so each change got slower.
import { setFlagsFromString } from "node:v8";
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

export class IdleCollector {
  private timer?: NodeJS.Timeout;
  /** Full collections run, for /metrics. */
  runs = 0;

  /** delayMs: quiet time after the last `busy()` before collecting; 0: never collect. */
  constructor(
    private readonly delayMs: number,
    private readonly onRun: (runs: number) => void = () => undefined,
  ) {
    if (delayMs > 0) gc();
  }

  /** Work just happened: collect once `delayMs` pass without more. */
  busy(): void {
    if (this.delayMs <= 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runs++;
      gc()();
      this.onRun(this.runs);
    }, this.delayMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
