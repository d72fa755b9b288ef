// DNS redirection end to end with real processes: a real kube-apiserver, a real CoreDNS fed from
// the canal-dns ConfigMap (kubelet-style projection), the controller with --dns, real dig.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATE_KEY, HOSTS_KEY, CONF_KEY } from "../../controller/src/sinks/dns/state.ts";
import type { Controller } from "../../controller/src/runner/controller.ts";
import type { KubeObject } from "../support/k8s.ts";
import { pollUntil, spawnTracked, stopTracked } from "../support/processes.ts";
import { CM_PATH, gatewayYaml, igStatus, serviceYaml, startDnsEnv, VS_PATH, vsYaml, waitA, waitEntry, type DnsEnv } from "./env.ts";

const FQDN = "helloworld.default.svc.cluster.local";
let env: DnsEnv;
let controller: Controller;
let G: string;
let G6: string;
let S: string;

function baseYaml(o: { serverPorts?: number[]; ports?: number[]; ready?: boolean } = {}): string {
  return `${gatewayYaml({ addresses: [G, G6], ports: o.ports ?? [5000], ...o })}---\n${serviceYaml("helloworld", S, [5000])}`;
}

function reverse(ip: string): string {
  return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
}

async function wasmTable(): Promise<{ virtualHosts: Array<{ name: string; domains: string[] }> }> {
  const p = await env.api.get<KubeObject & { spec?: { pluginConfig?: { virtualHosts: Array<{ name: string; domains: string[] }> } } }>(
    "/apis/extensions.istio.io/v1alpha1/namespaces/istio-system/wasmplugins/canal-canal",
  );
  return p.spec?.pluginConfig ?? { virtualHosts: [] };
}

beforeAll(async () => {
  env = await startDnsEnv("dns-e2e");
  G = `${env.prefix}.0.50`;
  S = `${env.prefix}.12.7`;
  G6 = `fd00:${Number(env.prefix.split(".")[1]).toString(16)}::50`;
  // DNS flips only once a gateway pod behind the gateway Service serves the table (probed).
  await env.startGateway();
  controller = await env.startController({ identity: "first" });
}, 240_000);

afterAll(async () => {
  await env?.stop();
});

describe("canal controller --dns with a real CoreDNS", () => {
  it("Service + Gateway + InternalGateway + VirtualService make the name resolve to the gateway (A and AAAA); SRV and PTR keep working; deleting the VS resolves it back, routes drain after DNS", async () => {
    await env.api.applyYaml(baseYaml());
    expect(await env.dns.query(FQDN, "A")).toEqual([S]);
    await env.api.applyYaml(vsYaml("helloworld", "helloworld"));
    await waitA(env.dns, FQDN, [G]);
    expect(await env.dns.query(FQDN, "AAAA")).toEqual([G6]);
    // Other record types of the name still come from the kubernetes plugin.
    expect(await env.dns.query(FQDN, "SRV")).toEqual([`0 100 5000 ${FQDN}.`]);
    expect(await env.dns.query(`_http._tcp.${FQDN}`, "SRV")).toEqual([`0 100 5000 ${FQDN}.`]);
    expect(await env.dns.query(reverse(S), "PTR")).toEqual([`${FQDN}.`]);
    expect(await env.dns.query(reverse(G), "PTR")).toEqual(["canal-gateway.istio-system.svc.cluster.local."]);
    const a = await env.dns.lookup(FQDN, "A");
    expect(a.authoritative).toBe(true);
    // --dns-ttl 5 (the cache plugin would raise a lower TTL to its MINTTL, default 5: docs/dns.md)
    expect(a.answers[0]!.ttl).toBeLessThanOrEqual(5);
    await waitEntry(env.api, FQDN, "Redirected");
    expect((await igStatus(env.api)).conditions?.find((c) => c.type === "DNSReady")).toMatchObject({ status: "True", reason: "AllRedirected" });

    await env.api.delete(`${VS_PATH}/helloworld`);
    const t0 = Date.now();
    await waitA(env.dns, FQDN, [S]);
    // DNS points back first; the routes stay in the gateways' table until the drain deadline.
    const cm = await env.canalDns();
    const state = JSON.parse(cm.data?.[STATE_KEY] ?? "{}") as { entries: unknown[]; draining: Array<{ fqdn: string; until: string; virtualHost?: { name: string } }> };
    expect(state.entries).toEqual([]);
    expect(state.draining.map((d) => [d.fqdn, d.virtualHost?.name])).toEqual([[FQDN, `drain/${FQDN}`]]);
    if (Date.now() - t0 < 5000) expect((await wasmTable()).virtualHosts.map((v) => v.name)).toContain(`drain/${FQDN}`);
    await waitEntry(env.api, FQDN, "Draining", "Draining").catch(() => undefined); // may already have expired on a slow machine
    await pollUntil("the drained routes to leave the WasmPlugin table", async () => ((await wasmTable()).virtualHosts.length === 0 ? true : undefined), { timeoutMs: 20_000 });
    const after = JSON.parse((await env.canalDns()).data?.[STATE_KEY] ?? "{}") as { draining: unknown[] };
    await pollUntil("the drain record to go", async () => ((JSON.parse((await env.canalDns()).data?.[STATE_KEY] ?? "{}") as { draining: unknown[] }).draining.length === 0 ? true : undefined), {
      timeoutMs: 20_000,
      onTimeout: () => JSON.stringify(after),
    });
  }, 120_000);

  it("each unmet gating condition keeps DNS unchanged and says why in status; opt-out too", async () => {
    const two = `${env.prefix}.12.8`;
    const three = `${env.prefix}.12.9`;
    const four = `${env.prefix}.12.10`;
    // 1. gateway without ready endpoints
    await env.api.applyYaml(baseYaml({ ready: false }));
    await env.api.applyYaml(serviceYaml("two", two, [5000]));
    await env.api.applyYaml(vsYaml("two", "two"));
    const notReady = await waitEntry(env.api, "two.default.svc.cluster.local", "Pending", "GatewayNotReady");
    expect(notReady.message).toContain("gateway Service istio-system/canal-gateway has no ready endpoints");
    expect(await env.dns.query("two.default.svc.cluster.local", "A")).toEqual([two]);
    await env.api.applyYaml(baseYaml());
    await waitA(env.dns, "two.default.svc.cluster.local", [G]);

    // 2. a Service port the Gateway does not serve, then one the gateway Service does not expose
    await env.api.applyYaml(serviceYaml("three", three, [5000, 5001]));
    await env.api.applyYaml(vsYaml("three", "three", 5000));
    const ports = await waitEntry(env.api, "three.default.svc.cluster.local", "Pending", "PortsNotExposed");
    expect(ports.message).toContain("Gateway istio-system/canal has no HTTP server on port 5001");
    await env.api.applyYaml(baseYaml({ serverPorts: [5000, 5001] }));
    const svcPorts = await pollUntil("the message to name the gateway Service", async () => {
      const e = await waitEntry(env.api, "three.default.svc.cluster.local", "Pending", "PortsNotExposed");
      return e.message.includes("gateway Service istio-system/canal-gateway does not expose port 5001") && !e.message.includes("has no HTTP server") ? e : undefined;
    }, { timeoutMs: 20_000 });
    expect(svcPorts.message).not.toContain("has no HTTP server");
    expect(await env.dns.query("three.default.svc.cluster.local", "A")).toEqual([three]);
    await env.api.applyYaml(baseYaml({ ports: [5000, 5001] }));
    await waitA(env.dns, "three.default.svc.cluster.local", [G]);

    // 3. opt-out by annotation on the Service
    await env.api.applyYaml(serviceYaml("four", four, [5000], `, annotations: {canal.io/dns-redirect: "false"}`));
    await env.api.applyYaml(vsYaml("four", "four"));
    const opted = await waitEntry(env.api, "four.default.svc.cluster.local", "OptedOut", "OptedOut");
    expect(opted.message).toContain("Service default/four");
    expect(await env.dns.query("four.default.svc.cluster.local", "A")).toEqual([four]);
    for (const n of ["two", "three", "four"]) await env.api.delete(`${VS_PATH}/${n}`);
    await waitA(env.dns, "two.default.svc.cluster.local", [two]);
    await waitA(env.dns, "three.default.svc.cluster.local", [three]);
  }, 180_000);

  it("hostile hosts never reach CoreDNS (Event on the VirtualService), and a concurrent foreign edit of the Corefile survives our writes", async () => {
    const hostile = ["a } evil {", "x\nevil.default.svc.cluster.local", "import /etc/passwd"];
    await env.api.apply([
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: "hostile", namespace: "istio-system" },
        spec: { hosts: [...hostile, "helloworld.default.svc.cluster.local"], gateways: ["canal"], http: [{ route: [{ destination: { host: "helloworld.default.svc.cluster.local" } }] }] },
      } as KubeObject,
    ]);
    const ev = await pollUntil("an InvalidHost Event on the hostile VirtualService", async () => {
      const list = await env.api.list<KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }>("/api/v1/namespaces/istio-system/events");
      return list.items.find((e) => e.involvedObject?.name === "hostile" && e.reason === "InvalidHost");
    }, { timeoutMs: 20_000 });
    expect(ev.message).toContain("is not a valid host");
    // The VS still routes helloworld (its only valid part): helloworld is redirected.
    await waitA(env.dns, FQDN, [G]);

    // A foreign edit of kube-system/coredns (what an operator or another tool does) while the
    // controller keeps writing canal-dns: both survive, and we never wrote the Corefile.
    const before = await env.api.get<KubeObject & { data: { Corefile: string } }>(`${CM_PATH}/coredns`);
    const foreign = before.data.Corefile.replace("    errors\n", "    errors\n    template IN TXT foreign.test {\n        answer \"foreign.test. 5 IN TXT edited\"\n    }\n");
    const writes = (async () => {
      for (let i = 0; i < 6; i++) {
        // each one adds a name: the controller writes canal-dns while the Corefile is edited
        await env.api.applyYaml(serviceYaml(`churn${i}`, `${env.prefix}.13.${i + 1}`, [5000]));
        await env.api.applyYaml(vsYaml(`churn${i}`, `churn${i}`));
      }
    })();
    await env.api.request("PUT", `${CM_PATH}/coredns`, { body: { ...before, data: { Corefile: foreign } } });
    await writes;
    await pollUntil("CoreDNS to load the foreign edit", async () => ((await env.dns.query("foreign.test", "TXT")).includes('"edited"') ? true : undefined), { timeoutMs: 30_000 });
    const cmNow = await env.api.get<KubeObject & { data: { Corefile: string }; metadata: { managedFields?: Array<{ manager?: string }> } }>(`${CM_PATH}/coredns`);
    expect(cmNow.data.Corefile).toBe(foreign);
    expect((cmNow.metadata.managedFields ?? []).map((m) => m.manager)).not.toContain("canal-controller");
    const canal = await env.canalDns();
    for (const v of Object.values(canal.data ?? {})) {
      expect(v).not.toContain("evil");
      expect(v).not.toContain("/etc/passwd");
    }
    for (const f of [env.dns.corefile(), ...Object.values(canal.data ?? {})]) expect(f).not.toMatch(/\} evil \{/);
    await waitA(env.dns, FQDN, [G]);
    expect(await env.dns.query("foreign.test", "TXT")).toEqual(['"edited"']);
    for (let i = 0; i < 6; i++) await waitA(env.dns, `churn${i}.default.svc.cluster.local`, [G]);
    for (let i = 0; i < 6; i++) await env.api.delete(`${VS_PATH}/churn${i}`);
  }, 120_000);

  it("a restarted controller (and a second replica) leave the ConfigMap byte-identical; 100 add/remove cycles leave no duplicates and no leftovers", async () => {
    await pollUntil("DNSReady", async () => ((await igStatus(env.api)).conditions?.find((c) => c.type === "DNSReady")?.status === "True" ? true : undefined), { timeoutMs: 20_000 });
    await pollUntil("earlier drains to pass", async () => ((JSON.parse((await env.canalDns()).data?.[STATE_KEY] ?? "{}") as { draining: unknown[] }).draining.length === 0 ? true : undefined), { timeoutMs: 30_000 });
    const before = await env.canalDns();
    await controller.stop();
    controller = await env.startController({ identity: "second" });
    const standby = await env.startController({ identity: "third" });
    await pollUntil("the restarted controller to lead and sync", async () => (controller.isLeader || standby.isLeader ? true : undefined), { timeoutMs: 20_000 });
    await waitEntry(env.api, FQDN, "Redirected");
    await new Promise((r) => setTimeout(r, 2000)); // give a wrong write the chance to happen
    const after = await env.canalDns();
    expect(after.data).toEqual(before.data);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);

    const name = "cycle.default.svc.cluster.local";
    const ip = `${env.prefix}.12.20`;
    await env.api.applyYaml(serviceYaml("cycle", ip, [5000]));
    const stateOf = async (): Promise<{ entries: Array<{ fqdn: string }>; draining: Array<{ fqdn: string }> }> => JSON.parse((await env.canalDns()).data?.[STATE_KEY] ?? "{}");
    for (let i = 0; i < 100; i++) {
      await env.api.applyYaml(vsYaml("cycle", "cycle"));
      await pollUntil(`cycle ${i}: entry added`, async () => ((await stateOf()).entries.some((e) => e.fqdn === name) ? true : undefined), { timeoutMs: 20_000 });
      await env.api.delete(`${VS_PATH}/cycle`);
      await pollUntil(`cycle ${i}: entry removed`, async () => ((await stateOf()).entries.some((e) => e.fqdn === name) ? undefined : true), { timeoutMs: 20_000 });
      const cm = await env.canalDns();
      const hostLines = (cm.data?.[HOSTS_KEY] ?? "").split("\n").filter((l) => l !== "" && !l.startsWith("#"));
      expect(new Set(hostLines).size).toBe(hostLines.length);
      const st = JSON.parse(cm.data?.[STATE_KEY] ?? "{}") as { draining: Array<{ fqdn: string }> };
      expect(new Set(st.draining.map((d) => d.fqdn)).size).toBe(st.draining.length);
    }
    await pollUntil("no leftovers once the drain has passed", async () => {
      const s = await stateOf();
      return s.draining.length === 0 && s.entries.map((e) => e.fqdn).join(",") === FQDN ? true : undefined;
    }, { timeoutMs: 30_000 });
    const hosts = (await env.canalDns()).data?.[HOSTS_KEY] ?? "";
    expect(hosts.split("\n").filter((l) => l !== "" && !l.startsWith("#")).sort()).toEqual([`${G} ${FQDN}`, `${G6} ${FQDN}`].sort());
    expect((await env.canalDns()).data?.[CONF_KEY]).toContain(`hosts ${env.mount}/canal.hosts cluster.local {`);
    await waitA(env.dns, name, [ip]);
    await standby.stop();
  }, 300_000);

  it("--dns-dry-run decides and reports without writing; canal plan prints additions, removals and reasons and changes nothing", async () => {
    await controller.stop();
    controller = await env.startController({ identity: "dry", dns: { dryRun: true } });
    const before = await env.canalDns();
    const ip = `${env.prefix}.12.30`;
    await env.api.applyYaml(serviceYaml("planned", ip, [5000]));
    await env.api.applyYaml(vsYaml("planned", "planned"));
    await waitEntry(env.api, "planned.default.svc.cluster.local", "Redirected");
    const dry = await pollUntil("DNSReady=False/DryRun", async () => (await igStatus(env.api)).conditions?.find((c) => c.type === "DNSReady" && c.reason === "DryRun"), { timeoutMs: 20_000 });
    expect(dry.message).toContain("is not written");
    expect((await env.canalDns()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(await env.dns.query("planned.default.svc.cluster.local", "A")).toEqual([ip]);
    await controller.stop();

    // canal plan, as a process, against the kubeconfig: helloworld's VS is gone (remove), planned
    // waits for the gateways' ACK (the controller is stopped, status shows an older table).
    await env.api.delete(`${VS_PATH}/helloworld`);
    await env.api.delete(`${VS_PATH}/hostile`);
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [join(import.meta.dirname, "..", "..", "bin", "canal.mjs"), "plan", "--kubeconfig", env.api.kubeconfigPath], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    expect(out, out).toContain(`- ${FQDN} (istio-system/canal): Draining: DNS no longer points ${FQDN} at the gateway; its routes stay until `);
    expect(out).toMatch(/~ planned\.default\.svc\.cluster\.local \(istio-system\/canal\): RoutesNotServed: .*NotProgrammed/);
    expect(out).toMatch(/0 to add, 1 to remove, 1 waiting, 0 unchanged in kube-system\/canal-dns \(nothing was changed\)/);
    expect((await env.canalDns()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    controller = await env.startController({ identity: "after-plan" });
    await waitA(env.dns, "planned.default.svc.cluster.local", [G]);
    await waitA(env.dns, FQDN, [S]);
  }, 120_000);

  // The process probes the gateway pod at its EndpointSlice address (10.1.0.5), which nothing
  // answers here (only in-process controllers get the test's address map): the new name waits,
  // and the status the process writes names the pod and why.
  it("`canal controller --dns` as a process: the flags wire the same DNS step and the delivery prober (a new name waits on the unanswered pod)", async () => {
    await controller.stop();
    const log: string[] = [];
    const child = spawnTracked(process.execPath, [
      join(import.meta.dirname, "..", "..", "bin", "canal.mjs"), "controller",
      "--kubeconfig", env.api.kubeconfigPath, "--namespace", "istio-system", "--identity", "cli", "--lease-duration", "3",
      "--wasm-url", "file:///etc/canal/canal.wasm", "--metrics-address", "127.0.0.1:0",
      "--dns", "--dns-mount-path", env.mount, "--dns-ttl", "5", "--dns-drain", "7",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    child.stderr?.on("data", (d: Buffer) => log.push(d.toString()));
    try {
      const ip = `${env.prefix}.12.40`;
      await env.api.applyYaml(serviceYaml("viacli", ip, [5000]));
      await env.api.applyYaml(vsYaml("viacli", "viacli"));
      const e = await waitEntry(env.api, "viacli.default.svc.cluster.local", "Pending", "RoutesNotServed", 60_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\ncontroller log:\n${log.join("").split("\n").slice(-20).join("\n")}`);
      });
      expect(e.message).toMatch(/pod 10\.1\.0\.5 \(10\.1\.0\.5\) (has not answered|did not answer|answered \d+ to) the probe/);
      expect(await env.dns.query("viacli.default.svc.cluster.local", "A")).toEqual([ip]);
      const url = /"metrics":"(http:\/\/[^"]+)"/.exec(log.join(""))?.[1];
      expect(url, "the controller logs its metrics URL").toBeDefined();
      const metrics = await (await fetch(url!)).text();
      expect(metrics).toMatch(/canal_dns_names\{state="Redirected"\} [1-9]/);
      expect(metrics).toMatch(/canal_dns_names\{state="Pending"\} [1-9]/);
      expect(metrics).toMatch(/canal_dns_writes_total\{outcome="(written|unchanged)"\} [1-9]/);
      await env.api.delete(`${VS_PATH}/viacli`);
    } finally {
      await stopTracked(child, 5000);
    }
    controller = await env.startController({ identity: "after-cli" });
  }, 120_000);

  it("a replica that loses the lead drops its DNS and sync-time gauges (queries need no leader filter)", async () => {
    const gauges = ["canal_dns_names", "canal_dns_gateway_pods", "canal_push_seconds"];
    const exported = (): string[] => gauges.filter((g) => new RegExp(`^${g}[{ ]`, "m").test(controller.metrics.render()));
    await pollUntil("the controller to lead and export its gauges", async () => (controller.isLeader && exported().length === gauges.length ? true : undefined), { timeoutMs: 30_000 });
    // Another holder takes the Lease (as after a partition): the controller sees it at its next renewal.
    const micro = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
    await env.api.apply([{ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "canal-controller", namespace: "istio-system" },
      spec: { holderIdentity: "lease-thief", leaseDurationSeconds: 600, renewTime: micro, acquireTime: micro } } as KubeObject]);
    await pollUntil("the controller to stop leading", async () => (controller.isLeader ? undefined : true), { timeoutMs: 20_000 });
    expect(exported()).toEqual([]);
    // Still translating and exporting what every replica has.
    expect(controller.metrics.render()).toMatch(/^canal_translations_total /m);
    await env.api.delete("/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/canal-controller");
  }, 60_000);
});
