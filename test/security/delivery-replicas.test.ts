// Issue 12, finding 5: with two controller replicas only the leader runs DNS, and it used to gate
// on the gateways connected to its own ECDS server. Here every gateway pod streams from the
// follower: the leader's ECDS sees no gateway at all, yet it flips DNS once its probes show that
// every ready pod serves the table. Real API server, real CoreDNS, real Envoy pods.
import { afterAll, beforeAll, expect, it } from "vitest";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import type { Controller } from "../../controller/src/runner/controller.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { igStatus, waitA, waitEntry } from "../dns/env.ts";
import { DeliveryWorld, FQDN } from "./delivery-env.ts";

let w: DeliveryWorld;
let followerEcds: EcdsPublisher;
let leader: Controller;
let follower: Controller;

beforeAll(async () => {
  w = await DeliveryWorld.start("delivery-replicas");
  followerEcds = new EcdsPublisher({ code: { local: ensureCanalWasm() } });
  const { port } = await followerEcds.server.start(`${LOOPBACK}:0`);
  leader = await w.startController("replica-a");
  await pollUntil("replica-a to lead", () => (leader.isLeader ? true : undefined), { timeoutMs: 20_000 });
  follower = await w.startController("replica-b", followerEcds);
  w.startKubelet();
  for (const n of [1, 2]) await w.startPod(n, { adsPort: port });
  for (const p of w.pods.values()) await w.waitReady(p, true);
}, 240_000);

afterAll(async () => {
  await w?.stop();
  await followerEcds?.server.stop();
});

it("gateways streaming from the follower: the leader's ECDS sees none, yet it flips DNS once both pods serve the table", async () => {
  expect(follower.isLeader).toBe(false);
  await w.env.api.applyYaml(w.vsYaml());
  await waitA(w.env.dns, FQDN, [w.gatewayIp], 30_000);
  expect(leader.isLeader).toBe(true);
  // The leader's own delivery state says no gateway is connected to it: only the probes proved delivery.
  const programmed = (await igStatus(w.env.api)).conditions?.find((c) => c.type === "Programmed");
  expect(programmed?.reason).toBe("NoGateways");
  expect((await waitEntry(w.env.api, FQDN, "Redirected")).state).toBe("Redirected");
  expect(followerEcds.server.status().filter((g) => g.connected).map((g) => g.nodeId).sort()).toEqual(["gw-1", "gw-2"]);
}, 60_000);
