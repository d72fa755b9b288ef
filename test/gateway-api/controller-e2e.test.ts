// HTTPRoutes through the whole controller: applied to a REAL API server (with the pinned Gateway
// API CRDs), watched and translated by the controller, delivered over ECDS to a REAL Envoy running
// the filter, and answered with status.parents[] (Accepted, ResolvedRefs) and Warning Events.
// Covers a routed mesh route, a missing backend, a cross-namespace backend before and after its
// ReferenceGrant, a Service routed by both a VirtualService and an HTTPRoute (the VirtualService
// wins), and a route attached to another namespace's Service (host ownership).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import { GATEWAY_CONTROLLER_NAME } from "../../controller/src/status/httproute-status.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { AdsGateway, startAdsGateway, Upstreams } from "../ecds/harness.ts";
import { gatewayApiCrdsPath } from "../support/gateway-api.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { startUpstream } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");

/** Service namespace/name → the echo upstream that plays it (named after the Service). */
const SERVICES = [["apps", "echo"], ["apps", "mixed"], ["apps", "mixed-v2"], ["backends", "other"], ["team-b", "owned"]] as const;
const host = (ns: string, name: string): string => `${name}.${ns}.svc.cluster.local:8080`;

/** The controller's log lines (shown when a wait times out). */
const logs: string[] = [];
let api: KubeApi;
let gw: AdsGateway;
let controller: Controller;
let upstreams: Upstreams;
let publisher: EcdsPublisher;

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration?: number }
interface RouteStatus { parentRef: { name: string; kind?: string; namespace?: string }; controllerName: string; conditions: Condition[] }
type RouteObject = KubeObject & { status?: { parents?: RouteStatus[] } };

/** Cleanups of what beforeAll started, run last first (also after a partial start). */
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  const wasmPath = ensureCanalWasm();
  api = await startKubeApi({ name: "gwapi-controller" });
  cleanups.push(() => api.stop());
  await api.prepareForCanal();
  await api.installCrds([gatewayApiCrdsPath("standard")]);
  const namespaces = [...new Set(SERVICES.map(([ns]) => ns)), "team-a"];
  await api.applyYaml(namespaces.map((ns) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n`).join("---\n"));
  await api.applyYaml(SERVICES.map(([ns, name]) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec: {ports: [{port: 8080, name: http}], selector: {app: ${name}}}
`).join("---\n"));
  const kc = api.kubeConfig();
  const byName = new Map<string, Awaited<ReturnType<typeof startUpstream>>>();
  upstreams = new Upstreams(byName);
  cleanups.push(() => upstreams.close());
  for (const [ns, name] of SERVICES) byName.set(`${ns}/${name}`, await startUpstream(`${ns}/${name}`));
  publisher = new EcdsPublisher({ code: { local: wasmPath } });
  const { port: adsPort } = await publisher.server.start(`${LOOPBACK}:0`);
  cleanups.push(() => publisher.server.stop());
  const kinds = await resolveKinds(kc);
  expect(kinds.map((k) => k.kind)).toEqual(expect.arrayContaining(["HTTPRoute", "ReferenceGrant"]));
  controller = new Controller({ kc, kinds, log: jsonLogger("debug", {}, (l) => logs.push(l)), identity: "gwapi-e2e", leaseNamespace: "istio-system", leaseDurationSeconds: 3, publisher, validateRegex: loadRegexValidator() });
  await controller.start();
  cleanups.push(() => controller.stop());
  // Every Service of SERVICES is a cluster of the gateway, answered by its own echo upstream.
  const extraClusters = SERVICES.map(([ns, name]) => ({ name: `outbound|8080||${name}.${ns}.svc.cluster.local`, host: LOOPBACK, port: (byName.get(`${ns}/${name}`) as { port: number }).port }));
  gw = await startAdsGateway({ nodeId: "gw-gwapi", nodeCluster: "istio-system/canal", wasmPath, adsPort, upstreams: new Upstreams(new Map()), extraClusters });
  cleanups.push(() => gw.envoy.stop());
  await api.applyYaml(SEED);
}, 240_000);

afterAll(async () => {
  for (const stop of cleanups.reverse()) await stop();
});

function route(ns: string, name: string, parent: { ns?: string; name: string }, rules: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs:
    - {group: "", kind: Service, name: ${parent.name}${parent.ns === undefined ? "" : `, namespace: ${parent.ns}`}}
  rules:
${rules}`;
}

/** Canal's status.parents entry of the route once `ok` holds for it. */
async function parentStatus(ns: string, name: string, what: string, ok: (s: RouteStatus, o: RouteObject) => boolean): Promise<RouteStatus> {
  return pollUntil(`HTTPRoute ${ns}/${name}: ${what}`, async () => {
    const o = await api.get<RouteObject>(`/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/${name}`);
    const s = o.status?.parents?.find((p) => p.controllerName === GATEWAY_CONTROLLER_NAME);
    return s !== undefined && ok(s, o) ? s : undefined;
  }, { timeoutMs: 30_000, onTimeout: () => logs.slice(-10).join("\n") });
}

const cond = (s: RouteStatus, type: string): Condition | undefined => s.conditions.find((c) => c.type === type);
const is = (s: RouteStatus, type: string, status: string, reason: string): boolean => cond(s, type)?.status === status && cond(s, type)?.reason === reason;

async function warningEvents(ns: string, name: string): Promise<Array<{ reason: string; message: string }>> {
  const list = await api.get<KubeObject & { items: Array<{ reason: string; message: string; type: string; involvedObject: { kind: string; name: string } }> }>(`/api/v1/namespaces/${ns}/events`);
  return list.items.filter((e) => e.type === "Warning" && e.involvedObject.kind === "HTTPRoute" && e.involvedObject.name === name);
}

describe("HTTPRoutes through the controller, the API server and Envoy", () => {
  it("a mesh HTTPRoute is routed through the gateway and accepted, with observedGeneration and Canal's controllerName", async () => {
    await api.applyYaml(route("apps", "echo", { name: "echo" }, `    - matches: [{path: {type: PathPrefix, value: /v1}}]
      backendRefs: [{name: echo, port: 8080}]
`));
    await gw.waitRoute(host("apps", "echo"), "/v1/x", "apps/echo", 30_000);
    // Segment-wise prefix: /v1x is not /v1; unmatched requests on an attached Service get 404.
    expect(await gw.upstreamOf(host("apps", "echo"), "/v1x")).toBe("404");
    const s = await parentStatus("apps", "echo", "Accepted and ResolvedRefs", (p) => is(p, "Accepted", "True", "Accepted") && is(p, "ResolvedRefs", "True", "ResolvedRefs"));
    const o = await api.get<RouteObject>("/apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/echo");
    expect(s.parentRef).toMatchObject({ kind: "Service", name: "echo" });
    for (const c of s.conditions) expect(c.observedGeneration).toBe(o.metadata.generation);
    // Settled status is neither read nor written again: another route's change (a sync that
    // writes its status) reads that route only and leaves this one's resourceVersion as it was.
    const reads = (): number => Number(/^canal_httproute_status_total\{result="read"\} (\d+)$/m.exec(controller.metrics.render())?.[1] ?? "0");
    const before = reads();
    await api.applyYaml(route("backends", "extra", { name: "other" }, `    - backendRefs: [{name: other, port: 8080}]
`));
    await parentStatus("backends", "extra", "Accepted", (p) => is(p, "Accepted", "True", "Accepted"));
    const again = await api.get<RouteObject>("/apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/echo");
    expect(again.metadata.resourceVersion).toBe(o.metadata.resourceVersion);
    expect(reads() - before).toBe(1);
  }, 120_000);

  it("a missing backend: ResolvedRefs=False BackendNotFound, and a 500 for its requests", async () => {
    await api.applyYaml(route("apps", "echo", { name: "echo" }, `    - matches: [{path: {type: PathPrefix, value: /v1}}]
      backendRefs: [{name: echo, port: 8080}]
    - matches: [{path: {type: Exact, value: /missing}}]
      backendRefs: [{name: nope, port: 8080}]
`));
    await gw.waitRoute(host("apps", "echo"), "/missing", "500", 30_000);
    expect(await gw.upstreamOf(host("apps", "echo"), "/v1/x")).toBe("apps/echo");
    const s = await parentStatus("apps", "echo", "ResolvedRefs=False BackendNotFound", (p) => is(p, "ResolvedRefs", "False", "BackendNotFound"));
    expect(cond(s, "Accepted")?.status).toBe("True");
    expect(cond(s, "ResolvedRefs")?.message).toContain("apps/nope");
  }, 120_000);

  it("a cross-namespace backend: RefNotPermitted without a ReferenceGrant, routed and resolved with one", async () => {
    await api.applyYaml(route("apps", "cross", { name: "echo" }, `    - matches: [{path: {type: Exact, value: /cross}}]
      backendRefs: [{name: other, namespace: backends, port: 8080}]
`));
    await gw.waitRoute(host("apps", "echo"), "/cross", "500", 30_000);
    await parentStatus("apps", "cross", "RefNotPermitted", (p) => is(p, "ResolvedRefs", "False", "RefNotPermitted"));
    await api.applyYaml(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-apps, namespace: backends}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
  to: [{group: "", kind: Service, name: other}]
`);
    await gw.waitRoute(host("apps", "echo"), "/cross", "backends/other", 30_000);
    await parentStatus("apps", "cross", "resolved with the grant", (p) => is(p, "ResolvedRefs", "True", "ResolvedRefs"));
  }, 120_000);

  it("a Service routed by a VirtualService and an HTTPRoute: the VirtualService wins, the HTTPRoute is not accepted and says why", async () => {
    await api.applyYaml(`${route("apps", "mixed", { name: "mixed" }, `    - backendRefs: [{name: mixed, port: 8080}]
`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mixed, namespace: apps}
spec:
  hosts: [mixed.apps.svc.cluster.local]
  gateways: [istio-system/canal]
  http:
    - route: [{destination: {host: mixed-v2.apps.svc.cluster.local, port: {number: 8080}}}]
`);
    await gw.waitRoute(host("apps", "mixed"), "/", "apps/mixed-v2", 30_000);
    const s = await parentStatus("apps", "mixed", "Accepted=False", (p) => is(p, "Accepted", "False", "NotAllowedByListeners"));
    expect(cond(s, "Accepted")?.message).toContain("VirtualService apps/mixed");
    const events = await pollUntil("the HostConflict Event", async () => ((await warningEvents("apps", "mixed")).some((e) => e.reason === "HostConflict") ? true : undefined), { timeoutMs: 20_000 });
    expect(events).toBe(true);
    // The VirtualService stays the answer however often the snapshot is retranslated.
    for (let i = 0; i < 3; i++) expect(await gw.upstreamOf(host("apps", "mixed"), "/")).toBe("apps/mixed-v2");
  }, 120_000);

  it("a route attached to another namespace's Service is refused (HostNotOwned) and routes nothing", async () => {
    await api.applyYaml(route("team-a", "steal", { ns: "team-b", name: "owned" }, `    - backendRefs: [{name: echo, namespace: apps, port: 8080}]
`));
    const s = await parentStatus("team-a", "steal", "Accepted=False", (p) => is(p, "Accepted", "False", "NotAllowedByListeners"));
    expect(cond(s, "Accepted")?.message).toMatch(/^HostNotOwned: .*belongs to namespace "team-b"/);
    await pollUntil("the HostNotOwned Event", async () => ((await warningEvents("team-a", "steal")).some((e) => e.reason === "HostNotOwned") ? true : undefined), { timeoutMs: 20_000 });
    // Not in the table: the gateway does not know the name.
    expect(await gw.upstreamOf(host("team-b", "owned"), "/")).toBe("404");
  }, 120_000);
});
