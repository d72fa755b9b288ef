// The Gateway API release the tests use: its CRDs (per channel) and the conformance sources,
// obtained by `scripts/tools.sh gateway-api` into the tool cache. Paths only; no I/O beyond
// checking that they exist.
import { existsSync } from "node:fs";
import { join } from "node:path";

/** sigs.k8s.io/gateway-api release (scripts/tools.sh GATEWAY_API_VERSION; what the pinned istiod requires). */
export const GATEWAY_API_VERSION: string = process.env.GATEWAY_API_VERSION ?? "v1.6.0";

/** standard: the GA kinds and fields; experimental: a superset (e.g. HTTPRoute retry, CORS). */
export type GatewayApiChannel = "standard" | "experimental";

function cacheRoot(): string {
  return process.env.CANAL_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "canal");
}

/** The cached release folder ($GATEWAY_API_DIR, else the tools cache), or undefined when it is missing. */
export function gatewayApiDir(): string | undefined {
  const fromEnv = process.env.GATEWAY_API_DIR;
  const dir = fromEnv !== undefined && fromEnv !== "" ? fromEnv : join(cacheRoot(), "gateway-api", GATEWAY_API_VERSION);
  return existsSync(join(dir, "standard.yaml")) && existsSync(join(dir, "conformance", "tests")) ? dir : undefined;
}

/** As gatewayApiDir(), but a missing release throws with the command that fetches it. */
export function requireGatewayApiDir(): string {
  const dir = gatewayApiDir();
  if (dir === undefined) throw new Error(`Gateway API ${GATEWAY_API_VERSION} not found: run scripts/tools.sh gateway-api`);
  return dir;
}

/** The CRDs of one channel, one multi-document YAML file (for KubeApi.installCrds). */
export function gatewayApiCrdsPath(channel: GatewayApiChannel = "standard"): string {
  return join(requireGatewayApiDir(), `${channel}.yaml`);
}
