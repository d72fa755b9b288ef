// The leader SIGKILLed in the middle of a migration, under load from the TTL-honouring client.
// Two controller replicas run as their own processes (controller-process.ts), each with its ECDS
// server; gw-1 streams from the leader, gw-2 from the follower. The VirtualService is applied and
// the name is Pending (gw-1 lost its stream and still runs the old table); the leader is killed
// (no lease released); gw-1 reconnects to the survivor, which takes the lease once it expires and
// finishes the flip. Real kube-apiserver, real CoreDNS, real Envoy pods, real processes.
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitEntry } from "../dns/env.ts";
import { pollUntil } from "../support/processes.ts";
import { expectNoFailures, holdsFor, MIN_REQUESTS } from "./assert.ts";
import type { ControllerProcess } from "../support/controller-process.ts";
import { ControllerService, startReplica } from "./controller-process.ts";
import { ChaosWorld, FQDN } from "./harness.ts";

let w: ChaosWorld;
let a: ControllerProcess;
let b: ControllerProcess;
let svc1: ControllerService;
let svc2: ControllerService;

async function leaseHolder(): Promise<string | undefined> {
  const l = await w.env.api.get<{ apiVersion: string; kind: string; metadata: { name: string }; spec?: { holderIdentity?: string } }>("/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/canal-controller").catch(() => undefined);
  return l?.spec?.holderIdentity;
}

beforeAll(async () => {
  w = await ChaosWorld.start("chaos-leader-kill");
  const args = { kubeconfig: w.env.api.kubeconfigPath, mountPath: w.env.mount, podNet: w.podNet };
  a = await startReplica("replica-a", args);
  await pollUntil("replica-a to hold the lease", async () => ((await leaseHolder()) === "replica-a" ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, onTimeout: () => a.tail() });
  b = await startReplica("replica-b", args);
  // The controller Service as each pod's connection finds it: gw-1 lands on A, gw-2 on B.
  svc1 = new ControllerService(() => [a.ecdsPort, b.ecdsPort]);
  svc2 = new ControllerService(() => [b.ecdsPort, a.ecdsPort]);
  await svc1.open();
  await svc2.open();
  const pods = [await w.startPod(1, { adsPort: svc1.port }), await w.startPod(2, { adsPort: svc2.port })];
  for (const p of pods) await w.waitReady(p, true);
}, 240_000);

afterAll(async () => {
  await svc1?.cut();
  await svc2?.cut();
  await a?.stop();
  await b?.stop();
  await w?.stop();
});

it("SIGKILL of the leader mid-migration: the other replica takes the lease and finishes the flip; no request fails", async () => {
  const c = w.load();
  await w.waitTraffic(c, w.serviceIp, 200);
  await svc1.cut();
  await w.env.api.applyYaml(w.vsYaml());
  const pending = await pollUntil("Pending naming gw-1", async () => {
    const e = await waitEntry(w.env.api, FQDN, "Pending", "RoutesNotServed");
    return e.message.includes("gw-1") ? e : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100, onTimeout: () => a.tail() });
  expect(pending.message).toContain("pod istio-system/gw-1 (10.77.0.1) runs table");
  a.kill();
  await svc1.open();
  await holdsFor(1000, "DNS still on the Service", async () => JSON.stringify(await w.env.dns.query(FQDN, "A")) === JSON.stringify([w.serviceIp]));
  await pollUntil("replica-b to hold the lease", async () => ((await leaseHolder()) === "replica-b" ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, onTimeout: () => b.tail() });
  await w.waitFlipped(60_000);
  await waitEntry(w.env.api, FQDN, "Redirected");
  await w.waitTraffic(c, w.gatewayIp, 300);
  await w.waitCount(c, MIN_REQUESTS);
  await expectNoFailures("leader SIGKILLed mid-migration", c, w.addresses());
  expect(a.child.signalCode).toBe("SIGKILL");
}, 180_000);
