// The measuring part of bench:filter, shared by its comparisons (bench/filter.ts, the cost floors
// in bench/floors/): the bench's route tables and requests, Envoys pinned to a CPU, and the
// alternating wrk rounds that yield proxy CPU per request.
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import type { EnvoyConfig } from "../envoy/bootstrap.ts";
import type { RouteTable, VirtualHost } from "../schema/route-table.ts";
import { startEnvoy, type EnvoyProcess } from "../test/support/envoy.ts";
import { request } from "../test/support/http.ts";
import { runWrk, type WrkResult } from "../test/support/wrk.ts";

/** How a cell is measured: wrk connections, warm-up, measured seconds split over the rounds. */
export interface RoundPlan {
  durationS: number;
  warmupS: number;
  connections: number;
  /** Alternating rounds per measured cell. */
  rounds: number;
}

export const CLUSTER_COUNT = 10;
export const clusterOf = (i: number): string => `outbound|8080||svc-${i % CLUSTER_COUNT}.bench.svc.cluster.local`;

/** A table of `n` virtual hosts, each with two names and three routes (exact, prefix, catch-all). */
export function benchTable(n: number): RouteTable {
  const virtualHosts: VirtualHost[] = [];
  for (let i = 0; i < n; i++) {
    const ns = `ns-${i % 97}`;
    virtualHosts.push({
      name: `${ns}/svc-${i}`,
      domains: [`svc-${i}.${ns}.svc.cluster.local`, `svc-${i}.${ns}`],
      routes: [
        { match: [{ uri: { exact: "/v1/status" } }], route: [{ cluster: clusterOf(i) }] },
        { match: [{ uri: { prefix: "/api/" } }], route: [{ cluster: clusterOf(i + 1) }] },
        { match: [{ uri: { prefix: "/" } }], route: [{ cluster: clusterOf(i + 2) }] },
      ],
    });
  }
  return { format: 1, version: `sha256:bench-${n}`, virtualHosts };
}

export function benchHosts(table: RouteTable): string[] {
  return table.virtualHosts.map((v, i) => v.domains[i % 2]);
}

export const PATHS = ["/api/items/42", "/v1/status", "/index.html"];

export function progress(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function cpuPlan(): { proxies: string; load: string } {
  const n = cpus().length;
  if (n < 2) return { proxies: "0", load: "0" };
  return { proxies: String(n - 1), load: n === 2 ? "0" : `0-${n - 2}` };
}

/** A wrk result plus the CPU time the proxies under test spent per request. */
export interface Measured extends WrkResult {
  /** Proxy CPU (user+system, all Envoys of the path) per request, microseconds. */
  cpuUsPerRequest: number;
  /** The same, per round (round order). */
  cpuUsPerRound: number[];
}

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** utime+stime of a process, in seconds (/proc/<pid>/stat). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export interface Side {
  label: string;
  url: string;
  /** The Envoys on this path whose CPU counts. */
  pids: number[];
}

/** Combines runs of one side: total requests / total time; latency percentiles averaged over runs. */
function combine(runs: WrkResult[]): WrkResult {
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const durationS = runs.reduce((a, r) => a + r.durationS, 0);
  const mean = (f: (r: WrkResult) => number): number => runs.reduce((a, r) => a + f(r), 0) / runs.length;
  return {
    requests,
    durationS,
    rps: requests / durationS,
    p50: mean((r) => r.p50),
    p75: mean((r) => r.p75),
    p90: mean((r) => r.p90),
    p99: mean((r) => r.p99),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    socketErrors: runs.reduce((a, r) => a + r.socketErrors, 0),
    raw: runs.map((r) => r.raw).join("\n"),
  };
}

/**
 * Measures targets alternately: a warm-up each, then opts.rounds rounds of duration/rounds
 * seconds per side, the order reversed every other round (A B C, C B A, ...) so that no side
 * always runs first or last; combined per side.
 */
export async function measureSides(sides: Side[], hosts: string[], opts: RoundPlan, cpu: string): Promise<Measured[]> {
  const base = { hosts, paths: PATHS, connections: opts.connections, threads: 1, cpuList: cpu };
  for (const { label, url } of sides) {
    progress(`  ${label}: warm-up ${opts.warmupS} s`);
    await runWrk({ ...base, url, durationS: opts.warmupS });
  }
  const runs: WrkResult[][] = sides.map(() => []);
  const cpuSpent: number[][] = sides.map(() => []);
  const slice = Math.max(1, Math.round(opts.durationS / opts.rounds));
  const forward = sides.map((_, i) => i);
  for (let round = 0; round < opts.rounds; round++) {
    for (const side of round % 2 === 0 ? forward : [...forward].reverse()) {
      const { label, url, pids } = sides[side];
      const cpu0 = pids.reduce((t, p) => t + cpuSeconds(p), 0);
      const r = await runWrk({ ...base, url, durationS: slice });
      const cpuUsed = pids.reduce((t, p) => t + cpuSeconds(p), 0) - cpu0;
      if (r.non2xx > 0 || r.socketErrors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors\n${r.raw}`);
      runs[side].push(r);
      cpuSpent[side].push(cpuUsed);
      progress(
        `  ${label}: round ${round + 1}/${opts.rounds}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, ` +
          `proxy CPU ${((cpuUsed / r.requests) * 1e6).toFixed(1)} µs/req`,
      );
    }
  }
  return sides.map((_, side) => {
    const c = combine(runs[side]);
    const spent = cpuSpent[side].reduce((a, b) => a + b, 0);
    return { ...c, cpuUsPerRequest: (spent / c.requests) * 1e6, cpuUsPerRound: cpuSpent[side].map((u, k) => (u / runs[side][k].requests) * 1e6) };
  });
}

export async function measurePair(a: Side, b: Side, hosts: string[], opts: RoundPlan, cpu: string): Promise<[Measured, Measured]> {
  const [ma, mb] = await measureSides([a, b], hosts, opts, cpu);
  return [ma, mb];
}

/** A few requests through `port` for every kind of path: all must be 200 (routed, not a 404). */
export async function checkRoutes(port: number, hosts: string[]): Promise<void> {
  const sample = [hosts[0], hosts[Math.floor(hosts.length / 2)], hosts[hosts.length - 1]];
  for (const host of sample) {
    for (const path of PATHS) {
      const res = await request({ port, host, path });
      if (res.status !== 200) throw new Error(`check: ${host}${path} answered ${res.status}: ${res.body.slice(0, 200)}`);
    }
  }
}

export async function withEnvoy<T>(name: string, config: EnvoyConfig, cpu: string, fn: (e: EnvoyProcess, startMs: number) => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const envoy = await startEnvoy({ name, config, concurrency: 1, cpuList: cpu, logLevel: "warning", readyTimeoutMs: 120_000 });
  const startMs = performance.now() - t0;
  try {
    return await fn(envoy, startMs);
  } finally {
    await envoy.stop();
  }
}

export function machine(): { cpu: string; nproc: number } {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const m = /^model name\s*:\s*(.+)$/m.exec(info);
  return { cpu: m?.[1]?.trim() ?? "unknown", nproc: cpus().length };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
