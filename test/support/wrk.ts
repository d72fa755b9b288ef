// Runs wrk (bounded by duration) against a loopback URL, spreading requests over a list of Host
// headers with a generated Lua script, and parses its report. `runWrkAtLeast` repeats bounded
// runs until a request count is reached (wrk itself cannot stop at a count: a thread that stops
// early still leaves the main thread sleeping for the whole duration).

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnTracked } from "./processes.ts";

/** wrk: $WRK_BIN or the one on PATH. Throws when missing. */
export function wrkBinary(): string {
  const fromEnv = process.env.WRK_BIN;
  if (fromEnv !== undefined && fromEnv !== "" && existsSync(fromEnv)) return fromEnv;
  try {
    return execFileSync("sh", ["-c", "command -v wrk"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("wrk not found: run scripts/tools.sh wrk");
  }
}

export interface WrkOptions {
  url: string;
  /** Request Host headers, used round-robin per thread (each thread starts at a different offset). */
  hosts?: string[];
  /** Paths, used round-robin together with the hosts. */
  paths?: string[];
  connections: number;
  threads: number;
  durationS: number;
  /** Pin wrk to these CPUs (taskset -c). */
  cpuList?: string;
  timeoutS?: number;
  /** A Lua script of the caller's own, used instead of the generated hosts × paths spread. */
  script?: string;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  non2xx: number;
  socketErrors: number;
  raw: string;
}

function luaString(s: string): string {
  return JSON.stringify(s);
}

function luaScript(opts: WrkOptions): string {
  const hosts = opts.hosts ?? [];
  const paths = opts.paths ?? ["/"];
  // Requests are pre-formatted once per thread; request() only indexes a table.
  return `
local hosts = { ${hosts.map(luaString).join(", ")} }
local paths = { ${paths.map(luaString).join(", ")} }
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local reqs = {}
local n = 0
local i = 0
function init(args)
  local count = math.max(#hosts, #paths)
  if count == 0 then count = 1 end
  for k = 1, count do
    local headers = {}
    if #hosts > 0 then headers["Host"] = hosts[((k - 1) % #hosts) + 1] end
    local p = paths[((k - 1) % #paths) + 1]
    reqs[k] = wrk.format("GET", p, headers)
  end
  n = #reqs
  i = ((tid or 0) * 7919) % n
end
function request()
  i = (i % n) + 1
  return reqs[i]
end
`;
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  if (unit === "us") return v / 1000;
  if (unit === "ms") return v;
  if (unit === "s") return v * 1000;
  if (unit === "m") return v * 60_000;
  throw new Error(`unknown wrk latency unit ${unit}`);
}

export function parseWrk(out: string): WrkResult {
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    if (m === null) throw new Error(`wrk output has no ${p}% latency:\n${out}`);
    return toMs(m[1], m[2]);
  };
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)/m.exec(out);
  if (total === null) throw new Error(`cannot parse wrk output:\n${out}`);
  const requests = Number(total[1]);
  const durationS = toMs(total[2], total[3]) / 1000;
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests,
    durationS,
    rps: requests / durationS,
    p50: pct("50"),
    p75: pct("75"),
    p90: pct("90"),
    p99: pct("99"),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: errs === null ? 0 : errs.slice(1).reduce((a, b) => a + Number(b), 0),
    raw: out,
  };
}

/** Runs wrk once; resolves with the parsed report. */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const bin = wrkBinary();
  const dir = mkdtempSync(join(tmpdir(), "canal-wrk-"));
  const script = join(dir, "spread.lua");
  writeFileSync(script, opts.script ?? luaScript(opts));
  const args = [
    "-t", String(opts.threads),
    "-c", String(opts.connections),
    "-d", `${opts.durationS}s`,
    "--timeout", `${opts.timeoutS ?? 5}s`,
    "--latency",
    "-s", script,
    opts.url,
  ];
  const [cmd, argv] = opts.cpuList === undefined ? [bin, args] : ["taskset", ["-c", opts.cpuList, bin, ...args]];
  const child = spawnTracked(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${err}\n${out}`);
  return parseWrk(out);
}

export interface WrkTotal {
  requests: number;
  durationS: number;
  rps: number;
  non2xx: number;
  socketErrors: number;
  runs: WrkResult[];
}

/**
 * Runs wrk in consecutive bounded chunks until at least `count` requests completed; each chunk's
 * duration is sized from the rate measured so far. Fails when `maxSeconds` would be exceeded.
 */
export async function runWrkAtLeast(
  opts: Omit<WrkOptions, "durationS">,
  count: number,
  maxSeconds: number,
  progress?: (line: string) => void,
): Promise<WrkTotal> {
  const runs: WrkResult[] = [];
  let done = 0;
  let spent = 0;
  let rate = 0;
  while (done < count) {
    const left = maxSeconds - spent;
    if (left < 1) throw new Error(`only ${done} of ${count} requests in ${spent.toFixed(1)} s (bound ${maxSeconds} s)`);
    const want = rate === 0 ? 2 : Math.ceil(((count - done) / rate) * 1.1) + 1;
    const durationS = Math.max(1, Math.min(want, Math.floor(left)));
    const r = await runWrk({ ...opts, durationS });
    runs.push(r);
    done += r.requests;
    spent += r.durationS;
    rate = done / spent;
    progress?.(`  ${done} / ${count} requests, ${rate.toFixed(0)} req/s`);
  }
  return {
    requests: done,
    durationS: spent,
    rps: done / spent,
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    socketErrors: runs.reduce((a, r) => a + r.socketErrors, 0),
    runs,
  };
}
