// Starts real Envoy processes for tests and benchmarks: admin and listeners on ephemeral
// loopback ports (port 0; the admin address is read from --admin-address-path and listener
// ports from /listeners), readiness by polling admin /ready, logs captured to a file that is
// quoted in failure messages, a unique --base-id per instance, cleanup of the process tree.

import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request as httpRequest } from "node:http";
import type { ChildProcess } from "node:child_process";
import { type EnvoyConfig, toYaml } from "../../envoy/bootstrap.ts";
import { pollUntil, spawnTracked, stopTracked } from "./processes.ts";
import { LOOPBACK } from "./ports.ts";

export const ENVOY_VERSION = process.env.ENVOY_VERSION ?? "1.40.0";

/** The Envoy binary: $ENVOY_BIN, else the scripts/tools.sh cache. Throws when missing. */
export function envoyBinary(): string {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv !== undefined && fromEnv !== "" && existsSync(fromEnv)) return fromEnv;
  const cache = process.env.CANAL_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "canal");
  const cached = join(cache, "envoy", ENVOY_VERSION, "envoy");
  if (existsSync(cached)) return cached;
  throw new Error(
    `Envoy not found: run scripts/tools.sh envoy (looked at ENVOY_BIN=${fromEnv ?? "<unset>"} and ${cached})`,
  );
}

let instanceCounter = 0;

/** A base id no other Envoy of this run (or of a concurrent test process) uses. */
function uniqueBaseId(): number {
  instanceCounter += 1;
  return (process.pid % 1_000_000) * 64 + (instanceCounter % 64);
}

export interface StartEnvoyOptions {
  /** For file names and messages. */
  name: string;
  config: EnvoyConfig;
  /** Worker threads (--concurrency); default 1. */
  concurrency?: number;
  logLevel?: "trace" | "debug" | "info" | "warning" | "error";
  /** Component log levels, e.g. "wasm:debug". */
  componentLogLevel?: string;
  /** Further Envoy arguments (e.g. ["--config-yaml", "..."], as pilot-agent passes a bootstrap override). */
  extraArgs?: string[];
  /** Run pinned to these CPUs with taskset (e.g. "1"). */
  cpuList?: string;
  /** Directory for config and logs (default: a fresh temp dir). */
  workDir?: string;
  readyTimeoutMs?: number;
}

export interface ListenerInfo {
  name: string;
  port: number;
}

// Work dirs startEnvoy made (opts.workDir unset): stop() removes them, and so does the test
// process's exit for an Envoy never stopped, so runs leave nothing in /tmp.
const ownedWorkDirs = new Set<string>();
let ownedExitHook = false;

function ownWorkDir(dir: string): void {
  ownedWorkDirs.add(dir);
  if (ownedExitHook) return;
  ownedExitHook = true;
  // Registered after processes.ts' hook (which kills the children), so it runs after it.
  process.on("exit", () => {
    for (const d of ownedWorkDirs) rmSync(d, { recursive: true, force: true });
  });
}

function removeOwnedWorkDir(dir: string): void {
  if (!ownedWorkDirs.delete(dir)) return;
  rmSync(dir, { recursive: true, force: true });
}

export class EnvoyProcess {
  readonly adminUrl: string;
  readonly adminPort: number;
  readonly listeners: ListenerInfo[];
  /** The log as it was at stop(), once stop() removed the work dir. */
  private finalLog: string | undefined;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly workDir: string,
    readonly logPath: string,
    adminPort: number,
    listeners: ListenerInfo[],
  ) {
    this.adminPort = adminPort;
    this.adminUrl = `http://${LOOPBACK}:${adminPort}`;
    this.listeners = listeners;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The port of the listener called `name` (or the only listener). */
  port(name?: string): number {
    const l = name === undefined ? this.listeners[0] : this.listeners.find((x) => x.name === name);
    if (l === undefined) throw new Error(`${this.name}: no listener ${name ?? ""}; have ${JSON.stringify(this.listeners)}`);
    return l.port;
  }

  /** GET on the admin interface; the body as text. */
  async admin(path: string, method = "GET"): Promise<string> {
    const { status, body } = await adminRequest(this.adminPort, path, method);
    if (status !== 200) throw new Error(`${this.name}: admin ${path} answered ${status}: ${body.slice(0, 300)}`);
    return body;
  }

  /** Counters and gauges whose name matches `filter` (a regex, as admin /stats?filter=). */
  async stats(filter?: string): Promise<Map<string, number>> {
    const q = filter === undefined ? "" : `&filter=${encodeURIComponent(filter)}`;
    const body = await this.admin(`/stats?format=json${q}`);
    const parsed = JSON.parse(body) as { stats: { name?: string; value?: number | string }[] };
    const out = new Map<string, number>();
    for (const s of parsed.stats) {
      if (s.name !== undefined && typeof s.value === "number") out.set(s.name, s.value);
    }
    return out;
  }

  /** One counter or gauge; 0 when it does not exist (yet). */
  async stat(name: string): Promise<number> {
    const all = await this.stats(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
    return all.get(name) ?? 0;
  }

  /** /stats/prometheus text. */
  prometheus(): Promise<string> {
    return this.admin("/stats/prometheus");
  }

  /** Envoy's heap as reported by admin /memory (bytes). */
  async memory(): Promise<{ allocated: number; heapSize: number }> {
    const m = JSON.parse(await this.admin("/memory")) as { allocated: string; heap_size: string };
    return { allocated: Number(m.allocated), heapSize: Number(m.heap_size) };
  }

  /** Resident set size of the Envoy process (bytes), from /proc. Includes Wasm linear memory. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (m === null) throw new Error(`${this.name}: no VmRSS in /proc/${this.pid}/status`);
    return Number(m[1]) * 1024;
  }

  /** The whole log so far. */
  log(): string {
    if (this.finalLog !== undefined) return this.finalLog;
    return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
  }

  /** The last `lines` lines of the log (startup banner omitted), for failure messages. */
  logTail(lines = 40): string {
    return tailOf(this.name, this.logPath, this.log(), lines);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops Envoy; a work dir startEnvoy made goes too (the log stays readable through log()). */
  async stop(): Promise<void> {
    await stopTracked(this.child);
    if (this.finalLog === undefined && ownedWorkDirs.has(this.workDir)) {
      this.finalLog = this.log();
      removeOwnedWorkDir(this.workDir);
    }
  }
}

/** The last lines of an Envoy log without the [info][main] startup banner. */
export function tailOf(name: string, path: string, text: string, lines = 40): string {
  const kept = text.split("\n").filter((l) => !l.includes("][info][main]"));
  return `--- ${name} log (${path}), last ${lines} lines without the startup banner ---\n${kept.slice(-lines - 1).join("\n")}`;
}

export function adminRequest(port: number, path: string, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LOOPBACK, port, path, method, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error(`admin ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

function listenerPorts(body: string): ListenerInfo[] {
  const parsed = JSON.parse(body) as {
    listener_statuses?: { name: string; local_address?: { socket_address?: { port_value?: number } } }[];
  };
  return (parsed.listener_statuses ?? []).map((l) => ({
    name: l.name,
    port: l.local_address?.socket_address?.port_value ?? 0,
  }));
}

/**
 * Starts Envoy with `config` (rendered to YAML in the work dir) and resolves once admin /ready
 * says LIVE and every static listener is bound. On any failure the process is stopped and the
 * error carries the log tail.
 */
export async function startEnvoy(opts: StartEnvoyOptions): Promise<EnvoyProcess> {
  const binary = envoyBinary();
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), `canal-${opts.name}-`));
  if (opts.workDir === undefined) ownWorkDir(workDir);
  const configPath = join(workDir, `${opts.name}.yaml`);
  const logPath = join(workDir, `${opts.name}.log`);
  const adminAddressPath = join(workDir, `${opts.name}.admin-address`);
  writeFileSync(configPath, toYaml(opts.config));
  writeFileSync(adminAddressPath, "");
  const args = [
    "-c", configPath,
    "--base-id", String(uniqueBaseId()),
    "--concurrency", String(opts.concurrency ?? 1),
    "--admin-address-path", adminAddressPath,
    "-l", opts.logLevel ?? "info",
    ...(opts.componentLogLevel === undefined ? [] : ["--component-log-level", opts.componentLogLevel]),
    ...(opts.extraArgs ?? []),
  ];
  const logFd = openSync(logPath, "a");
  const [command, argv] = opts.cpuList === undefined ? [binary, args] : ["taskset", ["-c", opts.cpuList, binary, ...args]];
  let child: ChildProcess;
  try {
    child = spawnTracked(command, argv, { stdio: ["ignore", logFd, logFd], cwd: workDir });
  } finally {
    closeSync(logFd);
  }
  const tail = (): string => {
    return tailOf(opts.name, logPath, existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
  };
  const exitedEarly = (): void => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Envoy ${opts.name} exited during startup (code ${child.exitCode}, signal ${child.signalCode})\n${tail()}`);
    }
  };
  try {
    const timeoutMs = opts.readyTimeoutMs ?? 30_000;
    const adminPort = await pollUntil(
      `Envoy ${opts.name} admin address`,
      () => {
        exitedEarly();
        const text = readFileSync(adminAddressPath, "utf8").trim();
        const m = /:(\d+)$/.exec(text);
        return m === null ? undefined : Number(m[1]);
      },
      { timeoutMs, onTimeout: tail },
    );
    await pollUntil(
      `Envoy ${opts.name} /ready`,
      async () => {
        exitedEarly();
        const { status, body } = await adminRequest(adminPort, "/ready");
        return status === 200 && body.trim() === "LIVE" ? true : undefined;
      },
      { timeoutMs, onTimeout: tail },
    );
    const listeners = await pollUntil(
      `Envoy ${opts.name} listeners`,
      async () => {
        exitedEarly();
        const { body } = await adminRequest(adminPort, "/listeners?format=json");
        const ls = listenerPorts(body);
        return ls.every((l) => l.port > 0) ? ls : undefined;
      },
      { timeoutMs, onTimeout: tail },
    );
    return new EnvoyProcess(opts.name, child, workDir, logPath, adminPort, listeners);
  } catch (err) {
    await stopTracked(child);
    removeOwnedWorkDir(workDir); // the error carries the log tail
    throw err;
  }
}

/** Log lines that mean the Wasm VM failed or trapped (empty when healthy). */
export function wasmFailureLines(log: string): string[] {
  return log
    .split("\n")
    .filter((l) => /\]\[(error|critical)\]\[wasm\]/.test(l) || /Wasm VM failed|RuntimeError|wasm trap|Function: proxy_\w+ failed/i.test(l));
}
