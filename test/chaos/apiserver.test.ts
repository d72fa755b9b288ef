// An API-server crash in the middle of a migration, under load from the TTL-honouring client:
// the VirtualService is applied and the name is Pending (one gateway pod still on the old table),
// kube-apiserver is SIGKILLed and restarted; meanwhile DNS, the gateways and the kube-proxy
// stand-in keep what they had; once the API server is back and the last pod gets the table the
// controller finishes the flip. Real kube-apiserver + etcd, real CoreDNS, real Envoy pods.
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitEntry } from "../dns/env.ts";
import type { Link } from "../security/delivery-env.ts";
import { expectNoFailures, holdsFor, MIN_REQUESTS } from "./assert.ts";
import { ChaosWorld, FQDN } from "./harness.ts";

let w: ChaosWorld;
let link2: Link;

beforeAll(async () => {
  w = await ChaosWorld.start("chaos-apiserver");
  await w.startController("leader");
  link2 = await w.link(w.adsPort);
  const pods = [await w.startPod(1), await w.startPod(2, { adsPort: link2.port })];
  for (const p of pods) await w.waitReady(p, true);
}, 240_000);

afterAll(async () => {
  await w?.stop();
});

it("kube-apiserver crashes mid-migration: traffic is unaffected and the controller finishes the flip afterwards", async () => {
  const c = w.load();
  await w.waitTraffic(c, w.serviceIp, 200);
  await link2.cut();
  await w.env.api.applyYaml(w.vsYaml());
  const pending = await waitEntry(w.env.api, FQDN, "Pending", "RoutesNotServed");
  expect(pending.message).toContain("gw-2");
  const report = await w.env.api.restart({ kill: true });
  expect(report.signal).toBe("SIGKILL");
  await holdsFor(1000, "DNS still on the Service", async () => JSON.stringify(await w.env.dns.query(FQDN, "A")) === JSON.stringify([w.serviceIp]));
  await link2.open();
  await w.waitFlipped(60_000);
  await w.waitTraffic(c, w.gatewayIp, 300);
  await waitEntry(w.env.api, FQDN, "Redirected");
  await w.waitCount(c, MIN_REQUESTS);
  await expectNoFailures("API server crash mid-migration", c, w.addresses());
  expect(c.countVia(w.serviceIp)).toBeGreaterThan(0);
}, 180_000);
