// Host ownership (ADR 0003) against a real kube-apiserver, a real CoreDNS fed from the canal-dns
// ConfigMap and the controller with --dns: a tenant in team-a tries to take over prod's Services
// (FQDN, name.ns.svc, short names, a literal dotted host, "*", a DNS opt-out from its own
// namespace) and system namespaces' Services. Each attempt is refused with its own reason, as a
// Warning Event on the VirtualService and in the InternalGateway's status, and changes no DNS
// answer; the owner's routes keep working, and a granted cross-namespace route is accepted.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canal, REPO } from "../cli/run.ts";
import type { KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";
import { gatewayYaml, igStatus, startDnsEnv, waitA, waitEntry, type DnsEnv } from "../dns/env.ts";

let env: DnsEnv;
let G: string;
const ip = (n: number): string => `${env.prefix}.20.${n}`;
const fqdn = (name: string, ns: string): string => `${name}.${ns}.svc.cluster.local`;

/** The InternalGateway with these grants (replaces the one gatewayYaml makes). */
function igYaml(grants: string): string {
  return `apiVersion: canal.io/v1alpha1
kind: InternalGateway
metadata: {name: canal, namespace: istio-system}
spec:
  gatewayRef: {name: canal}
  serviceRef: {name: canal-gateway}
  hostGrants:
    - {namespaces: [istio-system], hosts: ["*"]}
${grants}`;
}

function svc(name: string, ns: string, n: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec: {clusterIP: "${ip(n)}", ports: [{port: 5000, name: http}]}
`;
}

function vs(name: string, ns: string, hosts: string[], dest: string, extra = "  gateways: [istio-system/canal]\n", meta = ""): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}${meta}}
spec:
  hosts: [${hosts.map((h) => `"${h}"`).join(", ")}]
${extra}  http: [{route: [{destination: {host: "${dest}"}}]}]
`;
}

interface KubeEvent extends KubeObject {
  reason?: string;
  type?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string; fieldPath?: string };
}

/** Waits for the Warning Event of `reason` on VirtualService ns/name at `field`. */
async function warning(ns: string, name: string, reason: string, field: string): Promise<KubeEvent> {
  let seen: string[] = [];
  return pollUntil(
    `Warning ${reason} on VirtualService ${ns}/${name} ${field}`,
    async () => {
      const list = await env.api.list<KubeEvent>(`/api/v1/namespaces/${ns}/events`);
      seen = list.items.map((e) => `${e.involvedObject?.name} ${e.involvedObject?.fieldPath} ${e.reason}`);
      return list.items.find((e) => e.type === "Warning" && e.reason === reason && e.involvedObject?.kind === "VirtualService" && e.involvedObject.name === name && e.involvedObject.fieldPath === field);
    },
    { timeoutMs: 20_000, intervalMs: 100, onTimeout: () => `events in ${ns}: ${seen.join("; ")}` },
  );
}

/** The InternalGateway lists the refusal in status.rejected. */
async function rejected(ns: string, name: string, reason: string): Promise<void> {
  await pollUntil(`status.rejected ${reason} for ${ns}/${name}`, async () => {
    const o = await env.api.get<KubeObject & { status?: { rejected?: Array<{ namespace?: string; name: string; reason: string }> } }>("/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal");
    return o.status?.rejected?.some((p) => p.namespace === ns && p.name === name && p.reason === reason) ? true : undefined;
  }, { timeoutMs: 20_000, intervalMs: 100 });
}

/** Names in the canal-dns state (what CoreDNS serves from the controller). */
async function redirected(): Promise<string[]> {
  const cm = await env.canalDns();
  const state = JSON.parse(cm.data?.["canal-state.json"] ?? "{\"entries\":[]}") as { entries: Array<{ fqdn: string }> };
  return state.entries.map((e) => e.fqdn).sort();
}

async function table(): Promise<Array<{ name: string; domains: string[] }>> {
  const p = await env.api.get<KubeObject & { spec?: { pluginConfig?: { virtualHosts: Array<{ name: string; domains: string[] }> } } }>(
    "/apis/extensions.istio.io/v1alpha1/namespaces/istio-system/wasmplugins/canal-canal",
  );
  return p.spec?.pluginConfig?.virtualHosts ?? [];
}

/** The refusal was decided in a sync that also wrote DNS (DNS runs before events): the name still answers with the Service's own address. */
async function unchanged(name: string, own: string): Promise<void> {
  expect(await env.dns.query(name, "A")).toEqual([own]);
  expect(await redirected()).not.toContain(name);
}

beforeAll(async () => {
  env = await startDnsEnv("host-ownership");
  G = `${env.prefix}.0.50`;
  const namespaces = ["prod", "team-a", "shop", "monitoring"].map((n) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${n}}\n`).join("---\n");
  await env.api.applyYaml(namespaces);
  await env.api.applyYaml(`${gatewayYaml({ addresses: [G], ports: [5000] })}---\n${igYaml("")}`);
  await env.api.applyYaml([svc("payments", "prod", 1), svc("victim", "prod", 2), svc("cart", "shop", 3), svc("sysdns", "kube-system", 4), svc("prom", "monitoring", 5), svc("own", "istio-system", 6)].join("---\n"));
  // A real gateway pod serving the WasmPlugin's table: DNS flips only once it proves it serves the
  // routes (delivery proof, ADR 0004); controllers started after it probe it.
  await env.startGateway();
  await env.startController({ identity: "owner", systemNamespaces: ["kube-system", "istio-system", "monitoring"] });
}, 240_000);

afterAll(async () => {
  await env?.stop();
});

describe("host ownership with a real API server and CoreDNS", () => {
  it("the owner's VirtualService in its own namespace redirects its Service and gets every alias", async () => {
    await env.api.applyYaml(vs("payments", "prod", ["payments"], "payments"));
    await waitA(env.dns, fqdn("payments", "prod"), [G]);
    await waitEntry(env.api, fqdn("payments", "prod"), "Redirected");
    const vh = (await table()).find((v) => v.name === "prod/payments");
    expect(vh?.domains).toEqual([fqdn("payments", "prod"), "payments.prod.svc", "payments.prod", "payments"]);
  }, 60_000);

  it("a tenant's VirtualService claiming another namespace's Service FQDN: HostNotOwned, no DNS change", async () => {
    await env.api.applyYaml(vs("hijack-fqdn", "team-a", [fqdn("victim", "prod")], fqdn("victim", "prod")));
    const e = await warning("team-a", "hijack-fqdn", "HostNotOwned", "spec.hosts[0]");
    expect(e.message).toContain(`"prod"`);
    await rejected("team-a", "hijack-fqdn", "HostNotOwned");
    await unchanged(fqdn("victim", "prod"), ip(2));
    expect((await table()).some((v) => v.domains.includes(fqdn("victim", "prod")))).toBe(false);
  }, 60_000);

  it("name.ns.svc of another namespace: HostNotOwned, no DNS change", async () => {
    await env.api.applyYaml(vs("hijack-svc", "team-a", ["victim.prod.svc"], fqdn("victim", "prod")));
    await warning("team-a", "hijack-svc", "HostNotOwned", "spec.hosts[0]");
    await unchanged(fqdn("victim", "prod"), ip(2));
  }, 60_000);

  it("short names resolve in the tenant's own namespace; the two-label name.ns needs a grant (HostNotGranted)", async () => {
    await env.api.applyYaml(vs("hijack-short", "team-a", ["victim", "victim.prod"], "victim"));
    await warning("team-a", "hijack-short", "HostNotGranted", "spec.hosts[1]");
    const vh = await pollUntil("team-a/hijack-short in the table", async () => (await table()).find((v) => v.name === "team-a/hijack-short"), { timeoutMs: 20_000 });
    expect(vh.domains).toEqual([fqdn("victim", "team-a")]);
    await unchanged(fqdn("victim", "prod"), ip(2));
  }, 60_000);

  it("a literal dotted host never takes a Service's alias, even when granted: AliasReserved", async () => {
    await env.api.applyYaml(igYaml("    - {namespaces: [team-a], hosts: [payments.prod]}\n"));
    await env.api.applyYaml(vs("hijack-literal", "team-a", ["payments.prod"], fqdn("victim", "prod")));
    await warning("team-a", "hijack-literal", "AliasReserved", "spec.hosts[0]");
    const vhs = await table();
    expect(vhs.find((v) => v.name === "prod/payments")?.domains).toContain("payments.prod");
    expect(vhs.some((v) => v.name === "team-a/hijack-literal")).toBe(false);
    expect(await env.dns.query(fqdn("payments", "prod"), "A")).toEqual([G]);
  }, 60_000);

  it('"*" and non-Service hosts without a grant: HostNotGranted, no virtual host', async () => {
    await env.api.applyYaml(vs("hijack-star", "team-a", ["*", "api.example.com"], fqdn("victim", "prod")));
    await warning("team-a", "hijack-star", "HostNotGranted", "spec.hosts[0]");
    await warning("team-a", "hijack-star", "HostNotGranted", "spec.hosts[1]");
    expect((await table()).some((v) => v.name === "team-a/hijack-star")).toBe(false);
    await unchanged(fqdn("victim", "prod"), ip(2));
  }, 60_000);

  it("a granted cross-namespace route is accepted and redirected", async () => {
    await env.api.applyYaml(igYaml(`    - {namespaces: [team-a], hosts: [payments.prod, ${fqdn("cart", "shop")}]}\n`));
    await env.api.applyYaml(vs("cart", "team-a", [fqdn("cart", "shop")], fqdn("cart", "shop")));
    await waitA(env.dns, fqdn("cart", "shop"), [G]);
    const vh = (await table()).find((v) => v.name === "team-a/cart");
    expect(vh?.domains).toContain(fqdn("cart", "shop"));
  }, 60_000);

  it("a DNS opt-out on a VirtualService acts only in its own namespace: OptOutNotOwned, the Service stays redirected", async () => {
    const optOut = ", labels: {canal.io/dns-redirect: \"false\"}";
    await env.api.applyYaml(vs("opt-out", "team-a", [fqdn("payments", "prod")], fqdn("payments", "prod"), "", optOut));
    await warning("team-a", "opt-out", "OptOutNotOwned", "spec.hosts[0]");
    expect(await env.dns.query(fqdn("payments", "prod"), "A")).toEqual([G]);
    const entry = (await igStatus(env.api)).dns?.entries?.find((x) => x.name === fqdn("payments", "prod"));
    expect(entry?.state).toBe("Redirected");
    // The owner's own opt-out still works.
    await env.api.applyYaml(vs("opt-out", "prod", ["payments"], "payments", "", optOut));
    await waitA(env.dns, fqdn("payments", "prod"), [ip(1)]);
    await waitEntry(env.api, fqdn("payments", "prod"), "OptedOut");
  }, 60_000);

  it("Services of system namespaces (kube-system, the controller's own, --system-namespaces) are never redirected: SystemNamespace", async () => {
    await env.api.applyYaml([vs("sysdns", "kube-system", ["sysdns"], "sysdns"), vs("prom", "monitoring", ["prom"], "prom"), vs("own", "istio-system", ["own"], "own")].join("---\n"));
    await warning("kube-system", "sysdns", "SystemNamespace", "spec.hosts[0]");
    await warning("monitoring", "prom", "SystemNamespace", "spec.hosts[0]");
    await warning("istio-system", "own", "SystemNamespace", "spec.hosts[0]");
    await unchanged(fqdn("sysdns", "kube-system"), ip(4));
    await unchanged(fqdn("prom", "monitoring"), ip(5));
    await unchanged(fqdn("own", "istio-system"), ip(6));
    // A tenant routing to a system Service as a destination does not redirect it either.
    await env.api.applyYaml(igYaml(`    - {namespaces: [team-a], hosts: [api.internal.example]}\n`));
    await env.api.applyYaml(vs("to-system", "team-a", ["api.internal.example"], fqdn("sysdns", "kube-system")));
    await pollUntil("team-a/to-system in the table", async () => (await table()).find((v) => v.name === "team-a/to-system"), { timeoutMs: 20_000 });
    await unchanged(fqdn("sysdns", "kube-system"), ip(4));
  }, 60_000);

  it("a tenant may route to another namespace's Service from its own host; that Service is not redirected", async () => {
    await env.api.applyYaml(`${svc("frontend", "team-a", 7)}---\n${vs("frontend", "team-a", ["frontend"], fqdn("victim", "prod"))}`);
    await waitA(env.dns, fqdn("frontend", "team-a"), [G]);
    await unchanged(fqdn("victim", "prod"), ip(2));
  }, 60_000);

  it("canal plan lists every refusal with its reason next to the DNS changes", async () => {
    const r = await canal(["plan", "--kubeconfig", env.api.kubeconfigPath, "--system-namespaces", "monitoring"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const line of [
      "! VirtualService team-a/hijack-fqdn spec.hosts[0]: HostNotOwned: ",
      "! VirtualService team-a/hijack-short spec.hosts[1]: HostNotGranted: ",
      "! VirtualService team-a/hijack-star spec.hosts[0]: HostNotGranted: ",
      "! VirtualService team-a/opt-out spec.hosts[0]: OptOutNotOwned: ",
      "! VirtualService monitoring/prom spec.hosts[0]: SystemNamespace: ",
    ]) expect(r.stdout).toContain(line);
    expect(r.stdout).not.toContain(`+ ${fqdn("victim", "prod")}`);
  }, 60_000);
});

describe("canal compile shows the refusals", () => {
  it("a tenant's hijack attempts as file:line: field: message (Reason), exit 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "canal-ownership-"));
    try {
      const gateway = readFileSync(join(REPO, "examples", "helloworld", "gateway.yaml"), "utf8");
      const file = join(dir, "tenant.yaml");
      writeFileSync(file, `${gateway}---\n${svc("victim", "prod", 2)}---\n${vs("hijack", "team-a", [fqdn("victim", "prod"), "*"], fqdn("victim", "prod"))}`);
      const r = await canal(["compile", file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/tenant\.yaml:\d+: spec\.hosts\[0\]: .*\(HostNotOwned\)/);
      expect(r.stderr).toMatch(/tenant\.yaml:\d+: spec\.hosts\[1\]: .*\(HostNotGranted\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
