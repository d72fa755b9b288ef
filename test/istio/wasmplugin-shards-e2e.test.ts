// Sharded WasmPlugin delivery end to end (ADR 0005): the charts as rendered (the Gateway's loopback
// table server), the controller's sharded sink (small shard bounds so a few dozen VirtualServices
// make several shards), a real istiod and a real Envoy gateway pod running build/canal.wasm as
// router + carriers. The table arrives as shards and is routed; one VirtualService change writes
// 2 objects and is served; a manifest naming a shard that does not exist keeps the old table (the
// probe never reports the new version) and a fresh pod answers 503 until every shard is there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteTableManifest } from "../../schema/route-table-shards.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { headerValues } from "../support/http.ts";
import type { KubeObject, KubeWatch } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";
import { echoOf, startIstioWorld, SYSTEM_NS, type GatewayPod, type IstioWorld } from "./world.ts";

const PLUGINS = `/apis/extensions.istio.io/v1alpha1/namespaces/${SYSTEM_NS}/wasmplugins`;
const SERVICES = 40;

let world: IstioWorld;
let gw: GatewayPod;
let controller: Controller | undefined;
const logs: string[] = [];

type Plugin = KubeObject & { spec: { pluginConfig: Record<string, unknown> } };

async function startController(identity: string): Promise<void> {
  await controller?.stop();
  const kc = world.api.kubeConfig();
  controller = new Controller({
    kc, kinds: await resolveKinds(kc), log: jsonLogger("debug", { identity }, (l) => logs.push(l)), identity, leaseNamespace: SYSTEM_NS, leaseDurationSeconds: 2,
    validateRegex: loadRegexValidator(),
    // Always sharded, shards of at most 3 kB: 40 VirtualServices make several.
    wasmPlugin: { url: `file://${ensureCanalWasm()}`, shards: "always", tablePort: world.install!.tablePort, shardBoundBytes: 3_000, shardTargetBytes: 1_500 },
  });
  await controller.start();
}

function vs(i: number, service = "alpha"): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: `svc-${i}`, namespace: SYSTEM_NS },
    spec: { hosts: [`svc-${i}.bulk.example.com`], gateways: ["canal"], http: [{ route: [{ destination: { host: `${service}.default.svc.cluster.local`, port: { number: 9080 } } }] }] },
  } as KubeObject;
}

async function manifest(): Promise<RouteTableManifest | undefined> {
  const r = await world.api.request("GET", `${PLUGINS}/canal-canal-manifest`);
  return r.status === 200 ? ((r.json as Plugin).spec.pluginConfig as unknown as RouteTableManifest) : undefined;
}

/** What the gateway's probe says: the version it serves (200) or its status. */
async function probe(): Promise<{ status: number; version?: string; body: string }> {
  const res = await world.send({ host: "canal-probe.invalid", path: "/" });
  return { status: res.status, version: headerValues(res, "x-canal-table")[0], body: res.body };
}

function controllerVersion(): string | undefined {
  return controller?.result?.gateways.find((g) => g.ref.name === "canal")?.table.version;
}

const diag = (): string => `${logs.slice(-6).join("\n")}\n${gw?.envoy.logTail(20) ?? ""}\n${world.istiod.logTail(10)}`;

/** Until the gateway serves the controller's current table (the manifest's version, every shard in). */
async function untilServed(what: string): Promise<string> {
  return pollUntil(what, async () => {
    const m = await manifest();
    const v = controllerVersion();
    if (m === undefined || m.version !== v) return undefined;
    return (await probe()).version === v ? v : undefined;
  }, { timeoutMs: 90_000, intervalMs: 200, onTimeout: diag });
}

async function untilRoutedTo(host: string, upstream: string): Promise<void> {
  await pollUntil(`${host} → ${upstream}`, async () => (echoOf(await world.send({ host, path: "/" }))?.upstream === upstream ? true : undefined), { timeoutMs: 60_000, intervalMs: 200, onTimeout: diag });
}

async function writesUntilFence(watch: KubeWatch<Plugin>, fence: string): Promise<string[]> {
  await world.api.apply([{ apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: fence, namespace: SYSTEM_NS, labels: { app: "nothing" } }, spec: { url: "oci://fence.example/x:1", selector: { matchLabels: { app: "nothing" } } } } as KubeObject]);
  const seen: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const e = await watch.next(20_000);
    if (e.object.metadata.name === fence) break;
    seen.push(`${e.type} ${e.object.metadata.name}`);
  }
  await world.api.delete(`${PLUGINS}/${fence}`);
  return seen;
}

beforeAll(async () => {
  world = await startIstioWorld("shards-e2e");
  await world.addBackend("alpha", "default", 9080);
  await world.addBackend("beta", "default", 9080);
  await world.installCharts("wasmplugin");
  await startController("first");
  gw = await world.startGateway();
  for (let i = 0; i < SERVICES; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => world.api.apply([vs(i + j)])));
}, 300_000);

afterAll(async () => {
  await controller?.stop();
  await world?.stop();
});

describe("sharded WasmPlugin delivery through istiod and Envoy", () => {
  it("the table arrives as K shards on the table port and is routed", async () => {
    await untilServed("the sharded table served");
    const m = (await manifest())!;
    expect(m.shards.length).toBeGreaterThan(1);
    // Carriers sit on the loopback table listener, the router on the data listener only.
    const listeners = await gw.envoy.admin("/config_dump?resource=dynamic_listeners");
    expect(listeners).toContain(`"port_value": ${world.install!.tablePort}`);
    for (const i of [0, 7, SERVICES - 1]) await untilRoutedTo(`svc-${i}.bulk.example.com`, "alpha.default");
    expect((await world.send({ host: "nobody.bulk.example.com", path: "/" })).status).toBe(404);
  }, 120_000);

  it("one VirtualService change writes 2 objects and is served", async () => {
    const before = await untilServed("settled");
    const rv = (await world.api.list(PLUGINS)).metadata?.resourceVersion;
    const watch = await world.api.watch<Plugin>(PLUGINS, rv === undefined ? {} : { resourceVersion: rv });
    try {
      await world.api.apply([vs(5, "beta")]);
      await untilRoutedTo("svc-5.bulk.example.com", "beta.default");
      const after = await untilServed("the change served");
      expect(after).not.toBe(before);
      const writes = await writesUntilFence(watch, "fence-e2e");
      expect(writes).toHaveLength(2);
      expect(writes).toContain("MODIFIED canal-canal-manifest");
    } finally {
      watch.close();
    }
  }, 120_000);

  it("a manifest naming a shard that is not there: the old table stays, the probe never reports it, a new pod answers 503", async () => {
    const served = await untilServed("settled");
    await controller?.stop();
    controller = undefined;
    const m = (await manifest())!;
    const bogus = { ...m, version: "sha256:not-delivered", shards: m.shards.map((v, i) => (i === 1 ? `sha256:${"0".repeat(64)}` : v)) };
    await world.api.apply([{ apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "canal-canal-manifest", namespace: SYSTEM_NS }, spec: { pluginConfig: bogus } } as KubeObject], { fieldManager: "canal-test" });
    // The running pod keeps its complete table: give istiod and the router's tick time to see the manifest, then check it never moved.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const p = await probe();
      expect(p.version).toBe(served);
      expect(echoOf(await world.send({ host: "svc-0.bulk.example.com", path: "/" }))?.upstream).toBe("alpha.default");
    }
    // A fresh pod has no complete table: 503 for the probe and for requests.
    await gw.envoy.stop();
    gw = await world.startGateway();
    const fresh = await pollUntil("the new pod answers", async () => {
      const p = await probe();
      return p.status === 503 ? p : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200, onTimeout: diag });
    expect(fresh.version).not.toBe("sha256:not-delivered");
    const res = await world.send({ host: "svc-0.bulk.example.com", path: "/" });
    expect(res.status).toBe(503);
    expect(res.body).toContain("table incomplete");
    // The controller, restarted, reads the objects back and rewrites the manifest: served again.
    await startController("second");
    await untilServed("the restarted controller's table served");
    await untilRoutedTo("svc-0.bulk.example.com", "alpha.default");
  }, 180_000);
});
