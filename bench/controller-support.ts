// Helpers for bench/controller.ts: a keep-alive server-side-apply client with bounded
// concurrency, the `canal controller` process (JSON log lines on stderr, /metrics, /proc), and
// the Envoy-side observations (ECDS stats, config dump, debug log timestamps).

import { createWriteStream, readdirSync, readFileSync, type WriteStream } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import type { ChildProcess } from "node:child_process";
import type { KubeApi, KubeObject } from "../test/support/k8s.ts";
import { LOOPBACK } from "../test/support/ports.ts";
import { spawnTracked, stopTracked } from "../test/support/processes.ts";
import { CONTROLLER_PROCESS_ENV } from "../controller/src/runner/process-env.ts";

export function progress(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Nearest-rank percentile (p in 0..1) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/** Runs `fn` with a deadline; the error names the phase and the limit. */
export async function withDeadline<T>(phase: string, ms: number, fn: () => Promise<T>, detail?: () => string, limitText?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const extra = detail?.() ?? "";
      reject(new Error(`${phase} did not finish within ${limitText ?? `${fmt(ms / 1000)} s`}${extra ? `\n${extra}` : ""}`));
    }, ms);
  });
  try {
    return await Promise.race([fn(), limit]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Server-side apply over keep-alive connections

export class Applier {
  private readonly agent: Agent;
  private readonly paths = new Map<string, string>();

  constructor(
    private readonly api: KubeApi,
    maxSockets: number,
    private readonly fieldManager = "canal-bench",
  ) {
    this.agent = new Agent({ ca: api.ca, keepAlive: true, maxSockets });
  }

  /** The collection path of a kind in a namespace (discovery once per kind and namespace). */
  private async collection(obj: KubeObject): Promise<string> {
    const key = `${obj.apiVersion}/${obj.kind}/${obj.metadata.namespace ?? ""}`;
    let p = this.paths.get(key);
    if (p === undefined) {
      p = await this.api.resourcePath(obj.apiVersion, obj.kind, obj.metadata.namespace);
      this.paths.set(key, p);
    }
    return p;
  }

  /** The PATCH path of `obj` (for timing a single apply without discovery in the measured span). */
  async pathOf(obj: KubeObject): Promise<string> {
    return `${await this.collection(obj)}/${encodeURIComponent(obj.metadata.name ?? "")}`;
  }

  /** One server-side apply (force) to a known path; throws unless 2xx. */
  patch(path: string, obj: KubeObject, timeoutMs = 60_000): Promise<void> {
    const query = `fieldManager=${encodeURIComponent(this.fieldManager)}&force=true`;
    return this.send("PATCH", `${path}?${query}`, "application/apply-patch+yaml", obj, timeoutMs);
  }

  /**
   * A plain create (POST to the collection): what kubectl create does. Cheaper for the API server
   * than a server-side apply (no field-set merge), so the bench makes its N objects this way; its
   * changes stay server-side applies, as an operator's tools send them.
   */
  async create(obj: KubeObject, timeoutMs = 60_000): Promise<void> {
    const path = `${await this.collection(obj)}?fieldManager=${encodeURIComponent(this.fieldManager)}`;
    await this.send("POST", path, "application/json", obj, timeoutMs);
  }

  private send(method: string, path: string, contentType: string, obj: KubeObject, timeoutMs: number): Promise<void> {
    const body = JSON.stringify(obj);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: LOOPBACK,
          port: this.api.port,
          method,
          path,
          agent: this.agent,
          headers: {
            Authorization: `Bearer ${this.api.token}`,
            Accept: "application/json",
            "Content-Type": contentType,
            "Content-Length": String(Buffer.byteLength(body)),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`${method} ${path}: HTTP ${status}: ${Buffer.concat(chunks).toString("utf8").slice(0, 1000)}`));
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  async apply(obj: KubeObject): Promise<void> {
    await this.patch(await this.pathOf(obj), obj);
  }

  /**
   * Applies (or with `how` "create", creates) every object with at most `concurrency` requests in
   * flight; calls `onProgress` with the number done at most every `everyMs`.
   */
  async applyAll(objects: readonly KubeObject[], concurrency: number, onProgress: (done: number) => void, everyMs = 5000, how: "apply" | "create" = "apply"): Promise<void> {
    let next = 0;
    let done = 0;
    let failure: unknown;
    let lastReport = performance.now();
    const worker = async (): Promise<void> => {
      while (failure === undefined) {
        const i = next++;
        if (i >= objects.length) return;
        try {
          await (how === "create" ? this.create(objects[i]) : this.apply(objects[i]));
        } catch (err) {
          failure ??= err;
          return;
        }
        done++;
        if (performance.now() - lastReport >= everyMs) {
          lastReport = performance.now();
          onProgress(done);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, () => worker()));
    if (failure !== undefined) throw failure;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The kinds the benches list as Canal's inputs: apiVersion, kind, list path. */
export const CANAL_INPUT_KINDS = [
  ["canal.io/v1alpha1", "InternalGateway", "/apis/canal.io/v1alpha1/internalgateways"],
  ["networking.istio.io/v1", "Gateway", "/apis/networking.istio.io/v1/gateways"],
  ["networking.istio.io/v1", "VirtualService", "/apis/networking.istio.io/v1/virtualservices"],
  ["networking.istio.io/v1", "DestinationRule", "/apis/networking.istio.io/v1/destinationrules"],
  ["v1", "Service", "/api/v1/services"],
] as const;

// ---------------------------------------------------------------------------------------------
// The controller process

export interface LogLine {
  /** performance.now() when the line was read. */
  at: number;
  msg: string;
  fields: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The bench's controller: every log line kept with the time it was read, so phases can be timed
 *  from the log (test/support/controller-process.ts is the tests' process wrapper). */
export class TimedControllerLog {
  readonly lines: LogLine[] = [];
  private pending = "";
  private readonly waiters = new Set<() => void>();
  private readonly log: WriteStream;

  constructor(
    readonly child: ChildProcess,
    readonly logPath: string,
    readonly spawnedAt: number,
  ) {
    this.log = createWriteStream(logPath);
    const onData = (d: Buffer): void => {
      this.log.write(d);
      this.pending += d.toString("utf8");
      let nl: number;
      while ((nl = this.pending.indexOf("\n")) >= 0) {
        const text = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        if (isRecord(parsed) && typeof parsed.msg === "string") this.lines.push({ at: performance.now(), msg: parsed.msg, fields: parsed });
        else if (text.trim() !== "") this.lines.push({ at: performance.now(), msg: text, fields: {} });
      }
      for (const w of [...this.waiters]) w();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => {
      for (const w of [...this.waiters]) w();
    });
  }

  /** With the environment Canal deploys the controller with (runner/process-env.ts). */
  static spawn(args: string[], logPath: string, cwd: string): TimedControllerLog {
    const spawnedAt = performance.now();
    const child = spawnTracked(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], cwd, env: { ...process.env, ...CONTROLLER_PROCESS_ENV } });
    return new TimedControllerLog(child, logPath, spawnedAt);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(n = 20): string {
    return `--- last ${n} controller log lines (${this.logPath}) ---\n${this.lines
      .slice(-n)
      .map((l) => (Object.keys(l.fields).length > 0 ? JSON.stringify(l.fields) : l.msg))
      .join("\n")}`;
  }

  /** The first log line whose msg is `msg` (waits for it); fails when the process exits. */
  async waitLine(msg: string, timeoutMs: number): Promise<LogLine> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find((l) => l.msg === msg);
      if (found !== undefined) return found;
      if (!this.alive) throw new Error(`the controller exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before logging "${msg}"\n${this.tail()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the controller did not log "${msg}" within ${fmt(timeoutMs / 1000)} s\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 1000));
        this.waiters.add(done);
      });
    }
  }

  /** VmRSS and VmHWM (bytes) from /proc/<pid>/status. */
  memory(): { rss: number; hwm: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const kb = (field: string): number => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
      if (m === null) throw new Error(`no ${field} in /proc/${this.pid}/status`);
      return Number(m[1]) * 1024;
    };
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  }

  /** utime+stime in seconds. */
  cpuSeconds(clockTicks: number): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  }

  async stop(): Promise<void> {
    await stopTracked(this.child, 10_000);
    if (!this.log.writableEnded) await new Promise<void>((r) => this.log.end(() => r()));
  }
}

/** utime+stime (seconds) of one thread: /proc/<pid>/task/<tid>/stat. */
function taskCpuSeconds(pid: number, tid: string, clockTicks: number): { name: string; seconds: number } {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
  const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { name, seconds: (Number(fields[11]) + Number(fields[12])) / clockTicks };
}

/**
 * CPU seconds of Envoy's main thread (tid = pid: xDS, admin, building the Wasm plugin) and of
 * its workers (threads named wrk:worker_N), from /proc.
 */
export function envoyThreadCpu(pid: number, clockTicks: number): { main: number; workers: number; total: number } {
  let main = 0;
  let workers = 0;
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let t: { name: string; seconds: number };
    try {
      t = taskCpuSeconds(pid, tid, clockTicks);
    } catch {
      continue; // the thread ended
    }
    total += t.seconds;
    if (tid === String(pid)) main += t.seconds;
    else if (t.name.startsWith("wrk:worker")) workers += t.seconds;
  }
  return { main, workers, total };
}

/** GET over plain HTTP on loopback; the status and body. */
export function httpGet(url: string, timeoutMs = 30_000): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** Prometheus text → `name{labels}` → value (comments skipped). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    if (sp < 0) continue;
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) out.set(line.slice(0, sp), v);
  }
  return out;
}

export interface MetricsSample {
  at: number;
  /** How long /metrics took to answer (long = the event loop was busy, e.g. translating). */
  ms: number;
  values: Map<string, number>;
}

/**
 * Scrapes the controller's /metrics in a loop (one request at a time) and keeps what changed:
 * every distinct `canal_translate_seconds` seen after `canal_translations_total` moved, the
 * same for `canal_push_seconds`, the latest sample, and the controller's RSS at each scrape.
 */
export class MetricsSampler {
  latest: MetricsSample | undefined;
  /** (translations_total, translate_seconds) each time the total moved between scrapes. */
  readonly translations: { total: number; seconds: number; at: number }[] = [];
  readonly pushes: { total: number; seconds: number; at: number }[] = [];
  maxRss = 0;
  /** What the bench is doing; the highest RSS seen is kept per phase. */
  phase = "sync";
  readonly maxRssByPhase = new Map<string, number>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly proc: TimedControllerLog,
    intervalMs = 200,
  ) {
    this.loop = this.run(intervalMs);
  }

  private async run(intervalMs: number): Promise<void> {
    while (this.running) {
      try {
        const s = await this.scrape();
        const total = s.values.get("canal_translations_total") ?? 0;
        const last = this.translations[this.translations.length - 1];
        if (total > 0 && (last === undefined || total !== last.total)) {
          this.translations.push({ total, seconds: s.values.get("canal_translate_seconds") ?? Number.NaN, at: s.at });
        }
        const pushes = s.values.get('canal_reconciles_total{result="ok"}') ?? 0;
        const lastPush = this.pushes[this.pushes.length - 1];
        if (pushes > 0 && (lastPush === undefined || pushes !== lastPush.total)) {
          this.pushes.push({ total: pushes, seconds: s.values.get("canal_push_seconds") ?? Number.NaN, at: s.at });
        }
        if (this.proc.alive) {
          const rss = this.proc.memory().rss;
          this.maxRss = Math.max(this.maxRss, rss);
          this.maxRssByPhase.set(this.phase, Math.max(this.maxRssByPhase.get(this.phase) ?? 0, rss));
        }
      } catch {
        // the controller may be busy or gone; the phase that needs it reports that
      }
      await sleep(intervalMs);
    }
  }

  async scrape(): Promise<MetricsSample> {
    const r = await httpGet(this.url, 60_000);
    if (r.status !== 200) throw new Error(`GET ${this.url}: HTTP ${r.status}`);
    const s = { at: performance.now(), ms: r.ms, values: parsePrometheus(r.body) };
    this.latest = s;
    return s;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

// ---------------------------------------------------------------------------------------------
// Envoy's debug log: when the ECDS response arrived and when it was accepted

/** Envoy's default log timestamp "[2026-11-25 10:00:00.123]" (local time) → epoch ms. */
function envoyTime(line: string): number | undefined {
  const m = /^\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})\]/.exec(line);
  if (m === null) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])).getTime();
}

export interface EcdsLogEvent {
  kind: "received" | "accepted" | "rejected";
  version: string;
  /** Epoch ms from Envoy's timestamp. */
  wall: number;
}

const ECDS_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";

/** ECDS receive/accept events from an Envoy log (config:debug). */
export function ecdsLogEvents(log: string): EcdsLogEvent[] {
  const out: EcdsLogEvent[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes(ECDS_TYPE)) continue;
    const wall = envoyTime(line);
    if (wall === undefined) continue;
    let m = /Received gRPC message for \S+ at version (\S+)/.exec(line);
    if (m !== null) {
      out.push({ kind: "received", version: m[1], wall });
      continue;
    }
    m = /gRPC config for \S+ accepted with \d+ resources with version (\S+)/.exec(line);
    if (m !== null) {
      out.push({ kind: "accepted", version: m[1], wall });
      continue;
    }
    m = /gRPC config for \S+ rejected: /.exec(line);
    if (m !== null) out.push({ kind: "rejected", version: "", wall });
  }
  return out;
}
