// A gateway whose filter refuses the table (a pod still on an old filter build that does not know
// route timeouts, mid-upgrade), under load from the TTL-honouring client: its Envoy NACKs the
// table and keeps serving the old one, so it stays Ready; the name never flips while it runs,
// and status says which pod and why; traffic is unaffected. Once the pod is rolled to the current
// build the name flips. Real kube-apiserver, real CoreDNS, real Envoy pods, two filter builds.
import { afterAll, beforeAll, expect, it } from "vitest";
import { igStatus, waitEntry } from "../dns/env.ts";
import { pollUntil } from "../support/processes.ts";
import { expectNoFailures, holdsFor, MIN_REQUESTS } from "./assert.ts";
import { ChaosWorld, FQDN, type Pod } from "./harness.ts";
import { oldFilterWasm } from "./old-filter.ts";

let w: ChaosWorld;
let old: Pod;

/** helloworld's VirtualService with a route timeout (the table's `timeoutMs`, unknown to the old build). */
const VS_WITH_TIMEOUT = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworld, namespace: default}
spec:
  hosts: ["${FQDN}"]
  gateways: [istio-system/canal]
  http: [{timeout: 5s, route: [{destination: {host: ${FQDN}}}]}]
`;

beforeAll(async () => {
  const oldWasm = oldFilterWasm();
  w = await ChaosWorld.start("chaos-nack");
  await w.startController("leader");
  const current = await w.startPod(1);
  old = await w.startPod(2, { wasmPath: oldWasm });
  for (const p of [current, old]) await w.waitReady(p, true);
}, 360_000);

afterAll(async () => {
  await w?.stop();
});

it("a gateway that NACKs the table keeps its names Pending, named in status with the reason; traffic unaffected", async () => {
  const c = w.load();
  await w.waitTraffic(c, w.serviceIp, 200);
  await w.env.api.applyYaml(VS_WITH_TIMEOUT);
  // Envoy's NACK says the plugin failed; the filter's reason is in the pod's log.
  expect(await pollNack()).toContain("Unable to create Wasm plugin");
  expect(old.envoy.log()).toContain("timeoutMs");
  // Once gw-1 runs the table, the entry names gw-2 alone, with the sink's view: the NACK.
  const entry = await pollUntil("Pending naming gw-2 alone and its NACK", async () => {
    const e = await waitEntry(w.env.api, FQDN, "Pending", "RoutesNotServed");
    return e.message.includes("gw-2") && !e.message.includes("gw-1") && e.message.includes("rejected") ? e : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100 });
  expect(entry.message).toContain("pod istio-system/gw-2 (10.77.0.2) runs table");
  expect(entry.message).toContain("gateway gw-2 rejected table");
  console.log(`NACK scenario: entry message: ${entry.message}`);
  const programmed = (await igStatus(w.env.api)).conditions?.find((x) => x.type === "Programmed");
  console.log(`NACK scenario: Programmed: ${JSON.stringify(programmed)}`);
  expect(programmed).toMatchObject({ status: "False", reason: "Rejected" });
  expect(programmed?.message).toContain("gateway gw-2 rejected table");
  await holdsFor(3000, "gw-2 Ready on its old table, DNS on the Service", async () => old.ready && JSON.stringify(await w.env.dns.query(FQDN, "A")) === JSON.stringify([w.serviceIp]));
  await w.waitCount(c, MIN_REQUESTS);
  // The upgrade finishes: gw-2 restarts on the current build, takes the table, the name flips.
  await w.restartPod(old, {});
  await w.waitFlipped(30_000);
  await w.waitTraffic(c, w.gatewayIp, 300);
  await expectNoFailures("gateway NACKs the table", c, w.addresses());
}, 180_000);

/** Waits for the ECDS server to record gw-2's NACK; returns Envoy's error detail. */
async function pollNack(): Promise<string> {
  const until = Date.now() + 30_000;
  for (let i = 0; i < 600; i++) {
    const g = w.publisher.server.status().find((x) => x.nodeId === "gw-2");
    if (g?.lastNack !== undefined) return g.lastNack.message;
    if (Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gw-2 did not NACK within 30 s: ${JSON.stringify(w.publisher.server.status())}\n${old.envoy.logTail()}`);
}
