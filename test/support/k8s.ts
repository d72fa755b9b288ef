// A real Kubernetes API server for tests: etcd and kube-apiserver (built and cached by
// `scripts/tools.sh k8s`) on 127.0.0.1 ephemeral ports, in a temp dir that holds everything
// they need (etcd data, self-signed serving cert, service-account keys, a static token file,
// a kubeconfig). The admin token is in group system:masters; --authorization-mode=RBAC, so
// extra users (opts.users) start with no rights. Readiness is polled (/health, /readyz), logs
// go to files whose tail is quoted in errors, and process groups are killed on stop() and when
// the test process exits. Manifests are applied by server-side apply over plain HTTPS.
//
// See docs/k8s-testing.md.

import * as k8s from "@kubernetes/client-node";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { pollUntil, spawnTracked, stopTracked } from "./processes.ts";
import { LOOPBACK } from "./ports.ts";
import { REPO_ROOT, kubeApiserverBinary, etcdBinary, istioCrdsPath } from "./k8s/binaries.ts";
import { KubeApiError, type KubeObject, type KubeList, type KubeResponse, type KubeRequestOptions, type KubeWatch, type ApplyOptions, type RestartReport, type StartKubeApiOptions, type KubeApi } from "./k8s/types.ts";
import { isRecord, isKubeObject, parseManifests, groupVersionPath, type DiscoveredResource } from "./k8s/objects.ts";
import { tail, exited, lastCertificate, yamlQuote, liveWorkDirs, trackWorkDir, ApiserverExited, killGroupNow, distinctFreePorts, ADDRESS_IN_USE, startEtcd } from "./k8s/lifecycle.ts";
import { WatchStream } from "./k8s/watch.ts";

export { ETCD_VERSION, etcdBinary, ISTIO_API_VERSION, istioCrdsPath, K8S_VERSION, kubeApiserverBinary } from "./k8s/binaries.ts";
export { parseManifests } from "./k8s/objects.ts";
export {
  KubeApiError,
  type ApplyOptions,
  type KubeApi,
  type KubeList,
  type KubeMetadata,
  type KubeObject,
  type KubeRequestOptions,
  type KubeResponse,
  type KubeUser,
  type KubeWatch,
  type RestartReport,
  type StartKubeApiOptions,
  type WatchEvent,
  type WatchEventType,
} from "./k8s/types.ts";



// ---------------------------------------------------------------------------------------------
// The server

class KubeApiImpl implements KubeApi {
  readonly server: string;
  readonly caPath: string;
  readonly kubeconfigPath: string;
  readonly etcdUrl: string;
  readonly apiserverLogPath: string;
  readonly etcdLogPath: string;
  startupMs = 0;
  etcdVersion = "";
  lastRestart: RestartReport | undefined;
  ca = "";
  private agent: Agent | undefined;
  private apiserver: ChildProcess | undefined;
  private stopped = false;
  private readonly discovery = new Map<string, DiscoveredResource[]>();
  private readonly openWatches = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly workDir: string,
    private readonly removeWorkDir: boolean,
    readonly port: number,
    private readonly etcdPort: number,
    private readonly etcd: ChildProcess,
    private readonly apiserverArgs: string[],
    readonly token: string,
    readonly tokens: Readonly<Record<string, string>>,
    private readonly readyTimeoutMs: number,
  ) {
    this.server = `https://${LOOPBACK}:${port}`;
    this.etcdUrl = `http://${LOOPBACK}:${etcdPort}`;
    this.caPath = join(workDir, "ca.crt");
    this.kubeconfigPath = join(workDir, "kubeconfig");
    this.apiserverLogPath = join(workDir, "kube-apiserver.log");
    this.etcdLogPath = join(workDir, "etcd.log");
  }

  pids(): { etcd: number; apiserver: number } {
    return { etcd: this.etcd.pid ?? -1, apiserver: this.apiserver?.pid ?? -1 };
  }

  private logs(): string {
    return `${tail(this.apiserverLogPath)}\n${tail(this.etcdLogPath, 15)}`;
  }

  /** Starts kube-apiserver and resolves once /readyz says ok over a verified TLS connection. */
  async startApiserver(): Promise<void> {
    const logFd = openSync(this.apiserverLogPath, "a");
    let child: ChildProcess;
    try {
      child = spawnTracked(kubeApiserverBinary(), this.apiserverArgs, { stdio: ["ignore", logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    this.apiserver = child;
    const certFile = join(this.workDir, "pki", "apiserver.crt");
    const outcome = await pollUntil(
      `kube-apiserver ${this.name} /readyz on ${this.server}`,
      async (): Promise<"ready" | "exited" | undefined> => {
        if (exited(child)) return "exited";
        if (this.agent === undefined) {
          if (!existsSync(certFile)) return undefined;
          const ca = lastCertificate(readFileSync(certFile, "utf8"));
          this.agent = new Agent({ ca, keepAlive: false });
          this.ca = ca;
        }
        let res: KubeResponse;
        try {
          res = await this.request("GET", "/readyz", { timeoutMs: 2000 });
        } catch (err) {
          // A certificate read while it was being written: read it again on the next poll.
          if (err instanceof Error && /certificate|altnames|self.signed/i.test(err.message)) this.agent = undefined;
          throw err;
        }
        return res.status === 200 && res.text.trim() === "ok" ? "ready" : undefined;
      },
      { timeoutMs: this.readyTimeoutMs, intervalMs: 50, onTimeout: () => this.logs() },
    );
    if (outcome === "exited") {
      throw new ApiserverExited(
        `kube-apiserver ${this.name} exited during startup (code ${child.exitCode}, signal ${child.signalCode})\n${this.logs()}`,
      );
    }
  }

  writeClientFiles(): void {
    writeFileSync(this.caPath, this.ca);
    const caData = Buffer.from(this.ca).toString("base64");
    writeFileSync(
      this.kubeconfigPath,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: canal-test",
        "  cluster:",
        `    server: ${yamlQuote(this.server)}`,
        `    certificate-authority-data: ${caData}`,
        "users:",
        "- name: canal-admin",
        "  user:",
        `    token: ${yamlQuote(this.token)}`,
        "contexts:",
        "- name: canal-test",
        "  context:",
        "    cluster: canal-test",
        "    user: canal-admin",
        "    namespace: default",
        "current-context: canal-test",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
  }

  request(method: string, path: string, opts: KubeRequestOptions = {}): Promise<KubeResponse> {
    const agent = this.agent;
    if (agent === undefined) return Promise.reject(new Error("kube-apiserver has not served its certificate yet"));
    let url = path;
    if (opts.query !== undefined) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) q.set(k, String(v));
      url += (url.includes("?") ? "&" : "?") + q.toString();
    }
    let payload: string | undefined;
    if (opts.body !== undefined) payload = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${opts.token ?? this.token}`,
      Accept: "application/json",
    };
    if (payload !== undefined) {
      headers["Content-Type"] = opts.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolvePromise, reject) => {
      const req = httpsRequest(
        { host: LOOPBACK, port: this.port, method, path: url, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${url}: timed out`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  private async expectOk(method: string, path: string, opts: KubeRequestOptions = {}): Promise<unknown> {
    const res = await this.request(method, path, opts);
    if (res.status < 200 || res.status > 299) {
      const reason = isRecord(res.json) && typeof res.json.reason === "string" ? res.json.reason : "";
      throw new KubeApiError(method, path, res.status, reason, res.text);
    }
    return res.json;
  }

  async get<T extends KubeObject = KubeObject>(path: string, token?: string): Promise<T> {
    const body = await this.expectOk("GET", path, { token });
    if (!isKubeObject(body)) throw new Error(`GET ${path}: the answer is not a Kubernetes object`);
    return body as T;
  }

  async list<T extends KubeObject = KubeObject>(path: string, token?: string): Promise<KubeList<T>> {
    const body = await this.expectOk("GET", path, { token });
    if (!isRecord(body) || !Array.isArray(body.items)) throw new Error(`GET ${path}: the answer is not a list`);
    return body as unknown as KubeList<T>;
  }

  async create<T extends KubeObject = KubeObject>(path: string, body: unknown, token?: string): Promise<T> {
    const out = await this.expectOk("POST", path, { body, token });
    if (!isKubeObject(out)) throw new Error(`POST ${path}: the answer is not a Kubernetes object`);
    return out as T;
  }

  async delete(path: string, token?: string): Promise<void> {
    const res = await this.request("DELETE", path, { token });
    if (res.status === 404 || (res.status >= 200 && res.status <= 299)) return;
    const reason = isRecord(res.json) && typeof res.json.reason === "string" ? res.json.reason : "";
    throw new KubeApiError("DELETE", path, res.status, reason, res.text);
  }

  private async discover(apiVersion: string, refresh: boolean): Promise<DiscoveredResource[]> {
    const cached = this.discovery.get(apiVersion);
    if (cached !== undefined && !refresh) return cached;
    const gvPath = groupVersionPath(apiVersion);
    const res = await this.request("GET", gvPath);
    if (res.status === 404) return [];
    if (res.status !== 200 || !isRecord(res.json) || !Array.isArray(res.json.resources)) {
      throw new Error(`discovery GET ${gvPath}: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
    }
    const found: DiscoveredResource[] = [];
    for (const r of res.json.resources) {
      if (!isRecord(r) || typeof r.name !== "string" || typeof r.kind !== "string") continue;
      if (r.name.includes("/")) continue; // subresource
      found.push({ name: r.name, kind: r.kind, namespaced: r.namespaced === true });
    }
    this.discovery.set(apiVersion, found);
    return found;
  }

  private async resource(apiVersion: string, kind: string): Promise<DiscoveredResource> {
    let r = (await this.discover(apiVersion, false)).find((x) => x.kind === kind);
    if (r === undefined) r = (await this.discover(apiVersion, true)).find((x) => x.kind === kind);
    if (r === undefined) throw new Error(`the API server serves no kind ${kind} in ${apiVersion} (is its CRD installed?)`);
    return r;
  }

  async resourcePath(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    let path = groupVersionPath(apiVersion);
    if (r.namespaced) path += `/namespaces/${encodeURIComponent(namespace ?? "default")}`;
    path += `/${r.name}`;
    if (name !== undefined) path += `/${encodeURIComponent(name)}`;
    return path;
  }

  async apply(objects: KubeObject[], opts: ApplyOptions = {}): Promise<KubeObject[]> {
    const out: KubeObject[] = [];
    for (const obj of objects) {
      const name = obj.metadata.name;
      if (typeof name !== "string" || name === "") throw new Error(`apply: ${obj.kind} without metadata.name`);
      const r = await this.resource(obj.apiVersion, obj.kind);
      const namespace = r.namespaced ? (obj.metadata.namespace ?? opts.namespace ?? "default") : undefined;
      const path = await this.resourcePath(obj.apiVersion, obj.kind, namespace, name);
      const body = namespace === undefined ? obj : { ...obj, metadata: { ...obj.metadata, namespace } };
      const stored = await this.expectOk("PATCH", path, {
        body,
        contentType: "application/apply-patch+yaml",
        token: opts.token,
        query: { fieldManager: opts.fieldManager ?? "canal-test", force: true },
      });
      if (!isKubeObject(stored)) throw new Error(`apply ${path}: the answer is not a Kubernetes object`);
      out.push(stored);
    }
    return out;
  }

  applyYaml(text: string, opts: ApplyOptions = {}): Promise<KubeObject[]> {
    return this.apply(parseManifests(text), opts);
  }

  async installCrds(paths: string[]): Promise<string[]> {
    const crds: KubeObject[] = [];
    for (const p of paths) {
      for (const obj of parseManifests(readFileSync(p, "utf8"), p)) {
        if (obj.kind !== "CustomResourceDefinition") {
          throw new Error(`${p}: ${obj.kind} ${obj.metadata.name ?? ""} is not a CustomResourceDefinition`);
        }
        crds.push(obj);
      }
    }
    // Apply all (concurrently), then wait for each: the server establishes them in parallel.
    await Promise.all(
      crds.map((crd) =>
        this.expectOk("PATCH", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(crd.metadata.name ?? "")}`, {
          body: crd,
          contentType: "application/apply-patch+yaml",
          query: { fieldManager: "canal-test", force: true },
        }),
      ),
    );
    return Promise.all(crds.map((crd) => this.awaitCrd(crd)));
  }

  /** Resolves with the CRD's name once it is Established and every served version answers. */
  private async awaitCrd(crd: KubeObject): Promise<string> {
    const name = crd.metadata.name ?? "";
    await pollUntil(
      `CRD ${name} Established`,
      async () => {
        const got = await this.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`);
        const status = isRecord(got.status) ? got.status : {};
        const conds = Array.isArray(status.conditions) ? status.conditions : [];
        const ok = (type: string): boolean => conds.some((c) => isRecord(c) && c.type === type && c.status === "True");
        return ok("Established") && ok("NamesAccepted") ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, onTimeout: () => this.logs() },
    );
    // Established can precede the handler and discovery serving it; wait until every served
    // version lists and discovery knows the kind.
    const spec = isRecord(crd.spec) ? crd.spec : {};
    const group = typeof spec.group === "string" ? spec.group : "";
    const plural = isRecord(spec.names) && typeof spec.names.plural === "string" ? spec.names.plural : "";
    const kind = isRecord(spec.names) && typeof spec.names.kind === "string" ? spec.names.kind : "";
    const versions = Array.isArray(spec.versions) ? spec.versions : [];
    for (const v of versions) {
      if (!isRecord(v) || v.served !== true || typeof v.name !== "string") continue;
      const apiVersion = `${group}/${v.name}`;
      await pollUntil(
        `${plural}.${apiVersion} served`,
        async () => {
          const res = await this.request("GET", `/apis/${group}/${v.name}/${plural}`, { query: { limit: 1 } });
          if (res.status !== 200) return undefined;
          const known = (await this.discover(apiVersion, true)).some((r) => r.kind === kind);
          return known ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50, onTimeout: () => this.logs() },
      );
    }
    return name;
  }

  installIstioCrds(): Promise<string[]> {
    return this.installCrds([istioCrdsPath()]);
  }

  installCanalCrds(): Promise<string[]> {
    return this.installCrds([istioCrdsPath(), join(REPO_ROOT, "controller", "crds", "internalgateway.yaml")]);
  }

  async prepareForCanal(): Promise<void> {
    await this.installCanalCrds();
    await this.applyYaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n");
  }

  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  watch<T extends KubeObject = KubeObject>(
    path: string,
    opts: { resourceVersion?: string; token?: string; query?: Record<string, string> } = {},
  ): Promise<KubeWatch<T>> {
    const agent = this.agent;
    if (agent === undefined) return Promise.reject(new Error("kube-apiserver is not started"));
    const q = new URLSearchParams({ watch: "1", ...(opts.query ?? {}) });
    if (opts.resourceVersion !== undefined) q.set("resourceVersion", opts.resourceVersion);
    const url = `${path}${path.includes("?") ? "&" : "?"}${q.toString()}`;
    return new Promise((resolvePromise, reject) => {
      const req = httpsRequest(
        {
          host: LOOPBACK,
          port: this.port,
          method: "GET",
          path: url,
          agent,
          headers: { Authorization: `Bearer ${opts.token ?? this.token}`, Accept: "application/json" },
        },
        (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              reject(new KubeApiError("WATCH", url, res.statusCode ?? 0, "", Buffer.concat(chunks).toString("utf8"))),
            );
            return;
          }
          const w = new WatchStream<T>(res, () => req.destroy());
          const closer = (): void => w.close();
          this.openWatches.add(closer);
          void w.ended.then(() => this.openWatches.delete(closer));
          resolvePromise(w);
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  async restart(opts: { kill?: boolean } = {}): Promise<RestartReport> {
    if (this.stopped) throw new Error("restart() after stop()");
    const old = this.apiserver;
    const signal = opts.kill === true ? "SIGKILL" : "SIGTERM";
    const t0 = performance.now();
    if (old !== undefined && !exited(old)) {
      if (signal === "SIGKILL") killGroupNow(old);
      await stopTracked(old, 15_000); // SIGTERM, then SIGKILL after 15 s; resolves on exit
    }
    const t1 = performance.now();
    await this.startApiserver();
    this.discovery.clear();
    await this.waitCustomResourcesServed();
    const report: RestartReport = {
      signal,
      exitCode: old?.exitCode ?? null,
      exitSignal: old?.signalCode ?? null,
      stopMs: t1 - t0,
      startMs: performance.now() - t1,
    };
    this.lastRestart = report;
    return report;
  }

  /**
   * After a restart /readyz says ok before the watch caches of CRD-backed resources are rebuilt:
   * for a moment a list answers 429 "storage is (re)initializing" (seen once in CI-like runs).
   * A restarted server counts as ready once every served custom resource lists without a 429.
   */
  private async waitCustomResourcesServed(): Promise<void> {
    const crds = await this.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
    if (crds.status !== 200) return;
    const items = (JSON.parse(crds.text) as { items?: { spec?: { group?: string; names?: { plural?: string }; versions?: { name?: string; served?: boolean }[] } }[] }).items ?? [];
    const paths: string[] = [];
    for (const c of items) {
      for (const v of c.spec?.versions ?? []) {
        if (v.served === true && c.spec?.group && c.spec.names?.plural && v.name) paths.push(`/apis/${c.spec.group}/${v.name}/${c.spec.names.plural}?limit=1`);
      }
    }
    for (const path of paths) {
      await pollUntil(
        `kube-apiserver ${this.name}: ${path} served after the restart (not 429)`,
        async () => ((await this.request("GET", path, { timeoutMs: 2000 })).status === 429 ? undefined : true),
        { timeoutMs: this.readyTimeoutMs, intervalMs: 50, onTimeout: () => this.logs() },
      );
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const close of [...this.openWatches]) close();
    if (this.apiserver !== undefined) await stopTracked(this.apiserver, 10_000);
    await stopTracked(this.etcd, 10_000);
    this.agent?.destroy();
    if (this.removeWorkDir) {
      rmSync(this.workDir, { recursive: true, force: true });
      liveWorkDirs.delete(this.workDir);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Start

/**
 * Starts etcd and kube-apiserver and resolves once the API server is ready. Throws (never
 * skips) when a binary is missing: "kube-apiserver not found: run scripts/tools.sh kube-apiserver".
 */
export async function startKubeApi(opts: StartKubeApiOptions = {}): Promise<KubeApi> {
  const t0 = performance.now();
  const name = opts.name ?? "canal-test";
  // Fail before creating anything when a binary is missing.
  kubeApiserverBinary();
  etcdBinary();
  const removeWorkDir = opts.workDir === undefined && opts.keepWorkDir !== true;
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), `canal-k8s-${name.replace(/[^A-Za-z0-9-]/g, "-")}-`));
  mkdirSync(workDir, { recursive: true });
  if (removeWorkDir) trackWorkDir(workDir);
  const timeoutMs = opts.readyTimeoutMs ?? 90_000;

  // Credentials: a static token file (admin in system:masters + opts.users) and an EC key pair
  // for service-account tokens. The serving certificate is self-signed by kube-apiserver itself
  // into --cert-dir and reused across restarts.
  const tokens: Record<string, string> = {};
  const lines: string[] = [];
  const addUser = (user: string, groups: string[]): string => {
    if (!/^[A-Za-z0-9:._@-]+$/.test(user)) throw new Error(`user name ${JSON.stringify(user)} is not allowed in the token file`);
    if (tokens[user] !== undefined) throw new Error(`duplicate user ${user}`);
    const token = randomBytes(24).toString("hex");
    tokens[user] = token;
    lines.push(`${token},${user},${user},"${groups.join(",")}"`);
    return token;
  };
  const adminToken = addUser("canal-admin", ["system:masters"]);
  for (const u of opts.users ?? []) addUser(u.name, u.groups ?? []);
  const tokenFile = join(workDir, "tokens.csv");
  writeFileSync(tokenFile, `${lines.join("\n")}\n`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const saKey = join(workDir, "sa.key");
  const saPub = join(workDir, "sa.pub");
  writeFileSync(saKey, privateKey.export({ type: "sec1", format: "pem" }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));
  mkdirSync(join(workDir, "pki"), { recursive: true });

  const etcd = await startEtcd(workDir, opts.etcdArgs ?? [], timeoutMs);
  try {
    for (let attempt = 1; ; attempt++) {
      const [port] = await distinctFreePorts(1);
      const args = [
        `--etcd-servers=http://${LOOPBACK}:${etcd.port}`,
        `--bind-address=${LOOPBACK}`,
        `--advertise-address=${LOOPBACK}`,
        `--secure-port=${port}`,
        `--cert-dir=${join(workDir, "pki")}`,
        `--token-auth-file=${tokenFile}`,
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        // No controller-manager creates default ServiceAccounts, and 127.0.0.1 cannot be an
        // endpoint of the "kubernetes" Service: both would only make noise here.
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        // Graceful shutdown closes open watches after 2 s instead of waiting --request-timeout (60 s).
        "--shutdown-send-retry-after=true",
        ...(opts.apiserverArgs ?? []),
      ];
      const api = new KubeApiImpl(name, workDir, removeWorkDir, port, etcd.port, etcd.child, args, adminToken, tokens, timeoutMs);
      try {
        await api.startApiserver();
      } catch (err) {
        const log = existsSync(api.apiserverLogPath) ? readFileSync(api.apiserverLogPath, "utf8") : "";
        if (err instanceof ApiserverExited && attempt < 3 && ADDRESS_IN_USE.test(log)) {
          rmSync(api.apiserverLogPath, { force: true });
          continue; // lost a port race; fresh port
        }
        throw err;
      }
      api.writeClientFiles();
      api.etcdVersion = etcd.version;
      api.startupMs = performance.now() - t0;
      return api;
    }
  } catch (err) {
    await stopTracked(etcd.child, 2000);
    if (removeWorkDir) {
      rmSync(workDir, { recursive: true, force: true });
      liveWorkDirs.delete(workDir);
    }
    throw err;
  }
}
