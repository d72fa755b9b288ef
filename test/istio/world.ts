// A small Istio world for end-to-end tests: a real kube-apiserver + etcd, a real istiod, echo
// backends on 127.0.0.1 registered as Services with WorkloadEntries (kube-apiserver refuses
// loopback addresses in EndpointSlices; istiod turns WorkloadEntries into the same endpoints),
// both charts as `helm template` renders them applied to the API server, the controller started
// from the chart's own Deployment args (as a real process, with the chart's ServiceAccount and
// RBAC), and gateway pods played by upstream Envoy bootstrapped as pilot-agent would bootstrap
// them from the chart's Deployment (labels, ISTIO_META_* env, serviceCluster annotation).
//
// The harness plays kubelet and pilot-agent, nothing else: every decision about routes,
// clusters and filters is istiod's, the controller's and Envoy's. See docs/istio-testing.md.

import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { applyAll, CONTROL_CHART, find, GATEWAY_CHART, sets, template } from "../charts/helm.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { request, type HttpResponse, type RequestOptions } from "../support/http.ts";
import { startIstiod, podTemplateFacts, prepareForIstiod, renderIstioProxyBootstrap, type Istiod } from "../support/istiod.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { canalControllerReady, ControllerProcess } from "../support/controller-process.ts";
import { pollUntil } from "../support/processes.ts";
import { freePort, LOOPBACK } from "../support/ports.ts";
import { startUpstream, type Echo, type Upstream } from "../support/upstream.ts";
import { ensureCanalWasm, REPO_ROOT } from "../support/wasm.ts";

export const SYSTEM_NS = "istio-system";

export type DeliveryMode = "wasmplugin" | "envoyfilter";

export interface Backend {
  service: string;
  namespace: string;
  /** The Service port. */
  port: number;
  /** One echo upstream per version label ("" = no version label). */
  upstreams: Map<string, Upstream>;
}

/** A gateway pod: upstream Envoy bootstrapped to istiod as the chart's Deployment describes. */
export interface GatewayPod {
  name: string;
  ip: string;
  envoy: EnvoyProcess;
}

export interface ChartInstall {
  mode: DeliveryMode;
  /** The gateway's listener port (chart service.ports[0].port, the Gateway server's port). */
  port: number;
  gatewayObjects: KubeObject[];
  controlObjects: KubeObject[];
  /** EnvoyFilter mode: the port the controller serves ECDS on (chart ecds.port). */
  ecdsPort?: number;
  /**
   * The Gateway's loopback table server port (ADR 0005; charts istioGateway.tablePort and
   * wasm.tablePort): a free port here, not the chart's 15099, because every gateway Envoy of
   * every test process shares this machine's 127.0.0.1 (pods would each have their own).
   */
  tablePort: number;
}

// Proxies get loopback addresses of their own: never 127.0.0.1, which the backends use (istiod
// finds a router's own service targets by IP, FACTS.md). A random /24 per test process, because
// sidecar listeners bind their proxy's address and test files run in parallel.
const PROXY_NET = `127.${2 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
let nextIp = 1;

function proxyIp(): string {
  nextIp += 1;
  return `${PROXY_NET}.${nextIp}`;
}

/**
 * Envoy's log levels for a gateway pod; default: the harness's (info). Istio's injection
 * template starts proxies with `-l warning --component-log-level misc:error`
 * (PILOT_AGENT_LOGGING below), which also silences Envoy's per-route deprecation warnings.
 */
export interface ProxyLogging {
  logLevel?: "trace" | "debug" | "info" | "warning" | "error";
  componentLogLevel?: string;
}

/** The log levels pilot-agent gives Envoy with Istio's default values (global.proxy.logLevel, componentLogLevel). */
export const PILOT_AGENT_LOGGING: ProxyLogging = { logLevel: "warning", componentLogLevel: "misc:error" };

/** A proxy that istiod programs natively, without Canal: a gateway or a client pod's sidecar. */
export interface NativeProxy {
  name: string;
  ip: string;
  envoy: EnvoyProcess;
  /** Where requests go: 127.0.0.1 and the gateway's port, or the sidecar's bound address. */
  address: string;
  port: number;
}

export class IstioWorld {
  readonly backends: Backend[] = [];
  readonly gateways: GatewayPod[] = [];
  readonly controllers: ControllerProcess[] = [];
  readonly natives: NativeProxy[] = [];
  install: ChartInstall | undefined;

  constructor(
    readonly name: string,
    readonly api: KubeApi,
    readonly istiod: Istiod,
  ) {}

  /** A Service `name.namespace:port` with one echo upstream per version (WorkloadEntries labelled app/version). */
  async addBackend(service: string, namespace: string, port: number, versions: string[] = [""], opts: { createService?: boolean } = {}): Promise<Backend> {
    await this.ensureNamespace(namespace);
    const upstreams = new Map<string, Upstream>();
    for (const v of versions) upstreams.set(v, await startUpstream(v === "" ? `${service}.${namespace}` : `${service}.${namespace}/${v}`));
    const first = upstreams.values().next().value as Upstream;
    // createService: false when the test applies the Service itself (a port named "http", selector app=<service>).
    const objects: KubeObject[] =
      opts.createService === false
        ? []
        : [
            {
              apiVersion: "v1",
              kind: "Service",
              metadata: { name: service, namespace, labels: { app: service } },
              spec: { selector: { app: service }, ports: [{ name: "http", port, targetPort: first.port, protocol: "TCP" }] },
            },
          ];
    for (const [v, up] of upstreams) {
      objects.push({
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: v === "" ? service : `${service}-${v}`, namespace },
        spec: { address: LOOPBACK, labels: v === "" ? { app: service } : { app: service, version: v }, ports: { http: up.port } },
      });
    }
    await this.api.apply(objects);
    const b: Backend = { service, namespace, port, upstreams };
    this.backends.push(b);
    return b;
  }

  async ensureNamespace(ns: string): Promise<void> {
    await this.api.applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n`);
  }

  /**
   * `helm template` of both charts with the seed's flags plus what a machine without a cluster
   * needs (the gateway's port, the filter as a file), applied to the API server as helm would.
   */
  async installCharts(mode: DeliveryMode, opts: { port?: number; gatewaySets?: Record<string, string>; controlSets?: Record<string, string> } = {}): Promise<ChartInstall> {
    const wasm = ensureCanalWasm();
    const port = opts.port ?? (await freePort());
    const ecdsPort = mode === "envoyfilter" ? await freePort() : undefined;
    const tablePort = await freePort();
    const gatewaySets: Record<string, string> = {
      "service.ports[0].name": "http",
      "service.ports[0].port": String(port),
      "service.ports[0].targetPort": String(port),
      "istioGateway.enabled": "true",
      "istioGateway.tablePort": String(tablePort),
      ...(mode === "envoyfilter" ? { "ecds.enabled": "true", "ecds.filterImage": "registry.example/canal:0.1.0", "ecds.wasmPath": wasm, "ecds.port": String(ecdsPort) } : {}),
      ...(opts.gatewaySets ?? {}),
    };
    const controlSets: Record<string, string> = {
      "global.hub": "registry.example/canal",
      "global.tag": "0.1.0",
      "delivery.mode": mode,
      ...(mode === "wasmplugin" ? { "wasm.url": `file://${wasm}`, "wasm.tablePort": String(tablePort) } : { "ecds.port": String(ecdsPort), "ecds.wasmPath": wasm }),
      ...(opts.controlSets ?? {}),
    };
    const gatewayObjects = await template(GATEWAY_CHART, "canal-gateway", SYSTEM_NS, sets(gatewaySets));
    const controlObjects = await template(CONTROL_CHART, "canal-control", SYSTEM_NS, sets(controlSets));
    const failures = await applyAll(this.api, [...gatewayObjects, ...controlObjects], { dryRun: false });
    if (failures.length > 0) throw new Error(`applying the charts failed:\n${failures.join("\n")}`);
    this.install = { mode, port, gatewayObjects, controlObjects, ecdsPort, tablePort };
    return this.install;
  }

  private requireInstall(): ChartInstall {
    if (this.install === undefined) throw new Error("installCharts() first");
    return this.install;
  }

  /**
   * The controller as a real process, with the args of the chart's Deployment (listen addresses
   * moved to loopback) and a kubeconfig holding a token of the chart's ServiceAccount, so the
   * chart's RBAC is what it runs with.
   */
  async startController(identity = `controller-${this.controllers.length}`): Promise<ControllerProcess> {
    const inst = this.requireInstall();
    const deployment = find(inst.controlObjects, "Deployment", "canal-controller");
    const container = (deployment.spec as { template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } }).template.spec;
    const args = container.containers[0].args.map((a) => a.replace(/^(--(?:ecds|metrics)-address=)0\.0\.0\.0:/, `$1${LOOPBACK}:`)).map((a) => (a.startsWith("--metrics-address=") ? `--metrics-address=${LOOPBACK}:0` : a));
    const kubeconfig = await this.serviceAccountKubeconfig(SYSTEM_NS, container.serviceAccountName);
    const proc = ControllerProcess.spawn({
      name: identity,
      args: [join(REPO_ROOT, "bin/canal.mjs"), ...args, "--kubeconfig", kubeconfig, "--identity", identity],
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "1048576" },
    });
    this.controllers.push(proc); // stopped by stop() even if it never gets ready
    await proc.waitReady(canalControllerReady(false), { timeoutMs: 30_000, intervalMs: 50 });
    return proc;
  }

  /** A kubeconfig for ServiceAccount ns/name with a token from the TokenRequest API. */
  async serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
    const r = await this.api.create<KubeObject & { status?: { token?: string } }>(
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    );
    const token = r.status?.token;
    if (token === undefined) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
    const path = join(this.api.workDir, `kubeconfig-${namespace}-${name}`);
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: ${JSON.stringify(this.api.server)}, certificate-authority: ${JSON.stringify(this.api.caPath)}}}]
users: [{name: ${name}, user: {token: ${JSON.stringify(token)}}}]
contexts: [{name: test, context: {cluster: test, user: ${name}}}]
current-context: test
`,
      { mode: 0o600 },
    );
    return path;
  }

  /** A gateway pod of the chart's Deployment: Envoy bootstrapped to istiod as pilot-agent would. */
  async startGateway(podName = `canal-gateway-${this.gateways.length}`, opts: { dnsPort?: number } & ProxyLogging = {}): Promise<GatewayPod> {
    const inst = this.requireInstall();
    const facts = podTemplateFacts(find(inst.gatewayObjects, "Deployment"), inst.gatewayObjects);
    const ip = proxyIp();
    const envoy = await startEnvoy({
      name: `${this.name}-${podName}`,
      config: renderIstioProxyBootstrap({
        istiod: this.istiod,
        type: "router",
        ip,
        podName,
        namespace: SYSTEM_NS,
        labels: facts.labels,
        serviceCluster: facts.serviceCluster,
        metadata: facts.metadata,
        serviceAccount: facts.serviceAccount,
        dnsResolvers: opts.dnsPort === undefined ? undefined : [{ address: LOOPBACK, port: opts.dnsPort }],
      }),
      // What pilot-agent does with ISTIO_BOOTSTRAP_OVERRIDE (the chart's ECDS cluster).
      extraArgs: facts.bootstrapOverride === undefined ? [] : ["--config-yaml", facts.bootstrapOverride],
      readyTimeoutMs: 60_000,
      logLevel: opts.logLevel,
      componentLogLevel: opts.componentLogLevel,
    });
    const pod: GatewayPod = { name: podName, ip, envoy };
    this.gateways.push(pod);
    await pollUntil(`${podName}'s listener on port ${inst.port}`, async () => ((await this.listenerPorts(pod)).includes(inst.port) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
      onTimeout: () => `${envoy.logTail()}\n${this.istiod.logTail(20)}`,
    });
    return pod;
  }

  /**
   * A second gateway that istiod programs natively (no Canal filter, no EnvoyFilter): pods
   * labelled app=native-gateway behind the Gateway istio-system/native on its own port. A
   * VirtualService that lists both `canal` and `istio-system/native` in `gateways` is served by
   * both, so the same request can be compared.
   */
  async startNativeGateway(port?: number, logging: ProxyLogging = {}): Promise<NativeProxy> {
    const p = port ?? (await freePort());
    await this.api.applyYaml(nativeGatewayYaml(p));
    const ip = proxyIp();
    const envoy = await startEnvoy({
      name: `${this.name}-native-gateway`,
      config: renderIstioProxyBootstrap({ istiod: this.istiod, type: "router", ip, podName: "native-gateway-0", namespace: SYSTEM_NS, labels: { app: "native-gateway", istio: "gateway" } }),
      readyTimeoutMs: 60_000,
      logLevel: logging.logLevel,
      componentLogLevel: logging.componentLogLevel,
    });
    const proxy: NativeProxy = { name: "native-gateway", ip, envoy, address: LOOPBACK, port: p };
    this.natives.push(proxy);
    await this.untilListening(envoy, p);
    return proxy;
  }

  /**
   * The sidecar of a client pod in `namespace`, as istiod programs it for that namespace (short
   * names, `mesh` VirtualServices). No iptables here, so a Sidecar resource gives it bound egress
   * listeners on its own address (captureMode NONE) for `ports`; requests go straight to them.
   */
  async startSidecar(namespace: string, ports: number[]): Promise<NativeProxy> {
    await this.ensureNamespace(namespace);
    // Plain HTTP, as Canal: without this istiod gives the sidecar's inbound listeners TLS filter
    // chains (PERMISSIVE), which wait forever for certificates from the pilot-agent that is not here.
    await this.api.applyYaml(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: ${SYSTEM_NS}}
spec: {mtls: {mode: DISABLE}}
`);
    const ip = proxyIp();
    const app = `client-${namespace}`;
    await this.api.applyYaml(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${app}, namespace: ${namespace}}
spec:
  workloadSelector: {labels: {app: ${app}}}
  egress:
${ports.map((p) => `  - port: {number: ${p}, protocol: HTTP, name: http-${p}}\n    bind: ${ip}\n    captureMode: NONE\n    hosts: ["*/*"]`).join("\n")}
`);
    const envoy = await startEnvoy({
      name: `${this.name}-sidecar-${namespace}`,
      config: renderIstioProxyBootstrap({ istiod: this.istiod, type: "sidecar", ip, podName: `${app}-0`, namespace, labels: { app } }),
      readyTimeoutMs: 60_000,
    });
    const proxy: NativeProxy = { name: `sidecar-${namespace}`, ip, envoy, address: ip, port: ports[0] };
    this.natives.push(proxy);
    for (const p of ports) await this.untilListening(envoy, p);
    return proxy;
  }

  private async untilListening(envoy: EnvoyProcess, port: number): Promise<void> {
    await pollUntil(`${envoy.name}'s listener on port ${port}`, async () => ((await listenerPortsOf(envoy)).includes(port) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
      onTimeout: () => `${envoy.logTail()}\n${this.istiod.logTail(20)}`,
    });
  }

  async listenerPorts(pod: GatewayPod): Promise<number[]> {
    return listenerPortsOf(pod.envoy);
  }


  /**
   * One request to the Canal gateway's listener (the chart's port). Istio's listener binds
   * 0.0.0.0 with SO_REUSEPORT, so with several gateway pods the kernel, not the caller, picks the
   * pod that answers.
   */
  send(opts: Omit<RequestOptions, "port">): Promise<HttpResponse> {
    return request({ ...opts, port: this.requireInstall().port });
  }

  async stop(): Promise<void> {
    for (const c of this.controllers) await c.stop("SIGKILL", 5000).catch(() => undefined);
    for (const g of this.gateways) await g.envoy.stop().catch(() => undefined);
    for (const n of this.natives) await n.envoy.stop().catch(() => undefined);
    for (const b of this.backends) for (const u of b.upstreams.values()) await u.close().catch(() => undefined);
    await this.istiod.stop().catch(() => undefined);
    await this.api.stop();
  }
}

/**
 * The Gateway istio-system/native that startNativeGateway() applies: pods labelled
 * app=native-gateway, HTTP on `port`, every host. Applying it earlier (the same object) lets
 * VirtualServices name it before its pods exist.
 */
export function nativeGatewayYaml(port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: native, namespace: ${SYSTEM_NS}}
spec:
  selector: {app: native-gateway}
  servers:
  - port: {number: ${port}, name: http, protocol: HTTP}
    hosts: ["*"]
`;
}

/** The ports of an Envoy's active listeners (admin /listeners). */
export async function listenerPortsOf(envoy: EnvoyProcess): Promise<number[]> {
  const body = await envoy.admin("/listeners?format=json");
  const parsed = JSON.parse(body) as { listener_statuses?: { local_address?: { socket_address?: { port_value?: number } } }[] };
  return (parsed.listener_statuses ?? []).map((l) => l.local_address?.socket_address?.port_value ?? 0);
}

/** The echo a backend answered with, or undefined when the response is not one. */
export function echoOf(res: HttpResponse): Echo | undefined {
  try {
    const e = JSON.parse(res.body) as Echo;
    return typeof e.upstream === "string" ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the API server (with istiod's CRDs) and istiod. */
export async function startIstioWorld(name: string): Promise<IstioWorld> {
  const api = await startKubeApi({ name });
  try {
    await prepareForIstiod(api);
    const istiod = await startIstiod({ kubeApi: api, name: `${name}-istiod` });
    return new IstioWorld(name, api, istiod);
  } catch (err) {
    await api.stop();
    throw err;
  }
}
