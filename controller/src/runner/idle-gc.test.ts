import { getHeapStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import { IdleCollector, MIN_GROWTH_BYTES, MIN_GROWTH_FRACTION } from "./idle-gc.ts";

const MiB = 1024 * 1024;

describe("IdleCollector", () => {
  it("collects on the first idle check, then only once the heap grew by the threshold", () => {
    let used = 100 * MiB;
    let collections = 0;
    const reported: number[] = [];
    const c = new IdleCollector({ delayMs: 1, heapUsed: () => used, collect: () => { collections++; used -= 20 * MiB; }, onRun: (n) => reported.push(n) });
    expect(c.idle()).toBe(true);
    expect(collections).toBe(1);
    // Baseline now 80 MiB: the threshold is max(4 MiB, 5% of 80 MiB) = 4 MiB.
    const threshold = Math.max(MIN_GROWTH_BYTES, 80 * MiB * MIN_GROWTH_FRACTION);
    used = 80 * MiB + threshold - 1;
    expect(c.idle()).toBe(false);
    expect(c.skipped).toBe(1);
    used = 80 * MiB + threshold;
    expect(c.idle()).toBe(true);
    expect(collections).toBe(2);
    expect(reported).toEqual([1, 2]);
  });

  it("the threshold scales with a large heap (5%)", () => {
    let used = 400 * MiB;
    let collections = 0;
    const c = new IdleCollector({ delayMs: 1, heapUsed: () => used, collect: () => collections++ });
    c.idle();
    used += 19 * MiB; // < 5% of 400 MiB
    expect(c.idle()).toBe(false);
    used += 2 * MiB;
    expect(c.idle()).toBe(true);
    expect(collections).toBe(2);
  });

  it("waits for delayMs without busy() before checking, and never with delayMs 0", async () => {
    let checks = 0;
    const c = new IdleCollector({ delayMs: 40, heapUsed: () => { checks++; return 0; }, collect: () => undefined });
    for (let i = 0; i < 5; i++) {
      c.busy();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(checks, "pushed back while busy").toBe(0);
    const deadline = Date.now() + 2000;
    while (checks === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(checks).toBeGreaterThan(0);
    c.stop();

    let never = 0;
    const off = new IdleCollector({ delayMs: 0, heapUsed: () => { never++; return 0; }, collect: () => undefined });
    off.busy();
    await new Promise((r) => setTimeout(r, 30));
    expect(never).toBe(0);
  });

  it("runs V8's real collection: the garbage is gone afterwards", () => {
    const c = new IdleCollector({ delayMs: 1 });
    let garbage: unknown[] | undefined = [];
    for (let i = 0; i < 200_000; i++) garbage.push({ i, s: "x".repeat(40) + i });
    garbage = undefined;
    const before = getHeapStatistics().used_heap_size;
    expect(c.idle()).toBe(true);
    expect(getHeapStatistics().used_heap_size).toBeLessThan(before - 10 * MiB);
    expect(c.runs).toBe(1);
  });
});
