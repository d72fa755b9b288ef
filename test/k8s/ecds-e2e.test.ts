// End to end: a VirtualService change applied to a REAL API server reaches a REAL Envoy over ECDS
// from the controller, and changes where a real request goes. Status follows Envoy's ACK.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { AdsGateway, startAdsGateway, Upstreams } from "../ecds/harness.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { startUpstream } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");

let api: KubeApi;
let controller: Controller;
let publisher: EcdsPublisher;
let upstreams: Upstreams;
let gw: AdsGateway;
const logs: string[] = [];

beforeAll(async () => {
  const wasmPath = ensureCanalWasm();
  api = await startKubeApi({ name: "ecds-e2e" });
  await api.prepareForCanal();
  const kc = api.kubeConfig();
  publisher = new EcdsPublisher({ code: { local: wasmPath } });
  const { port } = await publisher.server.start(`${LOOPBACK}:0`);
  controller = new Controller({
    kc,
    kinds: await resolveKinds(kc),
    log: jsonLogger("debug", {}, (l) => logs.push(l)),
    identity: "e2e",
    leaseNamespace: "istio-system",
    leaseDurationSeconds: 3,
    publisher,
    validateRegex: loadRegexValidator(),
  });
  await controller.start();
  const hello = await startUpstream("helloworld");
  const bye = await startUpstream("goodbye");
  upstreams = new Upstreams(new Map([["helloworld", hello], ["goodbye", bye]]));
  gw = await startAdsGateway({
    nodeId: "gw-e2e",
    nodeCluster: "istio-system/canal",
    wasmPath,
    adsPort: port,
    upstreams: new Upstreams(new Map()),
    extraClusters: [
      { name: "outbound|5000||helloworld.default.svc.cluster.local", host: LOOPBACK, port: hello.port },
      { name: "outbound|5000||goodbye.default.svc.cluster.local", host: LOOPBACK, port: bye.port },
    ],
  });
}, 240_000);

afterAll(async () => {
  await gw?.envoy.stop();
  await controller?.stop();
  await publisher?.server.stop();
  await upstreams?.close();
  await api?.stop();
});

it("a VirtualService change in the API server changes where a real request goes, over ECDS", async () => {
  // Before any table: the filter's default (empty table) answers 404, never a hang or a 5xx.
  expect(await gw.upstreamOf("helloworld.default.svc.cluster.local:5000", "/hello")).toBe("404");
  await api.applyYaml(SEED);
  await gw.waitRoute("helloworld.default.svc.cluster.local:5000", "/hello", "helloworld", 30_000);
  await api.applyYaml(`apiVersion: v1
kind: Service
metadata: {name: goodbye, namespace: default}
spec: {ports: [{port: 5000, name: http}], selector: {app: goodbye}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworld, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [canal]
  http:
  - match: [{uri: {exact: /hello}}]
    route: [{destination: {host: goodbye.default.svc.cluster.local}}]
`);
  await gw.waitRoute("helloworld.default.svc.cluster.local:5000", "/hello", "goodbye", 30_000);
  // Status follows the gateway's ACK: Programmed with the gateway listed at the table's version.
  const ig = await pollUntil("Programmed=True with the gateway's ACK", async () => {
    const o = await api.get<KubeObject & { status?: { tableVersion?: string; conditions?: Array<{ type: string; status: string; reason: string }>; gateways?: Array<{ name: string; acked?: boolean; tableVersion?: string }> } }>(
      "/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal",
    );
    const programmed = o.status?.conditions?.find((c) => c.type === "Programmed");
    return programmed?.status === "True" && o.status?.gateways?.[0]?.acked ? o : undefined;
  }, { timeoutMs: 20_000, onTimeout: () => logs.slice(-10).join("\n") });
  expect(ig.status?.gateways?.[0]?.name).toBe("gw-e2e");
  expect(ig.status?.gateways?.[0]?.tableVersion).toBe(ig.status?.tableVersion);
  expect(ig.status?.conditions?.find((c) => c.type === "Programmed")?.reason).toBe("Acknowledged");
}, 120_000);
