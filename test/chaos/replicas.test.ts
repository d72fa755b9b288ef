// Two controller replicas with the gateways' ECDS streams split between them (gw-1 streams from
// the leader, gw-2 from the follower), under load from the TTL-honouring client: the name flips
// only when both gateways run the table, whichever replica fed them. Real kube-apiserver, real
// CoreDNS, real Envoy pods, two in-process controllers with their own ECDS servers.
import { afterAll, beforeAll, expect, it } from "vitest";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import type { Controller } from "../../controller/src/runner/controller.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { waitEntry } from "../dns/env.ts";
import type { Link } from "../security/delivery-env.ts";
import { expectNoFailures, holdsFor, MIN_REQUESTS } from "./assert.ts";
import { ChaosWorld, FQDN } from "./harness.ts";
import { POD_WASM_PATH } from "./network.ts";

let w: ChaosWorld;
let followerEcds: EcdsPublisher;
let leader: Controller;
let follower: Controller;
let link2: Link;

beforeAll(async () => {
  w = await ChaosWorld.start("chaos-replicas");
  followerEcds = new EcdsPublisher({ code: { local: POD_WASM_PATH } });
  const { port } = await followerEcds.server.start(`${LOOPBACK}:0`);
  leader = await w.startController("replica-a");
  await pollUntil("replica-a to lead", () => (leader.isLeader ? true : undefined), { timeoutMs: 20_000 });
  follower = await w.startController("replica-b", followerEcds);
  link2 = await w.link(port);
  const pods = [await w.startPod(1), await w.startPod(2, { adsPort: link2.port })];
  for (const p of pods) await w.waitReady(p, true);
}, 240_000);

afterAll(async () => {
  await w?.stop();
  await followerEcds?.server.stop();
});

it("streams split between leader and follower: DNS flips only once the follower's gateway runs the table too", async () => {
  expect(follower.isLeader).toBe(false);
  expect(w.publisher.server.status().filter((g) => g.connected).map((g) => g.nodeId)).toEqual(["gw-1"]);
  expect(followerEcds.server.status().filter((g) => g.connected).map((g) => g.nodeId)).toEqual(["gw-2"]);
  const c = w.load();
  await w.waitTraffic(c, w.serviceIp, 200);
  // The follower's gateway loses its stream and keeps the old table; the leader's gets the new one.
  await link2.cut();
  await w.env.api.applyYaml(w.vsYaml());
  const pending = await pollUntil("Pending naming only gw-2", async () => {
    const e = await waitEntry(w.env.api, FQDN, "Pending", "RoutesNotServed");
    return e.message.includes("gw-2") && !e.message.includes("gw-1") ? e : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100 });
  expect(pending.message).toContain("pod istio-system/gw-2 (10.77.0.2) runs table");
  await holdsFor(2000, "DNS still on the Service", async () => JSON.stringify(await w.env.dns.query(FQDN, "A")) === JSON.stringify([w.serviceIp]));
  await link2.open();
  await w.waitFlipped(30_000);
  await w.waitTraffic(c, w.gatewayIp, 300);
  await w.waitCount(c, MIN_REQUESTS);
  await expectNoFailures("replicas with split streams", c, w.addresses());
  expect(leader.isLeader).toBe(true);
}, 180_000);
