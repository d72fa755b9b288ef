// A controller as a child process for tests: `canal controller` (bin/canal.mjs) or a test's own
// entry script, run by this Node.js. Its stdout and stderr are kept as lines; readiness is polled
// on them (the ECDS port and metrics URL it logs); stop() is SIGTERM then SIGKILL to its group.

import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { AdsTestClient } from "../../controller/src/sinks/ecds/testing/ads-client.ts";
import { pollUntil, spawnTracked, stopTracked } from "./processes.ts";

export interface ControllerSpawnOptions {
  /** Names the process in errors, e.g. its --identity. */
  name: string;
  /** What Node.js runs: the entry script and its arguments (Node.js options first if any). */
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep at most this many output lines, the oldest dropped (a long chaos run logs a lot). Default: all. */
  maxLines?: number;
}

/** What the process has shown once it is up: the port it serves ECDS (ADS) on, its metrics URL. */
export interface Readiness {
  ecdsPort?: number;
  metricsUrl?: string;
}

/** `canal controller`'s "starting" log line carries its metrics URL. */
export const METRICS_LINE = /"metrics":"(http:\/\/[^"]+)\/metrics"/;
/** `canal controller`'s "serving ECDS" log line carries its address. */
export const ECDS_LINE = /"msg":"serving ECDS".*?"address":"[^"]*:(\d+)"/;

/** Ready once `canal controller` logged its metrics URL and, if `ecds`, its ECDS port. */
export function canalControllerReady(ecds: boolean): (output: string) => Readiness | undefined {
  return (output) => {
    const metrics = METRICS_LINE.exec(output)?.[1];
    if (metrics === undefined) return undefined;
    if (!ecds) return { metricsUrl: metrics };
    const port = ECDS_LINE.exec(output)?.[1];
    return port === undefined ? undefined : { ecdsPort: Number(port), metricsUrl: metrics };
  };
}

export class ControllerProcess {
  /** Complete output lines (stdout and stderr interleaved as they arrived). */
  readonly lines: string[] = [];
  private partial = "";
  /** Set by waitReady when the process showed them. */
  ecdsPort = 0;
  metricsUrl = "";

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly maxLines: number,
  ) {
    for (const s of [child.stdout, child.stderr]) s?.on("data", (d: Buffer) => this.take(d.toString()));
  }

  /** Spawns the process; call waitReady before using it. */
  static spawn(opts: ControllerSpawnOptions): ControllerProcess {
    const child = spawnTracked(process.execPath, opts.args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    return new ControllerProcess(opts.name, child, opts.maxLines ?? Number.POSITIVE_INFINITY);
  }

  /** spawn, then waitReady. */
  static async start(
    opts: ControllerSpawnOptions & { ready: (output: string) => Readiness | undefined; timeoutMs?: number; intervalMs?: number },
  ): Promise<ControllerProcess> {
    const p = ControllerProcess.spawn(opts);
    await p.waitReady(opts.ready, opts);
    return p;
  }

  /** Polls the output until `ready` answers; throws if the process exits first or on timeout. */
  async waitReady(ready: (output: string) => Readiness | undefined, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
    const r = await pollUntil(
      `${this.name} to start`,
      () => {
        if (!this.alive) throw new Error(`${this.name} exited (code ${this.child.exitCode}, signal ${this.child.signalCode}):\n${this.tail()}`);
        return ready(this.output());
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: opts.intervalMs ?? 50, onTimeout: () => this.tail() },
    );
    if (r.ecdsPort !== undefined) this.ecdsPort = r.ecdsPort;
    if (r.metricsUrl !== undefined) this.metricsUrl = r.metricsUrl;
  }

  private take(chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    this.lines.push(...parts);
    // Dropped in batches so a chatty process stays O(1) per line.
    if (this.lines.length >= this.maxLines + 500) this.lines.splice(0, this.lines.length - this.maxLines);
  }

  /** All output kept, as text. */
  output(): string {
    return this.lines.length === 0 ? this.partial : `${this.lines.join("\n")}\n${this.partial}`;
  }

  /** Log lines whose text matches. */
  linesMatching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l));
  }

  tail(n = 30): string {
    return this.output().trimEnd().split("\n").slice(-n).join("\n");
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resident set size of the process, from /proc. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    if (m?.[1] === undefined) throw new Error(`no VmRSS in /proc/${this.child.pid}/status`);
    return Number(m[1]) * 1024;
  }

  /** One sample's value from its /metrics (0 when absent). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.metricsUrl}/metrics`)).text();
    const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text);
    return m?.[1] === undefined ? 0 : Number(m[1]);
  }

  /** An ADS client on its ECDS port, as gateway `id` of InternalGateway `cluster` (default: the seed's istio-system/canal). */
  client(id: string, cluster = "istio-system/canal", opts: ConstructorParameters<typeof AdsTestClient>[2] = {}): AdsTestClient {
    return new AdsTestClient(this.ecdsPort, { id, cluster }, opts);
  }

  /** A crash: SIGKILL to the process group, no lease released, no stream closed cleanly. */
  kill(): void {
    if (this.child.pid !== undefined) process.kill(-this.child.pid, "SIGKILL");
  }

  /** SIGTERM to the group (SIGKILL after graceMs), or SIGKILL to the process at once; resolves once it exited. */
  stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM", graceMs = 3000): Promise<void> {
    if (signal === "SIGKILL") this.child.kill("SIGKILL");
    return stopTracked(this.child, graceMs);
  }
}
