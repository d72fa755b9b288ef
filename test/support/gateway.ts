// A Canal gateway under test: echo upstreams, one Envoy rendered by envoy/bootstrap.ts with the
// filter behind file-based ECDS, and live table updates that wait until Envoy has applied (or
// rejected) the new table: the ECDS subscription's stats say which, and a probe request
// confirms the workers serve it. No sleeps.

import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RouteTable } from "../../schema/route-table.ts";
import { renderCanalBootstrap, renderEcdsFile, type UpstreamCluster } from "../../envoy/bootstrap.ts";
import { EnvoyProcess, startEnvoy } from "./envoy.ts";
import { request, type HttpResponse, type RequestOptions } from "./http.ts";
import { pollUntil } from "./processes.ts";
import { startUpstream, type Upstream } from "./upstream.ts";

/** Istio's outbound cluster name for a test service `name` (namespace "test", port 80). */
export function clusterName(service: string, port = 80): string {
  return `outbound|${port}||${service}.test.svc.cluster.local`;
}

/** Host and path of the request that asks the filter which table it runs (a 404 local reply). */
export const PROBE_HOST = "canal-probe.invalid";
export const PROBE_PATH = "/__canal_probe";

export type ApplyResult = "applied" | "rejected";

export interface GatewayOptions {
  name: string;
  wasmPath: string;
  /** Upstream service names; each gets an echo server and the cluster `clusterName(name)`. */
  services: string[];
  /** More clusters (e.g. a fast fixed-response upstream for load tests). */
  extraClusters?: UpstreamCluster[];
  /** First table; default: the empty configuration. */
  table?: RouteTable | string;
  concurrency?: number;
  /** Replaces the default probe (the x-canal-table of a 404 for PROBE_HOST). */
  probe?: (gw: Gateway, table: RouteTable | string) => Promise<boolean>;
}

const ECDS_STAT = "extension_config_discovery.http_filter.canal.";

export class Gateway {
  private writes = 0;
  constructor(
    readonly envoy: EnvoyProcess,
    readonly upstreams: Map<string, Upstream>,
    readonly ecdsPath: string,
    readonly wasmPath: string,
    private readonly probe: (gw: Gateway, table: RouteTable | string) => Promise<boolean>,
  ) {}

  get port(): number {
    return this.envoy.port("canal");
  }

  upstream(service: string): Upstream {
    const u = this.upstreams.get(service);
    if (u === undefined) throw new Error(`no upstream ${service}`);
    return u;
  }

  /** A request through the gateway. */
  send(host: string, path = "/", opts: Omit<RequestOptions, "port" | "host" | "path"> = {}): Promise<HttpResponse> {
    return request({ ...opts, port: this.port, host, path });
  }

  /** Writes the ECDS file by atomic rename (the watched directory fires on the move). */
  writeTable(table: RouteTable | string): void {
    this.writes += 1;
    const tmp = `${this.ecdsPath}.tmp-${this.writes}`;
    writeFileSync(tmp, renderEcdsFile(this.wasmPath, table));
    renameSync(tmp, this.ecdsPath);
  }

  private async ecdsStats(): Promise<{ attempt: number; success: number; rejected: number; fail: number }> {
    const s = await this.envoy.stats(`^${ECDS_STAT.replace(/\./g, "\\.")}`);
    return {
      attempt: s.get(`${ECDS_STAT}update_attempt`) ?? 0,
      success: s.get(`${ECDS_STAT}update_success`) ?? 0,
      rejected: s.get(`${ECDS_STAT}update_rejected`) ?? 0,
      fail: s.get(`${ECDS_STAT}config_fail`) ?? 0,
    };
  }

  /**
   * Delivers `table` live and resolves with "applied" once Envoy accepted it and the probe
   * confirms it serves, or "rejected" once Envoy NACKed it (the previous table keeps serving).
   */
  async apply(table: RouteTable | string, timeoutMs = 15_000): Promise<ApplyResult> {
    const before = await this.ecdsStats();
    this.writeTable(table);
    const outcome = await pollUntil<ApplyResult>(
      "the ECDS update to be accepted or rejected",
      async () => {
        const now = await this.ecdsStats();
        if (now.rejected > before.rejected || now.fail > before.fail) return "rejected";
        if (now.success > before.success) return "applied";
        return undefined;
      },
      { timeoutMs, onTimeout: () => this.envoy.logTail() },
    );
    if (outcome === "applied") {
      await pollUntil("the workers to serve the new table", async () => ((await this.probe(this, table)) ? true : undefined), {
        timeoutMs,
        onTimeout: () => this.envoy.logTail(),
      });
    }
    return outcome;
  }

  /** The table version the filter reports on a local reply (x-canal-table), or undefined. */
  async servingVersion(): Promise<string | undefined> {
    const res = await this.send(PROBE_HOST, PROBE_PATH);
    const v = res.headers["x-canal-table"];
    return Array.isArray(v) ? v[0] : v;
  }

  async stop(): Promise<void> {
    await this.envoy.stop();
    await Promise.all([...this.upstreams.values()].map((u) => u.close()));
  }
}

async function defaultProbe(gw: Gateway, table: RouteTable | string): Promise<boolean> {
  if (typeof table === "string") return true;
  return (await gw.servingVersion()) === table.version;
}

/** Starts upstreams and Envoy with the filter; applies `opts.table` if given. */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const upstreams = new Map<string, Upstream>();
  for (const s of opts.services) upstreams.set(s, await startUpstream(s));
  const workDir = mkdtempSync(join(tmpdir(), `canal-${opts.name}-`));
  const ecdsDir = join(workDir, "ecds");
  mkdirSync(ecdsDir);
  const ecdsPath = join(ecdsDir, "canal.json");
  // The file must exist when Envoy starts; it holds the empty table until the first apply.
  writeFileSync(ecdsPath, renderEcdsFile(opts.wasmPath, ""));
  let envoy: EnvoyProcess;
  try {
    envoy = await startEnvoy({
      name: opts.name,
      workDir,
      concurrency: opts.concurrency ?? 1,
      config: renderCanalBootstrap({
        listenerPort: 0,
        adminPort: 0,
        wasmPath: opts.wasmPath,
        table: { kind: "file", path: ecdsPath },
        clusters: [
          ...opts.services.map((s) => ({ name: clusterName(s), host: "127.0.0.1", port: upstreams.get(s)?.port ?? 0 })),
          ...(opts.extraClusters ?? []),
        ],
      }),
    });
  } catch (err) {
    await Promise.all([...upstreams.values()].map((u) => u.close()));
    throw err;
  }
  const gw = new Gateway(envoy, upstreams, ecdsPath, opts.wasmPath, opts.probe ?? defaultProbe);
  if (opts.table !== undefined) {
    const result = await gw.apply(opts.table);
    if (result !== "applied") {
      const log = envoy.logTail();
      await gw.stop();
      throw new Error(`the initial table was rejected (NACK); Envoy's log says why\n${log}`);
    }
  }
  return gw;
}
