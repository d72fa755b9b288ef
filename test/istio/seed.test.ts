// The seed's own flow through a real istiod, as its README has it: both charts installed with the
// seed's flags (the gateway chart without its own Gateway), then the user's objects: the Gateway
// "canal" in istio-system on port 5000 for every host, the helloworld Service, and a
// VirtualService in istio-system bound to that Gateway. Then the repository's own example
// (examples/helloworld: subsets, a header match and a 90/10 split) and the seed's second
// migration variant (a replacement Service attached to the gateway).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../support/processes.ts";
import { REPO_ROOT } from "../support/wasm.ts";
import { echoOf, startIstioWorld, SYSTEM_NS, type GatewayPod, type IstioWorld } from "./world.ts";

const SEED_PORT = 5000;
const EXAMPLE = join(REPO_ROOT, "examples", "helloworld");

let world: IstioWorld;
let gw: GatewayPod;

/** The seed README's VirtualService: every host, exact /hello to the helloworld FQDN. */
function seedVirtualService(name: string, service: string): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${SYSTEM_NS}
spec:
  hosts:
  - "*"
  gateways:
  - canal
  http:
  - match:
    - uri:
        exact: /hello
    route:
    - destination:
        host: ${service}.default.svc.cluster.local
`;
}

async function untilUpstream(host: string, path: string, expected: string, headers: Record<string, string> = {}): Promise<void> {
  await pollUntil(`${host}${path} -> ${expected}`, async () => (echoOf(await world.send({ host, path, headers }))?.upstream === expected ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 200,
    onTimeout: () => `${gw.envoy.logTail(15)}\n${world.controllers[0]?.tail(10) ?? ""}`,
  });
}

beforeAll(async () => {
  world = await startIstioWorld("seed");
  // The seed's commands: helm install canal-gateway ./canal; helm install canal-control
  // ./canal-control --set global.hub=... --set global.tag=... (plus where the filter is).
  await world.installCharts("wasmplugin", { port: SEED_PORT, gatewaySets: { "istioGateway.enabled": "false" } });
  await world.startController();
  // The user's objects, from the repository's example: Gateway + gateway Service + InternalGateway,
  // and the helloworld Service with its DestinationRule (two versions behind WorkloadEntries).
  await world.api.applyYaml(readFileSync(join(EXAMPLE, "gateway.yaml"), "utf8"));
  await world.api.applyYaml(readFileSync(join(EXAMPLE, "helloworld.yaml"), "utf8"));
  await world.addBackend("helloworld", "default", 5000, ["v1", "v2"], { createService: false });
  gw = await world.startGateway();
  await world.api.applyYaml(seedVirtualService("helloworld", "helloworld"));
  await untilUpstream("helloworld.default.svc.cluster.local:5000", "/hello", "helloworld.default/v1").catch(async () =>
    untilUpstream("helloworld.default.svc.cluster.local:5000", "/hello", "helloworld.default/v2"),
  );
}, 300_000);

afterAll(async () => {
  await world?.stop();
});

describe("the seed's README, through istiod", () => {
  it.each(["helloworld.default.svc.cluster.local:5000", "helloworld:5000", "helloworld.default", "anything.example:5000"])(
    "GET /hello with Host %s reaches helloworld (the seed's VirtualService serves every host)",
    async (host) => {
      const res = await world.send({ host, path: "/hello" });
      expect(res.status, res.body).toBe(200);
      expect(echoOf(res)?.upstream).toMatch(/^helloworld\.default\/v[12]$/);
    },
  );

  it("a path the VirtualService does not match gets the filter's 404", async () => {
    const res = await world.send({ host: "helloworld:5000", path: "/hello/more" });
    expect(res.status).toBe(404);
    expect(res.body).toContain("canal: no route for host");
  });
});

describe("examples/helloworld (what `make run` serves), through istiod", () => {
  beforeAll(async () => {
    await world.api.applyYaml(readFileSync(join(EXAMPLE, "virtualservice.yaml"), "utf8"));
    await untilUpstream("helloworld:5000", "/", "helloworld.default/v2", { "x-canary": "true" });
  }, 120_000);

  it("x-canary: true reaches v2 on any path", async () => {
    for (const path of ["/", "/hello", "/x/y"]) {
      expect(echoOf(await world.send({ host: "helloworld.default.svc.cluster.local:5000", path, headers: { "x-canary": "true" } }))?.upstream).toBe("helloworld.default/v2");
    }
  });

  it("/hello splits 90/10 between v1 and v2 (300 requests)", async () => {
    let v1 = 0;
    let v2 = 0;
    for (let i = 0; i < 300; i++) {
      const u = echoOf(await world.send({ host: "helloworld:5000", path: "/hello" }))?.upstream;
      if (u === "helloworld.default/v1") v1++;
      if (u === "helloworld.default/v2") v2++;
    }
    // 300 draws at p = 0.1: mean 30, sd 5.2; 4 sd either side.
    expect(v1 + v2).toBe(300);
    expect(v2).toBeGreaterThanOrEqual(9);
    expect(v2).toBeLessThanOrEqual(51);
  });
});

describe("the seed's replacement-Service migration, through istiod", () => {
  it("a new Service attached to the gateway takes /hello; the old one keeps its own routes", async () => {
    await world.addBackend("helloworld-on-canal", "default", 5000);
    await world.api.applyYaml(seedVirtualService("helloworld-on-canal", "helloworld-on-canal").replace("exact: /hello", "exact: /hello-canal"));
    await untilUpstream("helloworld-on-canal:5000", "/hello-canal", "helloworld-on-canal.default");
    expect(echoOf(await world.send({ host: "helloworld:5000", path: "/", headers: { "x-canary": "true" } }))?.upstream).toBe("helloworld.default/v2");
  });
});
