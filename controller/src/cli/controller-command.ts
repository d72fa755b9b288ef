// `canal controller`: flags are parsed once into a typed config here; nothing below reads
// process.argv or process.env.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import * as grpc from "@grpc/grpc-js";
import { setFlagsFromString } from "node:v8";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { resolveKinds } from "../kube/resources.ts";
import { Controller } from "../runner/controller.ts";
import { processEnvReport } from "../runner/process-env.ts";
import { DnsManager } from "../sinks/dns/manager.ts";
import { DNS_USAGE, parseDnsFlags, DNS_FLAG_OPTIONS, type DnsConfig } from "./dns-flags.ts";
import { SYSTEM_NAMESPACES_USAGE, systemNamespaces } from "./flags.ts";
import { parseShardFlags, WASMPLUGIN_SHARD_FLAG_OPTIONS, WASMPLUGIN_SHARD_USAGE } from "./flags-wasmplugin.ts";
import type { WasmPluginOptions } from "../sinks/wasmplugin-sink.ts";
import { EcdsPublisher } from "../sinks/ecds-publisher.ts";
import { DEFAULT_MAX_STREAMS, DEFAULT_MAX_STREAMS_PER_CLIENT_IP } from "../sinks/ecds/limits.ts";
import { startHttp } from "../runner/http.ts";
import { jsonLogger, type Level } from "../common/log.ts";
import { Metrics } from "../common/metrics.ts";
import { loadRegexValidator } from "../translate/regex-validator.ts";
import { UsageError, untilSignal, type Command } from "./command.ts";

const CONTROLLER_USAGE = `usage: canal controller [flags]

Watches InternalGateways, Istio Gateways, VirtualServices, DestinationRules and Services, and
delivers each InternalGateway's route table to its gateways. Only the leader (Lease) writes.

flags:
  --kubeconfig PATH        kubeconfig file (default: in-cluster config, else $KUBECONFIG / ~/.kube/config)
  --namespace NS           namespace of the leader-election Lease (default: istio-system)
  --identity NAME          this replica's identity in the Lease (default: the host name)
  --lease-name NAME        Lease name (default: canal-controller)
  --lease-duration SECONDS lease duration; failover happens within it (default: 15)
  --wasm-url URL           where gateways fetch the filter: oci://, https:// or file:// (WasmPlugin mode)
  --wasm-sha256 HEX        sha256 of the filter (recommended with --wasm-url)
  --wasm-pull-secret NAME  with --wasm-url: the WasmPlugins' imagePullSecret, a Secret of type
                           kubernetes.io/dockerconfigjson in each WasmPlugin's namespace, for a
                           filter in a private OCI registry (default: none)
${WASMPLUGIN_SHARD_USAGE}  --no-wasmplugin          do not write WasmPlugins (EnvoyFilter / ECDS mode)
  --ecds-address ADDR      serve each InternalGateway's table over ECDS (ADS gRPC) here, e.g.
                           0.0.0.0:18000; gateways set node.cluster to "<namespace>/<name>"
  --wasm-path PATH         with --ecds-address: the filter's path inside the gateways
                           (default: /etc/canal/canal.wasm)
  --ecds-max-streams N     with --ecds-address: ECDS streams open at once, all clients together;
                           more are refused with RESOURCE_EXHAUSTED (default: 1024; docs/ecds.md)
  --ecds-max-streams-per-ip N
                           with --ecds-address: ECDS streams open at once from one client IP
                           (default: 64), so one pod cannot take every slot
  --ecds-tls-cert PATH     with --ecds-address: serve ECDS over TLS with this PEM certificate
                           chain (and --ecds-tls-key); default: plaintext (docs/ecds.md, "TLS")
  --ecds-tls-key PATH      the PEM private key of --ecds-tls-cert
  --ecds-tls-client-ca PATH
                           with --ecds-tls-cert: require a client certificate signed by this CA
  --cluster-domain DOMAIN  Kubernetes cluster domain (default: cluster.local)
${SYSTEM_NAMESPACES_USAGE}${DNS_USAGE}  --metrics-address ADDR   serve /metrics, /healthz, /readyz here (default: 127.0.0.1:9090)
  --log-level LEVEL        debug | info | warn | error (default: info)
  --idle-gc-ms MS          run a full garbage collection once no translation ran for MS ms and
                           the heap grew by 5% (at least 4 MiB) since the last one (default: 0,
                           never): lower RSS, slower next translation (docs/controller.md)
  --heap-growing-percent N after each full garbage collection, let the V8 heap grow by N% of what
                           survived before the next one (default: 30; 0: V8's own factor, up to
                           4x: less CPU per change, far more memory; docs/controller.md)
  -h, --help               this help
`;

export interface EcdsTlsFiles {
  cert: string;
  key: string;
  clientCa?: string;
}

export interface ControllerConfig {
  kubeconfig?: string;
  namespace: string;
  identity: string;
  leaseName: string;
  leaseDurationSeconds: number;
  wasmPlugin?: WasmPluginOptions;
  ecds?: { address: string; wasmPath: string; maxStreams: number; maxStreamsPerIp: number; tls?: EcdsTlsFiles };
  clusterDomain: string;
  /** Never redirected in DNS: kube-system, the controller's namespace and --system-namespaces. */
  systemNamespaces: string[];
  metricsAddress: string;
  logLevel: Level;
  /** V8's --heap-growing-percent (0: V8's own, dynamic factor). */
  heapGrowingPercent: number;
  /** Full garbage collection after this much idle time after a translation; 0: never. */
  idleGcMs: number;
  /** --dns: redirect Service names to the gateways through the canal-dns ConfigMap. */
  dns?: DnsConfig;
}

/**
 * V8's --heap-growing-percent: a fixed 30% keeps the heap in proportion to what is live, where V8's
 * own factor (up to 4x what survived) lets it settle far above, for a little more CPU per change
 * (measured in docs/controller.md, "Memory"). V8 reads it at every full collection, so setting it
 * at start applies from the first one on.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 30;
/** See runner/idle-gc.ts. */
export const DEFAULT_IDLE_GC_MS = 0;

export function parseControllerFlags(args: string[]): ControllerConfig | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: "string" },
        namespace: { type: "string", default: "istio-system" },
        identity: { type: "string", default: hostname() },
        "lease-name": { type: "string", default: "canal-controller" },
        "lease-duration": { type: "string", default: "15" },
        "wasm-url": { type: "string" },
        "wasm-sha256": { type: "string" },
        "wasm-pull-secret": { type: "string" },
        "no-wasmplugin": { type: "boolean", default: false },
        "ecds-address": { type: "string" },
        "wasm-path": { type: "string", default: "/etc/canal/canal.wasm" },
        "ecds-max-streams": { type: "string", default: String(DEFAULT_MAX_STREAMS) },
        "ecds-max-streams-per-ip": { type: "string", default: String(DEFAULT_MAX_STREAMS_PER_CLIENT_IP) },
        "ecds-tls-cert": { type: "string" },
        "ecds-tls-key": { type: "string" },
        "ecds-tls-client-ca": { type: "string" },
        "cluster-domain": { type: "string", default: "cluster.local" },
        "system-namespaces": { type: "string" },
        "metrics-address": { type: "string", default: "127.0.0.1:9090" },
        "log-level": { type: "string", default: "info" },
        "heap-growing-percent": { type: "string", default: String(DEFAULT_HEAP_GROWING_PERCENT) },
        "idle-gc-ms": { type: "string", default: String(DEFAULT_IDLE_GC_MS) },
        help: { type: "boolean", short: "h", default: false },
        ...DNS_FLAG_OPTIONS,
        ...WASMPLUGIN_SHARD_FLAG_OPTIONS,
      },
    }));
  } catch (err) {
    throw new UsageError(`canal controller: ${(err as Error).message}; see canal controller --help`);
  }
  if (values.help) return "help";
  const lease = Number(values["lease-duration"]);
  if (!Number.isInteger(lease) || lease < 2 || lease > 600) throw new UsageError(`canal controller: --lease-duration must be whole seconds between 2 and 600, got "${values["lease-duration"]}"`);
  const level = values["log-level"] as string;
  if (!["debug", "info", "warn", "error"].includes(level)) throw new UsageError(`canal controller: --log-level must be debug, info, warn or error, got "${level}"`);
  const growing = Number(values["heap-growing-percent"]);
  if (!Number.isInteger(growing) || growing < 0 || growing > 300) throw new UsageError(`canal controller: --heap-growing-percent must be a whole number between 0 and 300, got "${values["heap-growing-percent"]}"`);
  const idleGc = Number(values["idle-gc-ms"]);
  if (!Number.isInteger(idleGc) || idleGc < 0 || idleGc > 3_600_000) throw new UsageError(`canal controller: --idle-gc-ms must be whole milliseconds between 0 and 3600000, got "${values["idle-gc-ms"]}"`);
  const sha = values["wasm-sha256"];
  if (sha !== undefined && !/^[0-9a-f]{64}$/.test(sha)) throw new UsageError(`canal controller: --wasm-sha256 must be 64 lower-case hex digits`);
  const pullSecret = values["wasm-pull-secret"];
  if (pullSecret !== undefined && !isSecretName(pullSecret)) {
    throw new UsageError(`canal controller: --wasm-pull-secret must be a Secret name (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters), got "${pullSecret}"`);
  }
  let wasmPlugin: ControllerConfig["wasmPlugin"];
  if (values["no-wasmplugin"] && pullSecret !== undefined) throw new UsageError("canal controller: --wasm-pull-secret is for WasmPlugin mode (--wasm-url), not --no-wasmplugin");
  if (!values["no-wasmplugin"]) {
    const url = values["wasm-url"];
    if (url === undefined) throw new UsageError("canal controller: --wasm-url is required (where gateways fetch the filter), or pass --no-wasmplugin");
    if (!/^(oci|https?|file):\/\/\S+$/.test(url)) throw new UsageError(`canal controller: --wasm-url must be an oci://, http(s):// or file:// URL, got "${url}"`);
    wasmPlugin = { url, sha256: sha, ...(pullSecret === undefined ? {} : { pullSecret }), ...parseShardFlags(values, true) };
  } else parseShardFlags(values, false);
  let ecds: ControllerConfig["ecds"];
  const ecdsAddress = values["ecds-address"];
  if (ecdsAddress !== undefined) {
    if (!/^[^\s:]+:\d+$/.test(ecdsAddress)) throw new UsageError(`canal controller: --ecds-address must be host:port, got "${ecdsAddress}"`);
    const maxStreams = streamCount(values["ecds-max-streams"] as string, "--ecds-max-streams");
    const maxStreamsPerIp = streamCount(values["ecds-max-streams-per-ip"] as string, "--ecds-max-streams-per-ip");
    const tls = ecdsTlsFlags(values["ecds-tls-cert"], values["ecds-tls-key"], values["ecds-tls-client-ca"]);
    ecds = { address: ecdsAddress, wasmPath: values["wasm-path"] as string, maxStreams, maxStreamsPerIp, ...(tls === undefined ? {} : { tls }) };
  } else if (values["ecds-tls-cert"] !== undefined || values["ecds-tls-key"] !== undefined || values["ecds-tls-client-ca"] !== undefined) {
    throw new UsageError("canal controller: --ecds-tls-cert, --ecds-tls-key and --ecds-tls-client-ca need --ecds-address");
  }
  if (wasmPlugin === undefined && ecds === undefined) throw new UsageError("canal controller: with --no-wasmplugin, --ecds-address is required: otherwise no gateway would receive a table");
  return {
    kubeconfig: values.kubeconfig,
    ecds,
    namespace: values.namespace as string,
    identity: values.identity as string,
    leaseName: values["lease-name"] as string,
    leaseDurationSeconds: lease,
    wasmPlugin,
    clusterDomain: values["cluster-domain"] as string,
    systemNamespaces: systemNamespaces("controller", values["system-namespaces"], values.namespace as string),
    metricsAddress: values["metrics-address"] as string,
    logLevel: level as Level,
    heapGrowingPercent: growing,
    idleGcMs: idleGc,
    dns: parseDnsFlags(values),
  };
}

function streamCount(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError(`canal controller: ${flag} must be a whole number between 1 and 100000, got "${text}"`);
  return n;
}

function ecdsTlsFlags(cert: string | undefined, key: string | undefined, clientCa: string | undefined): EcdsTlsFiles | undefined {
  if (cert === undefined && key === undefined) {
    if (clientCa !== undefined) throw new UsageError("canal controller: --ecds-tls-client-ca needs --ecds-tls-cert and --ecds-tls-key");
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new UsageError("canal controller: --ecds-tls-cert and --ecds-tls-key go together");
  return { cert, key, ...(clientCa === undefined ? {} : { clientCa }) };
}

/** Server credentials for the ECDS port from PEM files; read once at start (rotate by restarting). */
function ecdsCredentials(tls: EcdsTlsFiles | undefined): grpc.ServerCredentials | undefined {
  if (tls === undefined) return undefined;
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UsageError(`canal controller: ${flag} ${path}: ${(err as Error).message}`);
    }
  };
  const ca = tls.clientCa === undefined ? null : read(tls.clientCa, "--ecds-tls-client-ca");
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: read(tls.cert, "--ecds-tls-cert"), private_key: read(tls.key, "--ecds-tls-key") }], ca !== null);
}

/** A Kubernetes Secret name: a DNS-1123 subdomain. */
function isSecretName(name: string): boolean {
  return name.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name);
}

function loadKubeConfig(path: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new UsageError("canal controller: no Kubernetes cluster configured: pass --kubeconfig or run in a pod");
  return kc;
}

export async function runController(config: ControllerConfig): Promise<() => Promise<void>> {
  // Read by V8 at every full collection, so setting it now applies from the first one on.
  if (config.heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`);
  const log = jsonLogger(config.logLevel, { component: "canal-controller", identity: config.identity });
  const kc = loadKubeConfig(config.kubeconfig);
  const kinds = await resolveKinds(kc);
  const metrics = new Metrics();
  let publisher: EcdsPublisher | undefined;
  if (config.ecds) {
    const credentials = ecdsCredentials(config.ecds.tls);
    publisher = new EcdsPublisher({
      code: { local: config.ecds.wasmPath },
      maxStreams: config.ecds.maxStreams,
      maxStreamsPerClientIp: config.ecds.maxStreamsPerIp,
      ...(credentials === undefined ? {} : { credentials }),
      log: (e) => log[e.level](e.message, { component: "ecds" }),
      metrics,
    });
    const { port } = await publisher.server.start(config.ecds.address);
    log.info("serving ECDS", { address: config.ecds.address.replace(/:\d+$/, `:${port}`), wasmPath: config.ecds.wasmPath, tls: config.ecds.tls === undefined ? "off" : config.ecds.tls.clientCa === undefined ? "server" : "mutual", maxStreams: config.ecds.maxStreams });
  }
  const controller = new Controller({
    publisher,
    metrics,
    kc,
    kinds,
    log,
    identity: config.identity,
    leaseNamespace: config.namespace,
    leaseName: config.leaseName,
    leaseDurationSeconds: config.leaseDurationSeconds,
    wasmPlugin: config.wasmPlugin,
    validateRegex: loadRegexValidator(),
    clusterDomain: config.clusterDomain,
    systemNamespaces: config.systemNamespaces,
    idleGcMs: config.idleGcMs,
    ...(config.dns === undefined ? {} : { dns: new DnsManager(kc, { ...config.dns, clusterDomain: config.clusterDomain }, log) }),
  });
  const http = await startHttp(config.metricsAddress, controller.metrics, controller);
  // bin/canal.mjs says whether the bundle or the TypeScript sources run (and why not the bundle).
  const code = process.env["CANAL_CODE"] ?? "sources";
  controller.metrics.gauge("canal_code_info", "Which code runs: the bundle (make build) or the TypeScript sources, and why.", 1, { code });
  log.info("starting", { metrics: `http://${config.metricsAddress.replace(/:\d+$/, "")}:${http.port}/metrics`, kinds: kinds.map((k) => k.apiVersion + "/" + k.kind), code, heapGrowingPercent: config.heapGrowingPercent, idleGcMs: config.idleGcMs, env: processEnvReport() });
  await controller.start();
  log.info("caches synced; campaigning for leadership", { lease: `${config.namespace}/${config.leaseName}` });
  return async () => {
    await controller.stop();
    await publisher?.server.stop();
    http.server.close();
  };
}

export const controllerCommand: Command = {
  summary: "run the controller: watch Istio config and InternalGateways, deliver route tables (WasmPlugin / ECDS), report status and Events",
  async run(args: string[]): Promise<number> {
    const config = parseControllerFlags(args);
    if (config === "help") {
      process.stdout.write(CONTROLLER_USAGE);
      return 0;
    }
    const stop = await runController(config);
    await untilSignal();
    await stop();
    return 0;
  },
};
