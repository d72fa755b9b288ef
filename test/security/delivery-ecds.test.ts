// Delivery that cannot be faked (issue 12, findings 4, 5 and 7), ECDS mode, with real processes:
// real Envoy gateway pods fed by the controller's ECDS server, the real API server, real CoreDNS.
// DNS for a name flips only when every ready gateway pod answers the filter's reserved probe with
// a table that routes the name; an ACK on a self-named ECDS stream proves nothing; a pod without a
// table is never Ready.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/src/runner/controller.ts";
import { AdsTestClient } from "../../controller/src/sinks/ecds/testing/ads-client.ts";
import { pollUntil } from "../support/processes.ts";
import { igStatus, waitA, waitEntry } from "../dns/env.ts";
import { DeliveryWorld, FQDN, readinessProbe, type Link, type Pod } from "./delivery-env.ts";

let w: DeliveryWorld;
let gw1: Pod;
let gw2: Pod;
let link1: Link;
let link2: Link;
let rogue: AdsTestClient | undefined;
let controller: Controller;

/** The table version the controller computed for the InternalGateway. */
async function currentVersion(): Promise<string> {
  return pollUntil("a table version in status", async () => (await igStatus(w.env.api) as { tableVersion?: string }).tableVersion, { timeoutMs: 20_000 });
}

/** Asserts that `check` holds on every poll for `ms` (a negative: nothing may change meanwhile). */
async function holdsFor(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  for (let i = 0; i < 1000 && Date.now() < until; i++) {
    if (!(await check())) throw new Error(`${what} stopped holding after ${ms - (until - Date.now())} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  w = await DeliveryWorld.start("delivery-ecds");
  w.startKubelet();
  controller = await w.startController("leader");
}, 240_000);

afterAll(async () => {
  rogue?.cancel();
  await w?.stop();
});

describe("delivery proof (ECDS mode)", () => {
  it("a gateway pod without a table answers the probe 503 and is not Ready; DNS does not move", async () => {
    // Its ECDS server is unreachable (a port nothing listens on): the filter runs its empty default table.
    const dead = await w.link();
    await dead.cut();
    const lonely = await w.startPod(9, { adsPort: dead.port });
    const r = await readinessProbe(lonely.host, lonely.port);
    expect(r.status).toBe(503);
    expect(r.version).toBe("empty");
    await w.env.api.applyYaml(w.vsYaml());
    await waitEntry(w.env.api, FQDN, "Pending", "GatewayNotReady");
    await holdsFor(1500, `${lonely.name} not ready`, async () => lonely.ready === false);
    expect(await w.env.dns.query(FQDN, "A")).toEqual([w.serviceIp]);
    await w.stopPod(lonely);
    await w.env.api.delete(`${w.vsPath}/helloworld`);
  }, 60_000);

  it("a pod that got its table answers 200 with that version (header and body) and becomes Ready; the name flips", async () => {
    link1 = await w.link();
    gw1 = await w.startPod(1, { adsPort: link1.port });
    link2 = await w.link();
    gw2 = await w.startPod(2, { adsPort: link2.port });
    await w.waitReady(gw1, true);
    await w.waitReady(gw2, true);
    const v0 = await currentVersion();
    const r = await readinessProbe(gw1.host, gw1.port);
    expect(r).toMatchObject({ status: 200, version: v0, body: `${v0}\n` });
    await w.env.api.applyYaml(w.vsYaml());
    await waitA(w.env.dns, FQDN, [w.gatewayIp]);
    const v1 = await currentVersion();
    expect(v1).not.toBe(v0);
    for (const p of [gw1, gw2]) expect((await readinessProbe(p.host, p.port)).version).toBe(v1);
    // Back to the Service for the next cases; both pods run the table without the name.
    await w.env.api.delete(`${w.vsPath}/helloworld`);
    await waitA(w.env.dns, FQDN, [w.serviceIp]);
    await pollUntil("the drain to end and both pods to run the table without helloworld", async () => {
      const st = await igStatus(w.env.api);
      if ((st.dns?.draining ?? 0) > 0) return undefined;
      const v = await currentVersion();
      for (const p of [gw1, gw2]) if ((await readinessProbe(p.host, p.port)).version !== v) return undefined;
      return true;
    }, { timeoutMs: 40_000, intervalMs: 200 });
  }, 120_000);

  it("a rogue ECDS client ACKing in gw-2's name makes ECDS say Acknowledged but flips no DNS and changes no gate", async () => {
    // Both pods lose the ECDS server and keep the table without helloworld (ready: they serve it).
    await link1.cut();
    await link2.cut();
    const old = (await readinessProbe(gw2.host, gw2.port)).version;
    await w.env.api.applyYaml(w.vsYaml());
    await waitEntry(w.env.api, FQDN, "Pending");
    const v1 = await currentVersion();
    expect(v1).not.toBe(old);
    rogue = new AdsTestClient(w.adsPort, { id: "gw-2", cluster: "istio-system/canal" });
    rogue.subscribe(old);
    const res = await rogue.next(10_000);
    expect(res.versionInfo).toBe(v1);
    rogue.ack(res);
    // The fake ACK is visible as status information...
    await pollUntil("Programmed=Acknowledged from the fake ACK", async () => {
      const c = (await igStatus(w.env.api)).conditions?.find((x) => x.type === "Programmed");
      return c?.reason === "Acknowledged" ? true : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    // ...but the gate still sees what gw-1 and gw-2 really run.
    await holdsFor(3000, "the name Pending on gw-1 and gw-2, DNS unchanged", async () => {
      const e = (await igStatus(w.env.api)).dns?.entries?.find((x) => x.name === FQDN);
      const a = await w.env.dns.query(FQDN, "A");
      return e?.state === "Pending" && e.reason === "RoutesNotServed" && e.message.includes(`pod istio-system/gw-2 (10.77.0.2) runs table ${old}`) && e.message.includes("gw-1") && JSON.stringify(a) === JSON.stringify([w.serviceIp]);
    });
    rogue.cancel();
    rogue = undefined;
  }, 60_000);

  it("two ready pods, one still on the old table: the name stays Pending naming that pod", async () => {
    const old = (await readinessProbe(gw2.host, gw2.port)).version;
    await link1.open();
    const v1 = await currentVersion();
    await pollUntil("gw-1 to run the new table", async () => ((await readinessProbe(gw1.host, gw1.port)).version === v1 ? true : undefined), { timeoutMs: 20_000 });
    const entry = await pollUntil("the entry to name only gw-2", async () => {
      const e = (await igStatus(w.env.api)).dns?.entries?.find((x) => x.name === FQDN);
      return e !== undefined && !e.message.includes("gw-1") ? e : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    expect(entry).toMatchObject({ state: "Pending", reason: "RoutesNotServed" });
    expect(entry.message).toContain(`pod istio-system/gw-2 (10.77.0.2) runs table ${old}, which does not route ${FQDN}`);
    expect(gw2.ready).toBe(true);
    const metrics = controller.metrics.render();
    expect(metrics).toMatch(/canal_dns_gateway_pods\{state="Current"\} 1\b/);
    expect(metrics).toMatch(/canal_dns_gateway_pods\{state="Behind"\} 1\b/);
    await holdsFor(1500, "DNS unchanged", async () => JSON.stringify(await w.env.dns.query(FQDN, "A")) === JSON.stringify([w.serviceIp]));
  }, 60_000);

  it("a ready endpoint that is not a gateway (answers the probe with a forged version) proves nothing and is logged", async () => {
    const { createServer } = await import("node:http");
    const fake = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "x-canal-table": "sha256:forged" });
      res.end("sha256:forged\n");
    });
    const host = `${w.env.prefix}.250.7`;
    await new Promise<void>((r) => fake.listen(0, host, () => r()));
    const pod: Pod = { name: "gw-7", ip: "10.77.0.7", host, port: (fake.address() as { port: number }).port, envoy: undefined as never };
    w.pods.set(pod.name, pod);
    try {
      await pollUntil("gw-7 named as proving nothing", async () => {
        const e = (await igStatus(w.env.api)).dns?.entries?.find((x) => x.name === FQDN);
        return e?.message.includes("pod istio-system/gw-7 (10.77.0.7) runs table sha256:forged, which is not one this controller built recently") ? true : undefined;
      }, { timeoutMs: 20_000, intervalMs: 100 });
      expect(w.env.logs.some((l) => l.includes("did not build recently") && l.includes("gw-7"))).toBe(true);
      expect(await w.env.dns.query(FQDN, "A")).toEqual([w.serviceIp]);
    } finally {
      w.pods.delete(pod.name);
      await w.env.api.delete("/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices/canal-gateway-gw-7").catch(() => undefined);
      await new Promise((r) => fake.close(r));
    }
  }, 60_000);

  it("once the stale pod gets the table too, the name flips", async () => {
    await link2.open();
    await waitA(w.env.dns, FQDN, [w.gatewayIp], 30_000);
    const e = await waitEntry(w.env.api, FQDN, "Redirected");
    expect(e.state).toBe("Redirected");
  }, 60_000);
});
