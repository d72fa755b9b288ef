// `canal plan`: against a kubeconfig, prints the DNS entries the controller would add to or remove
// from the canal-dns ConfigMap, and why the others wait. Reads only (Services, Istio objects,
// InternalGateways and their status, EndpointSlices, the ConfigMap); writes nothing.
import * as k8s from "@kubernetes/client-node";
import { parseObjects } from "../api/index.ts";
import { gatewayInput, type DeliveryProof } from "../sinks/dns/manager.ts";
import { decide } from "../sinks/dns/gating.ts";
import { optedOutNames } from "../translate/dns-optout.ts";
import { STATE_KEY, parseState } from "../sinks/dns/state.ts";
import { resolveKinds } from "../kube/resources.ts";
import { CorednsConfigMapWriter } from "../sinks/dns/coredns-configmap.ts";
import type { DeliveryState } from "../sinks/delivery.ts";
import { translate, type GatewayResult } from "../translate/index.ts";
import { loadRegexValidator } from "../translate/regex-validator.ts";
import { isOwnershipReason } from "../api/problem.ts";
import { formatPlan, formatRefused, planLines } from "./plan-report.ts";
import { parseFlags, SYSTEM_NAMESPACES_USAGE, systemNamespaces } from "./flags.ts";
import { UsageError, type Command } from "./command.ts";

const PLAN_USAGE = `usage: canal plan [flags]

Computes what 'canal controller --dns' would do now and prints it, changing nothing:
  + name (gateway): → addresses      would be added (points at the gateway Service)
  - name (gateway): reason           would be removed (DNS points back; routes drain)
  ~ name (gateway): reason: message  waits: a gating condition is unmet, or opted out
  = name (gateway): → addresses      already redirected, unchanged
  ! Kind ns/name field: Reason: ...  a host or opt-out refused (ADR 0003: ownership, grants,
                                     system namespaces): it gets no route and no DNS change
Whether the gateways acknowledged the table is read from each InternalGateway's status
(Programmed=True with the table version computed here).

flags:
  --kubeconfig PATH        kubeconfig file (default: $KUBECONFIG / ~/.kube/config, else in-cluster)
  --dns-configmap NS/NAME  the controller's ConfigMap (default: kube-system/canal-dns)
  --dns-drain SECONDS      drain period used for removals (default: 90)
  --cluster-domain DOMAIN  Kubernetes cluster domain (default: cluster.local)
  --namespace NS           the controller's namespace, never redirected (default: istio-system)
${SYSTEM_NAMESPACES_USAGE}  -o, --output FORMAT      text (default) | json
  -h, --help               this help
`;

export interface PlanFlags {
  kubeconfig?: string;
  configMap: { namespace: string; name: string };
  drainSeconds: number;
  clusterDomain: string;
  systemNamespaces: string[];
  output: "text" | "json";
}

export function parsePlanFlags(args: string[]): PlanFlags | "help" {
  const { values } = parseFlags("plan", {
    args,
    allowPositionals: false,
    options: {
      kubeconfig: { type: "string" },
      "dns-configmap": { type: "string", default: "kube-system/canal-dns" },
      "dns-drain": { type: "string", default: "90" },
      "cluster-domain": { type: "string", default: "cluster.local" },
      namespace: { type: "string", default: "istio-system" },
      "system-namespaces": { type: "string" },
      output: { type: "string", short: "o", default: "text" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const [namespace, name, extra] = (values["dns-configmap"] as string).split("/");
  if (namespace === undefined || name === undefined || extra !== undefined || namespace === "" || name === "") throw new UsageError(`canal plan: --dns-configmap must be NAMESPACE/NAME`);
  const drain = Number(values["dns-drain"]);
  if (!Number.isInteger(drain) || drain < 1) throw new UsageError(`canal plan: --dns-drain must be whole seconds ≥ 1`);
  const output = values.output as string;
  if (output !== "text" && output !== "json") throw new UsageError(`canal plan: --output must be text or json, got "${output}"`);
  return { kubeconfig: values.kubeconfig, configMap: { namespace, name }, drainSeconds: drain, clusterDomain: values["cluster-domain"] as string, systemNamespaces: systemNamespaces("plan", values["system-namespaces"], values.namespace as string), output };
}

interface IgStatus {
  tableVersion?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
}

/** What the InternalGateway's status says about delivery of `version`. */
function deliveryFromStatus(g: GatewayResult, status: IgStatus | undefined): DeliveryState {
  const programmed = status?.conditions?.find((c) => c.type === "Programmed");
  if (programmed?.status === "True" && status?.tableVersion === g.table.version) return { programmed: true, reason: programmed.reason, message: programmed.message, gateways: [] };
  const why = programmed === undefined ? "the InternalGateway has no Programmed condition yet" : `Programmed=${programmed.status} (${programmed.reason}) for table ${status?.tableVersion ?? "?"}, computed here: ${g.table.version}`;
  return { programmed: false, reason: "NotProgrammed", message: why, gateways: [] };
}

/**
 * canal plan cannot probe the gateway pods (it runs outside the cluster network): it predicts that
 * every ready pod serves the computed table when status says Programmed for it, and none otherwise.
 */
function plannedProof(g: GatewayResult, readyEndpoints: number, delivery: DeliveryState): DeliveryProof {
  const pods = Array.from({ length: readyEndpoints }, (_, i) =>
    delivery.programmed ? { pod: `endpoint ${i + 1}`, address: "-", version: g.table.version } : { pod: `endpoint ${i + 1}`, address: "-", error: `is not known to run table ${g.table.version} (${delivery.message})` },
  );
  return { pods, tableNames: new Map([[g.table.version, new Set(g.dnsPlan.map((e) => e.fqdn))]]) };
}

export async function runPlan(flags: PlanFlags): Promise<string> {
  const kc = new k8s.KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  const kinds = await resolveKinds(kc);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const raws: unknown[] = [];
  const statuses = new Map<string, IgStatus>();
  for (const kind of kinds) {
    const list = await objects.list(kind.apiVersion, kind.kind);
    for (const o of list.items) {
      raws.push({ ...o, apiVersion: kind.apiVersion, kind: kind.kind });
      if (kind.kind === "InternalGateway") statuses.set(`${o.metadata?.namespace}/${o.metadata?.name}`, (o as { status?: IgStatus }).status ?? {});
    }
  }
  const parsed = parseObjects(raws);
  const result = translate(parsed.snapshot, { validateRegex: loadRegexValidator(), clusterDomain: flags.clusterDomain, systemNamespaces: flags.systemNamespaces });
  const slices = await kc.makeApiClient(k8s.DiscoveryV1Api).listEndpointSliceForAllNamespaces();
  const ready = (ns: string, name: string): number =>
    slices.items
      .filter((s) => s.metadata?.namespace === ns && s.metadata?.labels?.["kubernetes.io/service-name"] === name)
      .reduce((n, s) => n + (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length, 0);
  const cm = await new CorednsConfigMapWriter(kc, flags.configMap).read();
  const current = parseState(cm?.data[STATE_KEY]).state;
  const decision = decide({
    gateways: result.gateways.map((g) => {
      const n = g.service === undefined ? 0 : ready(g.service.namespace, g.service.name);
      const delivery = deliveryFromStatus(g, statuses.get(`${g.ref.namespace}/${g.ref.name}`));
      return gatewayInput(g, parsed.snapshot, n, delivery, plannedProof(g, n, delivery));
    }),
    optedOut: optedOutNames(parsed.snapshot, flags.clusterDomain),
    current,
    leavingVirtualHosts: new Map(),
    now: new Date(),
    drainSeconds: flags.drainSeconds,
  });
  const lines = planLines(current, decision);
  const refused = result.problems.filter((p) => isOwnershipReason(p.reason));
  const cmName = `${flags.configMap.namespace}/${flags.configMap.name}${cm === undefined ? " (missing)" : ""}`;
  return flags.output === "json" ? `${JSON.stringify({ configMap: cmName, changes: lines, refused }, null, 2)}\n` : formatRefused(refused) + formatPlan(lines, cmName);
}

export const planCommand: Command = {
  summary: "print the DNS entries the controller (--dns) would add or remove, and why others wait; changes nothing",
  async run(args: string[]): Promise<number> {
    const flags = parsePlanFlags(args);
    if (flags === "help") {
      process.stdout.write(PLAN_USAGE);
      return 0;
    }
    process.stdout.write(await runPlan(flags));
    return 0;
  },
};
