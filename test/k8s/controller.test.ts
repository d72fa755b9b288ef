// The controller against a REAL kube-apiserver + etcd (scripts/tools.sh builds them) with Istio's
// real CRDs and ours: objects in, WasmPlugin / status / Events out.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import { listInPages, pageFetcher, type PageFetcher } from "../../controller/src/sources/cluster-source.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import type { RouteTable } from "../../schema/route-table.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");
const WASM_URL = "oci://registry.example/canal/filter:test";

let api: KubeApi;
let kc: k8s.KubeConfig;
const controllers: Controller[] = [];
const logs: string[] = [];

/** Polls `probe` (errors count as "not yet"); on timeout the message carries the controller's log tail. */
function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, intervalMs: 100, onTimeout: () => `controller log tail:\n${logs.slice(-15).join("\n")}` });
}

async function startController(identity: string): Promise<Controller> {
  const kinds = await resolveKinds(kc);
  const c = new Controller({
    kc,
    kinds,
    log: jsonLogger("debug", { identity }, (l) => logs.push(l)),
    identity,
    leaseNamespace: "istio-system",
    leaseDurationSeconds: 3,
    wasmPlugin: { url: WASM_URL, sha256: "0".repeat(64) },
    validateRegex: loadRegexValidator(),
  });
  await c.start();
  controllers.push(c);
  return c;
}

/** The seed's VirtualService with a second route, /bye → goodbye; `helloExtra` goes into the /hello route. */
function helloAndBye(helloExtra: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworld, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [canal]
  http:
  - match: [{uri: {exact: /hello}}]
    route: [{destination: {host: helloworld.default.svc.cluster.local}}]
${helloExtra}  - match: [{uri: {prefix: /bye}}]
    route: [{destination: {host: goodbye.default.svc.cluster.local}}]
`;
}

/** canal_translations_total of `c`. */
function translations(c: Controller): number {
  const m = /^canal_translations_total (\d+)$/m.exec(c.metrics.render());
  return m === null ? 0 : Number(m[1]);
}

async function stopController(c: Controller): Promise<void> {
  await c.stop();
  controllers.splice(controllers.indexOf(c), 1);
}

interface WasmPluginObject extends KubeObject {
  spec: { pluginConfig: RouteTable; url: string; selector: { matchLabels: Record<string, string> } };
}

async function plugin(): Promise<WasmPluginObject | undefined> {
  const r = await api.request("GET", "/apis/extensions.istio.io/v1alpha1/namespaces/istio-system/wasmplugins/canal-canal");
  return r.status === 200 ? (r.json as WasmPluginObject) : undefined;
}

function clustersOf(t: RouteTable): string[] {
  return t.virtualHosts.flatMap((v) => v.routes.flatMap((r) => (r.route ?? []).map((d) => d.cluster)));
}

beforeAll(async () => {
  api = await startKubeApi({ name: "controller" });
  await api.prepareForCanal();
  kc = api.kubeConfig();
}, 180_000);

afterEach(async () => {
  for (const c of [...controllers]) await stopController(c);
});

afterAll(async () => {
  for (const c of [...controllers]) await c.stop();
  await api?.stop();
});

describe("controller against a real API server", () => {
  it("seed objects → WasmPlugin with the route table; VS update changes it; status says Accepted/Programmed", async () => {
    const controller = await startController("replica-a");
    await until("leadership", async () => (controller.isLeader ? true : undefined));
    await api.applyYaml(SEED);
    const p = await until("the WasmPlugin", plugin);
    expect(p.spec.url).toBe(WASM_URL);
    expect(p.spec.selector.matchLabels).toEqual({ app: "canal-gateway" });
    expect(clustersOf(p.spec.pluginConfig)).toContain("outbound|5000||helloworld.default.svc.cluster.local");
    expect(p.metadata.annotations?.["canal.io/table-version"]).toBe(p.spec.pluginConfig.version);

    const ig = await until("InternalGateway status", async () => {
      const o = await api.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }>; tableVersion?: string } }>(
        "/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal",
      );
      return o.status?.tableVersion === p.spec.pluginConfig.version ? o : undefined;
    });
    expect(ig.status?.conditions?.find((c) => c.type === "Accepted")?.status).toBe("True");
    expect(ig.status?.conditions?.find((c) => c.type === "Programmed")?.status).toBe("True");

    // Update: a second route to a new path.
    await api.applyYaml(`apiVersion: v1
kind: Service
metadata: {name: goodbye, namespace: default}
spec: {ports: [{port: 5000, name: http}], selector: {app: goodbye}}
---
${helloAndBye("")}`);
    const updated = await until("the updated WasmPlugin", async () => {
      const q = await plugin();
      return q && clustersOf(q.spec.pluginConfig).includes("outbound|5000||goodbye.default.svc.cluster.local") ? q : undefined;
    });
    expect(updated.spec.pluginConfig.version).not.toBe(p.spec.pluginConfig.version);

    // One change, one translation: the status write that follows it (same generation) comes back
    // as a watch event but is not translated again.
    const statusShows = (version: string): Promise<true> =>
      until(`status tableVersion ${version}`, async () => {
        const o = await api.get<KubeObject & { status?: { tableVersion?: string } }>("/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal");
        return o.status?.tableVersion === version ? true : undefined;
      });
    await statusShows(updated.spec.pluginConfig.version);
    const quiet = async (): Promise<number> => {
      let last = translations(controller);
      for (;;) {
        await new Promise((r) => setTimeout(r, 1500));
        const now = translations(controller);
        if (now === last) return now;
        last = now;
      }
    };
    const before = await quiet();
    await api.applyYaml(helloAndBye("    timeout: 7s\n"));
    const third = await until("the third WasmPlugin", async () => {
      const q = await plugin();
      return q && q.spec.pluginConfig.version !== updated.spec.pluginConfig.version ? q : undefined;
    });
    await statusShows(third.spec.pluginConfig.version);
    expect((await quiet()) - before).toBe(1);
    await stopController(controller);
  }, 60_000);

  it("a bad VirtualService gets an Event and a status reason; the rest of the table is still served", async () => {
    const controller = await startController("replica-b");
    await until("leadership", async () => (controller.isLeader ? true : undefined));
    await api.applyYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: istio-system}
spec:
  hosts: [api.example.com]
  gateways: [canal]
  http:
  - match: [{uri: {regex: "/v[0-9+"}}]
    route: [{destination: {host: helloworld.default.svc.cluster.local}}]
`);
    const event = await until("a Warning Event for the broken VirtualService", async () => {
      const list = await api.list<KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string; kind?: string } }>("/api/v1/namespaces/istio-system/events");
      return list.items.find((e) => e.involvedObject?.kind === "VirtualService" && e.involvedObject.name === "broken" && e.reason === "InvalidRegex");
    });
    expect(event.message).toContain("spec.http[0].match[0].uri.regex");
    const ig = await until("the rejection in status", async () => {
      const o = await api.get<KubeObject & { status?: { rejected?: Array<{ name: string; reason: string; field: string }> } }>(
        "/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal",
      );
      return o.status?.rejected?.some((r) => r.name === "broken") ? o : undefined;
    });
    const rejected = ig.status?.rejected?.filter((r) => r.name === "broken") ?? [];
    expect(rejected.map((r) => r.reason).sort()).toEqual(["InvalidRegex", "RouteDropped"]);
    expect(rejected.find((r) => r.reason === "InvalidRegex")?.field).toBe("spec.http[0].match[0].uri.regex");
    const p = await plugin();
    expect(clustersOf(p?.spec.pluginConfig ?? { format: 1, version: "x", virtualHosts: [] })).toContain("outbound|5000||goodbye.default.svc.cluster.local");
    await stopController(controller);
  }, 60_000);

  it.each([
    [
      "unknown gateway",
      "orphan",
      "UnknownGateway",
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: orphan, namespace: istio-system}
spec:
  hosts: [orphan.example.com]
  gateways: [no-such-gateway]
  http:
  - route: [{destination: {host: helloworld.default.svc.cluster.local}}]
`,
    ],
    [
      "conflicting host",
      "late-claim",
      "HostConflict",
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first-claim, namespace: istio-system}
spec:
  hosts: [shared.example.com]
  gateways: [canal]
  http:
  - route: [{destination: {host: helloworld.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: late-claim, namespace: istio-system}
spec:
  hosts: [shared.example.com]
  gateways: [canal]
  http:
  - route: [{destination: {host: goodbye.default.svc.cluster.local}}]
`,
    ],
  ])("%s → Warning Event %s/%s, the rest of the table served", async (_case, name, reason, yaml) => {
    const controller = await startController(`replica-${reason}`);
    await until("leadership", async () => (controller.isLeader ? true : undefined));
    await api.applyYaml(yaml);
    const event = await until(`a ${reason} Event on ${name}`, async () => {
      const list = await api.list<KubeObject & { reason?: string; message?: string; type?: string; involvedObject?: { name?: string } }>("/api/v1/namespaces/istio-system/events");
      return list.items.find((e) => e.involvedObject?.name === name && e.reason === reason);
    });
    expect(event.type).toBe("Warning");
    expect((event.message ?? "").length).toBeGreaterThan(20);
    const p = await until("the table still routing helloworld", async () => {
      const q = await plugin();
      return q && clustersOf(q.spec.pluginConfig).includes("outbound|5000||helloworld.default.svc.cluster.local") ? q : undefined;
    });
    if (reason === "HostConflict") {
      // The older VirtualService keeps the host: shared.example.com routes to helloworld only.
      const shared = p.spec.pluginConfig.virtualHosts.find((v) => v.domains.includes("shared.example.com"));
      expect(shared?.routes.flatMap((r) => (r.route ?? []).map((d) => d.cluster))).toEqual(["outbound|5000||helloworld.default.svc.cluster.local"]);
    }
  }, 60_000);

  it("a restarted controller writes nothing new: same WasmPlugin resourceVersion", async () => {
    const before = await plugin();
    const controller = await startController("replica-c");
    await until("leadership", async () => (controller.isLeader ? true : undefined));
    await until("a translation", async () => (controller.result ? true : undefined));
    // Give it time to (wrongly) write: two sync rounds.
    await new Promise((r) => setTimeout(r, 1500));
    const after = await plugin();
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    expect(controller.metrics.render()).not.toContain("canal_wasmplugin_writes_total");
    await stopController(controller);
  }, 60_000);

  it("two replicas: exactly one leads; stopping it hands over within the lease duration", async () => {
    const a = await startController("replica-1");
    const b = await startController("replica-2");
    await until("a leader", async () => (a.isLeader || b.isLeader ? true : undefined));
    expect(a.isLeader && b.isLeader).toBe(false);
    const [leader, standby] = a.isLeader ? [a, b] : [b, a];
    await stopController(leader);
    const t0 = Date.now();
    await until("failover", async () => (standby.isLeader ? true : undefined), 10_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    // The new leader writes: delete the VS route to goodbye and see the plugin follow.
    await api.delete("/apis/networking.istio.io/v1/namespaces/istio-system/virtualservices/helloworld");
    await until("routes gone after the VS was deleted", async () => {
      const q = await plugin();
      return q && !clustersOf(q.spec.pluginConfig).includes("outbound|5000||goodbye.default.svc.cluster.local") ? q : undefined;
    });
    await stopController(standby);
  }, 60_000);

  it("the informers list in pages: every object once, one resourceVersion, managedFields and last-applied dropped", async () => {
    await api.applyYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: pages}\n");
    const docs = Array.from({ length: 5 }, (_, i) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: paged-${i}
  namespace: pages
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}", keep: "yes"}
spec: {hosts: [paged-${i}.example], http: [{route: [{destination: {host: paged-${i}.example}}]}]}
`);
    await api.applyYaml(docs.join("---\n"));
    const kind = (await resolveKinds(kc)).find((k) => k.kind === "VirtualService");
    if (kind === undefined) throw new Error("VirtualService is not served");
    const real = k8s.KubernetesObjectApi.makeApiClient(kc);
    const whole = await real.list(kind.apiVersion, kind.kind);
    expect(whole.items.some((o) => (o.metadata?.managedFields?.length ?? 0) > 0)).toBe(true); // the API server sends them
    const fetchPage = pageFetcher(kc, kind);
    let requests = 0;
    const counting: PageFetcher = (limit, token) => (requests++, fetchPage(limit, token));
    const paged = await listInPages(counting, 2);
    const names = (l: typeof whole): string[] => l.items.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`).sort();
    expect(names(paged)).toEqual(names(whole));
    expect(requests).toBe(Math.ceil(whole.items.length / 2));
    expect(paged.metadata?.resourceVersion).toMatch(/^\d+$/);
    for (const o of paged.items) {
      expect(o.metadata?.managedFields).toBeUndefined();
      expect(o.metadata?.annotations?.["kubectl.kubernetes.io/last-applied-configuration"]).toBeUndefined();
    }
    expect(paged.items.find((o) => o.metadata?.name === "paged-3")?.metadata?.annotations?.["keep"]).toBe("yes");
    // Services (core, typed list): the token comes back as metadata._continue.
    await api.applyYaml([0, 1, 2].map((i) => `apiVersion: v1\nkind: Service\nmetadata: {name: paged-${i}, namespace: pages}\nspec: {ports: [{port: 80}]}\n`).join("---\n"));
    const svcKind = (await resolveKinds(kc)).find((k) => k.kind === "Service");
    if (svcKind === undefined) throw new Error("Service is not served");
    const allServices = await real.list(svcKind.apiVersion, svcKind.kind);
    let svcRequests = 0;
    const svcPages = pageFetcher(kc, svcKind);
    const pagedServices = await listInPages((limit, token) => (svcRequests++, svcPages(limit, token)), 2);
    expect(names(pagedServices)).toEqual(names(allServices));
    expect(svcRequests).toBe(Math.ceil(allServices.items.length / 2));
  });
});
