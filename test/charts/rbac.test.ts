// Is the canal-control chart's RBAC enough, and no more? The chart is applied to a real API
// server; the controller then runs as a real process with a token of the chart's ServiceAccount
// (TokenRequest), with the flags the chart renders, through a create/update/delete cycle. It must
// never be refused, and the same token must be refused what the controller does not own.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HOSTS_KEY } from "../../controller/src/sinks/dns/state.ts";
import type { RouteTable } from "../../schema/route-table.ts";
import { GATEWAY_CONTROLLER_NAME } from "../../controller/src/status/httproute-status.ts";
import { gatewayApiCrdsPath } from "../support/gateway-api.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { pollUntil, spawnTracked, stopTracked } from "../support/processes.ts";
import { applyAll, CONTROL_CHART, find, REPO, SEED_CONTROL_SETS, sets, template } from "./helm.ts";

const NS = "istio-system";
const SA = "canal-controller";
const IDENTITY = "canal-controller-7d9f-abcde"; // what the pod name would be
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");

let api: KubeApi;
let saToken = "";
let proc: ChildProcess | undefined;
let kubeconfigPath = "";
const output: string[] = [];
/** How a refusal shows in the controller's log (the API server's message or the client's). */
const REFUSED = /forbidden|\b403\b|cannot list|cannot get|cannot create|cannot patch|cannot update|cannot delete/i;

function startController(objects: KubeObject[]): void {
  output.length = 0;
  proc = spawnTracked(process.execPath, [join(REPO, "bin/canal.mjs"), ...runArgs(objects, kubeconfigPath)], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
  proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
}

/** SIGTERM; the controller must exit 0 (a leader releases its Lease on the way out). */
async function stopController(): Promise<void> {
  const p = proc;
  if (p === undefined) return;
  const exited = new Promise<number | null>((resolve) => p.once("exit", (code) => resolve(code)));
  p.kill("SIGTERM");
  expect(await exited).toBe(0);
  proc = undefined;
}

function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, intervalMs: 100, onTimeout: () => `controller output tail:\n${output.join("").split("\n").slice(-25).join("\n")}` });
}

/** The controller's rendered args with the metrics address moved to an ephemeral loopback port. */
function runArgs(objects: KubeObject[], kubeconfig: string): string[] {
  const d = find(objects, "Deployment", "canal-controller") as KubeObject & { spec: { template: { spec: { containers: { name: string; args: string[] }[] } } } };
  const args = d.spec.template.spec.containers.find((c) => c.name === "controller")?.args ?? [];
  expect(args[0]).toBe("controller");
  expect(args).toContain("--metrics-address=0.0.0.0:9090");
  return [...args.map((a) => (a.startsWith("--metrics-address=") ? "--metrics-address=127.0.0.1:0" : a)), "--kubeconfig", kubeconfig, "--identity", IDENTITY];
}

async function plugin(): Promise<(KubeObject & { spec: { pluginConfig: RouteTable; url: string; sha256?: string } }) | undefined> {
  const r = await api.request("GET", `/apis/extensions.istio.io/v1alpha1/namespaces/${NS}/wasmplugins/canal-canal`);
  return r.status === 200 ? (r.json as KubeObject & { spec: { pluginConfig: RouteTable; url: string; sha256?: string } }) : undefined;
}

const clustersOf = (t: RouteTable): string[] => t.virtualHosts.flatMap((v) => v.routes.flatMap((x) => (x.route ?? []).map((d) => d.cluster)));

/** Status of a request made with the ServiceAccount's token. */
async function asSa(method: string, path: string, body?: unknown, contentType?: string): Promise<number> {
  return (await api.request(method, path, { token: saToken, body, contentType })).status;
}

beforeAll(async () => {
  api = await startKubeApi({ name: "charts-rbac" });
  await api.installIstioCrds();
  await api.installCrds([join(CONTROL_CHART, "crds", "internalgateway.yaml"), gatewayApiCrdsPath("standard")]);
  await api.applyYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n");
}, 180_000);

afterAll(async () => {
  if (proc) await stopTracked(proc);
  proc = undefined;
  await api?.stop();
});

it("the controller, with only the chart's RBAC, goes through create/update/delete without a single refusal", async () => {
  const objects = await template(CONTROL_CHART, "canal-control", NS, sets(SEED_CONTROL_SETS));
  expect(await applyAll(api, objects, { dryRun: false })).toEqual([]);
  const tr = await api.create<KubeObject & { status: { token: string } }>(`/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 3600 },
  });
  saToken = tr.status.token;
  const review = await api.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    token: saToken,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  });
  expect((review.json as { status?: { userInfo?: { username?: string } } }).status?.userInfo?.username).toBe(`system:serviceaccount:${NS}:${SA}`);
  const kubeconfig = join(api.workDir, "canal-controller.kubeconfig");
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server: api.server, "certificate-authority": api.caPath } }],
    users: [{ name: SA, user: { token: saToken } }],
    contexts: [{ name: "sa", context: { cluster: "test", user: SA } }],
    "current-context": "sa",
  }), { mode: 0o600 });

  kubeconfigPath = kubeconfig;
  startController(objects);

  // Create: the seed's objects (the InternalGateway is the chart's), plus a VirtualService in
  // "default" with a bad regex, which must become a Warning Event there.
  await api.applyYaml(SEED);
  await api.applyYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: default}
spec:
  hosts: [helloworld.default.svc.cluster.local]
  gateways: [istio-system/canal]
  http: [{match: [{uri: {regex: "/users/(\\\\d+"}}], route: [{destination: {host: helloworld.default.svc.cluster.local}}]}]
`);
  const first = await until("the WasmPlugin written under the ServiceAccount", async () => {
    const p = await plugin();
    return p && clustersOf(p.spec.pluginConfig).includes("outbound|5000||helloworld.default.svc.cluster.local") ? p : undefined;
  }, 60_000);
  expect(first.spec.url).toBe(SEED_CONTROL_SETS["wasm.url"]);
  expect(first.spec.sha256).toBe(SEED_CONTROL_SETS["wasm.sha256"]);
  expect((first.metadata.managedFields as { manager?: string }[] | undefined)?.some((f) => f.manager === "canal-controller")).toBe(true);

  const programmed = await until("InternalGateway status Programmed=True", async () => {
    const ig = await api.get<KubeObject & { status?: { conditions?: { type: string; status: string; reason: string }[] } }>(`/apis/canal.io/v1alpha1/namespaces/${NS}/internalgateways/canal`);
    const c = ig.status?.conditions?.find((x) => x.type === "Programmed");
    return c?.status === "True" ? c : undefined;
  });
  expect(programmed.reason).toBe("WasmPluginApplied");
  await until("a Warning Event on the broken VirtualService in default", async () => {
    const events = await api.list<KubeObject & { involvedObject: { name: string }; type: string }>("/api/v1/namespaces/default/events");
    return events.items.find((e) => e.involvedObject.name === "broken" && e.type === "Warning");
  });
  const lease = await api.get<KubeObject & { spec: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/canal-controller`);
  expect(lease.spec.holderIdentity).toBe(IDENTITY);
  // Gateway API: an HTTPRoute is read and its status.parents written under the same token.
  await api.applyYaml(`apiVersion: v1
kind: Service
metadata: {name: hello-mesh, namespace: default}
spec: {selector: {app: hello-mesh}, ports: [{name: http, port: 5000}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hello-mesh, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: hello-mesh}]
  rules: [{backendRefs: [{name: hello-mesh, port: 5000}]}]
`);
  await until("HTTPRoute status written under the ServiceAccount", async () => {
    const r = await api.get<KubeObject & { status?: { parents?: { controllerName: string; conditions: { type: string; status: string }[] }[] } }>("/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/hello-mesh");
    return r.status?.parents?.find((x) => x.controllerName === GATEWAY_CONTROLLER_NAME && x.conditions.some((c) => c.type === "Accepted" && c.status === "True"));
  });

  // Update: a new destination port; the WasmPlugin follows.
  await api.applyYaml(`apiVersion: v1
kind: Service
metadata: {name: helloworld, namespace: default}
spec: {clusterIP: 10.96.12.7, selector: {app: helloworld}, ports: [{name: http, port: 5000}, {name: http-alt, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworld, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [canal]
  http: [{match: [{uri: {exact: /hello}}], route: [{destination: {host: helloworld.default.svc.cluster.local, port: {number: 8080}}}]}]
`);
  await until("the WasmPlugin updated", async () => {
    const p = await plugin();
    return p && clustersOf(p.spec.pluginConfig).includes("outbound|8080||helloworld.default.svc.cluster.local") ? p : undefined;
  });

  // Delete: without its InternalGateway the WasmPlugin is removed (list across namespaces + delete).
  await api.delete(`/apis/canal.io/v1alpha1/namespaces/${NS}/internalgateways/canal`);
  await until("the WasmPlugin removed", async () => ((await plugin()) === undefined ? true : undefined));

  await stopController();
  const released = await api.get<KubeObject & { spec: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/canal-controller`);
  expect(released.spec.holderIdentity).toBeUndefined(); // the release is an update of the named Lease

  const log = output.join("");
  expect(log).toContain("wasmplugin applied");
  expect(log).not.toMatch(REFUSED);
}, 180_000);

it("the same token is refused what the controller does not own", async () => {
  expect(saToken).not.toBe("");
  const cm = (ns: string, name: string): unknown => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data: { x: "y" } });
  const wp = { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "canal-x", namespace: "default" }, spec: { url: "oci://r/x:1" } };
  expect(await asSa("POST", "/api/v1/namespaces/kube-system/configmaps", cm("kube-system", "evil"))).toBe(403);
  expect(await asSa("GET", "/api/v1/namespaces/kube-system/configmaps/coredns")).toBe(403); // DNS is off in this release
  expect(await asSa("POST", "/apis/extensions.istio.io/v1alpha1/namespaces/default/wasmplugins", wp)).toBe(403);
  expect(await asSa("DELETE", `/api/v1/namespaces/default/services/helloworld`)).toBe(403);
  expect(await asSa("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/someone-else`)).toBe(403);
  expect(await asSa("POST", "/apis/networking.istio.io/v1/namespaces/default/virtualservices", { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "x" }, spec: { hosts: ["x"] } })).toBe(403);
  expect(await asSa("GET", "/api/v1/secrets")).toBe(403);
  expect(await asSa("POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes", { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: "x" }, spec: {} })).toBe(403);
  expect(await asSa("GET", "/apis/gateway.networking.k8s.io/v1beta1/referencegrants")).toBe(200);
  // ...while what it needs is allowed (so the 403s above are RBAC, not a broken token).
  expect(await asSa("GET", "/apis/networking.istio.io/v1/virtualservices")).toBe(200);
  expect(await asSa("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/canal-controller`)).toBe(200);
  expect(await asSa("GET", "/apis/discovery.k8s.io/v1/endpointslices")).toBe(403); // DNS off: no endpoint reads
});

it("with dns.enabled, the controller writes canal-dns without a refusal, and the token may touch exactly that one ConfigMap in kube-system", async () => {
  const objects = await template(CONTROL_CHART, "canal-control", NS, [...sets(SEED_CONTROL_SETS), "--set", "dns.enabled=true"]);
  expect(await applyAll(api, objects, { dryRun: false })).toEqual([]); // also brings the InternalGateway back
  // A VirtualService for helloworld's own name, and a ready gateway endpoint: DNS points a name
  // at the gateway only when a VirtualService routes it and the gateway can serve it.
  // (The first test left helloworld on a port the gateway does not serve and a VirtualService
  // claiming its name: both would rightly keep the name Pending.)
  await api.delete("/apis/networking.istio.io/v1/namespaces/default/virtualservices/broken");
  await api.applyYaml(`apiVersion: v1
kind: Service
metadata: {name: helloworld, namespace: default}
spec: {clusterIP: 10.96.12.7, selector: {app: helloworld}, ports: [{name: http, port: 5000}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworld-fqdn, namespace: istio-system}
spec:
  hosts: [helloworld.default.svc.cluster.local]
  gateways: [canal]
  http: [{route: [{destination: {host: helloworld.default.svc.cluster.local}}]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: canal-gateway-a, namespace: istio-system, labels: {kubernetes.io/service-name: canal-gateway}}
addressType: IPv4
endpoints: [{addresses: ["10.1.0.5"], conditions: {ready: true}}]
ports: [{port: 5000, name: http-5000}]
`);
  await until("the DNS Role to take effect", async () => ((await asSa("GET", "/api/v1/namespaces/kube-system/configmaps/canal-dns")) === 200 ? true : undefined), 10_000);
  startController(objects);
  // The controller's write with the chart's token is what this test is about. No gateway pod
  // answers the delivery probe at 10.1.0.5 here, so helloworld rightly stays Pending
  // (RoutesNotServed, docs/adr/0004-delivery-proof.md) and the hosts file names no Service yet.
  const hosts = await until("the controller to write canal-dns", async () => {
    const cm = await api.get<KubeObject & { data?: Record<string, string> }>("/api/v1/namespaces/kube-system/configmaps/canal-dns");
    return cm.data?.[HOSTS_KEY];
  }, 60_000);
  expect(hosts).not.toContain("helloworld.default.svc.cluster.local");
  await stopController();
  expect(output.join("")).not.toMatch(REFUSED);

  await api.applyYaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns, namespace: kube-system}\ndata: {Corefile: '.:53 {}'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-proxy, namespace: kube-system}\ndata: {}\n");
  const merge = "application/merge-patch+json";
  expect(await asSa("PATCH", "/api/v1/namespaces/kube-system/configmaps/canal-dns", { data: { probe: "written with the token" } }, merge)).toBe(200);
  // CoreDNS's own ConfigMap: the controller never reads or writes it (docs/dns.md), so by default
  // the chart grants nothing on it (it used to grant get/update/patch).
  expect(await asSa("GET", "/api/v1/namespaces/kube-system/configmaps/coredns")).toBe(403);
  expect(await asSa("PATCH", "/api/v1/namespaces/kube-system/configmaps/coredns", { data: { Corefile: ".:53 {\n  # canal begin\n  # canal end\n}" } }, merge)).toBe(403);
  expect(await asSa("GET", "/api/v1/namespaces/kube-system/configmaps/kube-proxy")).toBe(403);
  expect(await asSa("GET", "/api/v1/namespaces/kube-system/configmaps")).toBe(403);
  expect(await asSa("POST", "/api/v1/namespaces/kube-system/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "canal-dns-2" } })).toBe(403);
  expect(await asSa("DELETE", "/api/v1/namespaces/kube-system/configmaps/canal-dns")).toBe(403);
  expect(await asSa("GET", "/apis/discovery.k8s.io/v1/endpointslices")).toBe(200);
  // DNS gating reads EndpointSlices only; core Endpoints are refused (the chart used to grant them).
  expect(await asSa("GET", "/api/v1/endpoints")).toBe(403);
}, 120_000);

it("dns.corefileAccess is an explicit opt-in: read grants get on the coredns ConfigMap only, readWrite adds update and patch", async () => {
  const merge = "application/merge-patch+json";
  const corefile = { data: { Corefile: ".:53 {}" } };
  const dns = [...sets(SEED_CONTROL_SETS), "--set", "dns.enabled=true"];
  expect(await applyAll(api, await template(CONTROL_CHART, "canal-control", NS, [...dns, "--set", "dns.corefileAccess=read"]), { dryRun: false })).toEqual([]);
  await until("get on coredns", async () => ((await asSa("GET", "/api/v1/namespaces/kube-system/configmaps/coredns")) === 200 ? true : undefined), 10_000);
  expect(await asSa("PATCH", "/api/v1/namespaces/kube-system/configmaps/coredns", corefile, merge)).toBe(403);
  expect(await applyAll(api, await template(CONTROL_CHART, "canal-control", NS, [...dns, "--set", "dns.corefileAccess=readWrite"]), { dryRun: false })).toEqual([]);
  await until("patch on coredns", async () => ((await asSa("PATCH", "/api/v1/namespaces/kube-system/configmaps/coredns", corefile, merge)) === 200 ? true : undefined), 10_000);
  expect(await asSa("GET", "/api/v1/namespaces/kube-system/configmaps/kube-proxy")).toBe(403);
  expect(await asSa("DELETE", "/api/v1/namespaces/kube-system/configmaps/coredns")).toBe(403);
  // Back to the default: nothing on coredns again.
  expect(await applyAll(api, await template(CONTROL_CHART, "canal-control", NS, dns), { dryRun: false })).toEqual([]);
  await until("coredns refused again", async () => ((await asSa("GET", "/api/v1/namespaces/kube-system/configmaps/coredns")) === 403 ? true : undefined), 10_000);
}, 60_000);
