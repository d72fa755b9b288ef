// The Envoy harness leaves nothing behind: a work dir startEnvoy made is removed by stop() (the
// log stays readable from memory), and by a failed start; a work dir the caller gave is kept.

import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { EnvoyConfig } from "../../envoy/bootstrap.ts";
import { startEnvoy } from "../support/envoy.ts";
import { LOOPBACK } from "../support/ports.ts";

/** Admin only: no listener, no cluster. */
const ADMIN_ONLY: EnvoyConfig = { admin: { address: { socket_address: { address: LOOPBACK, port_value: 0 } } } };

it("stop() removes the work dir it made; the log stays readable", { timeout: 60_000 }, async () => {
  const envoy = await startEnvoy({ name: "cleanup-own", config: ADMIN_ONLY });
  expect(existsSync(envoy.workDir)).toBe(true);
  await envoy.stop();
  expect(existsSync(envoy.workDir)).toBe(false);
  expect(envoy.log()).toContain("starting main dispatch loop");
});

it("a work dir the caller gave stays after stop()", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "canal-cleanup-given-"));
  try {
    const envoy = await startEnvoy({ name: "cleanup-given", config: ADMIN_ONLY, workDir: dir });
    await envoy.stop();
    expect(existsSync(join(dir, "cleanup-given.log"))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("a failed start removes the work dir it made", { timeout: 60_000 }, async () => {
  const before = new Set(listOwn("cleanup-bad"));
  // An unknown top-level field: Envoy refuses the bootstrap and exits.
  await expect(startEnvoy({ name: "cleanup-bad", config: { ...ADMIN_ONLY, no_such_field: true }, readyTimeoutMs: 5000 })).rejects.toThrow(/exited during startup/);
  expect(listOwn("cleanup-bad").filter((d) => !before.has(d))).toEqual([]);
});

function listOwn(name: string): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith(`canal-${name}-`));
}
