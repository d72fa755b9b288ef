// EnvoyFilter mode end to end through a real istiod: istiod applies the chart's EnvoyFilters (the
// canal-ecds cluster, the filter before the router with ECDS from the controller, and the
// cluster-header route); the gateway pod (upstream Envoy bootstrapped as pilot-agent would, from
// the chart's Deployment with ecds.enabled) resolves the controller's ECDS Service through a real
// CoreDNS playing the cluster DNS, and fetches its table from the controller process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCoreDns, type CoreDns } from "../support/coredns.ts";
import { headerValues } from "../support/http.ts";
import type { KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";
import { echoOf, startIstioWorld, SYSTEM_NS, type GatewayPod, type IstioWorld } from "./world.ts";

let world: IstioWorld;
let dns: CoreDns;
let gw: GatewayPod;

type GatewayStatus = { status?: { tableVersion?: string; conditions?: { type: string; status: string; reason: string }[]; gateways?: { node?: string; version?: string; acked?: boolean }[] } };

async function internalGateway(): Promise<KubeObject & GatewayStatus> {
  return world.api.get<KubeObject & GatewayStatus>(`/apis/canal.io/v1alpha1/namespaces/${SYSTEM_NS}/internalgateways/canal`);
}

/** The bookinfo VirtualService on the Canal gateway with these HTTP routes (YAML, indented 2). */
function bookinfoVs(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: ${SYSTEM_NS}}
spec:
  hosts: [productpage.bookinfo.svc.cluster.local, ratings.bookinfo.svc.cluster.local]
  gateways: [canal]
  http:
${http}`;
}

async function runningVersion(): Promise<string | undefined> {
  return headerValues(await world.send({ host: "nobody.invalid" }), "x-canal-table")[0];
}

beforeAll(async () => {
  world = await startIstioWorld("envoyfilter");
  await world.addBackend("productpage", "bookinfo", 9080);
  await world.addBackend("ratings", "bookinfo", 9080);
  const install = await world.installCharts("envoyfilter");
  // The cluster DNS as the gateway pod sees it: the controller's ECDS Service name answers with
  // the loopback address the controller listens on (a ClusterIP would not be reachable here).
  dns = await startCoreDns({
    name: "envoyfilter-dns",
    mainBlockExtra: `hosts {\n    127.0.0.1 canal-ecds.${SYSTEM_NS}.svc.cluster.local\n    fallthrough\n}`,
  });
  expect(install.ecdsPort).toBeGreaterThan(0);
  await world.startController();
  await world.api.applyYaml(
      bookinfoVs(`  - match: [{uri: {prefix: /ratings}}]
    route: [{destination: {host: ratings.bookinfo.svc.cluster.local}}]
  - route: [{destination: {host: productpage.bookinfo.svc.cluster.local}}]
`),
    );
  gw = await world.startGateway("canal-gateway-0", { dnsPort: dns.port });
  await pollUntil("the gateway to route productpage", async () => (echoOf(await world.send({ host: "productpage.bookinfo.svc.cluster.local" }))?.upstream === "productpage.bookinfo" ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 200,
    onTimeout: () => `${gw.envoy.logTail(20)}\n${world.controllers[0]?.tail(10)}`,
  });
}, 300_000);

afterAll(async () => {
  await world?.stop();
  await dns?.stop();
});

describe("EnvoyFilter mode through istiod", () => {
  it("istiod adds the chart's canal-ecds cluster and inserts the filter before the router with ECDS config discovery", async () => {
    const clusters = await gw.envoy.admin("/config_dump?resource=dynamic_active_clusters");
    expect(clusters).toContain('"name": "canal-ecds"');
    const listeners = await gw.envoy.admin("/config_dump?resource=dynamic_listeners");
    expect(listeners).toMatch(/"name": "canal",\s+"config_discovery"/);
    expect(listeners).toContain('"cluster_header": "x-canal-cluster"');
  });

  it("the gateway's node.cluster names the InternalGateway (from the chart's proxy.istio.io/config annotation)", async () => {
    const info = JSON.parse(await gw.envoy.admin("/server_info")) as { node?: { cluster?: string } };
    expect(info.node?.cluster).toBe(`${SYSTEM_NS}/canal`);
  });

  it("the table comes from the controller's ECDS server and status says Acknowledged for this gateway", async () => {
    const ig = await pollUntil("Acknowledged", async () => {
      const o = await internalGateway();
      const c = o.status?.conditions?.find((x) => x.type === "Programmed");
      return c?.reason === "Acknowledged" ? o : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(await runningVersion()).toBe(ig.status?.tableVersion);
    expect(JSON.stringify(ig.status?.gateways ?? [])).toContain(gw.ip);
  });

  it.each([
    ["productpage.bookinfo.svc.cluster.local", "/", "productpage.bookinfo"],
    ["productpage", "/", "productpage.bookinfo"],
    ["productpage.bookinfo:9080", "/", "productpage.bookinfo"],
    ["ratings.bookinfo", "/ratings/1", "ratings.bookinfo"],
    ["productpage.bookinfo.svc", "/ratings/1", "ratings.bookinfo"],
  ])("Host %s path %s reaches %s", async (host, path, upstream) => {
    const res = await world.send({ host, path });
    expect(res.status, res.body).toBe(200);
    expect(echoOf(res)?.upstream).toBe(upstream);
  });

  it("a VirtualService change reaches the gateway over ECDS", async () => {
    await world.api.applyYaml(
      bookinfoVs(`  - match: [{uri: {prefix: /ratings}}, {uri: {prefix: /stars}}]
    route: [{destination: {host: ratings.bookinfo.svc.cluster.local}}]
  - route: [{destination: {host: productpage.bookinfo.svc.cluster.local}}]
`),
    );
    await pollUntil("/stars to reach ratings", async () => (echoOf(await world.send({ host: "productpage", path: "/stars" }))?.upstream === "ratings.bookinfo" ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
  });

  it("a controller restart (SIGKILL) does not disturb traffic, and later changes still arrive", async () => {
    const old = world.controllers[0];
    const failures: string[] = [];
    let sent = 0;
    let restartedAt = -1;
    // Bounded: stops 200 requests after the new controller is up, at 5,000 requests, or after 60 s.
    const load = (async () => {
      const deadline = Date.now() + 60_000;
      while (sent < 5000 && Date.now() < deadline && (restartedAt < 0 || sent < restartedAt + 200)) {
        sent++;
        const res = await world.send({ host: "productpage", path: "/stars" }).catch((e: Error) => ({ status: 0, body: e.message }));
        if (res.status !== 200) failures.push(`${res.status} ${res.body.slice(0, 100)}`);
      }
    })();
    await pollUntil("some traffic before the kill", () => (sent >= 50 ? true : undefined), { timeoutMs: 30_000 });
    await old.stop("SIGKILL");
    await world.startController("controller-restarted");
    restartedAt = sent;
    await load;
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(250);
    await world.api.applyYaml(
      bookinfoVs(`  - route: [{destination: {host: ratings.bookinfo.svc.cluster.local}}]
`),
    );
    await pollUntil("the restarted controller's change", async () => (echoOf(await world.send({ host: "productpage", path: "/" }))?.upstream === "ratings.bookinfo" ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 200,
      onTimeout: () => world.controllers[world.controllers.length - 1].tail(20),
    });
  });
});
