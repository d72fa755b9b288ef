// The etcd scale wall (FACTS: an object is limited to ~1.5 MiB): a route table too big for a
// WasmPlugin is never written half-way; status says TableTooLarge and points at ECDS. With
// --wasmplugin-shards=never: auto (the default) shards it (wasmplugin-shards-sink.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { MAX_PLUGIN_CONFIG_BYTES } from "../../controller/src/sinks/wasmplugin.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { pollUntil } from "../support/processes.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");

let api: KubeApi;
let controller: Controller;
const logs: string[] = [];

beforeAll(async () => {
  api = await startKubeApi({ name: "wasmplugin-limit" });
  await api.prepareForCanal();
  const kc = api.kubeConfig();
  controller = new Controller({
    kc, kinds: await resolveKinds(kc), log: jsonLogger("debug", {}, (l) => logs.push(l)), identity: "limit",
    leaseNamespace: "istio-system", leaseDurationSeconds: 3, wasmPlugin: { url: "oci://registry.example/canal:1", shards: "never" }, validateRegex: loadRegexValidator(),
  });
  await controller.start();
}, 180_000);

afterAll(async () => {
  await controller?.stop();
  await api?.stop();
});

type IgStatus = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };

it("a table over the WasmPlugin limit is not written; Programmed=False/TableTooLarge says to use ECDS", async () => {
  await api.applyYaml(SEED);
  const wp = "/apis/extensions.istio.io/v1alpha1/namespaces/istio-system/wasmplugins/canal-canal";
  const small = await pollUntil("the small table's WasmPlugin", async () => {
    const r = await api.request("GET", wp);
    return r.status === 200 ? (r.json as KubeObject) : undefined;
  }, { timeoutMs: 20_000 });
  // 10 VirtualServices × 7,000 hosts of ~24 bytes each in the table: ~1.7 MB of domains.
  const objects: KubeObject[] = [];
  for (let v = 0; v < 10; v++) {
    const hosts = Array.from({ length: 7000 }, (_, i) => `host-${v}-${i}.bulk.example.com`);
    objects.push({
      apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: `bulk-${v}`, namespace: "istio-system" },
      spec: { hosts, gateways: ["canal"], http: [{ route: [{ destination: { host: "helloworld.default.svc.cluster.local" } }] }] },
    } as KubeObject);
  }
  await api.apply(objects);
  const ig = await pollUntil("Programmed=False/TableTooLarge", async () => {
    const o = await api.get<IgStatus>("/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal");
    const p = o.status?.conditions?.find((c) => c.type === "Programmed");
    return p?.reason === "TableTooLarge" ? o : undefined;
  }, { timeoutMs: 60_000, onTimeout: () => logs.slice(-5).join("\n") });
  const programmed = ig.status?.conditions?.find((c) => c.type === "Programmed");
  expect(programmed?.status).toBe("False");
  expect(programmed?.message).toContain(`over the ${MAX_PLUGIN_CONFIG_BYTES} bytes`);
  expect(programmed?.message).toContain("ECDS");
  // The WasmPlugin still carries the last table that fit (tables applied while the objects were
  // arriving may have fit): never the oversized one.
  const after = (await api.request("GET", wp)).json as KubeObject & { spec: { pluginConfig: { virtualHosts: Array<{ domains: string[] }> } } };
  expect(Number(after.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(small.metadata.resourceVersion));
  expect(Buffer.byteLength(JSON.stringify(after.spec.pluginConfig))).toBeLessThanOrEqual(MAX_PLUGIN_CONFIG_BYTES);
  const domains = after.spec.pluginConfig.virtualHosts.flatMap((v) => v.domains);
  expect(domains.filter((d) => d.endsWith(".bulk.example.com")).length).toBeLessThan(70_000);
}, 180_000);
