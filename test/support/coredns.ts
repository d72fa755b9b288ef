// A real CoreDNS for tests (built and cached by `scripts/tools.sh coredns`), listening on UDP
// and TCP on 127.0.0.1 at an ephemeral port, with a production-like Corefile: the kubernetes
// plugin pointed at the test kube-apiserver (test/support/k8s.ts) through its kubeconfig,
// `reload` with a short interval, `cache` with a short TTL, `errors`, `health` and `ready` on
// their own loopback ports (readiness is polled, never slept for). Queries go through the real
// `dig` (dnsutils), or through a small node:dgram client for tight loops.
//
// Corefile templates may use these tokens, replaced on start and on every reload():
//   {{PORT}} DNS port, {{HEALTH_PORT}}, {{READY_PORT}}, {{DIR}} the work dir (absolute),
//   {{KUBECONFIG}} the kube API's kubeconfig path (when opts.kubeApi is given).
//
// See docs/dns-testing.md.

import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { pollUntil, spawnTracked, stopTracked } from "./processes.ts";
import { LOOPBACK, freePort } from "./ports.ts";
import { udpLookup, type DnsAnswer, type DnsRecord, type DnsType } from "./dns-client.ts";

export { udpLookup, type DnsAnswer, type DnsRecord, type DnsType } from "./dns-client.ts";

/** github.com/coredns/coredns version scripts/tools.sh installs ($COREDNS_VERSION overrides). */
export const COREDNS_VERSION: string = process.env.COREDNS_VERSION ?? "v1.15.0";

function cacheRoot(): string {
  return process.env.CANAL_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "canal");
}

/** The coredns binary: $COREDNS_BIN, else the scripts/tools.sh cache. Throws (never skips) when missing. */
export function corednsBinary(): string {
  const fromEnv = process.env.COREDNS_BIN;
  if (fromEnv !== undefined && fromEnv !== "" && existsSync(fromEnv)) return fromEnv;
  const cached = join(cacheRoot(), "coredns", COREDNS_VERSION, "coredns");
  if (existsSync(cached)) return cached;
  throw new Error(
    `coredns not found: run scripts/tools.sh coredns (looked at COREDNS_BIN=${fromEnv ?? "<unset>"} and ${cached})`,
  );
}

/** The dig binary from PATH ($DIG_BIN overrides). Throws when missing. */
export function digBinary(): string {
  const fromEnv = process.env.DIG_BIN;
  if (fromEnv !== undefined && fromEnv !== "" && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const p = join(dir, "dig");
    if (dir !== "" && existsSync(p)) return p;
  }
  throw new Error("dig not found: run scripts/tools.sh dig (Debian: apt-get install -y dnsutils)");
}

// ---------------------------------------------------------------------------------------------
// Types

export interface LookupOptions {
  /** "dig" (default): the real dig; "udp": the built-in node:dgram client. */
  via?: "dig" | "udp";
  /** Query over TCP (dig only). */
  tcp?: boolean;
  timeoutMs?: number;
}

export interface StartCoreDnsOptions {
  /** For the temp dir name. */
  name?: string;
  /** A complete Corefile template (see the tokens above). Default: defaultCorefile(opts). */
  corefile?: string;
  /** The test API server; the kubernetes plugin uses its kubeconfig (context "canal-test"). */
  kubeApi?: { kubeconfigPath: string };
  /** Zones of the kubernetes plugin; default ["cluster.local", "in-addr.arpa", "ip6.arpa"]. */
  zones?: string[];
  /** Plugin lines placed in the main server block (e.g. `hosts`, `template`, `import`, `rewrite`). */
  mainBlockExtra?: string;
  /** Further server blocks appended to the Corefile (templates, like the Corefile). */
  extraServerBlocks?: string;
  /** Files written into the work dir before start (relative name -> content), e.g. an imported snippet. */
  files?: Record<string, string>;
  /** reload plugin interval; default "2s" (its minimum). Jitter is 1 s (its minimum). */
  reloadInterval?: string;
  /** cache plugin TTL cap in seconds; default 5; 0 leaves the cache plugin out. */
  cacheTtl?: number;
  /** Add the log plugin (every query logged). Default false. */
  log?: boolean;
  /** Time allowed to become ready; default 30 s. */
  readyTimeoutMs?: number;
}

export interface ReloadReport {
  /** From writing the new Corefile to the log's "[INFO] Reloading complete". */
  ms: number;
}

export interface CoreDns {
  /** DNS port on 127.0.0.1, UDP and TCP. */
  readonly port: number;
  readonly healthPort: number;
  readonly readyPort: number;
  readonly dir: string;
  readonly corefilePath: string;
  readonly logPath: string;
  /** The version coredns -version reported, e.g. "CoreDNS-1.15.0". */
  readonly version: string;
  /** Milliseconds from spawn until /health and /ready answered 200. */
  readonly startupMs: number;
  readonly pid: number;
  /** The Corefile text currently on disk. */
  corefile(): string;
  /** Replaces the tokens of a template with this instance's values. */
  render(template: string): string;
  /** Writes a file in the work dir atomically (temp file + rename) and returns its path. */
  writeFile(relativeName: string, content: string): string;
  /**
   * Writes a new Corefile (a template) and waits until CoreDNS logs "Reloading complete" (the
   * reload plugin polls every reloadInterval); throws when it logs a failed reload instead.
   * An identical parsed Corefile (only comments or whitespace changed) is not reloaded: this
   * then times out, so pass { wait: false } for such writes.
   */
  reload(corefileTemplate: string, opts?: { timeoutMs?: number; wait?: boolean }): Promise<ReloadReport>;
  /** How many times the log says a reload completed. */
  reloadCount(): number;
  /** `dig +short`-style answers: the data of the answer records of `type`. */
  query(name: string, type?: DnsType, opts?: LookupOptions): Promise<string[]>;
  /** The full answer: rcode, AA flag, answer and authority records. */
  lookup(name: string, type?: DnsType, opts?: LookupOptions): Promise<DnsAnswer>;
  /** The whole log so far (stdout and stderr of coredns). */
  logs(): string;
  /** Stops CoreDNS and removes the work dir. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Corefile

/**
 * The production-like Corefile (kubeadm's default, minus forward/loop, on loopback ports): one
 * server block for the root zone with errors, health, ready, kubernetes (pods insecure,
 * fallthrough for reverse zones, ttl 5), cache, reload and loadbalance.
 */
export function defaultCorefile(opts: Pick<StartCoreDnsOptions, "kubeApi" | "zones" | "mainBlockExtra" | "extraServerBlocks" | "reloadInterval" | "cacheTtl" | "log"> = {}): string {
  const zones = opts.zones ?? ["cluster.local", "in-addr.arpa", "ip6.arpa"];
  const reverse = zones.filter((z) => z.endsWith("in-addr.arpa") || z.endsWith("ip6.arpa"));
  const lines: string[] = [
    `.:{{PORT}} {`,
    `    bind ${LOOPBACK}`,
    `    errors`,
    ...(opts.log === true ? [`    log`] : []),
    `    health ${LOOPBACK}:{{HEALTH_PORT}}`,
    `    ready ${LOOPBACK}:{{READY_PORT}}`,
  ];
  if (opts.mainBlockExtra !== undefined && opts.mainBlockExtra.trim() !== "") {
    for (const l of opts.mainBlockExtra.trimEnd().split("\n")) lines.push(`    ${l}`);
  }
  if (opts.kubeApi !== undefined) {
    lines.push(
      `    kubernetes ${zones.join(" ")} {`,
      `        kubeconfig {{KUBECONFIG}} canal-test`,
      `        pods insecure`,
      ...(reverse.length > 0 ? [`        fallthrough ${reverse.join(" ")}`] : []),
      `        ttl 5`,
      `    }`,
    );
  }
  const cacheTtl = opts.cacheTtl ?? 5;
  if (cacheTtl > 0) lines.push(`    cache ${cacheTtl}`);
  lines.push(`    reload ${opts.reloadInterval ?? "2s"} 1s`, `    loadbalance`, `}`);
  if (opts.extraServerBlocks !== undefined) lines.push(opts.extraServerBlocks.trimEnd());
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function tail(path: string, lines = 40): string {
  if (!existsSync(path)) return `(no log at ${path})`;
  const all = readFileSync(path, "utf8").trimEnd().split("\n");
  return `--- last ${Math.min(lines, all.length)} lines of ${path} ---\n${all.slice(-lines).join("\n")}`;
}

function httpStatus(port: number, path: string): Promise<number | undefined> {
  return new Promise((resolvePromise) => {
    const req = httpRequest({ host: LOOPBACK, port, path, timeout: 1000 }, (res) => {
      res.resume();
      res.on("end", () => resolvePromise(res.statusCode));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolvePromise(undefined));
    req.end();
  });
}

/** Whether a TCP connection to 127.0.0.1:port is accepted within timeoutMs. */
function tcpAnswers(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const sock = connect({ host: LOOPBACK, port, timeout: timeoutMs });
    sock.once("connect", () => {
      sock.destroy();
      resolvePromise(true);
    });
    sock.once("timeout", () => {
      sock.destroy();
      resolvePromise(false);
    });
    sock.once("error", () => resolvePromise(false));
  });
}

/** A port free on 127.0.0.1 for both TCP and UDP a moment ago. */
async function freeDnsPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    const ok = await new Promise<boolean>((resolvePromise) => {
      const s = createSocket("udp4");
      s.once("error", () => {
        s.close();
        resolvePromise(false);
      });
      s.bind(port, LOOPBACK, () => s.close(() => resolvePromise(true)));
    });
    if (ok) return port;
  }
  throw new Error("no port free for both TCP and UDP on 127.0.0.1");
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stdout}${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Parses `dig +noall +comments +answer +authority` output. */
export function parseDig(out: string): DnsAnswer {
  const status = /->>HEADER<<-.*status: ([A-Z]+)/.exec(out);
  if (status === null) throw new Error(`dig printed no header (no answer?):\n${out}`);
  const flags = /;; flags: ([a-z ]*);/.exec(out);
  const result: DnsAnswer = {
    rcode: status[1],
    authoritative: flags !== null && flags[1].split(" ").includes("aa"),
    answers: [],
    authority: [],
  };
  let section: "answer" | "authority" | "other" = "other";
  for (const line of out.split("\n")) {
    if (line.startsWith(";; ANSWER SECTION")) section = "answer";
    else if (line.startsWith(";; AUTHORITY SECTION")) section = "authority";
    else if (line.startsWith(";;")) section = "other";
    else if (line.trim() !== "" && !line.startsWith(";") && section !== "other") {
      const m = /^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$/.exec(line.trim());
      if (m === null) continue;
      const rr: DnsRecord = { name: m[1].toLowerCase(), ttl: Number(m[2]), type: m[3], data: m[4].trim() };
      (section === "answer" ? result.answers : result.authority).push(rr);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The server

const liveDirs = new Set<string>();
let exitHook = false;

function trackDir(dir: string): void {
  liveDirs.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

class CoreDnsImpl implements CoreDns {
  readonly corefilePath: string;
  readonly logPath: string;
  version = "";
  startupMs = 0;
  child: ChildProcess | undefined;
  private stopped = false;

  constructor(
    readonly dir: string,
    readonly port: number,
    readonly healthPort: number,
    readonly readyPort: number,
    private readonly kubeconfigPath: string | undefined,
  ) {
    this.corefilePath = join(dir, "Corefile");
    this.logPath = join(dir, "coredns.log");
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  render(template: string): string {
    return template
      .replaceAll("{{PORT}}", String(this.port))
      .replaceAll("{{HEALTH_PORT}}", String(this.healthPort))
      .replaceAll("{{READY_PORT}}", String(this.readyPort))
      .replaceAll("{{DIR}}", this.dir)
      .replaceAll("{{KUBECONFIG}}", this.kubeconfigPath ?? "{{KUBECONFIG: no kubeApi given}}");
  }

  corefile(): string {
    return readFileSync(this.corefilePath, "utf8");
  }

  writeFile(relativeName: string, content: string): string {
    const path = join(this.dir, relativeName);
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, content);
    renameSync(tmp, path);
    return path;
  }

  logs(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
  }

  reloadCount(): number {
    return countOccurrences(this.logs(), "[INFO] Reloading complete");
  }

  async reload(corefileTemplate: string, opts: { timeoutMs?: number; wait?: boolean } = {}): Promise<ReloadReport> {
    const before = this.reloadCount();
    const failedBefore = countOccurrences(this.logs(), "reload failed");
    const t0 = performance.now();
    this.writeFile("Corefile", this.render(corefileTemplate));
    if (opts.wait === false) return { ms: 0 };
    const outcome = await pollUntil(
      "CoreDNS to log 'Reloading complete'",
      (): "done" | "failed" | undefined => {
        if (countOccurrences(this.logs(), "reload failed") > failedBefore) return "failed";
        return this.reloadCount() > before ? "done" : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 15_000, intervalMs: 20, onTimeout: () => tail(this.logPath) },
    );
    if (outcome === "failed") throw new Error(`CoreDNS rejected the new Corefile:\n${tail(this.logPath)}`);
    return { ms: performance.now() - t0 };
  }

  async lookup(name: string, type: DnsType = "A", opts: LookupOptions = {}): Promise<DnsAnswer> {
    const timeoutMs = opts.timeoutMs ?? 3000;
    if (opts.via === "udp") return udpLookup(this.port, name, type, timeoutMs);
    const args = [
      `@${LOOPBACK}`,
      "-p",
      String(this.port),
      `+time=${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
      "+tries=1",
      "+nocmd",
      "+noall",
      "+comments",
      "+answer",
      "+authority",
      ...(opts.tcp === true ? ["+tcp"] : []),
      name,
      type,
    ];
    return parseDig(await run(digBinary(), args, timeoutMs + 2000));
  }

  async query(name: string, type: DnsType = "A", opts: LookupOptions = {}): Promise<string[]> {
    const a = await this.lookup(name, type, opts);
    return a.answers.filter((r) => type === "ANY" || r.type === type).map((r) => r.data);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.child !== undefined) await stopTracked(this.child, 3000);
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

/**
 * Starts CoreDNS and resolves once /health and /ready answer 200 (with the kubernetes plugin,
 * /ready waits for its first List of Services, EndpointSlices, Namespaces). Throws (never skips)
 * when coredns or dig is missing.
 */
export async function startCoreDns(opts: StartCoreDnsOptions = {}): Promise<CoreDns> {
  const bin = corednsBinary();
  digBinary();
  const version = (await run(bin, ["-version"], 10_000)).split("\n")[0].trim();
  const dir = mkdtempSync(join(tmpdir(), `canal-coredns-${(opts.name ?? "test").replace(/[^A-Za-z0-9-]/g, "-")}-`));
  trackDir(dir);
  const template = opts.corefile ?? defaultCorefile(opts);
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    const port = await freeDnsPort();
    const healthPort = await freePort();
    const readyPort = await freePort();
    const dns = new CoreDnsImpl(dir, port, healthPort, readyPort, opts.kubeApi?.kubeconfigPath);
    dns.version = version;
    for (const [file, content] of Object.entries(opts.files ?? {})) dns.writeFile(file, dns.render(content));
    dns.writeFile("Corefile", dns.render(template));
    rmSync(dns.logPath, { force: true });
    const fd = openSync(dns.logPath, "a");
    const t0 = performance.now();
    try {
      dns.child = spawnTracked(bin, ["-conf", dns.corefilePath], { cwd: dir, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    const child = dns.child;
    try {
      const outcome = await pollUntil(
        `CoreDNS /health and /ready on ${LOOPBACK}:${healthPort}, :${readyPort}`,
        async (): Promise<"ready" | "exited" | undefined> => {
          if (child.exitCode !== null || child.signalCode !== null) return "exited";
          if ((await httpStatus(healthPort, "/health")) !== 200) return undefined;
          if ((await httpStatus(readyPort, "/ready")) !== 200) return undefined;
          // /ready can answer before the DNS listeners are up: ask over UDP and TCP too.
          await udpLookup(port, "ready.canal.invalid", "A", 500);
          return (await tcpAnswers(port, 500)) ? "ready" : undefined;
        },
        { timeoutMs, intervalMs: 25, onTimeout: () => tail(dns.logPath) },
      );
      if (outcome === "ready") {
        dns.startupMs = performance.now() - t0;
        return dns;
      }
    } catch (err) {
      await dns.stop();
      throw err;
    }
    const log = dns.logs();
    await stopTracked(child, 1000);
    if (attempt < 3 && /address already in use/i.test(log)) continue; // lost a port race
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    throw new Error(`coredns exited during startup (code ${child.exitCode}, signal ${child.signalCode})\n${log.slice(-4000)}`);
  }
}
