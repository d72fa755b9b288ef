// Istio's Gateway API conversion testdata (pilot/pkg/config/kube/gateway/testdata: HTTPRoute
// inputs X.yaml with golden VirtualServices X.yaml.golden) in the Go module cache, from the
// istio.io/istio module that `scripts/tools.sh istiod` downloads (go mod download puts its
// source under GOMODCACHE). Paths only; a missing module throws with the command that fetches it.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** istio.io/istio (pseudo-)version: scripts/tools.sh ISTIO_VERSION. */
export const ISTIO_VERSION: string = process.env.ISTIO_VERSION ?? "v0.0.0-20260827124520-eed52ebb66ad";

function goModCache(): string {
  const fromEnv = process.env.GOMODCACHE;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  try {
    const out = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8", timeout: 30_000 }).trim();
    if (out !== "") return out;
  } catch {
    // No go on PATH: fall back to Go's default location, and the error below names the fix.
  }
  const gopath = process.env.GOPATH;
  return join(gopath !== undefined && gopath !== "" ? gopath.split(":")[0] ?? "" : join(process.env.HOME ?? "/root", "go"), "pkg", "mod");
}

/** The testdata folder of the pinned istio.io/istio module; throws with the fix when it is missing. */
export function requireIstioGatewayTestdata(): string {
  const dir = join(goModCache(), `istio.io/istio@${ISTIO_VERSION}`, "pilot", "pkg", "config", "kube", "gateway", "testdata");
  if (!existsSync(join(dir, "mesh.yaml.golden"))) {
    throw new Error(
      `Istio's Gateway API testdata not found at ${dir}: run scripts/tools.sh istiod ` +
        `(with istiod already cached, that skips the download: run cd "$(mktemp -d)" && GOWORK=off GOFLAGS= go mod download istio.io/istio@${ISTIO_VERSION})`,
    );
  }
  return dir;
}
