// Polling for tests: resolves when `check` returns a value other than undefined.
import type { EcdsServer } from "../server.ts";
import type { GatewayStatus } from "../gateway-status.ts";

export async function until<T>(what: string | (() => string), check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}${cause}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The status of gateway `nodeId` once `predicate` holds for it. */
export function gatewayWhere(
  server: EcdsServer,
  nodeId: string,
  what: string,
  predicate: (g: GatewayStatus) => boolean,
  timeoutMs = 10_000,
): Promise<GatewayStatus> {
  return until(
    () => `${nodeId}: ${what} (status: ${JSON.stringify(server.status().find((g) => g.nodeId === nodeId))})`,
    () => {
      const g = server.status().find((x) => x.nodeId === nodeId);
      return g !== undefined && predicate(g) ? g : undefined;
    },
    timeoutMs,
  );
}
