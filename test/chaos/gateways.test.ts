// Chaos in the gateway pool, ECDS mode, each scenario under load from the TTL-honouring client
// (client.ts) through the real CoreDNS and the kube-proxy stand-in (kube-proxy.ts): scale-up
// 1 → 3, a rolling restart of every gateway, a new gateway while the controller is down, and the
// controller restarting in the middle of a rolling gateway restart.
// Real kube-apiserver, real CoreDNS, real Envoy gateway pods, the in-process controller. The
// scenarios share one world and run in order: the later ones start from the flip the first makes.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Controller } from "../../controller/src/runner/controller.ts";
import { readinessProbe } from "../security/delivery-env.ts";
import { expectNoFailures, holdsFor, MIN_REQUESTS } from "./assert.ts";
import { ChaosWorld, type Pod } from "./harness.ts";

let w: ChaosWorld;
let controller: Controller;

beforeAll(async () => {
  w = await ChaosWorld.start("chaos-gateways");
  controller = await w.startController("leader");
  const gw1 = await w.startPod(1);
  await w.waitReady(gw1, true);
}, 240_000);

afterAll(async () => {
  await w?.stop();
});

function pods(): Pod[] {
  return [...w.pods.values()].sort((a, b) => a.n - b.n);
}

it("scale-up 1 → 3 during the migration: a new gateway gets connections only once its readiness says Ready", async () => {
  const c = w.load();
  await w.waitTraffic(c, w.serviceIp, 200);
  await w.env.api.applyYaml(w.vsYaml());
  await w.waitFlipped();
  await w.waitTraffic(c, w.gatewayIp, 200);
  const added = [await w.startPod(2), await w.startPod(3)];
  for (const p of added) await w.waitReady(p, true);
  for (const p of added) {
    await w.waitTraffic(c, w.gatewayIp, 100);
    const b = w.proxy.backends.get(p.ip);
    expect(b?.total ?? 0, `${p.name} got connections`).toBeGreaterThan(0);
    expect(b!.firstAt!).toBeGreaterThanOrEqual(p.readyAt!);
  }
  await w.waitCount(c, MIN_REQUESTS);
  await expectNoFailures("scale-up 1 → 3", c, w.addresses());
  expect(c.countVia(w.serviceIp)).toBeGreaterThan(0);
}, 180_000);

it("a rolling restart of every gateway (out of endpoints, stopped, restarted, back once Ready) fails no request", async () => {
  const c = w.load();
  await w.waitTraffic(c, w.gatewayIp, 200);
  for (const p of pods()) {
    const before = w.proxy.backends.get(p.ip)?.total ?? 0;
    const fresh = await w.restartPod(p);
    await pollBackend(fresh, before + 20);
  }
  await w.waitCount(c, MIN_REQUESTS);
  await expectNoFailures("rolling restart", c, w.addresses());
}, 180_000);

it("a new gateway while the controller is down never becomes Ready and gets no traffic; it joins once the controller is back", async () => {
  const c = w.load();
  await w.waitTraffic(c, w.gatewayIp, 200);
  await controller.stop();
  await w.controllerLink.cut();
  const late = await w.startPod(4);
  await holdsFor(3000, "gw-4 not Ready, no connection to it", () => late.ready === false && w.proxy.backends.get(late.ip) === undefined);
  const probe = await readinessProbe(late.host, w.port);
  expect(probe).toMatchObject({ status: 503, version: "empty" });
  await w.waitCount(c, Math.max(MIN_REQUESTS, c.count + 500));
  await w.controllerLink.open();
  controller = await w.startController("leader-again");
  await w.waitReady(late, true);
  await pollBackend(late, 20);
  await expectNoFailures("new gateway, controller down", c, w.addresses());
}, 180_000);

it("the controller restarts in the middle of a rolling gateway restart: the rollout waits for it, no request fails", async () => {
  const c = w.load();
  await w.waitTraffic(c, w.gatewayIp, 200);
  const [first, second, ...rest] = pods();
  await w.restartPod(first!);
  // The controller goes down (its ECDS server with it) as the next pod is replaced.
  await controller.stop();
  await w.controllerLink.cut();
  await w.stopPod(second!);
  const replaced = await w.startPod(second!.n);
  await holdsFor(2000, `${replaced.name} not Ready without the controller, no connection to it`, () => replaced.ready === false && (w.proxy.backends.get(replaced.ip)?.active ?? 0) === 0);
  await w.controllerLink.open();
  controller = await w.startController("leader-restarted");
  await w.waitReady(replaced, true);
  for (const p of rest) await w.restartPod(p);
  await w.waitCount(c, Math.max(MIN_REQUESTS, c.count + 300));
  await expectNoFailures("controller restart during a rolling restart", c, w.addresses());
  expect(c.countVia(w.serviceIp)).toBe(0);
}, 180_000);

async function pollBackend(p: Pod, total: number): Promise<void> {
  const until = Date.now() + 30_000;
  while ((w.proxy.backends.get(p.ip)?.total ?? 0) < total) {
    if (Date.now() > until) throw new Error(`${p.name} got fewer than ${total} connections in 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
