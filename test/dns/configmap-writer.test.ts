// The canal-dns sink against a real API server: compare-and-swap under concurrent writers (409s
// are retried and no update is lost), keys it does not own survive, equal bytes are not written,
// and with exactly the chart's RBAC (get/update/patch on the named ConfigMaps, no create) a
// missing ConfigMap is reported, not created.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConfigMapMissingError, CorednsConfigMapWriter } from "../../controller/src/sinks/dns/coredns-configmap.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";

let api: KubeApi;
const CM = "/api/v1/namespaces/kube-system/configmaps";

function kubeConfig(token?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  if (token === undefined) return kc;
  const user = { name: "restricted", token };
  kc.loadFromOptions({ clusters: kc.clusters, users: [user], contexts: [{ name: "r", cluster: kc.clusters[0]!.name, user: "restricted" }], currentContext: "r" });
  return kc;
}

beforeAll(async () => {
  api = await startKubeApi({ name: "dns-writer", users: [{ name: "canal-controller" }] });
  // The chart's grant (docs/dns.md): no create, no list/watch on ConfigMaps.
  await api.applyYaml(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: canal-dns, namespace: kube-system}
rules: [{apiGroups: [""], resources: [configmaps], resourceNames: [canal-dns, coredns], verbs: [get, update, patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: canal-dns, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: canal-dns}
subjects: [{kind: User, name: canal-controller}]
`);
}, 120_000);

afterAll(async () => {
  await api?.stop();
});

it("without the ConfigMap and without create permission: ConfigMapMissingError, nothing created", async () => {
  const writer = new CorednsConfigMapWriter(kubeConfig(api.tokens["canal-controller"]), { namespace: "kube-system", name: "canal-dns" });
  let err: unknown;
  for (let i = 0; i < 50; i++) {
    // RBAC bindings take effect a few ms after the write: retry until the answer is a decision.
    try {
      await writer.write(() => ({ a: "1" }));
    } catch (e) {
      err = e;
      if (e instanceof ConfigMapMissingError) break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(err).toBeInstanceOf(ConfigMapMissingError);
  expect((err as Error).message).toContain("ConfigMap kube-system/canal-dns does not exist and could not be created (forbidden)");
  expect((await api.request("GET", `${CM}/canal-dns`)).status).toBe(404);
}, 60_000);

it("concurrent writers with the chart's RBAC: every update lands (409s retried), foreign keys survive, equal bytes are not written", async () => {
  await api.create(CM, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "canal-dns", namespace: "kube-system", labels: { owner: "chart" } }, data: { foreign: "kept" } });
  const token = api.tokens["canal-controller"];
  const writers = [0, 1].map(() => new CorednsConfigMapWriter(kubeConfig(token), { namespace: "kube-system", name: "canal-dns" }));
  const bump = (c: { data: Record<string, string> } | undefined): Record<string, string> => ({ counter: String(Number(c?.data.counter ?? "0") + 1) });
  await Promise.all(writers.flatMap((w) => Array.from({ length: 4 }, () => w.write(bump))));
  const cm = await api.get<KubeObject & { data: Record<string, string>; metadata: { labels?: Record<string, string> } }>(`${CM}/canal-dns`);
  expect(cm.data.counter).toBe("8");
  expect(cm.data.foreign).toBe("kept");
  expect(cm.metadata.labels?.owner).toBe("chart");
  expect(writers[0]!.conflicts + writers[1]!.conflicts).toBeGreaterThan(0);
  const again = await writers[0]!.write(() => ({ counter: "8" }));
  expect(again.outcome).toBe("unchanged");
  expect((await api.get(`${CM}/canal-dns`)).metadata.resourceVersion).toBe(cm.metadata.resourceVersion);
}, 60_000);
