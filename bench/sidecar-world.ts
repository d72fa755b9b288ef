// The world of bench:sidecar (bench/sidecar.ts): a real kube-apiserver + etcd and istiod
// (test/istio/world.ts), one upstream application (an Envoy direct_response listener, the fastest
// fixed responder, as bench:filter uses), and the two paths to it, every proxy configured by istiod:
//   - sidecar pair: client → the client pod's sidecar (istiod's outbound listener for its
//     namespace, bound on the pod's address with a Sidecar resource, captureMode NONE: there is no
//     iptables here) → the server pod's sidecar (istiod's inbound listener from the Sidecar's
//     ingress entry, bound on the server pod's address, defaultEndpoint = the application) → app;
//   - Canal: client → the Canal gateway pod (both charts as helm renders them, WasmPlugin mode, the
//     controller as a process; upstream Envoy bootstrapped as pilot-agent would) → app.
// The application is registered twice, as Kubernetes sees a meshed and an unmeshed pod: Service
// `app` whose endpoint (WorkloadEntry) is the server sidecar's address and inbound port, and
// Service `app-direct` whose endpoint is the application itself (Canal's model: no sidecars).
// Plain HTTP everywhere: PeerAuthentication DISABLE and no auto mTLS (FACTS.md "istiod").

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { renderDirectResponseBootstrap } from "../envoy/bootstrap.ts";
import { startEnvoy, type EnvoyProcess } from "../test/support/envoy.ts";
import { renderIstioProxyBootstrap } from "../test/support/istiod.ts";
import type { KubeObject } from "../test/support/k8s.ts";
import { freePort, LOOPBACK } from "../test/support/ports.ts";
import { pollUntil } from "../test/support/processes.ts";
import { request } from "../test/support/http.ts";
import { listenerPortsOf, PILOT_AGENT_LOGGING, startIstioWorld, SYSTEM_NS, type GatewayPod, type IstioWorld, type NativeProxy } from "../test/istio/world.ts";
import { PATHS } from "./filter-measure.ts";

export const APP_NS = "bench-app";
export const CLIENT_NS = "bench-client";
export const FILLER_NS = "bench-fill";
export const APP = "app";
export const APP_DIRECT = "app-direct";
export const fqdn = (name: string, ns: string): string => `${name}.${ns}.svc.cluster.local`;

/** Where a path's requests go: the address wrk connects to, the Host header, the Envoys whose CPU counts. */
export interface PathTarget {
  label: string;
  url: string;
  host: string;
  /** Each Envoy of the path, by role (its CPU is summed for the path). */
  proxies: { role: string; envoy: EnvoyProcess }[];
}

export interface PairWorld {
  world: IstioWorld;
  upstream: EnvoyProcess;
  clientSidecar: NativeProxy;
  serverSidecar: EnvoyProcess;
  gateway: GatewayPod;
  sidecarPath: PathTarget;
  canalPath: PathTarget;
  /** Versions of what istiod programmed, for the report (listener names on each proxy). */
  stop(): Promise<void>;
}

export interface PairOptions {
  /** Filler Services + VirtualServices (on the Canal gateway and the mesh) besides the app. */
  services: number;
  /** CPUs for the proxies under test, and for everything else (taskset lists). */
  proxiesCpu: string;
  loadCpu: string;
  note: (line: string) => void;
}

/** The VirtualService routes every path uses: an /api/ prefix with a timeout, and a catch-all. */
function routes(host: string, port: number): unknown[] {
  const to = { destination: { host, port: { number: port } } };
  return [
    { name: "api", match: [{ uri: { prefix: "/api/" } }], route: [to], timeout: "5s" },
    { name: "default", route: [to] },
  ];
}

function virtualService(name: string, ns: string, gateways: string[], port: number): KubeObject {
  const host = fqdn(name, ns);
  return { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, namespace: ns }, spec: { hosts: [host], gateways, http: routes(host, port) } };
}

function svc(name: string, ns: string, port: number, targetPort?: number): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: { selector: { app: name }, ports: [{ name: "http", port, targetPort: targetPort ?? port, protocol: "TCP" }] },
  };
}

function workloadEntry(name: string, ns: string, address: string, port: number): KubeObject {
  return { apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry", metadata: { name, namespace: ns }, spec: { address, labels: { app: name }, ports: { http: port } } };
}

/**
 * The objects of the bench: the app behind a sidecar (`app`) and without (`app-direct`), the
 * server pod's Sidecar resource (bound inbound listener to the app), the same routes as a mesh
 * VirtualService (sidecars) and a Canal-gateway one, and `services` filler Services with
 * VirtualServices on both, so both kinds of proxy carry a mesh's worth of routes and clusters.
 */
export function pairObjects(o: { services: number; svcPort: number; serverIp: string; inboundPort: number; upstreamPort: number }): KubeObject[] {
  const canal = `${SYSTEM_NS}/canal`;
  const objects: KubeObject[] = [APP_NS, CLIENT_NS, FILLER_NS].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
  objects.push(
    svc(APP, APP_NS, o.svcPort, o.inboundPort),
    workloadEntry(APP, APP_NS, o.serverIp, o.inboundPort),
    svc(APP_DIRECT, APP_NS, o.svcPort, o.upstreamPort),
    workloadEntry(APP_DIRECT, APP_NS, LOOPBACK, o.upstreamPort),
    virtualService(APP, APP_NS, ["mesh"], o.svcPort),
    virtualService(APP_DIRECT, APP_NS, [canal], o.svcPort),
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Sidecar",
      metadata: { name: APP, namespace: APP_NS },
      spec: {
        workloadSelector: { labels: { app: APP } },
        // No iptables here: the inbound listener binds the pod's address itself (captureMode NONE)
        // and hands requests to the application's port, as the Sidecar API documents for that case.
        ingress: [{ port: { number: o.inboundPort, protocol: "HTTP", name: "http" }, bind: o.serverIp, captureMode: "NONE", defaultEndpoint: `${LOOPBACK}:${o.upstreamPort}` }],
        egress: [{ hosts: ["*/*"] }],
      },
    },
  );
  for (let i = 0; i < o.services; i++) {
    const name = `svc-${i}`;
    objects.push(svc(name, FILLER_NS, o.svcPort), virtualService(name, FILLER_NS, [canal, "mesh"], o.svcPort));
  }
  return objects;
}

/** A loopback address of its own for a proxy: never 127.0.0.1 (the app), random /24 per run. */
function proxyIpFactory(): () => string {
  const net = `127.${2 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
  let next = 100;
  return () => `${net}.${(next += 1)}`;
}

/** Pins a running process and all its threads to `cpus` (taskset -a). */
export function pin(pid: number, cpus: string): void {
  execFileSync("taskset", ["-a", "-c", "-p", cpus, String(pid)], { stdio: "ignore" });
}

/** Every live descendant of this process (from /proc: ppid chains). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid), hops = 0; p !== undefined && p > 1 && hops < 64; p = parent.get(p), hops++) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/**
 * The control plane and this process (API server, etcd, istiod, the controller) on the load CPU,
 * the proxies under test alone on theirs: istiod and the controller wake up now and then, and
 * must not take the proxies' core in the middle of a round.
 */
export function pinAll(proxyPids: number[], opts: Pick<PairOptions, "proxiesCpu" | "loadCpu">): void {
  const proxies = new Set(proxyPids);
  for (const pid of [process.pid, ...descendants(process.pid)]) {
    try {
      pin(pid, proxies.has(pid) ? opts.proxiesCpu : opts.loadCpu);
    } catch {
      // exited meanwhile (a short-lived helper)
    }
  }
}

async function untilListening(envoy: EnvoyProcess, port: number, world: IstioWorld): Promise<void> {
  await pollUntil(`${envoy.name}'s listener on port ${port}`, async () => ((await listenerPortsOf(envoy)).includes(port) ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 100,
    onTimeout: () => `${envoy.logTail()}\n${world.istiod.logTail(20)}`,
  });
}

/** Polls `address:port` with `host` until every bench path answers 200 (istiod's routes and endpoints arrived). */
async function untilRouted(what: string, address: string, port: number, host: string): Promise<void> {
  await pollUntil(
    what,
    async () => {
      for (const path of PATHS) {
        const r = await request({ address, port, host, path, timeoutMs: 2000 }).catch(() => undefined);
        if (r?.status !== 200) return undefined;
      }
      return true;
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  );
}

/** What istiod programmed into a proxy: counts of its dynamic listeners, clusters and routes' virtual hosts, and its HTTP filters. */
export interface ProxyConfigFacts {
  listeners: number;
  clusters: number;
  virtualHosts: number;
  httpFilters: string[];
}

/** Every value of `key` in a parsed JSON tree. */
function valuesOf(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const x of node) valuesOf(x, key, out);
  else if (node !== null && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(v);
      valuesOf(v, key, out);
    }
  }
  return out;
}

export async function proxyConfigFacts(envoy: EnvoyProcess): Promise<ProxyConfigFacts> {
  const dump = async (resource: string): Promise<unknown[]> => (JSON.parse(await envoy.admin(`/config_dump?resource=${resource}`)) as { configs?: unknown[] }).configs ?? [];
  const listeners = await dump("dynamic_listeners");
  const routes = await dump("dynamic_route_configs");
  const filters = new Set<string>();
  for (const chain of valuesOf(listeners, "http_filters")) {
    for (const f of Array.isArray(chain) ? chain : []) if (typeof (f as { name?: unknown }).name === "string") filters.add((f as { name: string }).name);
  }
  return {
    listeners: listeners.length,
    clusters: (await dump("dynamic_active_clusters")).length,
    virtualHosts: valuesOf(routes, "virtual_hosts").reduce((n: number, v) => n + (Array.isArray(v) ? v.length : 0), 0),
    httpFilters: [...filters].sort(),
  };
}

/** Starts the whole world; on failure everything started is stopped. */
export async function startPairWorld(opts: PairOptions): Promise<PairWorld> {
  const world = await startIstioWorld("bench-sidecar");
  let upstream: EnvoyProcess | undefined;
  let serverSidecar: EnvoyProcess | undefined;
  const stop = async (): Promise<void> => {
    await serverSidecar?.stop().catch(() => undefined);
    await world.stop(); // the gateway, the client sidecar, the controller, istiod, the API server
    await upstream?.stop().catch(() => undefined);
  };
  try {
    const nextIp = proxyIpFactory();
    upstream = await startEnvoy({
      name: "bench-sidecar-app",
      config: renderDirectResponseBootstrap({ adminPort: 0, listenerPort: 0 }),
      concurrency: 1,
      cpuList: opts.loadCpu,
      logLevel: "warning",
    });
    const svcPort = await freePort();
    const inboundPort = await freePort();
    const serverIp = nextIp();
    opts.note(`objects: app + app-direct + ${opts.services} filler Services and VirtualServices (Service port ${svcPort})`);
    await world.api.apply(pairObjects({ services: opts.services, svcPort, serverIp, inboundPort, upstreamPort: upstream.port() }));

    opts.note("charts (WasmPlugin mode), controller, Canal gateway pod");
    await world.installCharts("wasmplugin");
    await world.startController();
    const gateway = await world.startGateway("canal-gateway-0", PILOT_AGENT_LOGGING);

    opts.note("client sidecar (bench-client) and server sidecar (bench-app)");
    // world.startSidecar also applies the mesh-wide PeerAuthentication DISABLE (plain HTTP).
    const clientSidecar = await world.startSidecar(CLIENT_NS, [svcPort]);
    serverSidecar = await startEnvoy({
      name: "bench-sidecar-server",
      config: renderIstioProxyBootstrap({ istiod: world.istiod, type: "sidecar", ip: serverIp, podName: `${APP}-0`, namespace: APP_NS, labels: { app: APP } }),
      readyTimeoutMs: 60_000,
      logLevel: PILOT_AGENT_LOGGING.logLevel,
      componentLogLevel: PILOT_AGENT_LOGGING.componentLogLevel,
    });
    await untilListening(serverSidecar, inboundPort, world);

    const gatewayPort = world.install?.port ?? 0;
    const appHost = fqdn(APP, APP_NS);
    const directHost = fqdn(APP_DIRECT, APP_NS);
    await untilRouted("the server sidecar's inbound listener to route to the app", serverIp, inboundPort, appHost);
    await untilRouted("the client sidecar to route app through the server sidecar", clientSidecar.address, svcPort, appHost);
    await untilRouted("the Canal gateway to route app-direct", LOOPBACK, gatewayPort, directHost);

    const sidecarPath: PathTarget = {
      label: "sidecar pair",
      url: `http://${clientSidecar.address}:${svcPort}`,
      host: appHost,
      proxies: [
        { role: "client sidecar", envoy: clientSidecar.envoy },
        { role: "server sidecar", envoy: serverSidecar },
      ],
    };
    const canalPath: PathTarget = { label: "Canal gateway", url: `http://${LOOPBACK}:${gatewayPort}`, host: directHost, proxies: [{ role: "Canal gateway", envoy: gateway.envoy }] };
    pinAll([clientSidecar.envoy.pid, serverSidecar.pid, gateway.envoy.pid], opts);
    return { world, upstream, clientSidecar, serverSidecar, gateway, sidecarPath, canalPath, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
