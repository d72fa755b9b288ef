// `canal status`: what the controller reported on each InternalGateway — Accepted/Programmed,
// the table version and which gateways ACKed it, counts, and every rejected object with its
// reason. Reads the InternalGateway status the controller writes (status/status-writer.ts).
import * as k8s from "@kubernetes/client-node";
import { CANAL_GROUP, INTERNAL_GATEWAY_VERSION } from "../api/internalgateway.ts";
import { parseFlags } from "./flags.ts";
import { UsageError, type Command } from "./command.ts";

const STATUS_USAGE = `usage: canal status [flags]

Shows each InternalGateway's status as the controller wrote it: Accepted and Programmed with
their reasons, the route table version, which gateways run it (ECDS ACKs), host/route counts,
and every rejected object with field, reason and message.

flags:
  --kubeconfig PATH        kubeconfig file (default: $KUBECONFIG / ~/.kube/config, else in-cluster)
  -n, --namespace NS       only this namespace
  -A, --all-namespaces     every namespace (the default)
  -o, --output FORMAT      text (default) | json
  -h, --help               this help

examples:
  canal status
  canal status -n istio-system -o json
`;

export interface StatusFlags {
  kubeconfig?: string;
  namespace?: string;
  output: "text" | "json";
}

export function parseStatusFlags(args: string[]): StatusFlags | "help" {
  const { values } = parseFlags("status", {
    args,
    allowPositionals: false,
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string", short: "n" },
      "all-namespaces": { type: "boolean", short: "A", default: false },
      output: { type: "string", short: "o", default: "text" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const output = values.output as string;
  if (output !== "text" && output !== "json") throw new UsageError(`canal status: --output must be text or json, got "${output}"`);
  if (values.namespace !== undefined && values["all-namespaces"]) throw new UsageError("canal status: pass either -n NAMESPACE or -A, not both");
  const flags: StatusFlags = { output };
  if (values.kubeconfig !== undefined) flags.kubeconfig = values.kubeconfig;
  if (values.namespace !== undefined) flags.namespace = values.namespace;
  return flags;
}

export interface ConditionView {
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface RejectedView {
  kind: string;
  namespace: string;
  name: string;
  field: string;
  reason: string;
  message: string;
}

/** One InternalGateway as `canal status` shows it (also the `-o json` shape). */
export interface GatewayStatusView {
  namespace: string;
  name: string;
  gatewayRef: string;
  generation?: number;
  observedGeneration?: number;
  accepted?: ConditionView;
  programmed?: ConditionView;
  tableVersion?: string;
  hosts?: number;
  routes?: number;
  gateways: Array<{ name: string; tableVersion?: string; acked: boolean }>;
  rejectedCount: number;
  rejected: RejectedView[];
}

// Edge validation: the API server's JSON is untyped; read only what has the expected type.
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function condition(conditions: unknown[], type: string): ConditionView | undefined {
  const c = conditions.map(obj).find((x) => x["type"] === type);
  if (c === undefined) return undefined;
  const view: ConditionView = { status: str(c["status"]) ?? "Unknown", reason: str(c["reason"]) ?? "", message: str(c["message"]) ?? "" };
  const og = num(c["observedGeneration"]);
  if (og !== undefined) view.observedGeneration = og;
  return view;
}

/** An InternalGateway object (as the API server returns it) → the view. */
export function viewOf(raw: unknown): GatewayStatusView {
  const o = obj(raw);
  const meta = obj(o["metadata"]);
  const spec = obj(o["spec"]);
  const status = obj(o["status"]);
  const namespace = str(meta["namespace"]) ?? "";
  const ref = obj(spec["gatewayRef"]);
  const conditions = list(status["conditions"]);
  const view: GatewayStatusView = {
    namespace,
    name: str(meta["name"]) ?? "",
    gatewayRef: `${str(ref["namespace"]) ?? namespace}/${str(ref["name"]) ?? "?"}`,
    gateways: list(status["gateways"]).map(obj).map((g) => {
      const tv = str(g["tableVersion"]);
      return tv === undefined ? { name: str(g["name"]) ?? "", acked: g["acked"] === true } : { name: str(g["name"]) ?? "", tableVersion: tv, acked: g["acked"] === true };
    }),
    rejectedCount: num(status["rejectedCount"]) ?? 0,
    rejected: list(status["rejected"]).map(obj).map((p) => ({
      kind: str(p["kind"]) ?? "",
      namespace: str(p["namespace"]) ?? "",
      name: str(p["name"]) ?? "",
      field: str(p["field"]) ?? "",
      reason: str(p["reason"]) ?? "",
      message: str(p["message"]) ?? "",
    })),
  };
  const optional: Array<[keyof GatewayStatusView, unknown]> = [
    ["generation", num(meta["generation"])],
    ["observedGeneration", num(status["observedGeneration"])],
    ["accepted", condition(conditions, "Accepted")],
    ["programmed", condition(conditions, "Programmed")],
    ["tableVersion", str(status["tableVersion"])],
    ["hosts", num(status["hosts"])],
    ["routes", num(status["routes"])],
  ];
  for (const [k, v] of optional) if (v !== undefined) (view as unknown as Obj)[k] = v;
  return view;
}

const shortVersion = (v: string | undefined): string => (v === undefined ? "-" : v.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]*$/, "$1"));

function conditionLine(label: string, c: ConditionView | undefined): string {
  if (c === undefined) return `  ${label.padEnd(11)} Unknown  (not reported yet: is the controller running?)`;
  return `  ${label.padEnd(11)} ${c.status.padEnd(6)} ${c.reason}${c.message ? `: ${c.message}` : ""}`;
}

/** The text `canal status` prints. */
export function renderText(views: readonly GatewayStatusView[]): string {
  const out: string[] = [];
  for (const v of views) {
    const stale = v.generation !== undefined && v.observedGeneration !== undefined && v.observedGeneration < v.generation;
    out.push(`InternalGateway ${v.namespace}/${v.name} (Gateway ${v.gatewayRef})${stale ? `  [status is for generation ${v.observedGeneration}, the spec is at ${v.generation}]` : ""}`);
    out.push(conditionLine("Accepted", v.accepted));
    out.push(conditionLine("Programmed", v.programmed));
    out.push(`  table       ${v.tableVersion ?? "-"}  hosts ${v.hosts ?? 0}  routes ${v.routes ?? 0}`);
    const acked = v.gateways.filter((g) => g.acked).length;
    out.push(`  gateways    ${v.gateways.length} reported, ${acked} acked the current table`);
    for (const g of v.gateways) out.push(`    ${g.name}  runs ${shortVersion(g.tableVersion)}  ${g.acked ? "ACKED" : "NOT ACKED"}`);
    const more = v.rejectedCount > v.rejected.length ? ` (first ${v.rejected.length} listed)` : "";
    out.push(`  rejected    ${v.rejectedCount}${more}`);
    for (const p of v.rejected) out.push(`    ${p.kind} ${p.namespace}/${p.name}${p.field ? ` ${p.field}` : ""}: ${p.reason}: ${p.message}`);
    out.push("");
  }
  return out.join("\n");
}

function loadKubeConfig(path: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (path !== undefined) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(`cannot load kubeconfig ${path ?? "(default)"}: ${(err as Error).message.split("\n")[0] ?? ""}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) throw new Error("no Kubernetes cluster configured: pass --kubeconfig");
  return kc;
}

export async function fetchStatus(kc: k8s.KubeConfig, namespace: string | undefined): Promise<GatewayStatusView[]> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const base = { group: CANAL_GROUP, version: INTERNAL_GATEWAY_VERSION, plural: "internalgateways" };
  let body: unknown;
  try {
    body = namespace === undefined ? await api.listClusterCustomObject(base) : await api.listNamespacedCustomObject({ ...base, namespace });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 404) throw new Error("the API server does not know InternalGateways: install the CRD (kubectl apply -f controller/crds/internalgateway.yaml)", { cause: err });
    if (code === 401 || code === 403) throw new Error(`not allowed to list internalgateways.${CANAL_GROUP} (HTTP ${String(code)}): check the kubeconfig's user and RBAC`, { cause: err });
    throw new Error(`cannot list InternalGateways from ${kc.getCurrentCluster()?.server ?? "the API server"}: ${(err as Error).message.split("\n")[0] ?? ""}`, { cause: err });
  }
  const views = list(obj(body)["items"]).map(viewOf);
  return views.sort((a, b) => (a.namespace + "/" + a.name < b.namespace + "/" + b.name ? -1 : 1));
}

export const statusCommand: Command = {
  summary: "show InternalGateways: Accepted/Programmed, table version and gateway ACKs, counts, rejected objects",
  async run(args: string[]): Promise<number> {
    const flags = parseStatusFlags(args);
    if (flags === "help") {
      process.stdout.write(STATUS_USAGE);
      return 0;
    }
    const views = await fetchStatus(loadKubeConfig(flags.kubeconfig), flags.namespace);
    if (flags.output === "json") {
      process.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      return 0;
    }
    if (views.length === 0) {
      process.stdout.write(`no InternalGateways${flags.namespace !== undefined ? ` in namespace ${flags.namespace}` : ""}\n`);
      return 0;
    }
    process.stdout.write(renderText(views));
    return 0;
  },
};
