// Where the API-server harness finds its binaries and CRDs, and which versions they are
// (scripts/k8s-tools/go.mod is the single source of truth).

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const TOOLS_GO_MOD = join(REPO_ROOT, "scripts", "k8s-tools", "go.mod");

/** The version scripts/k8s-tools/go.mod requires for `module` (the single source of truth). */
function goModVersion(module: string): string {
  const text = readFileSync(TOOLS_GO_MOD, "utf8");
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(text);
  if (m === null) throw new Error(`${module} is not required by ${TOOLS_GO_MOD}`);
  return m[1];
}

/** k8s.io/kubernetes version of the kube-apiserver (from scripts/k8s-tools/go.mod). */
export const K8S_VERSION: string = goModVersion("k8s.io/kubernetes");
/** etcd server version (from scripts/k8s-tools/go.mod). */
export const ETCD_VERSION: string = goModVersion("go.etcd.io/etcd/server/v3");
/** istio.io/api version whose CRDs installIstioCrds() applies. */
export const ISTIO_API_VERSION: string = process.env.ISTIO_API_VERSION ?? "v1.32.0";

function cacheRoot(): string {
  return process.env.CANAL_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "canal");
}

function locate(what: string, envVar: string, cached: string, tool: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv !== undefined && fromEnv !== "" && existsSync(fromEnv)) return fromEnv;
  if (existsSync(cached)) return cached;
  throw new Error(
    `${what} not found: run scripts/tools.sh ${tool} (looked at ${envVar}=${fromEnv ?? "<unset>"} and ${cached})`,
  );
}

/** The kube-apiserver binary: $KUBE_APISERVER_BIN, else the scripts/tools.sh cache. Throws when missing. */
export function kubeApiserverBinary(): string {
  return locate(
    "kube-apiserver",
    "KUBE_APISERVER_BIN",
    join(cacheRoot(), "kube-apiserver", K8S_VERSION, "kube-apiserver"),
    "kube-apiserver",
  );
}

/** The etcd binary: $ETCD_BIN, else the scripts/tools.sh cache. Throws when missing. */
export function etcdBinary(): string {
  return locate("etcd", "ETCD_BIN", join(cacheRoot(), "etcd", ETCD_VERSION, "etcd"), "etcd");
}

/** Istio's CRD bundle: $ISTIO_CRDS, else the scripts/tools.sh cache. Throws when missing. */
export function istioCrdsPath(): string {
  return locate(
    "Istio CRDs",
    "ISTIO_CRDS",
    join(cacheRoot(), "istio-crds", ISTIO_API_VERSION, "customresourcedefinitions.gen.yaml"),
    "istio-crds",
  );
}

// ---------------------------------------------------------------------------------------------
