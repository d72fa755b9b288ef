// Process lifecycle of the API-server harness: etcd's start on fresh ports (retried when a port
// race is lost), log tails for errors, kills, and the temp dir removed even when Node dies.

import { cpSync, existsSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { pollUntil, spawnTracked, stopTracked } from "../processes.ts";
import { LOOPBACK, freePort } from "../ports.ts";
import { etcdBinary } from "./binaries.ts";
import { isRecord } from "./objects.ts";

export function tail(path: string, lines = 40): string {
  if (!existsSync(path)) return `(no log at ${path})`;
  const all = readFileSync(path, "utf8").trimEnd().split("\n");
  return `--- last ${Math.min(lines, all.length)} lines of ${path} ---\n${all.slice(-lines).join("\n")}`;
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** The last PEM certificate of a bundle (the self-signed CA kube-apiserver appends to its cert). */
export function lastCertificate(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks === null || blocks.length === 0) throw new Error("no certificate in the serving cert file");
  return `${blocks[blocks.length - 1]}\n`;
}

export function yamlQuote(s: string): string {
  return JSON.stringify(s); // JSON strings are valid YAML double-quoted scalars
}

export const liveWorkDirs = new Set<string>();
let workDirExitHook = false;

export function trackWorkDir(dir: string): void {
  liveWorkDirs.add(dir);
  // If this Node process dies without exit handlers (SIGKILL, OOM), processes.ts' watchdog kills
  // the servers; this one removes their temp dir (etcd alone preallocates a 64 MB WAL). It ends
  // by itself once stop() has removed the dir.
  const q = `'${dir.replace(/'/g, "'\\''")}'`;
  const script = `while kill -0 ${process.pid} 2>/dev/null && [ -d ${q} ]; do sleep 1; done; sleep 2; rm -rf ${q}`;
  spawn("sh", ["-c", script], { detached: true, stdio: "ignore" }).unref();
  if (workDirExitHook) return;
  workDirExitHook = true;
  // Registered after processes.ts' hook (which kills the children), so it runs after it.
  process.on("exit", () => {
    for (const d of liveWorkDirs) rmSync(d, { recursive: true, force: true });
  });
}

/** The environment without ETCD_* (etcd reads those as flags, e.g. ETCD_BIN would be warned about). */
export function envWithoutEtcdVars(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ETCD_")) env[k] = v;
  return env;
}
export class ApiserverExited extends Error {}

export function killGroupNow(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

export async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** GET http://127.0.0.1:port/path of etcd: the body on 200, undefined otherwise. */
function etcdGet(port: number, path: string): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    const req = httpRequest({ host: LOOPBACK, port, path, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolvePromise(res.statusCode === 200 ? body : undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolvePromise(undefined));
    req.end();
  });
}

export const ADDRESS_IN_USE = /address already in use|bind: address/i;

export async function startEtcd(
  workDir: string,
  extraArgs: string[],
  timeoutMs: number,
  seedDir?: string,
): Promise<{ child: ChildProcess; port: number; version: string }> {
  const logPath = join(workDir, "etcd.log");
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = await distinctFreePorts(2);
    const client = `http://${LOOPBACK}:${clientPort}`;
    const peer = `http://${LOOPBACK}:${peerPort}`;
    const args = [
      "--name=canal-test",
      `--data-dir=${join(workDir, "etcd")}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=canal-test=${peer}`,
      "--initial-cluster-state=new",
      "--unsafe-no-fsync", // test data: durability across machine crashes is not needed
      "--log-level=warn",
      // A copied data dir names its member's old peer URL; this makes it a one-member cluster on the new one.
      ...(seedDir === undefined ? [] : ["--force-new-cluster"]),
      ...extraArgs,
    ];
    rmSync(join(workDir, "etcd"), { recursive: true, force: true });
    if (seedDir !== undefined) cpSync(seedDir, join(workDir, "etcd"), { recursive: true });
    const fd = openSync(logPath, "a");
    let child: ChildProcess;
    try {
      child = spawnTracked(etcdBinary(), args, { stdio: ["ignore", fd, fd], env: envWithoutEtcdVars() });
    } finally {
      closeSync(fd);
    }
    let failure: string | undefined;
    try {
      const outcome = await pollUntil(
        `etcd /health on ${client}`,
        async (): Promise<"ready" | "exited" | undefined> => {
          if (exited(child)) return "exited";
          const health = await etcdGet(clientPort, "/health");
          return health?.includes('"health":"true"') === true ? "ready" : undefined;
        },
        { timeoutMs, intervalMs: 25, onTimeout: () => tail(logPath) },
      );
      if (outcome === "ready") {
        const v: unknown = JSON.parse((await etcdGet(clientPort, "/version")) ?? "{}");
        const version = isRecord(v) && typeof v.etcdserver === "string" ? v.etcdserver : "unknown";
        return { child, port: clientPort, version };
      }
      failure = `etcd exited during startup (code ${child.exitCode}, signal ${child.signalCode})`;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    await stopTracked(child, 2000);
    const log = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
    if (attempt < 3 && ADDRESS_IN_USE.test(log)) {
      rmSync(logPath, { force: true });
      continue; // lost a port race; fresh ports
    }
    throw new Error(`${failure}\n${tail(logPath)}`);
  }
}
