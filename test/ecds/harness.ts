// Real-Envoy harness for the ECDS sink: echo upstreams (test/support/upstream.ts), an
// EcdsServer on a loopback port, and Envoy gateways rendered by renderCanalBootstrap with
// `table: {kind: "ads"}` pointing at that port. Everything is polled, nothing sleeps.

import type { RouteTable } from "../../schema/route-table.ts";
import { renderCanalBootstrap, type AdsTls } from "../../envoy/bootstrap.ts";
import { EcdsServer, type EcdsServerOptions, type GatewayStatus } from "../../controller/src/sinks/ecds/index.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { clusterName, PROBE_HOST, PROBE_PATH } from "../support/gateway.ts";
import { jsonBody, request, type HttpResponse } from "../support/http.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { startUpstream, type Echo, type Upstream } from "../support/upstream.ts";

export const ADS_CLUSTER = "canal-controller";
const ECDS_STAT = "extension_config_discovery.http_filter.canal.";

export class Upstreams {
  constructor(readonly byName: Map<string, Upstream>) {}

  static async start(names: string[]): Promise<Upstreams> {
    const m = new Map<string, Upstream>();
    for (const n of names) m.set(n, await startUpstream(n));
    return new Upstreams(m);
  }

  clusters(): { name: string; host: string; port: number }[] {
    return [...this.byName.entries()].map(([n, u]) => ({ name: clusterName(n), host: LOOPBACK, port: u.port }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((u) => u.close()));
  }
}

export class AdsGateway {
  constructor(
    readonly nodeId: string,
    readonly envoy: EnvoyProcess,
  ) {}

  get port(): number {
    return this.envoy.port("canal");
  }

  send(host: string, path = "/"): Promise<HttpResponse> {
    return request({ port: this.port, host, path, timeoutMs: 5000 });
  }

  /** The upstream that answered, or the status code of a local reply. */
  async upstreamOf(host: string, path = "/"): Promise<string> {
    const res = await this.send(host, path);
    return res.status === 200 && res.headers["x-upstream"] !== undefined ? jsonBody<Echo>(res).upstream : String(res.status);
  }

  /** The table version the filter reports on a local reply (x-canal-table). */
  async servingVersion(): Promise<string | undefined> {
    const res = await this.send(PROBE_HOST, PROBE_PATH);
    const v = res.headers["x-canal-table"];
    return Array.isArray(v) ? v[0] : v;
  }

  /** Polls until a request for host/path is answered by `upstream` (or the status code string). */
  async waitRoute(host: string, path: string, expected: string, timeoutMs = 15_000): Promise<void> {
    await pollUntil(`${this.nodeId}: ${host}${path} → ${expected}`, async () => ((await this.upstreamOf(host, path)) === expected ? true : undefined), {
      timeoutMs,
      onTimeout: () => this.envoy.logTail(),
    });
  }

  /** Polls until the workers serve table `version`. */
  async waitServing(version: string, timeoutMs = 15_000): Promise<void> {
    await pollUntil(`${this.nodeId} to serve ${version}`, async () => ((await this.servingVersion()) === version ? true : undefined), {
      timeoutMs,
      onTimeout: () => this.envoy.logTail(),
    });
  }

  async ecdsStats(): Promise<{ success: number; rejected: number; attempt: number }> {
    const s = await this.envoy.stats(`^${ECDS_STAT.replace(/\./g, "\\.")}`);
    return {
      success: s.get(`${ECDS_STAT}update_success`) ?? 0,
      rejected: s.get(`${ECDS_STAT}update_rejected`) ?? 0,
      attempt: s.get(`${ECDS_STAT}update_attempt`) ?? 0,
    };
  }

  /** Envoy's view of its ADS stream: 1 when connected to a control plane. */
  async adsConnected(): Promise<boolean> {
    return (await this.envoy.stat("control_plane.connected_state")) === 1;
  }

  async stop(): Promise<void> {
    await this.envoy.stop();
  }
}

export async function startAdsGateway(opts: {
  nodeId: string;
  wasmPath: string;
  adsPort: number;
  upstreams: Upstreams;
  concurrency?: number;
  extraClusters?: { name: string; host: string; port: number }[];
  /** Envoy's node.cluster: the controller's table group ("namespace/name" of the InternalGateway). */
  nodeCluster?: string;
  /** Envoy's --component-log-level, e.g. "wasm:debug" to see the filter's debug lines. */
  componentLogLevel?: string;
  /** TLS to the ECDS port (default: plaintext). */
  adsTls?: AdsTls;
}): Promise<AdsGateway> {
  const config = renderCanalBootstrap({
    listenerPort: 0,
    adminPort: 0,
    wasmPath: opts.wasmPath,
    nodeId: opts.nodeId,
    nodeCluster: opts.nodeCluster,
    table: { kind: "ads", adsCluster: { name: ADS_CLUSTER, host: LOOPBACK, port: opts.adsPort }, ...(opts.adsTls === undefined ? {} : { tls: opts.adsTls }) },
    clusters: [...opts.upstreams.clusters(), ...(opts.extraClusters ?? [])],
  });
  const envoy = await startEnvoy({ name: `ecds-${opts.nodeId}`, config, concurrency: opts.concurrency ?? 2, componentLogLevel: opts.componentLogLevel });
  return new AdsGateway(opts.nodeId, envoy);
}

export async function startEcdsServer(opts: EcdsServerOptions, address = `${LOOPBACK}:0`): Promise<{ server: EcdsServer; port: number }> {
  const server = new EcdsServer(opts);
  const { port } = await server.start(address);
  return { server, port };
}

/** The status of `nodeId` once `predicate` holds (polled). */
export function gatewayStatus(
  server: EcdsServer,
  nodeId: string,
  what: string,
  predicate: (g: GatewayStatus) => boolean,
  onTimeout?: () => string,
  timeoutMs = 20_000,
): Promise<GatewayStatus> {
  return pollUntil(
    `gateway ${nodeId}: ${what}`,
    () => {
      const g = server.status().find((x) => x.nodeId === nodeId);
      return g !== undefined && predicate(g) ? g : undefined;
    },
    {
      timeoutMs,
      onTimeout: () => `status: ${JSON.stringify(server.status().find((x) => x.nodeId === nodeId))}\n${onTimeout?.() ?? ""}`,
    },
  );
}

export function tableJson(t: RouteTable): { version: string; json: string } {
  return { version: t.version, json: JSON.stringify(t) };
}
