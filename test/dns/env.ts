// The DNS test environment: a real kube-apiserver whose Service cluster IPs are loopback
// addresses (a random 127.x.0.0/16, plus an IPv6 range for dual-stack), a real CoreDNS whose
// Corefile comes from the kube-system/coredns ConfigMap and which imports the controller's
// kube-system/canal-dns ConfigMap, both projected into its directory by the kubelet-style
// projector, and in-process controllers with --dns (restartable, several at once).
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { DnsManager, type DnsOptions } from "../../controller/src/sinks/dns/manager.ts";
import { resolveKinds, type ResolvedKind } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import type { TableSink } from "../../controller/src/sinks/delivery.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { renderCanalBootstrap } from "../../envoy/bootstrap.ts";
import { EcdsPublisher } from "../../controller/src/sinks/ecds-publisher.ts";
import { defaultCorefile, startCoreDns, type CoreDns } from "../support/coredns.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { LOOPBACK } from "../support/ports.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";
import { ConfigMapProjector } from "./projector.ts";

export const CM_PATH = "/api/v1/namespaces/kube-system/configmaps";

/**
 * What the operator adds to the main server block of the CoreDNS Corefile (docs/dns.md): the
 * import of the controller's snippet, and a cache that does not hold cluster.local answers.
 */
export function canalCorefileLines(mount: string): string {
  return [`import ${mount}/*.conf`, `cache 30 {`, `    disable success cluster.local`, `    disable denial cluster.local`, `}`].join("\n");
}

export interface DnsEnv {
  api: KubeApi;
  dns: CoreDns;
  projector: ConfigMapProjector;
  kc: k8s.KubeConfig;
  kinds: ResolvedKind[];
  /** "127.a" of the loopback /16 the API server allocates cluster IPs from. */
  prefix: string;
  /** Where canal-dns is projected (the controller's --dns-mount-path). */
  mount: string;
  logs: string[];
  /** The canal-dns ConfigMap as stored. */
  canalDns(): Promise<KubeObject & { data?: Record<string, string> }>;
  startController(opts?: { identity?: string; publisher?: TableSink; dns?: Partial<DnsOptions>; wasmPlugin?: boolean; systemNamespaces?: string[] }): Promise<Controller>;
  /**
   * A real gateway pod behind the gateway Service's endpoint (10.1.0.5 in gatewayYaml): Envoy with
   * the filter, fed the table of the WasmPlugin the controller writes (the harness plays istiod).
   * Controllers started afterwards probe it there (DnsOptions.probe.dial), as they would probe
   * the pod IP in a cluster: DNS flips only once it serves the table (gating condition 3).
   */
  startGateway(): Promise<EnvoyProcess>;
  stop(): Promise<void>;
}

/** Plays istiod for one WasmPlugin: polls it and publishes its pluginConfig to an ECDS group. */
async function wasmPluginFeeder(api: KubeApi, publisher: EcdsPublisher, isStopped: () => boolean): Promise<void> {
  let last = "";
  for (let i = 0; i < 1_000_000 && !isStopped(); i++) {
    const p = await api
      .get<KubeObject & { metadata: { annotations?: Record<string, string> }; spec?: { pluginConfig?: { version?: string } } }>("/apis/extensions.istio.io/v1alpha1/namespaces/istio-system/wasmplugins/canal-canal")
      .catch(() => undefined);
    const cfg = p?.spec?.pluginConfig;
    if (cfg?.version !== undefined && cfg.version !== last) {
      publisher.server.publish({ version: cfg.version, json: JSON.stringify(cfg) }, { group: "istio-system/canal" });
      last = cfg.version;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startDnsEnv(name: string): Promise<DnsEnv> {
  const a = 100 + Math.floor(Math.random() * 150);
  const prefix = `127.${a}`;
  const api = await startKubeApi({ name, apiserverArgs: [`--service-cluster-ip-range=${prefix}.0.0/16,fd00:${a.toString(16)}::/112`] });
  const stops: Array<() => Promise<void>> = [() => api.stop()];
  try {
    await api.prepareForCanal();
    // CoreDNS starts with the operator's Corefile; from then on it reads the projected ConfigMap.
    const template = defaultCorefile({ kubeApi: api, cacheTtl: 0, mainBlockExtra: canalCorefileLines("{{DIR}}/canal") });
    const dns = await startCoreDns({ name, kubeApi: api, corefile: template });
    stops.unshift(() => dns.stop());
    const mount = join(dns.dir, "canal");
    await api.create(CM_PATH, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "coredns", namespace: "kube-system" }, data: { Corefile: dns.corefile() } });
    // The chart creates canal-dns empty; the controller needs no create permission.
    await api.create(CM_PATH, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "canal-dns", namespace: "kube-system" }, data: {} });
    const projector = new ConfigMapProjector(api, [
      { namespace: "kube-system", name: "coredns", dir: dns.dir },
      { namespace: "kube-system", name: "canal-dns", dir: mount },
    ]);
    projector.start();
    stops.unshift(() => projector.stop());
    await pollUntil("the projector to write both ConfigMaps", () => (projector.counts.size === 2 ? true : undefined), { timeoutMs: 20_000 });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    const kinds = await resolveKinds(kc);
    const logs: string[] = [];
    const controllers: Controller[] = [];
    const validateRegex = loadRegexValidator();
    let gateway: { host: string; envoy: EnvoyProcess } | undefined;
    let stopped = false;
    const dial = (): { host: string; port: number } => ({ host: gateway!.host, port: gateway!.envoy.port("canal") });
    const env: DnsEnv = {
      api,
      dns,
      projector,
      kc,
      kinds,
      prefix,
      mount,
      logs,
      canalDns: () => api.get(`${CM_PATH}/canal-dns`),
      async startController(opts = {}) {
        const identity = opts.identity ?? `dns-${controllers.length}`;
        const log = jsonLogger("debug", { identity }, (l) => {
          logs.push(l);
          if (logs.length > 5000) logs.splice(0, 1000);
        });
        const dnsManager = new DnsManager(
          kc,
          {
            configMap: { namespace: "kube-system", name: "canal-dns" }, ttlSeconds: 5, drainSeconds: 7, dryRun: false, mountPath: mount, clusterDomain: "cluster.local", pollMs: 1000,
            ...opts.dns,
            // A started gateway is probed through its loopback address; the caller may still set the prober's timings.
            ...(gateway === undefined ? {} : { probe: { dial, fastMs: 100, ...opts.dns?.probe } }),
          },
          log,
        );
        const c = new Controller({
          kc,
          kinds,
          log,
          identity,
          leaseNamespace: "istio-system",
          leaseDurationSeconds: 3,
          validateRegex,
          dns: dnsManager,
          ...(opts.publisher === undefined ? {} : { publisher: opts.publisher }),
          ...(opts.systemNamespaces === undefined ? {} : { systemNamespaces: opts.systemNamespaces }),
          ...(opts.wasmPlugin === false ? {} : { wasmPlugin: { url: "file:///etc/canal/canal.wasm" } }),
        });
        await c.start();
        controllers.push(c);
        return c;
      },
      async startGateway() {
        const publisher = new EcdsPublisher({ code: { local: ensureCanalWasm() } });
        const { port } = await publisher.server.start(`${LOOPBACK}:0`);
        stops.unshift(() => publisher.server.stop());
        const host = `${prefix}.250.5`;
        const envoy = await startEnvoy({
          name: `${name}-gateway`,
          concurrency: 1,
          config: renderCanalBootstrap({
            listenerPort: 0,
            listenerAddress: host,
            adminPort: 0,
            wasmPath: ensureCanalWasm(),
            nodeId: "gw-dns",
            nodeCluster: "istio-system/canal",
            table: { kind: "ads", adsCluster: { name: "canal-controller", host: LOOPBACK, port } },
            clusters: [],
          }),
        });
        stops.unshift(() => envoy.stop());
        gateway = { host, envoy };
        const feeding = wasmPluginFeeder(api, publisher, () => stopped);
        stops.unshift(async () => {
          stopped = true;
          await feeding;
        });
        return envoy;
      },
      async stop() {
        stopped = true;
        for (const c of controllers) await c.stop().catch(() => undefined);
        for (const s of stops) await s().catch(() => undefined);
      },
    };
    return env;
  } catch (err) {
    for (const s of stops) await s().catch(() => undefined);
    throw err;
  }
}

/** Polls dig until the A answer for `name` equals `want` (sorted). */
export async function waitA(dns: CoreDns, name: string, want: string[], timeoutMs = 20_000, type: "A" | "AAAA" = "A"): Promise<void> {
  let last: string[] = [];
  await pollUntil(
    `${name} ${type} → ${want.join(",") || "(no records)"}`,
    async () => {
      last = (await dns.query(name, type)).sort();
      return JSON.stringify(last) === JSON.stringify([...want].sort()) ? true : undefined;
    },
    { timeoutMs, intervalMs: 50, onTimeout: () => `last answer: ${last.join(",")}\n${dns.logs().split("\n").slice(-15).join("\n")}` },
  );
}

export interface IgStatus {
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  dns?: { redirected: number; pending: number; draining: number; entries?: Array<{ name: string; state: string; reason: string; message: string; drainUntil?: string }> };
}

export async function igStatus(api: KubeApi): Promise<IgStatus> {
  const o = await api.get<KubeObject & { status?: IgStatus }>("/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal");
  return o.status ?? {};
}

/** Polls the InternalGateway status until the DNS entry for `fqdn` has this state (and reason). */
export async function waitEntry(api: KubeApi, fqdn: string, state: string, reason?: string, timeoutMs = 20_000): Promise<{ name: string; state: string; reason: string; message: string }> {
  let last: unknown;
  return pollUntil(
    `status.dns entry ${fqdn} ${state}${reason ? `/${reason}` : ""}`,
    async () => {
      const s = await igStatus(api);
      const e = s.dns?.entries?.find((x) => x.name === fqdn);
      last = s.dns;
      return e !== undefined && e.state === state && (reason === undefined || e.reason === reason) ? e : undefined;
    },
    { timeoutMs, intervalMs: 100, onTimeout: () => `last status.dns: ${JSON.stringify(last)}` },
  );
}

export interface GatewayYamlOptions {
  /** The gateway Service's cluster IPs: one (IPv4) or two (dual-stack, IPv4 first). */
  addresses: string[];
  /** Ports of the gateway Service. */
  ports: number[];
  /** HTTP server ports of the Istio Gateway; default `ports`. */
  serverPorts?: number[];
  /** Whether the gateway's one endpoint is ready; default true. */
  ready?: boolean;
  /** Leave out the EndpointSlice (the caller publishes its own pods' endpoints). */
  withoutEndpoints?: boolean;
}

/** The gateway side of the seed's setup: gateway Service + EndpointSlice, Istio Gateway, InternalGateway. */
export function gatewayYaml(o: GatewayYamlOptions): string {
  const portList = (ps: number[]): string => `[${ps.map((p, i) => `{port: ${p}, name: http${i === 0 ? "" : `-${p}`}}`).join(", ")}]`;
  const ips = o.addresses.length > 1 ? `  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv4, IPv6]\n  clusterIP: "${o.addresses[0]}"\n  clusterIPs: [${o.addresses.map((a) => `"${a}"`).join(", ")}]\n` : `  clusterIP: "${o.addresses[0]}"\n`;
  const servers = (o.serverPorts ?? o.ports).map((p, i) => `{port: {number: ${p}, name: http${i === 0 ? "" : `-${p}`}, protocol: HTTP}, hosts: ["*"]}`).join(", ");
  return `apiVersion: v1
kind: Service
metadata: {name: canal-gateway, namespace: istio-system}
spec:
${ips}  selector: {app: canal-gateway}
  ports: ${portList(o.ports)}
---
${o.withoutEndpoints ? "" : `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: canal-gateway-a, namespace: istio-system, labels: {kubernetes.io/service-name: canal-gateway}}
addressType: IPv4
endpoints: [{addresses: ["10.1.0.5"], conditions: {ready: ${o.ready ?? true}}}]
ports: ${portList(o.ports)}
---
`}
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: canal, namespace: istio-system}
spec:
  selector: {app: canal-gateway}
  servers: [${servers}]
---
apiVersion: canal.io/v1alpha1
kind: InternalGateway
metadata: {name: canal, namespace: istio-system}
spec: {gatewayRef: {name: canal}, serviceRef: {name: canal-gateway}, hostGrants: [{namespaces: [istio-system], hosts: ["*"]}]}
`;
}

/** A Service in `default` with an explicit (loopback) cluster IP. */
export function serviceYaml(name: string, ip: string, ports: number[], extraMeta = ""): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default${extraMeta}}
spec: {clusterIP: "${ip}", ports: [${ports.map((p, i) => `{port: ${p}, name: http${i === 0 ? "" : `-${p}`}}`).join(", ")}]}
`;
}

/** A VirtualService in istio-system, bound to the Gateway, routing the Service's FQDN to itself. */
export function vsYaml(name: string, service: string, port?: number): string {
  const fqdn = `${service}.default.svc.cluster.local`;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: istio-system}
spec:
  hosts: ["${fqdn}"]
  gateways: [canal]
  http: [{route: [{destination: {host: ${fqdn}${port === undefined ? "" : `, port: {number: ${port}}`}}}]}]
`;
}

export const VS_PATH = "/apis/networking.istio.io/v1/namespaces/istio-system/virtualservices";
