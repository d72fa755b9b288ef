// What every chaos scenario asserts about its load: it stopped by itself or was stopped, sent at
// least MIN_REQUESTS requests, and every one got helloworld's 200 (no retries were made).
import { expect } from "vitest";
import type { LoadClient } from "./client.ts";

export const MIN_REQUESTS = 2000;

/** Holds for `ms` while `check` stays true on every poll (a negative: nothing may change meanwhile). */
export async function holdsFor(ms: number, what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const until = Date.now() + ms;
  for (let i = 0; i < 1000 && Date.now() < until; i++) {
    if (!(await check())) throw new Error(`${what} stopped holding after ${ms - (until - Date.now())} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops the client and asserts the scenario's traffic: ≥ MIN_REQUESTS, 0 failures. */
export async function expectNoFailures(scenario: string, c: LoadClient, addresses: Record<string, string>): Promise<void> {
  await c.stop();
  console.log(`${scenario}: ${c.summary(addresses)}`);
  expect(c.failures().slice(0, 5)).toEqual([]);
  expect(c.count).toBeGreaterThanOrEqual(MIN_REQUESTS);
}
