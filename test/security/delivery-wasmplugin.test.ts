// Delivery proof in the default mode, WasmPlugin, through a real istiod (test/istio/world.ts):
// both charts as helm renders them, a gateway pod (upstream Envoy bootstrapped as pilot-agent
// would), and an in-process controller with DNS whose prober reaches the one gateway pod on the
// chart's port (Istio's listener binds 0.0.0.0, so with one pod the port is that pod). A written
// WasmPlugin proves nothing: istiod is paused (SIGSTOP) so the WasmPlugin carries a table the pod
// does not run yet, and the name must wait for the pod, not for the write.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DnsManager } from "../../controller/src/sinks/dns/manager.ts";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { find } from "../charts/helm.ts";
import type { KubeObject } from "../support/k8s.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { igStatus } from "../dns/env.ts";
import { startIstioWorld, SYSTEM_NS, type IstioWorld } from "../istio/world.ts";
import { FQDN, helloworldVsYaml, PROBE_HOST, readinessProbe } from "./delivery-env.ts";

const PLUGIN_PATH = `/apis/extensions.istio.io/v1alpha1/namespaces/${SYSTEM_NS}/wasmplugins/canal-canal`;

let world: IstioWorld;
let port: number;
let controller: Controller | undefined;
let kubelet: NodeJS.Timeout | undefined;
let ready: boolean | undefined;
let paused = false;
const logs: string[] = [];

async function pluginVersion(): Promise<string | undefined> {
  const r = await world.api.request("GET", PLUGIN_PATH);
  return r.status === 200 ? (r.json as { spec: { pluginConfig: { version: string } } }).spec.pluginConfig.version : undefined;
}

async function dnsEntries(): Promise<string[]> {
  const cm = await world.api.get<KubeObject & { data?: Record<string, string> }>("/api/v1/namespaces/kube-system/configmaps/canal-dns");
  const state = JSON.parse(cm.data?.["canal-state.json"] ?? '{"entries":[]}') as { entries: Array<{ fqdn: string }> };
  return state.entries.map((e) => e.fqdn);
}

/** The endpoint controller's slice for the one gateway pod, ready as its readiness probe says. */
async function publishEndpoint(isReady: boolean): Promise<void> {
  await world.api.applyYaml(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: canal-gateway-pod0, namespace: ${SYSTEM_NS}, labels: {kubernetes.io/service-name: canal-gateway}}
addressType: IPv4
endpoints: [{addresses: ["10.77.0.1"], conditions: {ready: ${isReady}}, targetRef: {kind: Pod, namespace: ${SYSTEM_NS}, name: canal-gateway-0}}]
ports: [{name: http, port: ${port}, protocol: TCP}]
`);
  ready = isReady;
}

beforeAll(async () => {
  world = await startIstioWorld("delivery-wasm");
  port = (await world.installCharts("wasmplugin")).port;
  // helloworld listens on the gateway's port, so the Gateway and the gateway Service expose it.
  await world.addBackend("helloworld", "default", port);
  await world.api.applyYaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: canal-dns, namespace: kube-system}\ndata: {}\n");
  await world.startGateway("canal-gateway-0");
  // Kubelet + endpoint controller for the one pod (bounded by the test's lifetime).
  const tick = (): void => {
    readinessProbe(LOOPBACK, port)
      .then((r) => (r.ok !== ready ? publishEndpoint(r.ok) : undefined))
      .catch(() => undefined)
      .finally(() => {
        if (kubelet !== undefined) kubelet = setTimeout(tick, 200);
      });
  };
  kubelet = setTimeout(tick, 0);
}, 240_000);

afterAll(async () => {
  const t = kubelet;
  kubelet = undefined;
  if (t) clearTimeout(t);
  if (paused) world?.istiod.child.kill("SIGCONT");
  await controller?.stop();
  await world?.stop();
});

it("before the WasmPlugin reaches the pod, the chart's readiness probe gets no 200 (Envoy's own 503: the route configuration has no cluster for it, no x-canal-table): not Ready", async () => {
  const deployment = find(world.install!.gatewayObjects, "Deployment");
  const probe = (deployment.spec as { template: { spec: { containers: Array<{ readinessProbe: { httpGet: { port: number; httpHeaders: Array<{ name: string; value: string }> } } }> } } }).template.spec.containers[0]!.readinessProbe;
  expect(probe.httpGet.port).toBe(port);
  expect(probe.httpGet.httpHeaders).toEqual([{ name: "Host", value: PROBE_HOST }]);
  const r = await readinessProbe(LOOPBACK, probe.httpGet.port);
  expect(r.ok).toBe(false);
  expect(r.status).toBe(503);
  expect(r.version).toBeUndefined();
  await pollUntil("the endpoint published not ready", () => (ready === false ? true : undefined), { timeoutMs: 20_000 });
}, 60_000);

it("a written WasmPlugin the pod does not run yet moves no DNS; the name flips once the pod serves it", async () => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(world.api.kubeconfigPath);
  const log = jsonLogger("debug", { identity: "wasm-dns" }, (l) => logs.push(l));
  const dns = new DnsManager(kc, { configMap: { namespace: "kube-system", name: "canal-dns" }, ttlSeconds: 5, drainSeconds: 7, dryRun: false, mountPath: "/etc/coredns/canal", clusterDomain: "cluster.local", pollMs: 1000, probe: { dial: () => ({ host: LOOPBACK, port }), fastMs: 100 } }, log);
  controller = new Controller({ kc, kinds: await resolveKinds(kc), log, identity: "wasm-dns", leaseNamespace: SYSTEM_NS, leaseDurationSeconds: 3, validateRegex: loadRegexValidator(), dns, wasmPlugin: { url: `file://${ensureCanalWasm()}` } });
  await controller.start();
  // The first WasmPlugin reaches the pod through istiod: Ready.
  const v0 = await pollUntil("a WasmPlugin", pluginVersion, { timeoutMs: 30_000 });
  await pollUntil("the pod to serve the first table and be Ready", async () => ((await readinessProbe(LOOPBACK, port)).version === v0 && ready === true ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });

  world.istiod.child.kill("SIGSTOP");
  paused = true;
  await world.api.applyYaml(helloworldVsYaml());
  const v1 = await pollUntil("the WasmPlugin to carry the new table", async () => {
    const v = await pluginVersion();
    return v !== undefined && v !== v0 ? v : undefined;
  }, { timeoutMs: 30_000 });
  const entry = await pollUntil("the name to wait on the pod", async () => (await igStatus(world.api)).dns?.entries?.find((e) => e.name === FQDN && e.reason === "RoutesNotServed"), { timeoutMs: 20_000, intervalMs: 100 });
  expect(entry.message).toContain(`pod ${SYSTEM_NS}/canal-gateway-0 (10.77.0.1) runs table ${v0}, which does not route ${FQDN}`);
  expect(entry.message).toContain(`WasmPluginApplied: WasmPlugin ${SYSTEM_NS}/canal-canal carries table ${v1}`);
  for (let i = 0; i < 20; i++) {
    expect(await dnsEntries()).not.toContain(FQDN);
    await new Promise((r) => setTimeout(r, 100));
  }

  world.istiod.child.kill("SIGCONT");
  paused = false;
  await pollUntil("the name to flip once the pod serves the table", async () => ((await dnsEntries()).includes(FQDN) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
  expect((await readinessProbe(LOOPBACK, port)).version).toBe(v1);
}, 180_000);
