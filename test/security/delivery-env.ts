// A gateway pool for the delivery-proof tests: the DNS environment (real API server, real CoreDNS,
// in-process controllers), real Envoy gateway pods on their own loopback addresses fed over ECDS by
// the controller's EcdsPublisher (optionally through a TCP link the test can cut), and a
// kubelet-and-endpoint-controller stand-in that marks each pod's endpoint ready only while the
// chart's readiness probe (the filter's reserved probe) passes. The API server refuses loopback
// addresses in EndpointSlices, so each pod's endpoint is 10.77.0.N and the controller's prober
// dials it at the pod's loopback address (DnsOptions.probe.dial): the one place the test network
// differs from a cluster's.
import { createServer, Socket, type Server } from "node:net";
import { request } from "node:http";
import { renderCanalBootstrap } from "../../envoy/bootstrap.ts";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import type { Controller } from "../../controller/src/runner/controller.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { gatewayYaml, serviceYaml, startDnsEnv, type DnsEnv } from "../dns/env.ts";

export const PROBE_HOST = "canal-probe.invalid";
/** The gateway Service's port (and the pods' target port in the EndpointSlices). */
export const SERVICE_PORT = 80;
export const GROUP = "istio-system/canal";
export const FQDN = "helloworld.default.svc.cluster.local";

/** A TCP link to the ECDS server that can be cut and restored (a network partition). */
export class Link {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: number) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target, LOOPBACK);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, LOOPBACK, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const x of this.sockets) x.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}

/** helloworld's VirtualService, in its own namespace, bound to the gateway istio-system/canal. */
export function helloworldVsYaml(): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: helloworld, namespace: default}
spec:
  hosts: ["${FQDN}"]
  gateways: [istio-system/canal]
  http: [{route: [{destination: {host: ${FQDN}}}]}]
`;
}

export interface Pod {
  name: string;
  /** The endpoint address published in the EndpointSlice. */
  ip: string;
  /** Where the pod's Envoy listens. */
  host: string;
  port: number;
  envoy: EnvoyProcess;
  /** The readiness the stand-in kubelet last published. */
  ready?: boolean;
}

/** The chart's readinessProbe: GET / with Host canal-probe.invalid; 200–399 is ready. */
export function readinessProbe(host: string, port: number): Promise<{ ok: boolean; status: number; version?: string; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: "/", headers: { host: PROBE_HOST }, agent: false, timeout: 1000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => {
        const v = res.headers["x-canal-table"];
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 400, status, body, ...(typeof v === "string" ? { version: v } : {}) });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ ok: false, status: 0, body: "" }));
    req.end();
  });
}

export class DeliveryWorld {
  readonly pods = new Map<string, Pod>();
  private kubeletTimer?: NodeJS.Timeout;
  private kubeletBusy = false;
  private stopped = false;
  private readonly links: Link[] = [];

  private constructor(
    readonly env: DnsEnv,
    readonly publisher: EcdsPublisher,
    readonly adsPort: number,
    /** The gateway Service's cluster IP. */
    readonly gatewayIp: string,
    /** helloworld's cluster IP. */
    readonly serviceIp: string,
    /** 127.<a>.250: the pods' loopback /24. */
    private readonly podNet: string,
  ) {}

  static async start(name: string): Promise<DeliveryWorld> {
    const env = await startDnsEnv(name);
    const publisher = new EcdsPublisher({ code: { local: ensureCanalWasm() } });
    try {
      const { port } = await publisher.server.start(`${LOOPBACK}:0`);
      const w = new DeliveryWorld(env, publisher, port, `${env.prefix}.0.60`, `${env.prefix}.12.7`, `${env.prefix}.250`);
      await env.api.applyYaml(w.baseYaml());
      return w;
    } catch (err) {
      await publisher.server.stop();
      await env.stop();
      throw err;
    }
  }

  private baseYaml(): string {
    return `${gatewayYaml({ addresses: [this.gatewayIp], ports: [SERVICE_PORT], withoutEndpoints: true })}---\n${serviceYaml("helloworld", this.serviceIp, [SERVICE_PORT])}`;
  }

  /** helloworld's VirtualService, in its own namespace, bound to the gateway. */
  vsYaml(): string {
    return helloworldVsYaml();
  }

  readonly vsPath = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";

  /** The prober's view of the network: endpoint 10.77.0.N:80 is pod N's Envoy. */
  dial = (address: string, port: number): { host: string; port: number } => {
    for (const p of this.pods.values()) if (p.ip === address && port === SERVICE_PORT) return { host: p.host, port: p.port };
    return { host: address, port };
  };

  startController(identity: string, publisher: EcdsPublisher = this.publisher): Promise<Controller> {
    return this.env.startController({ identity, publisher, wasmPlugin: false, dns: { probe: { dial: this.dial, fastMs: 100, intervalMs: 1000 } } });
  }

  /** A link to an ECDS server the test can cut. */
  async link(adsPort = this.adsPort): Promise<Link> {
    const l = new Link(adsPort);
    await l.open();
    this.links.push(l);
    return l;
  }

  /**
   * Starts gateway pod `n` (Envoy with the filter, node.cluster = the InternalGateway, ADS to
   * `adsPort`) and publishes its endpoint, not ready until the stand-in kubelet's probe passes.
   */
  async startPod(n: number, opts: { adsPort?: number; nodeId?: string } = {}): Promise<Pod> {
    const name = `gw-${n}`;
    const host = `${this.podNet}.${n}`;
    const config = renderCanalBootstrap({
      listenerPort: 0,
      listenerAddress: host,
      adminPort: 0,
      wasmPath: ensureCanalWasm(),
      nodeId: opts.nodeId ?? name,
      nodeCluster: GROUP,
      table: { kind: "ads", adsCluster: { name: "canal-controller", host: LOOPBACK, port: opts.adsPort ?? this.adsPort } },
      clusters: [{ name: `outbound|${SERVICE_PORT}||${FQDN}`, host: this.serviceIp, port: SERVICE_PORT }],
    });
    const envoy = await startEnvoy({ name: `delivery-${name}`, config, concurrency: 1 });
    const pod: Pod = { name, ip: `10.77.0.${n}`, host, port: envoy.port("canal"), envoy };
    this.pods.set(name, pod);
    await this.publishEndpoint(pod, false);
    return pod;
  }

  async stopPod(pod: Pod): Promise<void> {
    this.pods.delete(pod.name);
    await this.env.api.delete(`/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices/canal-gateway-${pod.name}`).catch(() => undefined);
    await pod.envoy.stop();
  }

  /** The endpoint controller's EndpointSlice for one pod (one slice per pod keeps updates independent). */
  async publishEndpoint(pod: Pod, ready: boolean): Promise<void> {
    await this.env.api.applyYaml(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: canal-gateway-${pod.name}, namespace: istio-system, labels: {kubernetes.io/service-name: canal-gateway}}
addressType: IPv4
endpoints: [{addresses: ["${pod.ip}"], conditions: {ready: ${ready}}, targetRef: {kind: Pod, namespace: istio-system, name: ${pod.name}}}]
ports: [{name: http, port: ${SERVICE_PORT}, protocol: TCP}]
`);
    pod.ready = ready;
  }

  /** Kubelet + endpoint controller: every 200 ms, each pod's readiness probe decides its endpoint's ready condition. */
  startKubelet(): void {
    const round = async (): Promise<void> => {
      if (this.kubeletBusy || this.stopped) return;
      this.kubeletBusy = true;
      try {
        for (const p of [...this.pods.values()]) {
          const r = await readinessProbe(p.host, p.port);
          if (r.ok !== p.ready && this.pods.has(p.name)) await this.publishEndpoint(p, r.ok);
        }
      } finally {
        this.kubeletBusy = false;
      }
    };
    const tick = (): void => {
      round().catch(() => undefined).finally(() => {
        if (!this.stopped) this.kubeletTimer = setTimeout(tick, 200);
      });
    };
    tick();
  }

  /** Waits until the stand-in kubelet published `pod` with this readiness. */
  waitReady(pod: Pod, ready: boolean, timeoutMs = 20_000): Promise<true> {
    return pollUntil(`${pod.name} ready=${ready}`, () => (pod.ready === ready ? true : undefined), { timeoutMs, intervalMs: 50, onTimeout: () => pod.envoy.logTail() });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.kubeletTimer) clearTimeout(this.kubeletTimer);
    for (const l of this.links) await l.cut().catch(() => undefined);
    await this.env.stop();
    for (const p of this.pods.values()) await p.envoy.stop().catch(() => undefined);
    await this.publisher.server.stop();
  }
}
