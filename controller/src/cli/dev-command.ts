// `canal dev`: the local dev loop in file mode. A folder of Istio YAML → translate() → the route
// table served over ECDS (the controller's own EcdsPublisher) to a router-mode Envoy started with
// func-e, demo backends for the Services the table routes to, and a folder watch so an edit
// changes routing live. An edit the controller could not read keeps the last good table.
import { existsSync, mkdtempSync, rmSync, watch, type FSWatcher } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { renderCanalBootstrap, type UpstreamCluster } from "../../../envoy/bootstrap.ts";
import { startDemoUpstream } from "../../../envoy/demo-upstream.ts";
import type { RouteTable } from "../../../schema/route-table.ts";
import { EcdsPublisher } from "../sinks/ecds-publisher.ts";
import { listYamlFiles } from "../sources/file-source.ts";
import type { ClusterRef, GatewayResult } from "../translate/index.ts";
import { loadRegexValidator } from "../translate/regex-validator.ts";
import { parseFlags } from "./flags.ts";
import { UsageError, untilSignal, type Command } from "./command.ts";
import { assertPortFree, DevEnvoy, funcEEnvironment, REPO_ROOT } from "./dev-envoy.ts";
import { compileFiles, type Compiled } from "./files.ts";

const DEV_USAGE = `usage: canal dev [flags]

Runs Canal locally from a folder of Istio YAML (no Kubernetes): translates it like the controller,
serves the route table over ECDS to a router-mode Envoy (started with func-e, loopback only),
starts a demo backend for every Service subset the table routes to, and watches the folder: save
a file and the next request follows the new routes. An edit that cannot be read (YAML errors,
fields of the wrong type, duplicates) prints file:line and keeps the last good table; other
problems are printed and the table is applied as the controller would apply it. Ctrl-C stops
everything.

flags:
  --dir DIR                folder of *.yaml/*.yml files (default: examples/helloworld)
  --gateway NS/NAME        the InternalGateway to serve when the folder has several
  --port N                 gateway listener on 127.0.0.1 (default: 10080)
  --admin-port N           Envoy admin on 127.0.0.1 (default: 9901)
  --ecds-port N            ECDS (ADS gRPC) server on 127.0.0.1 (default: 18000)
  --wasm PATH              the filter (default: build/canal.wasm in the repository)
  --func-e PATH            func-e binary (default: $FUNC_E_BIN, else scripts/tools.sh's cache)
  --debounce-ms N          wait this long after the last change before reloading (default: 200)
  -h, --help               this help

examples:
  canal dev
  canal dev --dir my-istio-config --port 8080
`;

export interface DevFlags {
  dir: string;
  gateway?: string;
  port: number;
  adminPort: number;
  ecdsPort: number;
  wasm: string;
  funcE?: string;
  debounceMs: number;
}

function portFlag(value: string, flag: string, allowZero = false): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535 || (n === 0 && !allowZero)) throw new UsageError(`canal dev: ${flag} must be a port number 1-65535, got "${value}"`);
  return n;
}

export function parseDevFlags(args: string[]): DevFlags | "help" {
  const { values } = parseFlags("dev", {
    args,
    allowPositionals: false,
    options: {
      dir: { type: "string", default: join(REPO_ROOT, "examples", "helloworld") },
      gateway: { type: "string" },
      port: { type: "string", default: "10080" },
      "admin-port": { type: "string", default: "9901" },
      "ecds-port": { type: "string", default: "18000" },
      wasm: { type: "string", default: join(REPO_ROOT, "build", "canal.wasm") },
      "func-e": { type: "string" },
      "debounce-ms": { type: "string", default: "200" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const debounce = Number(values["debounce-ms"]);
  if (!Number.isInteger(debounce) || debounce < 0 || debounce > 60_000) throw new UsageError(`canal dev: --debounce-ms must be whole milliseconds 0-60000, got "${values["debounce-ms"]}"`);
  const gateway = values.gateway;
  if (gateway !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(gateway)) throw new UsageError(`canal dev: --gateway must be NAMESPACE/NAME, got "${gateway}"`);
  const flags: DevFlags = {
    dir: values.dir as string,
    port: portFlag(values.port as string, "--port"),
    adminPort: portFlag(values["admin-port"] as string, "--admin-port"),
    ecdsPort: portFlag(values["ecds-port"] as string, "--ecds-port"),
    wasm: resolve(values.wasm as string),
    debounceMs: debounce,
  };
  if (gateway !== undefined) flags.gateway = gateway;
  if (values["func-e"] !== undefined) flags.funcE = resolve(values["func-e"]);
  return flags;
}

const say = (line: string): void => {
  process.stdout.write(`canal dev: ${line}\n`);
};

/** The gateway to serve, or why there is none. */
function pickGateway(c: Compiled, wanted: string | undefined): GatewayResult | string {
  const all = c.result.gateways;
  const key = (g: GatewayResult): string => `${g.ref.namespace}/${g.ref.name}`;
  const g = wanted !== undefined ? all.find((x) => key(x) === wanted) : all.length === 1 ? all[0] : undefined;
  if (g === undefined) {
    if (all.length === 0) return c.notes.find((n) => n.startsWith("no InternalGateway")) ?? "no InternalGateway in the files";
    return wanted !== undefined ? `no InternalGateway ${wanted} in the files (found: ${all.map(key).join(", ")})` : `several InternalGateways (${all.map(key).join(", ")}): pass --gateway NS/NAME`;
  }
  if (!g.accepted) return `InternalGateway ${key(g)} is not accepted: ${g.message} (${g.reason})`;
  return g;
}

/** Edits the controller could not read: YAML errors, duplicates, malformed objects. */
function unreadable(c: Compiled): boolean {
  return c.source.errors.length > 0 || c.source.parsed.problems.length > 0;
}

/** A demo backend per Service subset: `helloworld-v1`, `ratings`, `reviews.test`. */
function backendName(ref: ClusterRef): string {
  const ns = ref.namespace === "default" ? "" : `.${ref.namespace}`;
  return `${ref.service}${ns}${ref.subset ? `-${ref.subset}` : ""}`;
}

/** curl commands to try: per virtual host (first 4), its shortest name and each route's first match. */
export function tryCommands(table: RouteTable, port: number): string[] {
  const out: string[] = [];
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  for (const vh of table.virtualHosts.slice(0, 4)) {
    const host = [...vh.domains].sort((a, b) => a.length - b.length)[0] ?? "";
    for (const r of vh.routes.slice(0, 4)) {
      const m = r.match?.[0];
      const uri = m?.uri;
      const path = uri !== undefined && "exact" in uri ? uri.exact : uri !== undefined && "prefix" in uri ? uri.prefix : "/";
      const headers = Object.entries(m?.headers ?? {}).flatMap(([k, v]) => ("exact" in v ? [`-H ${quote(`${k}: ${v.exact}`)}`] : []));
      out.push(`curl -s -H ${quote(`host: ${host.replace(/^\*\./, "any.")}`)} ${headers.join(" ")}${headers.length ? " " : ""}http://127.0.0.1:${port}${path}    # ${r.name}`);
    }
  }
  return out;
}

class DevLoop {
  private readonly publisher: EcdsPublisher;
  private readonly envoy: DevEnvoy;
  private readonly backends = new Map<string, { server: Server; port: number }>();
  /** Clusters Envoy was started with (name → backend). */
  private envoyClusters = new Map<string, string>();
  private current: GatewayResult | undefined;
  private envoyNodeCluster = "";
  private lastDelivery = "";
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private failed: ((err: Error) => void) | undefined;
  readonly failure: Promise<Error>;

  constructor(private readonly flags: DevFlags, private readonly validateRegex: ReturnType<typeof loadRegexValidator>, funcE: { bin: string; env: NodeJS.ProcessEnv }, private readonly workDir: string) {
    this.publisher = new EcdsPublisher({ code: { local: flags.wasm } });
    this.envoy = new DevEnvoy(funcE, workDir, flags.adminPort);
    this.failure = new Promise((resolve) => (this.failed = resolve));
    this.envoy.onUnexpectedExit = (code, tail) => this.failed?.(new Error(`Envoy exited (code ${code ?? "signal"}); last log lines:\n${tail}`));
  }

  private compile(): Compiled | string {
    let files: string[];
    try {
      files = listYamlFiles([this.flags.dir]);
    } catch (err) {
      return (err as Error).message;
    }
    return compileFiles(files, { validateRegex: this.validateRegex });
  }

  private report(c: Compiled): void {
    for (const n of c.notes) say(n);
    for (const e of c.errors) process.stdout.write(`${e}\n`);
  }

  async start(): Promise<void> {
    const c = this.compile();
    if (typeof c === "string") throw new Error(c);
    this.report(c);
    if (unreadable(c)) throw new Error(`${this.flags.dir} has errors (above); fix them and run canal dev again`);
    const g = pickGateway(c, this.flags.gateway);
    if (typeof g === "string") throw new Error(g);
    const { port } = await this.publisher.server.start(`127.0.0.1:${this.flags.ecdsPort}`);
    say(`ECDS server on 127.0.0.1:${port}`);
    this.publisher.onDeliveryChange(() => this.onDelivery());
    await this.apply(g);
    this.watch();
  }

  private async ensureBackends(g: GatewayResult): Promise<boolean> {
    let changed = false;
    for (const ref of g.clusters) {
      const name = backendName(ref);
      if (!this.backends.has(name)) {
        const server = await startDemoUpstream(name, 0);
        const addr = server.address();
        const port = addr !== null && typeof addr === "object" ? addr.port : 0;
        this.backends.set(name, { server, port });
        say(`backend ${name} on http://127.0.0.1:${port}`);
      }
      if (this.envoyClusters.get(ref.cluster) !== name) changed = true;
    }
    return changed;
  }

  private async restartEnvoy(g: GatewayResult): Promise<void> {
    const clusters = new Map(this.envoyClusters);
    for (const ref of g.clusters) clusters.set(ref.cluster, backendName(ref));
    const upstreams: UpstreamCluster[] = [...clusters].map(([name, backend]) => ({ name, host: "127.0.0.1", port: this.backends.get(backend)?.port ?? 1 }));
    const restarting = this.envoyClusters.size > 0;
    if (restarting) say("the table routes to new clusters: restarting Envoy");
    await this.envoy.stop();
    say(`starting Envoy (func-e) on http://127.0.0.1:${this.flags.port}, admin http://127.0.0.1:${this.flags.adminPort}; log: ${this.envoy.logPath}`);
    await this.envoy.start(
      renderCanalBootstrap({
        listenerPort: this.flags.port,
        adminPort: this.flags.adminPort,
        wasmPath: this.flags.wasm,
        nodeId: "canal-dev",
        nodeCluster: `${g.ref.namespace}/${g.ref.name}`,
        table: { kind: "ads", adsCluster: { name: "canal-controller", host: "127.0.0.1", port: this.flags.ecdsPort } },
        clusters: upstreams,
      }),
    );
    this.envoyClusters = clusters;
    say("Envoy is ready");
  }

  private async apply(g: GatewayResult): Promise<void> {
    const first = this.current === undefined;
    const newClusters = await this.ensureBackends(g);
    this.current = g;
    this.publisher.publish(g, JSON.stringify(g.table));
    say(`table ${g.table.version}: ${g.counts.virtualHosts} virtual host(s), ${g.counts.routes} route(s), ${g.counts.domains} domain(s)`);
    if (newClusters || g.ref.namespace + "/" + g.ref.name !== this.envoyNodeCluster) await this.restartEnvoy(g);
    this.envoyNodeCluster = `${g.ref.namespace}/${g.ref.name}`;
    if (first) {
      await this.acknowledged(g.table.version, 30_000);
      this.printTry(g.table);
    }
  }

  /** Resolves once Envoy ACKed `version` (or after `timeoutMs`, with a warning). */
  private async acknowledged(version: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const d = this.current && this.publisher.delivery(this.current);
      if (d?.programmed && this.current?.table.version === version) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    say(`Envoy has not acknowledged table ${version} after ${timeoutMs / 1000} s; see ${this.envoy.logPath}`);
  }

  private onDelivery(): void {
    const g = this.current;
    if (g === undefined) return;
    const d = this.publisher.delivery(g);
    if (d === undefined) return;
    const key = `${d.reason}/${g.table.version}`;
    if (key === this.lastDelivery) return;
    this.lastDelivery = key;
    if (d.reason === "Acknowledged") say(`Envoy runs table ${g.table.version}`);
    else if (d.reason === "Rejected") say(`Envoy rejected the table: ${d.message}`);
  }

  private printTry(table: RouteTable): void {
    const lines = tryCommands(table, this.flags.port);
    process.stdout.write(
      [
        "",
        `Canal is running: gateway http://127.0.0.1:${this.flags.port}, Envoy admin http://127.0.0.1:${this.flags.adminPort}`,
        "Try:",
        ...lines.map((l) => `  ${l}`),
        `  curl -si -H 'host: nobody' http://127.0.0.1:${this.flags.port}/    # 404 that says why`,
        `  curl -s http://127.0.0.1:${this.flags.adminPort}/stats/prometheus | grep canal_requests_total`,
        `Edit the files in ${this.flags.dir} and save: routing changes live. Ctrl-C stops everything.`,
        "",
      ].join("\n") + "\n",
    );
  }

  private watch(): void {
    this.watcher = watch(this.flags.dir, () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.reloading = this.reloading.then(() => this.reload()).catch((err: unknown) => this.failed?.(err as Error));
      }, this.flags.debounceMs);
    });
    this.watcher.on("error", (err) => this.failed?.(err));
  }

  private async reload(): Promise<void> {
    const c = this.compile();
    if (typeof c === "string") {
      say(`${c}; keeping table ${this.current?.table.version ?? ""}`);
      return;
    }
    say(`change in ${this.flags.dir}: reloading`);
    this.report(c);
    const keep = `keeping the last good table ${this.current?.table.version ?? ""}`;
    if (unreadable(c)) {
      say(`${c.errors.length} error(s) above; ${keep}`);
      return;
    }
    const g = pickGateway(c, this.flags.gateway);
    if (typeof g === "string") {
      say(`${g}; ${keep}`);
      return;
    }
    if (g.table.version === this.current?.table.version) {
      say(`table unchanged (${g.table.version})`);
      return;
    }
    await this.apply(g);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.envoy.close();
    await this.reloading.catch(() => undefined);
    await this.publisher.server.stop();
    await Promise.all([...this.backends.values()].map(({ server }) => new Promise((r) => server.close(r))));
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

export const devCommand: Command = {
  summary: "run a local gateway from a folder of Istio YAML (func-e Envoy, ECDS, demo backends); edits apply live",
  async run(args: string[]): Promise<number> {
    const flags = parseDevFlags(args);
    if (flags === "help") {
      process.stdout.write(DEV_USAGE);
      return 0;
    }
    await assertPortFree(flags.port, "gateway listener", "--port");
    await assertPortFree(flags.adminPort, "Envoy admin", "--admin-port");
    await assertPortFree(flags.ecdsPort, "ECDS server", "--ecds-port");
    if (!existsSync(flags.wasm)) throw new Error(`the filter ${flags.wasm} is missing: run make build (or pass --wasm PATH)`);
    const funcE = funcEEnvironment(flags.funcE);
    const validateRegex = loadRegexValidator();
    say(`reading ${flags.dir}`);
    const loop = new DevLoop(flags, validateRegex, funcE, mkdtempSync(join(tmpdir(), "canal-dev-")));
    const stopped = untilSignal();
    try {
      const outcome = await Promise.race([loop.start().then(() => Promise.race([stopped.then(() => undefined), loop.failure])), stopped.then(() => undefined), loop.failure]);
      if (outcome instanceof Error) throw outcome;
      say("stopping");
      return 0;
    } finally {
      await loop.stop();
    }
  },
};
