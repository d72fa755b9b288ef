// Child-process bookkeeping shared by every helper that starts something: each child runs in
// its own process group, is remembered until it exits, and is killed (with its whole tree)
// when the test process exits, even on failure. A detached `sh` watchdog per child also kills
// the group if this Node process dies without running its exit handlers (SIGKILL, OOM).

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { once } from "node:events";

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) killGroup(child, "SIGKILL");
  });
}

function startWatchdog(groupPid: number): void {
  // Polls once a second whether this Node process is alive; when it is gone, kills the group.
  // Not synchronisation: a safety net for the case where no exit handler can run.
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${groupPid} 2>/dev/null; do sleep 1; done; kill -9 -${groupPid} 2>/dev/null; exit 0`;
  const dog = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  dog.unref();
}

/** Spawns `command` in a new process group and tracks it for cleanup. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  installExitHook();
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  live.add(child);
  child.once("exit", () => live.delete(child));
  startWatchdog(child.pid);
  return child;
}

/** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopTracked(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    live.delete(child);
    return;
  }
  const exited = once(child, "exit");
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

/** Resolves when `check` returns a value other than undefined; polls every `intervalMs`. */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs?: number; intervalMs?: number; onTimeout?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const interval = opts.intervalMs ?? 20;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = opts.onTimeout?.() ?? "";
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${opts.timeoutMs ?? 10_000} ms waiting for ${what}${cause}${detail ? `\n${detail}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
