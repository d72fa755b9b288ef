// `canal controller` as a real process against a real API server: health endpoints, metrics, and
// recovery when the API server restarts (gracefully and by crash) in the middle of a run.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RouteTable } from "../../schema/route-table.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");

let api: KubeApi;
let proc: ChildProcess | undefined;
const output: string[] = [];
let metricsUrl = "";

/** Polls `probe` (errors count as "not yet"); on timeout the message carries the controller's output. */
function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, intervalMs: 100, onTimeout: () => `controller output tail:\n${output.slice(-20).join("")}` });
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url);
  return { status: r.status, text: await r.text() };
}

async function pluginClusters(): Promise<string[] | undefined> {
  const r = await api.request("GET", "/apis/extensions.istio.io/v1alpha1/namespaces/istio-system/wasmplugins/canal-canal");
  if (r.status !== 200) return undefined;
  const t = (r.json as { spec: { pluginConfig: RouteTable } }).spec.pluginConfig;
  return t.virtualHosts.flatMap((v) => v.routes.flatMap((x) => (x.route ?? []).map((d) => d.cluster)));
}

beforeAll(async () => {
  api = await startKubeApi({ name: "controller-process" });
  await api.prepareForCanal();
  proc = spawn(process.execPath, [join(REPO, "bin/canal.mjs"), "controller", "--kubeconfig", api.kubeconfigPath, "--wasm-url", "oci://registry.example/canal:1",
    "--metrics-address", "127.0.0.1:0", "--lease-duration", "4", "--identity", "process-test"], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
  proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
  metricsUrl = await until("the controller's metrics address", async () => {
    for (const line of output.join("").split("\n")) {
      const m = /"metrics":"(http:\/\/[^"]+)\/metrics"/.exec(line);
      if (m?.[1]) return m[1];
    }
    return undefined;
  });
}, 180_000);

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
  }
  await api?.stop();
});

it("serves /healthz, /readyz and /metrics; delivers the seed table", async () => {
  expect((await get(`${metricsUrl}/healthz`)).status).toBe(200);
  await until("/readyz ok", async () => ((await get(`${metricsUrl}/readyz`)).status === 200 ? true : undefined));
  await api.applyYaml(SEED);
  // The seed's objects may reach the controller in more than one snapshot, so an earlier
  // WasmPlugin can carry a partial table: wait for the one with the seed's route.
  const clusters = await until("the WasmPlugin with the seed's route", async () => {
    const c = await pluginClusters();
    return c?.includes("outbound|5000||helloworld.default.svc.cluster.local") ? c : undefined;
  });
  expect(clusters).toContain("outbound|5000||helloworld.default.svc.cluster.local");
  const metrics = (await get(`${metricsUrl}/metrics`)).text;
  expect(metrics).toMatch(/canal_reconciles_total\{result="ok"\} [1-9]/);
  expect(metrics).toContain('canal_objects{kind="VirtualService"} 1');
  expect(metrics).toContain("canal_leader 1");
  expect(metrics).toMatch(/canal_table_bytes\{gateway="istio-system\/canal"\} [1-9]/);
}, 60_000);

it.each([
  ["graceful", false],
  ["crash", true],
])("recovers after an API server restart (%s) and converges on changes made after it", async (_name, kill) => {
  await api.restart({ kill });
  const svc = `svc-${kill ? "crash" : "graceful"}`;
  await api.applyYaml(`apiVersion: v1
kind: Service
metadata: {name: ${svc}, namespace: default}
spec: {ports: [{port: 8080, name: http}], selector: {app: ${svc}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${svc}, namespace: istio-system}
spec:
  hosts: [${svc}.default.svc.cluster.local]
  gateways: [canal]
  http:
  - route: [{destination: {host: ${svc}.default.svc.cluster.local}}]
`);
  await until(`the table to include ${svc}`, async () => {
    const c = await pluginClusters();
    return c?.includes(`outbound|8080||${svc}.default.svc.cluster.local`) ? c : undefined;
  }, 60_000);
}, 120_000);

it("SIGTERM: exits 0 and releases the lease", async () => {
  const exited = new Promise<number | null>((resolve) => proc?.once("exit", (code) => resolve(code)));
  proc?.kill("SIGTERM");
  expect(await exited).toBe(0);
  const lease = await api.get<KubeObject & { spec?: { holderIdentity?: string } }>("/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/canal-controller");
  expect(lease.spec?.holderIdentity).toBeUndefined();
}, 30_000);
