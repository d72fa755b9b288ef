// The chaos world: the DNS environment of test/dns (real kube-apiserver + etcd, real CoreDNS fed by
// the controller's ConfigMap), helloworld's backend on its Service's cluster IP, a pool of real
// Envoy gateway pods each on its own loopback address and the same port (as pods share a
// containerPort), fed over ECDS through a cuttable link (the controller Service), a kubelet +
// endpoint-controller stand-in (an endpoint is ready only while the chart's readiness probe, the
// filter's reserved probe, passes; a terminating pod is not ready), and a kube-proxy stand-in on
// the gateway Service's cluster IP that forwards only to ready endpoints. Everything on loopback,
// on one ephemeral port P free on every address used.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { renderCanalBootstrap } from "../../envoy/bootstrap.ts";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import type { Controller } from "../../controller/src/runner/controller.ts";
import type { DnsOptions } from "../../controller/src/sinks/dns/manager.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { freePortOn, listenOn, LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { gatewayYaml, igStatus, serviceYaml, startDnsEnv, waitA, type DnsEnv } from "../dns/env.ts";
import { helloworldVsYaml, Link, readinessProbe } from "../security/delivery-env.ts";
import { LoadClient } from "./client.ts";
import { KubeProxy } from "./kube-proxy.ts";
import { repeat, type Repeater } from "./repeat.ts";
import { MAX_PODS, podDial, POD_IP_PREFIX, POD_WASM_PATH, type Dial } from "./network.ts";

export const GROUP = "istio-system/canal";
export const FQDN = "helloworld.default.svc.cluster.local";
export const VS_PATH = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";

export interface Pod {
  n: number;
  name: string;
  /** The endpoint address published in the EndpointSlice. */
  ip: string;
  /** The loopback address the pod's Envoy listens on (port P). */
  host: string;
  envoy: EnvoyProcess;
  /** The readiness the stand-in kubelet last published. */
  ready: boolean;
  /** When readiness first passed (the kube-proxy may forward to it only after). */
  readyAt?: number;
  terminating: boolean;
  opts: PodOptions;
}

export interface PodOptions {
  /** The ECDS port the pod's Envoy streams from (default: the controller Service link). */
  adsPort?: number;
  /** Another filter build for this pod (default build/canal.wasm). */
  wasmPath?: string;
}

export class ChaosWorld {
  readonly pods = new Map<number, Pod>();
  readonly publisher = new EcdsPublisher({ code: { local: POD_WASM_PATH } });
  /** The controller Service: the pods' ECDS connections go through it; cut() is "no controller". */
  controllerLink!: Link;
  /** The ECDS port of `publisher` (for a pod's own link to it). */
  adsPort = 0;
  proxy!: KubeProxy;
  private upstream?: Server;
  private kubelet?: Repeater;
  private stopped = false;
  private readonly links: Link[] = [];
  private readonly clients: LoadClient[] = [];

  private constructor(
    readonly env: DnsEnv,
    /** The gateway Service's cluster IP. */
    readonly gatewayIp: string,
    /** helloworld's cluster IP (where its backend listens). */
    readonly serviceIp: string,
    /** The Service port, which is also every pod's port. */
    readonly port: number,
    readonly podNet: string,
  ) {
    this.dial = podDial(podNet);
  }

  static async start(name: string): Promise<ChaosWorld> {
    const env = await startDnsEnv(name);
    try {
      const G = `${env.prefix}.0.60`;
      const S = `${env.prefix}.12.7`;
      const podNet = `${env.prefix}.250`;
      const P = await freePortOn([G, S, ...Array.from({ length: MAX_PODS }, (_, i) => `${podNet}.${i + 1}`)]);
      const w = new ChaosWorld(env, G, S, P, podNet);
      await w.init();
      return w;
    } catch (err) {
      await env.stop();
      throw err;
    }
  }

  private async init(): Promise<void> {
    this.upstream = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain", "x-upstream": "helloworld" });
      res.end("hello from helloworld\n");
    });
    await listenOn(this.upstream, this.serviceIp, this.port);
    this.adsPort = (await this.publisher.server.start(`${LOOPBACK}:0`)).port;
    this.controllerLink = await this.link(this.adsPort);
    await this.env.api.applyYaml(`${gatewayYaml({ addresses: [this.gatewayIp], ports: [this.port], withoutEndpoints: true })}---\n${serviceYaml("helloworld", this.serviceIp, [this.port])}`);
    this.proxy = new KubeProxy(this.env.api, { namespace: "istio-system", name: "canal-gateway" }, { host: this.gatewayIp, port: this.port }, this.dial);
    await this.proxy.start();
    this.startKubelet();
  }

  /** The network as the prober and kube-proxy see it (network.ts). */
  readonly dial: Dial;

  /** The controller's DNS options in this world (the prober dials pods through `dial`). */
  dnsOptions(): Partial<DnsOptions> {
    return { probe: { dial: this.dial, fastMs: 100, intervalMs: 1000 } };
  }

  /** An in-process controller replica (ECDS mode) publishing to `publisher`. */
  startController(identity: string, publisher: EcdsPublisher = this.publisher): Promise<Controller> {
    return this.env.startController({ identity, publisher, wasmPlugin: false, dns: this.dnsOptions() });
  }

  /** A link to an ECDS server that can be cut and restored. */
  async link(adsPort: number): Promise<Link> {
    const l = new Link(adsPort);
    await l.open();
    this.links.push(l);
    return l;
  }

  vsYaml(): string {
    return helloworldVsYaml();
  }

  /** The TTL-honouring client, started. */
  load(opts: { maxRequests?: number; maxMs?: number; workers?: number } = {}): LoadClient {
    const c = new LoadClient({ dnsPort: this.env.dns.port, fqdn: FQDN, port: this.port, ...opts }).start();
    this.clients.push(c);
    return c;
  }

  /** Starts gateway pod `n` and publishes its endpoint, not ready until its readiness probe passes. */
  async startPod(n: number, opts: PodOptions = {}): Promise<Pod> {
    if (n < 1 || n > MAX_PODS) throw new Error(`pod number ${n} outside 1..${MAX_PODS}`);
    const name = `gw-${n}`;
    const host = `${this.podNet}.${n}`;
    // The pod's filesystem: its filter build at POD_WASM_PATH (the init container's copy).
    const workDir = mkdtempSync(join(tmpdir(), `canal-chaos-${name}-`));
    mkdirSync(join(workDir, dirname(POD_WASM_PATH)));
    copyFileSync(opts.wasmPath ?? ensureCanalWasm(), join(workDir, POD_WASM_PATH));
    const config = renderCanalBootstrap({
      listenerPort: this.port,
      listenerAddress: host,
      adminPort: 0,
      wasmPath: join(workDir, POD_WASM_PATH),
      nodeId: name,
      nodeCluster: GROUP,
      table: { kind: "ads", adsCluster: { name: "canal-controller", host: LOOPBACK, port: opts.adsPort ?? this.controllerLink.port } },
      clusters: [{ name: `outbound|${this.port}||${FQDN}`, host: this.serviceIp, port: this.port }],
    });
    const envoy = await startEnvoy({ name: `chaos-${name}`, config, concurrency: 1, workDir });
    const pod: Pod = { n, name, ip: `${POD_IP_PREFIX}${n}`, host, envoy, ready: false, terminating: false, opts };
    this.pods.set(n, pod);
    await this.publishEndpoint(pod, false);
    return pod;
  }

  /**
   * Deletes pod `n` as Kubernetes does: the endpoint controller marks it not ready, kube-proxy stops
   * sending it new connections, the connections it has finish (pilot-agent's drain), then Envoy stops.
   */
  async stopPod(pod: Pod): Promise<void> {
    pod.terminating = true;
    await this.publishEndpoint(pod, false);
    await this.proxy.seenAfter();
    await pollUntil(`${pod.name}'s connections to drain`, () => ((this.proxy.backends.get(pod.ip)?.active ?? 0) === 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    await pod.envoy.stop();
    rmSync(pod.envoy.workDir, { recursive: true, force: true });
    this.pods.delete(pod.n);
    await this.env.api.delete(`/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices/canal-gateway-${pod.name}`).catch(() => undefined);
  }

  /** A rolling-update step: the pod goes away, a new one with the same name starts and must become Ready. */
  async restartPod(pod: Pod, opts: PodOptions = pod.opts): Promise<Pod> {
    await this.stopPod(pod);
    const fresh = await this.startPod(pod.n, opts);
    await this.waitReady(fresh, true);
    return fresh;
  }

  private async publishEndpoint(pod: Pod, ready: boolean): Promise<void> {
    await this.env.api.applyYaml(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: canal-gateway-${pod.name}, namespace: istio-system, labels: {kubernetes.io/service-name: canal-gateway}}
addressType: IPv4
endpoints: [{addresses: ["${pod.ip}"], conditions: {ready: ${ready}}, targetRef: {kind: Pod, namespace: istio-system, name: ${pod.name}}}]
ports: [{name: http, port: ${this.port}, protocol: TCP}]
`);
    pod.ready = ready;
    if (ready) pod.readyAt ??= Date.now();
  }

  /** Kubelet + endpoint controller: every 200 ms each pod's readiness probe decides its endpoint's ready condition. */
  private startKubelet(): void {
    const round = async (): Promise<void> => {
      for (const p of [...this.pods.values()]) {
        if (this.stopped || p.terminating) continue;
        const r = await readinessProbe(p.host, this.port);
        if (r.ok !== p.ready && this.pods.get(p.n) === p && !p.terminating) await this.publishEndpoint(p, r.ok);
      }
    };
    this.kubelet = repeat(round, 200);
  }

  waitReady(pod: Pod, ready: boolean, timeoutMs = 30_000): Promise<true> {
    return pollUntil(`${pod.name} ready=${ready}`, () => (pod.ready === ready ? true : undefined), { timeoutMs, intervalMs: 50, onTimeout: () => pod.envoy.logTail() });
  }

  /** Waits until the name resolves to the gateway Service. */
  async waitFlipped(timeoutMs = 30_000): Promise<void> {
    try {
      await waitA(this.env.dns, FQDN, [this.gatewayIp], timeoutMs);
    } catch (err) {
      // What the controller thought, for the failure message.
      const dns = (await igStatus(this.env.api).catch(() => undefined))?.dns;
      const cm = (await this.env.canalDns().catch(() => undefined))?.data;
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus.dns: ${JSON.stringify(dns)}\ncanal-dns keys: ${Object.keys(cm ?? {}).join(", ")}\nlogs: ${this.env.logs.slice(-10).join("\n")}`);
    }
  }

  /** Waits until the client sent `n` more requests through `ip` (bounded). */
  async waitTraffic(c: LoadClient, ip: string, n: number, timeoutMs = 60_000): Promise<void> {
    const from = c.count;
    await pollUntil(`${n} requests via ${ip}`, () => (c.countVia(ip, from) >= n ? true : undefined), { timeoutMs, intervalMs: 50 });
  }

  /** Waits until the client has sent at least `n` requests in all. */
  async waitCount(c: LoadClient, n: number, timeoutMs = 120_000): Promise<void> {
    await pollUntil(`${n} requests in all`, () => (c.count >= n ? true : undefined), { timeoutMs, intervalMs: 100 });
  }

  addresses(): Record<string, string> {
    return { gateway: this.gatewayIp, direct: this.serviceIp };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kubelet?.stop();
    for (const c of this.clients) await c.stop().catch(() => undefined);
    await this.proxy?.stop();
    for (const l of this.links) await l.cut().catch(() => undefined);
    await this.env.stop();
    for (const p of this.pods.values()) {
      await p.envoy.stop().catch(() => undefined);
      rmSync(p.envoy.workDir, { recursive: true, force: true });
    }
    await this.publisher.server.stop();
    const u = this.upstream;
    if (u) await new Promise((r) => u.close(r));
  }
}
