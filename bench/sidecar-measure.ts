// The measuring part of bench:sidecar: wrk against each path in alternating rounds (closed loop at
// a connection count, and paced near a fixed request rate), with every Envoy's CPU time
// (utime+stime from /proc) and RSS read around each run.
//
// wrk here is plain wrk (no wrk2 on this machine), so the fixed rate is paced from wrk's Lua
// `delay()` hook: each connection waits `delay` ms before its next request, which holds the rate
// near connections × 1000 / (delay + latency); the rate actually reached is measured and reported,
// and CPU per 1,000 requests/s is normalised by it.

import { runWrk, type WrkResult } from "../test/support/wrk.ts";
import { median } from "./controller-support.ts";
import { PATHS } from "./filter-measure.ts";
import { procCpuSeconds, procMemory } from "./istio-support.ts";
import type { PathTarget } from "./sidecar-world.ts";

/** One run of wrk against one path: what wrk saw and what each Envoy of the path spent. */
export interface RunSample {
  wrk: WrkResult;
  /** CPU seconds per Envoy of the path (same order as PathTarget.proxies). */
  cpuS: number[];
  /** RSS bytes per Envoy at the end of the run. */
  rss: number[];
}

export interface WrkRun {
  connections: number;
  durationS: number;
  /** Milliseconds each connection waits before its next request (paced runs only). */
  delayMs?: number;
  cpuList: string;
}

function luaScript(host: string, delayMs: number | undefined): string {
  // Requests are formatted once; request() only indexes a table.
  return `
local paths = { ${PATHS.map((p) => JSON.stringify(p)).join(", ")} }
local reqs = {}
local i = 0
function init(args)
  for k, p in ipairs(paths) do reqs[k] = wrk.format("GET", p, { Host = ${JSON.stringify(host)} }) end
end
function request()
  i = (i % #reqs) + 1
  return reqs[i]
end
${delayMs === undefined ? "" : `function delay()\n  return ${Math.max(0, Math.round(delayMs))}\nend\n`}`;
}

function wrkOnce(target: PathTarget, run: WrkRun): Promise<WrkResult> {
  return runWrk({ url: target.url, threads: 1, connections: run.connections, durationS: run.durationS, cpuList: run.cpuList, script: luaScript(target.host, run.delayMs) });
}

/** One wrk run against `target` with the CPU and RSS of each of its Envoys; fails on any non-2xx or socket error. */
export async function measureRun(target: PathTarget, run: WrkRun): Promise<RunSample> {
  const pids = target.proxies.map((p) => p.envoy.pid);
  const before = pids.map(procCpuSeconds);
  const wrk = await wrkOnce(target, run);
  const cpuS = pids.map((p, k) => procCpuSeconds(p) - before[k]);
  if (cpuS.some((c) => !Number.isFinite(c))) throw new Error(`${target.label}: an Envoy of the path exited during the run`);
  if (wrk.non2xx > 0 || wrk.socketErrors > 0) throw new Error(`${target.label}: ${wrk.non2xx} non-2xx, ${wrk.socketErrors} socket errors\n${wrk.raw}`);
  const rss = pids.map((p) => procMemory(p)?.rss ?? Number.NaN);
  return { wrk, cpuS, rss };
}

/**
 * A warm-up per target, then `rounds` rounds of one run per target, the order reversed every
 * other round (A B, B A, …) so that neither path always runs first; samples per target, in round order.
 */
export async function alternate(targets: PathTarget[], runOf: WrkRun | ((k: number) => WrkRun), rounds: number, warmupS: number, progress: (line: string) => void, what: string): Promise<RunSample[][]> {
  const runFor = (k: number): WrkRun => (typeof runOf === "function" ? runOf(k) : runOf);
  for (const [k, t] of targets.entries()) await wrkOnce(t, { ...runFor(k), durationS: warmupS });
  const samples: RunSample[][] = targets.map(() => []);
  const order = targets.map((_, i) => i);
  for (let round = 0; round < rounds; round++) {
    for (const k of round % 2 === 0 ? order : [...order].reverse()) {
      const s = await measureRun(targets[k], runFor(k));
      samples[k].push(s);
      const cpu = s.cpuS.reduce((a, b) => a + b, 0);
      progress(
        `  ${what} ${targets[k].label}: round ${round + 1}/${rounds}: ${s.wrk.rps.toFixed(0)} req/s, p50 ${s.wrk.p50.toFixed(3)} ms, p99 ${s.wrk.p99.toFixed(3)} ms, ` +
          `proxy CPU ${((cpu / s.wrk.requests) * 1e6).toFixed(1)} µs/req`,
      );
    }
  }
  return samples;
}

/**
 * The per-connection delay that brings `target` near `rate` requests/s with `connections`
 * connections: a short paced run at a first guess, then the cycle time corrected by what that
 * run reached (a busy machine stretches each cycle beyond delay + one-connection latency). Two
 * corrections at most; the rate finally reached is measured anyway.
 */
export async function calibrateDelay(target: PathTarget, rate: number, connections: number, seconds: number, cpuList: string, firstGuessMs: number): Promise<number> {
  let delayMs = firstGuessMs;
  for (let step = 0; step < 2; step++) {
    const r = await wrkOnce(target, { connections, durationS: seconds, delayMs, cpuList });
    const cycleWanted = (connections * 1000) / rate;
    const cycleSeen = (connections * 1000) / r.rps;
    delayMs = Math.max(0, Math.round(delayMs + cycleWanted - cycleSeen));
  }
  return delayMs;
}

// ---------------------------------------------------------------------------------------------
// Summaries

/** Median with the lowest and highest value, for "x (lo–hi)". */
export interface Spread {
  median: number;
  lo: number;
  hi: number;
}

export function spread(xs: number[]): Spread {
  return { median: median(xs), lo: Math.min(...xs), hi: Math.max(...xs) };
}

/** Proxy CPU per request of a sample, µs: every Envoy of the path, or only the one at `proxy`. */
export function cpuUsPerRequest(s: RunSample, proxy?: number): number {
  const cpu = proxy === undefined ? s.cpuS.reduce((a, b) => a + b, 0) : s.cpuS[proxy];
  return (cpu / s.wrk.requests) * 1e6;
}

/** vCPU (CPU seconds per second) an Envoy spent per 1,000 requests/s in a paced sample. */
export function vcpuPer1000Rps(s: RunSample, proxy: number): number {
  return (s.cpuS[proxy] / s.wrk.durationS) * (1000 / s.wrk.rps);
}

/** A closed-loop cell of one path, summarised over its rounds. */
export interface CellSummary {
  rps: Spread;
  p50: Spread;
  p99: Spread;
  /** Whole path's proxy CPU per request. */
  cpuUs: Spread;
  /** Pooled: all proxy CPU ÷ all requests of the cell. */
  cpuUsPooled: number;
}

export function summarise(samples: RunSample[]): CellSummary {
  const cpu = samples.reduce((a, s) => a + s.cpuS.reduce((x, y) => x + y, 0), 0);
  const requests = samples.reduce((a, s) => a + s.wrk.requests, 0);
  return {
    rps: spread(samples.map((s) => s.wrk.rps)),
    p50: spread(samples.map((s) => s.wrk.p50)),
    p99: spread(samples.map((s) => s.wrk.p99)),
    cpuUs: spread(samples.map((s) => cpuUsPerRequest(s))),
    cpuUsPooled: (cpu / requests) * 1e6,
  };
}

/** Per round, a ÷ b of a per-sample figure (the same round's two paths): the ratio's median and range. */
export function pairedRatio(a: RunSample[], b: RunSample[], f: (s: RunSample) => number): Spread {
  return spread(a.map((s, k) => f(s) / f(b[k])));
}
