// The oracle: Istio's own routing against Canal's, for the same objects and the same requests.
// One world (test/istio/world.ts): a real istiod programs a native gateway and a client sidecar
// in each of CLIENT_NAMESPACES; the Canal gateway gets its table from the controller through
// istiod (WasmPlugin mode, the default). Every generated VirtualService binds the mesh, Canal's
// gateway and the native gateway. Per configuration: apply, wait until all four proxies serve
// it (a probe route per VirtualService), then send each request of its matrix through a native
// proxy and through Canal with the same Host, path, method and headers, and compare what the
// client and the backend observed. Weighted routes are compared by distribution.

import type { KubeObject } from "../support/k8s.ts";
import { request, type HttpResponse } from "../support/http.ts";
import { pollUntil } from "../support/processes.ts";
import { LOOPBACK } from "../support/ports.ts";
import { startIstioWorld, SYSTEM_NS, type IstioWorld, type NativeProxy } from "../istio/world.ts";
import { differences, explain, observe, type Divergence, type Observation, type RequestFacts } from "./compare.ts";
import {
  CLIENT_NAMESPACES, fqdn, generateConfig, hostForms, POOL, PROBE_HEADER, poolDestinationRules, Rng,
  type GeneratedVs, type OracleConfig, type RequestShape,
} from "./generator.ts";

export interface OracleOptions {
  seed: number;
  /** How many random configurations (after the fixed samples). */
  configs: number;
  /** Extra configurations to run first (e.g. rewritten Istio samples). */
  samples?: OracleConfig[];
  /** Draws per side for each weighted route's distribution check. */
  draws?: number;
  log?: (line: string) => void;
  /** Adds to this report (e.g. one the golden cases started) instead of a new one. */
  report?: OracleReport;
}

export interface DistributionCheck {
  config: string;
  route: string;
  expected: { upstream: string; weight: number }[];
  native: Record<string, number>;
  canal: Record<string, number>;
  /** Pearson chi-square of each side against the configured weights. */
  chiNative: number;
  chiCanal: number;
}

export interface OracleReport {
  configs: number;
  compared: number;
  equal: number;
  explained: Map<string, number>;
  unexplained: Divergence[];
  distributions: DistributionCheck[];
  /** Weighted routes whose draws reached no backend on either side. */
  unreachedSplits: number;
  ms: number;
}

/**
 * Chi-square critical value for 1 degree of freedom (two destinations) at p = 0.00001: a run
 * checks a few dozen distributions, so a stricter level keeps false alarms near 0.03% per run,
 * while a wrong split (10/90 drawn as 50/50 over 200 draws: chi-square > 200) still fails.
 */
export const CHI2_CRITICAL_1DF = 19.51;

interface Target {
  name: string;
  address: string;
  port: (vs: GeneratedVs) => number;
}

export class Oracle {
  private keyCounter = 0;
  private applied: KubeObject[] = [];
  private poolAdded = false;

  constructor(
    readonly world: IstioWorld,
    readonly canalPort: number,
    readonly nativeGateway: NativeProxy,
  ) {}

  /** Client sidecars per namespace; started with the pool (istiod binds listeners only for ports some Service has). */
  private readonly sidecars = new Map<string, NativeProxy>();

  /** The world with its proxies, without the pool's Services (runOracle adds them; the golden cases run before). */
  static async start(name = "oracle"): Promise<Oracle> {
    const world = await startIstioWorld(name);
    try {
      const install = await world.installCharts("wasmplugin");
      await world.startController();
      await world.startGateway();
      const native = await world.startNativeGateway();
      return new Oracle(world, install.port, native);
    } catch (err) {
      await world.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.world.stop();
  }

  /** The pool's Services, backends and DestinationRules (once). */
  async addPool(): Promise<void> {
    if (this.poolAdded) return;
    for (const s of POOL) await this.world.addBackend(s.name, s.namespace, s.port, s.versions);
    await this.world.api.apply(poolDestinationRules() as KubeObject[]);
    const ports = [...new Set(POOL.map((s) => s.port))];
    for (const ns of CLIENT_NAMESPACES) this.sidecars.set(ns, await this.world.startSidecar(ns, ports));
    this.poolAdded = true;
  }

  send(address: string, port: number, host: string, shape: RequestShape, extra: Record<string, string> = {}): Promise<HttpResponse> {
    this.keyCounter += 1;
    return request({
      address,
      port,
      host,
      path: shape.path,
      method: shape.method,
      headers: { ...shape.headers, "x-test-key": `k${this.keyCounter}`, ...extra },
      body: shape.method === "POST" ? "" : undefined,
      timeoutMs: 15_000,
    });
  }

  /** Applies a configuration's VirtualServices (deleting the previous ones it lacks) and waits until every proxy serves it. */
  async apply(config: OracleConfig): Promise<void> {
    const objects = config.virtualServices.map((v) => v.object as KubeObject);
    const keep = new Set(objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
    for (const old of this.applied) {
      if (keep.has(`${old.metadata.namespace}/${old.metadata.name}`)) continue;
      await this.world.api.delete(await this.world.api.resourcePath(old.apiVersion, old.kind, old.metadata.namespace, old.metadata.name));
    }
    await this.world.api.apply(objects);
    this.applied = objects;
    for (const vs of config.virtualServices) {
      const probe: RequestShape = { method: "GET", path: "/", headers: { [PROBE_HEADER]: vs.probe }, intent: "probe" };
      const targets: [string, string, number][] = [
        ["canal", LOOPBACK, this.canalPort],
        ["native gateway", LOOPBACK, this.nativeGateway.port],
        ...[...this.sidecars].map(([ns, p]): [string, string, number] => [`sidecar ${ns}`, p.address, vs.service.port]),
      ];
      for (const [name, address, port] of targets) {
        await pollUntil(
          `${config.name}: ${name} to serve ${fqdn(vs.service)} (probe ${vs.probe})`,
          async () => ((await this.send(address, port, fqdn(vs.service), probe)).body === vs.probe ? true : undefined),
          { timeoutMs: 60_000, intervalMs: 50, onTimeout: () => this.world.controllers[0]?.tail(10) ?? "" },
        );
      }
    }
  }

  private targets(): Target[] {
    return [
      { name: "gateway", address: LOOPBACK, port: () => this.nativeGateway.port },
      ...[...this.sidecars].map(([ns, p]): Target => ({ name: `sidecar ${ns}`, address: p.address, port: (vs) => vs.service.port })),
    ];
  }

  /** One request through a native proxy and through Canal, counted in `report`: both observations and where they differ. */
  async sendBoth(address: string, port: number, host: string, shape: RequestShape, splits: string[][], report: OracleReport): Promise<{ native: Observation; canal: Observation; fields: string[] }> {
    const [nativeRes, canalRes] = await Promise.all([this.send(address, port, host, shape), this.send(LOOPBACK, this.canalPort, host, shape)]);
    const native = observe(nativeRes);
    const canal = observe(canalRes);
    report.compared += 1;
    const fields = differences(native, canal, splits);
    if (fields.length === 0) report.equal += 1;
    return { native, canal, fields };
  }

  /** Sends the matrix of `config` through each native proxy and through Canal; returns the divergences. */
  async compare(config: OracleConfig, rng: Rng, report: OracleReport): Promise<void> {
    const ambiguousNames = new Set(POOL.filter((s) => POOL.some((o) => o !== s && o.name === s.name)).map((s) => s.name));
    for (const vs of config.virtualServices) {
      for (const shape of vs.requests) {
        for (const t of this.targets()) {
          const via = t.name === "gateway" ? "gateway" : { sidecar: t.name.slice("sidecar ".length) };
          const host = rng.pick(hostForms(vs.service, via));
          const { native, canal, fields } = await this.sendBoth(t.address, t.port(vs), host, shape, vs.splits, report);
          if (fields.length === 0) continue;
          const d: Divergence = { config: config.name, intent: shape.intent, via: t.name, host, method: shape.method, path: shape.path, fields, native, canal };
          const facts: RequestFacts = { host, ambiguousNames };
          const reason = explain(d, facts);
          if (reason === undefined) report.unexplained.push(d);
          else report.explained.set(reason, (report.explained.get(reason) ?? 0) + 1);
        }
      }
    }
  }

  /** For each weighted route of `config`: `draws` requests per side through the gateways, chi-square against the weights. */
  async distributions(config: OracleConfig, draws: number, report: OracleReport): Promise<void> {
    for (const vs of config.virtualServices) {
      const shape = vs.requests.find((r) => r.weights !== undefined);
      if (shape?.weights === undefined) continue;
      const count = async (port: number): Promise<Record<string, number>> => {
        const out: Record<string, number> = {};
        for (let i = 0; i < draws; i++) {
          const o = observe(await this.send(LOOPBACK, port, fqdn(vs.service), shape));
          const k = o.upstream ?? `status ${o.status}`;
          out[k] = (out[k] ?? 0) + 1;
        }
        return out;
      };
      const native = await count(this.nativeGateway.port);
      const canal = await count(this.canalPort);
      // Neither side reached the split (an abort on the route, or an earlier route took the
      // request): there is no distribution to check; the per-request comparison covers it.
      const reached = (o: Record<string, number>): boolean => shape.weights?.some((w) => (o[w.upstream] ?? 0) > 0) ?? false;
      if (!reached(native) && !reached(canal)) {
        report.unreachedSplits += 1;
        continue;
      }
      report.distributions.push({
        config: config.name,
        route: shape.intent,
        expected: shape.weights,
        native,
        canal,
        chiNative: chiSquare(native, shape.weights, draws),
        chiCanal: chiSquare(canal, shape.weights, draws),
      });
    }
  }
}

/** Pearson's chi-square of observed counts against weights; anything outside the weights counts fully against. */
export function chiSquare(observed: Record<string, number>, weights: { upstream: string; weight: number }[], n: number): number {
  const total = weights.reduce((a, w) => a + w.weight, 0);
  let chi = 0;
  for (const w of weights) {
    const expected = (n * w.weight) / total;
    const o = observed[w.upstream] ?? 0;
    if (expected > 0) chi += ((o - expected) ** 2) / expected;
  }
  const outside = Object.entries(observed).filter(([k]) => !weights.some((w) => w.upstream === k)).reduce((a, [, v]) => a + v, 0);
  return outside > 0 ? Number.POSITIVE_INFINITY : chi;
}

export function emptyReport(): OracleReport {
  return { configs: 0, compared: 0, equal: 0, explained: new Map(), unexplained: [], distributions: [], unreachedSplits: 0, ms: 0 };
}

/** Runs the samples and `configs` random configurations of `seed`. */
export async function runOracle(oracle: Oracle, opts: OracleOptions): Promise<OracleReport> {
  const t0 = Date.now();
  const report: OracleReport = opts.report ?? emptyReport();
  await oracle.addPool();
  const rng = new Rng(opts.seed);
  const all = [...(opts.samples ?? []), ...Array.from({ length: opts.configs }, (_, i) => generateConfig(opts.seed, i))];
  for (const config of all) {
    await oracle.apply(config);
    await oracle.compare(config, rng, report);
    await oracle.distributions(config, opts.draws ?? 200, report);
    report.configs += 1;
    opts.log?.(`${config.name}: ${report.compared} compared, ${report.unexplained.length} unexplained so far`);
  }
  report.ms += Date.now() - t0;
  return report;
}

/** The weighted routes where a side's draws do not fit the configured weights. */
export function misfits(r: OracleReport): DistributionCheck[] {
  return r.distributions.filter((d) => d.chiNative > CHI2_CRITICAL_1DF || d.chiCanal > CHI2_CRITICAL_1DF);
}

/** One line per figure, for logs and docs/istio-compat.md. */
export function summarize(r: OracleReport): string {
  const explained = [...r.explained].map(([reason, n]) => `  ${n} explained: ${reason}`).join("\n");
  return [
    `${r.configs} configurations, ${r.compared} compared requests: ${r.equal} equal, ${[...r.explained.values()].reduce((a, b) => a + b, 0)} explained, ${r.unexplained.length} unexplained (${(r.ms / 1000).toFixed(0)} s)`,
    explained,
    `${r.distributions.length} weighted routes checked by distribution: ${misfits(r).length} where a side does not fit the weights (chi-square > ${CHI2_CRITICAL_1DF}); ${r.unreachedSplits} more reached no backend on either side (an abort, an earlier route)`,
  ].filter((l) => l !== "").join("\n");
}

/** A divergence as one readable block. */
export function describeDivergence(d: Divergence): string {
  const pick = (o: Divergence["native"]): string =>
    JSON.stringify(Object.fromEntries(d.fields.map((f) => {
      if (f.startsWith("request header ")) return [f, o.headers?.[f.slice(15)]];
      if (f.startsWith("response header ")) return [f, o.responseHeaders[f.slice(16)]];
      return [f, (o as unknown as Record<string, unknown>)[f]];
    })));
  return `${d.config} ${d.intent} via ${d.via}: ${d.method} ${d.host}${d.path}\n  differs in ${d.fields.join(", ")}\n  native ${pick(d.native)}\n  canal  ${pick(d.canal)}`;
}

export { SYSTEM_NS };
