// A real istiod for tests (pilot-discovery, built and cached by `scripts/tools.sh istiod`),
// running against the test kube-apiserver (test/support/k8s.ts) the way ../shared/FACTS.md
// ("istiod") describes: plaintext xDS on an ephemeral loopback port, no CA, no webhooks, and the
// features upstream Envoy lacks turned off. Readiness is polled on /ready; /debug/syncz tells what
// each connected proxy was sent and acknowledged (bench/istio-support.ts reads it). Proxies bootstrap to it as pilot-agent would
// bootstrap them (`renderIstioProxyBootstrap`): node id `<type>~<ip>~<pod>.<ns>~<ns>.svc.<domain>`
// and the ISTIO_META_* metadata, so istiod programs them as Istio gateways or sidecars.
//
// See docs/istio-testing.md.

import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { renderCluster, type EnvoyConfig, type Json, type UpstreamCluster } from "../../envoy/bootstrap.ts";
import type { KubeApi, KubeObject } from "./k8s.ts";
import { pollUntil, spawnTracked, stopTracked } from "./processes.ts";
import { LOOPBACK, freePort } from "./ports.ts";
import { REPO_ROOT } from "./wasm.ts";

/** istio.io/istio module version scripts/tools.sh builds istiod from ($ISTIO_VERSION overrides). */
export const ISTIO_VERSION: string = process.env.ISTIO_VERSION ?? "v0.0.0-20260827124520-eed52ebb66ad";
/** What istiod reports to proxies and what proxies report back (ISTIO_VERSION metadata). */
export const ISTIO_RELEASE = "1.31";
export const CLUSTER_DOMAIN = "cluster.local";

function cacheRoot(): string {
  return process.env.CANAL_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "canal");
}

function locate(what: string, envVar: string, cached: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv !== undefined && fromEnv !== "" && existsSync(fromEnv)) return fromEnv;
  if (existsSync(cached)) return cached;
  throw new Error(`${what} not found: run scripts/tools.sh istiod (looked at ${envVar}=${fromEnv ?? "<unset>"} and ${cached})`);
}

/** pilot-discovery: $ISTIOD_BIN, else the scripts/tools.sh cache. Throws (never skips) when missing. */
export function istiodBinary(): string {
  return locate("istiod (pilot-discovery)", "ISTIOD_BIN", join(cacheRoot(), "istiod", ISTIO_VERSION, "pilot-discovery"));
}

/** The CRDs of the same istio.io/istio module: what this istiod reads. */
export function istiodCrdsPath(): string {
  return locate("istiod's CRDs", "ISTIOD_CRDS", join(cacheRoot(), "istiod", ISTIO_VERSION, "crd-all.gen.yaml"));
}

/** Istio's Gateway API conversion testdata (pilot/pkg/config/kube/gateway/testdata: HTTPRoute
 *  inputs X.yaml, golden VirtualServices X.yaml.golden) of the same module, cached by tools.sh. */
export function istiodGatewayTestdataPath(): string {
  return locate("Istio's Gateway API testdata", "ISTIOD_GATEWAY_TESTDATA", join(cacheRoot(), "istiod-testdata", ISTIO_VERSION, "gateway"));
}

/**
 * Prepares an API server for istiod and Canal: istiod's own CRDs (not istio.io/api's, so the
 * schema is the one this istiod reads), Canal's InternalGateway CRD and the istio-system namespace.
 */
export async function prepareForIstiod(api: KubeApi): Promise<void> {
  await api.installCrds([istiodCrdsPath(), join(REPO_ROOT, "controller", "crds", "internalgateway.yaml")]);
  await api.applyYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n");
}

/**
 * Mesh config for upstream Envoy: no auto mTLS (clusters would wait forever for SDS from a
 * pilot-agent that is not there) and no default metrics provider (istio.stats exists only in
 * istio-proxy). Everything else is Istio's default.
 */
export const UPSTREAM_ENVOY_MESH_CONFIG = `enableAutoMtls: false
defaultProviders:
  metrics: []
`;

/** Environment for plaintext istiod without CA and webhooks, with istio-proxy-only filters off (FACTS.md). */
function istiodEnv(gatewayApi: boolean): Record<string, string> {
  return {
    POD_NAMESPACE: "istio-system",
    POD_NAME: "istiod-test",
    REVISION: "default",
    ENABLE_CA_SERVER: "false",
    PILOT_CERT_PROVIDER: "none",
    INJECT_ENABLED: "false",
    VALIDATION_WEBHOOK_CONFIG_NAME: "",
    INJECTION_WEBHOOK_CONFIG_NAME: "",
    // Else LDS/CDS carry istio.alpn and istio.metadata_exchange, which only istio-proxy has.
    PILOT_ENABLE_ALPN_FILTER: "false",
    PILOT_ENABLE_METADATA_EXCHANGE: "false",
    PILOT_ENABLE_GATEWAY_API: gatewayApi ? "true" : "false",
    PILOT_ENABLE_GATEWAY_API_STATUS: "false",
    PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: "false",
    // Push changes quickly: istiod's default debounce waits 100 ms after the last event (max 10 s).
    PILOT_DEBOUNCE_AFTER: "10ms",
    PILOT_DEBOUNCE_MAX: "1s",
  };
}

export interface StartIstiodOptions {
  kubeApi: KubeApi;
  /** For the temp dir and messages. */
  name?: string;
  /** Mesh config YAML; default UPSTREAM_ENVOY_MESH_CONFIG. */
  meshConfig?: string;
  /** Watch Gateway API objects (PILOT_ENABLE_GATEWAY_API); default false. */
  gatewayApi?: boolean;
  /** Extra environment (a later value wins). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export class Istiod {
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly workDir: string,
    readonly logPath: string,
    /** Plaintext xDS (ADS gRPC). */
    readonly grpcPort: number,
    /** /ready, /debug/*. */
    readonly httpPort: number,
    private readonly removeWorkDir: boolean,
  ) {}

  /** The HTTP/2 cluster a proxy's bootstrap uses for ADS. */
  xdsCluster(): UpstreamCluster {
    return { name: "xds-grpc", host: LOOPBACK, port: this.grpcPort, connectTimeoutMs: 1000 };
  }

  async debug(path: string): Promise<string> {
    const r = await fetch(`http://${LOOPBACK}:${this.httpPort}${path}`);
    const text = await r.text();
    if (r.status !== 200) throw new Error(`${this.name}: ${path} answered ${r.status}: ${text.slice(0, 300)}`);
    return text;
  }

  /** The ids of the proxies connected to this istiod (/debug/connections). */
  async connectedProxies(): Promise<string[]> {
    const parsed = JSON.parse(await this.debug("/debug/connections")) as { totalClients?: number; clients?: { connectionId?: string; proxy?: string }[] };
    return (parsed.clients ?? []).map((c) => c.proxy ?? c.connectionId ?? "");
  }

  log(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
  }

  logTail(lines = 40): string {
    const all = this.log().trimEnd().split("\n");
    return `--- last ${Math.min(lines, all.length)} lines of ${this.logPath} ---\n${all.slice(-lines).join("\n")}`;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    await stopTracked(this.child, 3000);
    if (this.removeWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** Starts istiod against `opts.kubeApi` and resolves once /ready answers 200. */
export async function startIstiod(opts: StartIstiodOptions): Promise<Istiod> {
  const binary = istiodBinary();
  const name = opts.name ?? "istiod";
  const workDir = mkdtempSync(join(tmpdir(), `canal-istiod-${name.replace(/[^A-Za-z0-9-]/g, "-")}-`));
  const meshPath = join(workDir, "mesh.yaml");
  writeFileSync(meshPath, opts.meshConfig ?? UPSTREAM_ENVOY_MESH_CONFIG);
  const logPath = join(workDir, "istiod.log");
  const [grpcPort, httpPort, monitoringPort] = [await freePort(), await freePort(), await freePort()];
  const fd = openSync(logPath, "a");
  const child = spawnTracked(
    binary,
    [
      "discovery",
      "--kubeconfig", opts.kubeApi.kubeconfigPath,
      "--meshConfig", meshPath,
      "--networksConfig", join(workDir, "meshNetworks.yaml"),
      "--domain", CLUSTER_DOMAIN,
      "--grpcAddr", `${LOOPBACK}:${grpcPort}`,
      "--httpAddr", `${LOOPBACK}:${httpPort}`,
      "--monitoringAddr", `${LOOPBACK}:${monitoringPort}`,
      "--secureGRPCAddr", "",
      "--httpsAddr", "",
      "--log_output_level", "default:info",
    ],
    { stdio: ["ignore", fd, fd], env: { ...process.env, ...istiodEnv(opts.gatewayApi === true), ...(opts.env ?? {}) } },
  );
  closeSync(fd);
  const istiod = new Istiod(name, child, workDir, logPath, grpcPort, httpPort, true);
  try {
    await pollUntil(
      `${name} /ready`,
      async () => {
        if (!istiod.alive) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode})\n${istiod.logTail()}`);
        const r = await fetch(`http://${LOOPBACK}:${httpPort}/ready`);
        return r.status === 200 ? true : undefined;
      },
      { timeoutMs: opts.readyTimeoutMs ?? 60_000, intervalMs: 100, onTimeout: () => istiod.logTail() },
    );
  } catch (err) {
    await istiod.stop();
    throw err;
  }
  return istiod;
}

// ---------------------------------------------------------------------------------------------
// Proxies: what pilot-agent would put into the bootstrap

export interface IstioProxyOptions {
  istiod: Istiod;
  /** "router" for a gateway pod, "sidecar" for a workload's sidecar. */
  type: "router" | "sidecar";
  /**
   * The pod IP (node id and INSTANCE_IPS). istiod finds a router's own service targets by IP, so
   * it must differ from every backend endpoint's address (FACTS.md): 127.0.0.2 and up.
   */
  ip: string;
  podName: string;
  namespace: string;
  /** Pod labels (LABELS metadata; what Gateway selectors and EnvoyFilter workloadSelectors match). */
  labels: Record<string, string>;
  /** node.cluster; pilot-agent's default is `<app label or pod name>.<namespace>`. */
  serviceCluster?: string;
  /** Extra ISTIO_META_* metadata (keys without the prefix, e.g. WORKLOAD_NAME). */
  metadata?: Record<string, string>;
  /** DNS servers for STRICT_DNS clusters (c-ares), e.g. a test CoreDNS: "127.0.0.1:PORT". */
  dnsResolvers?: { address: string; port: number }[];
  serviceAccount?: string;
}

/** The node id pilot-agent gives a proxy. */
export function istioNodeId(o: Pick<IstioProxyOptions, "type" | "ip" | "podName" | "namespace">): string {
  return `${o.type}~${o.ip}~${o.podName}.${o.namespace}~${o.namespace}.svc.${CLUSTER_DOMAIN}`;
}

/**
 * A bootstrap that makes upstream Envoy an Istio proxy of istiod: ADS over plaintext gRPC for
 * CDS and LDS (istiod sends RDS, EDS and ECDS over the same stream), node id and metadata as
 * pilot-agent sets them. The admin port is ephemeral (read with --admin-address-path).
 */
export function renderIstioProxyBootstrap(o: IstioProxyOptions): EnvoyConfig {
  const meta: { [k: string]: Json } = {
    ISTIO_VERSION: ISTIO_RELEASE,
    NAMESPACE: o.namespace,
    NAME: o.podName,
    CLUSTER_ID: "Kubernetes",
    MESH_ID: "cluster.local",
    SERVICE_ACCOUNT: o.serviceAccount ?? "default",
    INSTANCE_IPS: o.ip,
    LABELS: o.labels,
    WORKLOAD_NAME: o.labels.app ?? o.podName,
    OWNER: `kubernetes://apis/apps/v1/namespaces/${o.namespace}/deployments/${o.labels.app ?? o.podName}`,
    ...(o.metadata ?? {}),
  };
  const xds = o.istiod.xdsCluster();
  const bootstrap: EnvoyConfig = {
    node: {
      id: istioNodeId(o),
      cluster: o.serviceCluster ?? `${o.labels.app ?? o.podName}.${o.namespace}`,
      metadata: meta,
    },
    admin: { address: { socket_address: { address: LOOPBACK, port_value: 0 } } },
    dynamic_resources: {
      ads_config: {
        api_type: "GRPC",
        transport_api_version: "V3",
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: xds.name } }],
      },
      cds_config: { ads: {}, resource_api_version: "V3" },
      lds_config: { ads: {}, resource_api_version: "V3" },
    },
    static_resources: { clusters: [renderCluster(xds, true)] },
  };
  if (o.dnsResolvers !== undefined && o.dnsResolvers.length > 0) {
    // Clusters without their own resolver (the STRICT_DNS ones an EnvoyFilter adds) use this one.
    bootstrap.typed_dns_resolver_config = {
      name: "envoy.network.dns_resolver.cares",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
        resolvers: o.dnsResolvers.map((r) => ({ socket_address: { address: r.address, port_value: r.port } })),
        dns_resolver_options: { use_tcp_for_dns_lookups: false, no_default_search_domain: true },
      },
    };
  }
  return bootstrap;
}

/** What a gateway pod of a rendered Deployment looks like to istiod and pilot-agent. */
export interface PodTemplateFacts {
  labels: Record<string, string>;
  /** node.cluster from the proxy.istio.io/config annotation's serviceCluster, if any. */
  serviceCluster?: string;
  /** ISTIO_META_* env values of the istio-proxy container that are literal (no valueFrom). */
  metadata: Record<string, string>;
  serviceAccount?: string;
  /**
   * The file ISTIO_BOOTSTRAP_OVERRIDE names, read from the ConfigMap mounted there: pilot-agent
   * passes it to Envoy as --config-yaml (istio pkg/envoy/proxy.go), which merges it into the bootstrap.
   */
  bootstrapOverride?: string;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    serviceAccountName?: string;
    containers?: { name: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[] }[];
    volumes?: { name: string; configMap?: { name: string } }[];
  };
}

/** The content of `path` in the pod: a key of a ConfigMap (among `objects`) mounted at its folder. */
function mountedFile(tpl: PodTemplate, containerMounts: { name: string; mountPath: string }[], path: string, objects: KubeObject[], namespace: string | undefined): string {
  const mount = containerMounts.find((m) => path.startsWith(`${m.mountPath.replace(/\/$/, "")}/`));
  const volume = tpl.spec?.volumes?.find((v) => v.name === mount?.name);
  const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === volume?.configMap?.name && (o.metadata.namespace ?? namespace) === namespace);
  const key = path.slice((mount?.mountPath.replace(/\/$/, "") ?? "").length + 1);
  const data = (cm as { data?: Record<string, string> } | undefined)?.data?.[key];
  if (data === undefined) throw new Error(`${path}: no ConfigMap key mounted there (mount ${mount?.name ?? "none"}, volume ${volume?.name ?? "none"})`);
  return data;
}

/** Reads the pod labels, serviceCluster, literal ISTIO_META_* env and bootstrap override of a rendered Deployment. */
export function podTemplateFacts(deployment: KubeObject, objects: KubeObject[] = []): PodTemplateFacts {
  const tpl = (deployment.spec as { template?: PodTemplate } | undefined)?.template;
  if (tpl === undefined) throw new Error(`${deployment.kind} ${deployment.metadata.namespace}/${deployment.metadata.name}: no pod template`);
  const metadata: Record<string, string> = {};
  let bootstrapOverride: string | undefined;
  for (const c of tpl.spec?.containers ?? []) {
    for (const e of c.env ?? []) {
      if (e.name.startsWith("ISTIO_META_") && e.value !== undefined) metadata[e.name.slice("ISTIO_META_".length)] = e.value;
      if (e.name === "ISTIO_BOOTSTRAP_OVERRIDE" && e.value !== undefined && e.value !== "") {
        bootstrapOverride = mountedFile(tpl, c.volumeMounts ?? [], e.value, objects, deployment.metadata.namespace);
      }
    }
  }
  const annotation = tpl.metadata?.annotations?.["proxy.istio.io/config"];
  let serviceCluster: string | undefined;
  if (annotation !== undefined) {
    const parsed = JSON.parse(annotation) as { serviceCluster?: string };
    serviceCluster = parsed.serviceCluster;
  }
  return { labels: { ...(tpl.metadata?.labels ?? {}) }, serviceCluster, metadata, serviceAccount: tpl.spec?.serviceAccountName, bootstrapOverride };
}
