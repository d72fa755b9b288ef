// `canal dev`'s gateway: one router-mode Envoy started through func-e (the tools cache of
// scripts/tools.sh), in its own process group so stopping it stops func-e and Envoy together.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { toYaml, type EnvoyConfig } from "../../../envoy/bootstrap.ts";

export const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");

/** func-e's binary and environment: $FUNC_E_BIN and the FUNC_E_* homes, else `scripts/tools.sh env`. */
export function funcEEnvironment(explicit?: string): { bin: string; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (explicit === undefined && (env["FUNC_E_BIN"] === undefined || env["FUNC_E_DATA_HOME"] === undefined)) {
    let out = "";
    try {
      out = execFileSync("bash", [join(REPO_ROOT, "scripts", "tools.sh"), "env"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      throw new Error(`cannot read the tool paths from scripts/tools.sh env: ${(err as Error).message.split("\n")[0] ?? ""}`, { cause: err });
    }
    for (const m of out.matchAll(/^export ([A-Z0-9_]+)='([^']*)'$/gm)) {
      const [, key, value] = m;
      if (key !== undefined && value !== undefined && env[key] === undefined) env[key] = value;
    }
  }
  const bin = explicit ?? env["FUNC_E_BIN"] ?? "";
  if (bin === "" || !existsSync(bin)) throw new Error(`func-e not found${bin ? ` at ${bin}` : ""}: run scripts/tools.sh func-e (or make tools-envoy), or pass --func-e PATH`);
  return { bin, env };
}

/** Rejects with a one-line message when 127.0.0.1:port cannot be bound. */
export async function assertPortFree(port: number, what: string, flag: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "is already in use (another canal dev or make run?)" : `cannot be bound (${err.code ?? err.message})`;
      reject(new Error(`port ${port} on 127.0.0.1 for the ${what} ${why}; pass ${flag} to use another`));
    });
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

/**
 * A detached shell that kills Envoy's process group once this process is gone, also when it dies
 * without running any handler (SIGKILL, OOM): no orphaned Envoy holding the ports.
 */
function watchdog(group: number): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 -${group} 2>/dev/null; do sleep 1; done; kill -9 -${group} 2>/dev/null; exit 0`;
  spawn("sh", ["-c", script], { detached: true, stdio: "ignore" }).unref();
}

export class DevEnvoy {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Called when Envoy exits without being asked to. */
  onUnexpectedExit: (code: number | null, logTail: string) => void = () => {};

  constructor(
    private readonly funcE: { bin: string; env: NodeJS.ProcessEnv },
    readonly workDir: string,
    private readonly adminPort: number,
  ) {}

  get logPath(): string {
    return join(this.workDir, "envoy.log");
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  logTail(lines = 15): string {
    if (!existsSync(this.logPath)) return "";
    return readFileSync(this.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Writes the bootstrap, starts func-e, resolves when admin /ready answers 200. */
  async start(config: EnvoyConfig, readyTimeoutMs = 60_000): Promise<void> {
    if (this.closed) throw new Error("stopping: Envoy is not started again");
    const configPath = join(this.workDir, "envoy.yaml");
    writeFileSync(configPath, toYaml(config, "canal dev: generated; rewritten on every start"));
    const log = openSync(this.logPath, "a");
    const child = spawn(this.funcE.bin, ["run", "-c", configPath, "--log-level", "info", "--disable-hot-restart"], {
      cwd: this.workDir,
      env: this.funcE.env,
      stdio: ["ignore", log, log],
      detached: true,
    });
    closeSync(log);
    if (child.pid !== undefined) watchdog(child.pid);
    this.child = child;
    this.exited = once(child, "exit");
    child.once("exit", (code) => {
      if (this.child === child) {
        this.child = undefined;
        this.onUnexpectedExit(code, this.logTail());
      }
    });
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (this.child !== child) throw new Error(`Envoy exited before it was ready:\n${this.logTail()}`);
      if (await this.ready()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`Envoy was not ready after ${readyTimeoutMs / 1000} s; log: ${this.logPath}\n${this.logTail()}`);
  }

  private async ready(): Promise<boolean> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.adminPort}/ready`, { signal: AbortSignal.timeout(1000) });
      await r.text();
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /** Stops Envoy for good: a start() after this throws. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  /** SIGTERM to func-e's process group (func-e and Envoy), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (child === undefined || child.pid === undefined) return;
    this.child = undefined;
    const pid = child.pid;
    const kill = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal);
      } catch {
        // gone already
      }
    };
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
    // func-e may exit before Envoy: make sure nothing of the group is left.
    kill("SIGKILL");
  }
}
