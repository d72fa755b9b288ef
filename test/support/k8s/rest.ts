// The REST client of the API-server harness: requests with a bearer token over verified TLS,
// typed get/list/create/delete, discovery of kinds, server-side apply, CRD installation, watches.

import { readFileSync } from "node:fs";
import { Agent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import { pollUntil } from "../processes.ts";
import { LOOPBACK } from "../ports.ts";
import { REPO_ROOT, istioCrdsPath } from "./binaries.ts";
import { KubeApiError, type KubeObject, type KubeList, type KubeResponse, type KubeRequestOptions, type KubeWatch, type ApplyOptions } from "./types.ts";
import { isRecord, isKubeObject, parseManifests, groupVersionPath, type DiscoveredResource } from "./objects.ts";
import { WatchStream } from "./watch.ts";

/** What KubeApi does over HTTPS; the server part (KubeApiImpl) sets the TLS agent once it is ready. */
export abstract class KubeRestClient {
  protected agent: Agent | undefined;
  protected readonly discovery = new Map<string, DiscoveredResource[]>();
  protected readonly openWatches = new Set<() => void>();

  constructor(
    readonly port: number,
    readonly token: string,
  ) {}

  /** Log tails quoted when a wait times out. */
  protected abstract logs(): string;

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
}
