// Real helm for the chart tests: the binary scripts/tools.sh builds, run as a child process.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseManifests, type KubeApi, type KubeObject } from "../support/k8s.ts";

export const REPO = join(import.meta.dirname, "..", "..");
export const GATEWAY_CHART = join(REPO, "charts", "canal");
export const CONTROL_CHART = join(REPO, "charts", "canal-control");
export const HELM_VERSION = process.env.HELM_VERSION ?? "v3.22.0";

/** $HELM_BIN, else the scripts/tools.sh cache; throws with the command to run when missing (tests never skip). */
export function helmBinary(): string {
  const fromEnv = process.env.HELM_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const cached = join(process.env.CANAL_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "canal"), "helm", HELM_VERSION, "helm");
  if (existsSync(cached)) return cached;
  throw new Error(`helm not found: run scripts/tools.sh helm (looked at HELM_BIN=${fromEnv ?? "<unset>"} and ${cached})`);
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(helmBinary(), args, { maxBuffer: 64 << 20, env: { ...process.env, HELM_CACHE_HOME: "/tmp/canal-helm-cache", HELM_CONFIG_HOME: "/tmp/canal-helm-config", HELM_DATA_HOME: "/tmp/canal-helm-data" } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `--set k=v` pairs as helm arguments. */
export function sets(values: Record<string, string>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
}

/** The seed's install flags for canal-control (plus the filter location WasmPlugin mode needs). */
export const SEED_CONTROL_SETS: Record<string, string> = {
  "global.hub": "registry.example/canal",
  "global.tag": "0.1.0",
  "global.imagePullSecrets[0]": "regcred",
  "wasm.url": "oci://registry.example/canal-filter:0.1.0",
  "wasm.sha256": "1ee9df31333d10736abc499eb5d396543a3305137bd0749ed8aba440a451b8b7",
};

/** `helm template` → the rendered objects; throws with helm's stderr when it fails. */
export async function template(chart: string, release: string, namespace: string, args: string[] = []): Promise<KubeObject[]> {
  const r = await helm(["template", release, chart, "--namespace", namespace, ...args]);
  if (r.code !== 0) throw new Error(`helm template ${release} failed (${r.code}): ${r.stderr.trim()}`);
  return parseManifests(r.stdout, `helm template ${release}`);
}

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (o === undefined) throw new Error(`no ${kind}${name ? ` ${name}` : ""} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`);
  return o;
}

/** Kinds a chart renders that are cluster-scoped. */
const CLUSTER_SCOPED = new Set(["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"]);

/**
 * Server-side apply of each object; `dryRun` sends dryRun=All (validated, defaulted, admitted by
 * the real API server, stored nowhere). Returns per-object failures (empty when all passed).
 */
export async function applyAll(api: KubeApi, objects: KubeObject[], opts: { dryRun: boolean; fieldManager?: string }): Promise<string[]> {
  const failures: string[] = [];
  for (const obj of objects) {
    const namespace = CLUSTER_SCOPED.has(obj.kind) ? undefined : obj.metadata.namespace;
    const path = await api.resourcePath(obj.apiVersion, obj.kind, namespace, obj.metadata.name);
    const query: Record<string, string | boolean> = { fieldManager: opts.fieldManager ?? "helm", force: true, fieldValidation: "Strict" };
    if (opts.dryRun) query.dryRun = "All";
    const r = await api.request("PATCH", path, { body: obj, contentType: "application/apply-patch+yaml", query });
    if (r.status < 200 || r.status > 299) failures.push(`${obj.kind} ${namespace ?? ""}/${obj.metadata.name}: ${r.status} ${r.text.slice(0, 600)}`);
  }
  return failures;
}
