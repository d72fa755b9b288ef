// The API server of one size, with its N Services and N VirtualServices stored. Creating 100,000
// objects through kube-apiserver takes minutes on 2 CPUs, so the bench keeps etcd's data dir of a
// finished creation, keyed by everything that decides its content (the objects, the API server
// and etcd versions), and later runs start etcd from a copy of it. Both paths end the same way:
// a fresh etcd started from the saved data dir and a fresh kube-apiserver on top of it, so every
// run measures the same thing; the controller still lists everything from the API server.

import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ETCD_VERSION, K8S_VERSION, ISTIO_API_VERSION, startKubeApi, type KubeApi, type KubeObject } from "../../test/support/k8s.ts";
import { Applier, CANAL_INPUT_KINDS, fmt, progress, withDeadline } from "../controller-support.ts";
import type { Options } from "./options.ts";
import { baseObjects, IG_NS, service, virtualService } from "./scenario.ts";

/** Where the saved data dirs live unless --etcd-cache names another place. */
export const DEFAULT_ETCD_CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "canal-bench", "etcd");
const META = "meta.json";
/** kube-apiserver on a restored etcd lists every resource into its watch cache before /readyz. */
const RESTORE_READY_MS = 600_000;

export interface StoredObjects {
  api: KubeApi;
  /** Services + VirtualServices of the size (the base objects not counted). */
  objects: number;
  /** How long creating them took when they were created (this run or the run that saved the cache). */
  createS: number;
  createRate: number;
  /** "created": by this run; "cache": restored from a data dir saved by an earlier run. */
  source: "created" | "cache";
  /** When the objects were created (ISO date). */
  createdOn: string;
  /** Seconds from starting etcd on the saved data until kube-apiserver was ready with the CRDs. */
  apiStartS: number;
}

interface CacheMeta {
  key: string;
  objects: number;
  createS: number;
  concurrency: number;
  createdOn: string;
}

function objectsOf(n: number, namespaces: number): KubeObject[] {
  const objects: KubeObject[] = [];
  for (let i = 0; i < n; i++) objects.push(service(i, namespaces, true));
  for (let i = 0; i < n; i++) objects.push(virtualService(i, namespaces));
  return objects;
}

/** The cache key: a hash of the objects in creation order and of the server versions. */
export function cacheKey(n: number, namespaces: number): string {
  const h = createHash("sha256");
  h.update(`k8s ${K8S_VERSION} etcd ${ETCD_VERSION} istio-crds ${ISTIO_API_VERSION}\n`);
  for (const o of baseObjects(namespaces)) h.update(`${JSON.stringify(o)}\n`);
  for (const o of objectsOf(n, namespaces)) h.update(`${JSON.stringify(o)}\n`);
  return `n${n}-ns${namespaces}-${h.digest("hex").slice(0, 16)}`;
}

async function prepare(api: KubeApi): Promise<void> {
  await api.installCanalCrds();
  await api.applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${IG_NS}}\n`);
}

/** Creates the base objects, then the N Services and VirtualServices (plain creates, bounded in flight). */
async function createAll(api: KubeApi, n: number, opts: Options, label: string): Promise<number> {
  const applier = new Applier(api, opts.applyConcurrency);
  try {
    for (const o of baseObjects(opts.namespaces)) await applier.apply(o);
    const objects = objectsOf(n, opts.namespaces);
    const c0 = performance.now();
    await withDeadline(`creating ${fmt(objects.length)} objects`, opts.createTimeoutS * 1000, () =>
      applier.applyAll(
        objects,
        opts.applyConcurrency,
        (done) => {
          const s = (performance.now() - c0) / 1000;
          const eta = ((objects.length - done) * s) / Math.max(1, done);
          progress(`[${label}]   created ${fmt(done)}/${fmt(objects.length)} objects (${fmt(done / s)}/s, ~${fmt(eta)} s left)`);
        },
        10_000,
        "create",
      ),
    );
    return (performance.now() - c0) / 1000;
  } finally {
    applier.close();
  }
}

/**
 * A kube-apiserver just started on a large etcd answers /readyz before its watch caches hold
 * everything; until then each page of a consistent list waits for the cache ("Too large resource
 * version" in its log) and the controller's first list of 100,000 objects took minutes. A
 * long-running API server has warm caches, so the bench waits until a one-object list of each
 * kind the controller lists answers within 200 ms, three times in a row (at most 10 minutes).
 */
async function warmWatchCaches(api: KubeApi, label: string): Promise<void> {
  const w0 = performance.now();
  for (const [, kind, path] of CANAL_INPUT_KINDS) {
    for (let fast = 0; fast < 3; ) {
      if (performance.now() - w0 > 600_000) throw new Error(`the API server's ${kind} list stayed slow for 10 minutes after the restore`);
      const t = performance.now();
      const res = await api.request("GET", `${path}?limit=1`, { timeoutMs: 60_000 });
      if (res.status !== 200) throw new Error(`GET ${path}?limit=1: HTTP ${res.status}`);
      fast = performance.now() - t < 200 ? fast + 1 : 0;
      if (fast === 0) await new Promise((r) => setTimeout(r, 200));
    }
  }
  progress(`[${label}] the API server's watch caches answer lists quickly after ${fmt((performance.now() - w0) / 1000, 1)} s`);
}

/**
 * An API server holding the objects of size `n`: restored from the etcd cache when it has them,
 * else created now (and saved to the cache unless --no-etcd-cache).
 */
export async function storedObjects(n: number, opts: Options, workDir: string, label: string): Promise<StoredObjects> {
  const count = 2 * n;
  if (opts.etcdCache === undefined) {
    const t0 = performance.now();
    const api = await startKubeApi({ name: `bench-controller-${n}`, workDir: join(workDir, "k8s"), keepWorkDir: opts.keep });
    try {
      await prepare(api);
      const apiStartS = (performance.now() - t0) / 1000;
      const createS = await createAll(api, n, opts, label);
      progress(`[${label}] created ${fmt(count)} objects in ${fmt(createS, 1)} s (${fmt(count / createS)}/s, ${opts.applyConcurrency} in flight; no etcd cache)`);
      return { api, objects: count, createS, createRate: count / createS, source: "created", createdOn: new Date().toISOString().slice(0, 10), apiStartS };
    } catch (err) {
      await api.stop();
      throw err;
    }
  }
  const key = cacheKey(n, opts.namespaces);
  const dir = join(opts.etcdCache, key);
  let source: StoredObjects["source"] = "cache";
  if (!existsSync(join(dir, META))) {
    source = "created";
    progress(`[${label}] no saved etcd data for ${key} in ${opts.etcdCache}: creating ${fmt(count)} objects once`);
    const api = await startKubeApi({ name: `bench-create-${n}`, workDir: join(workDir, "k8s-create"), keepWorkDir: true });
    let createS: number;
    try {
      await prepare(api);
      createS = await createAll(api, n, opts, label);
    } finally {
      await api.stop(); // etcd stopped cleanly: its data dir can be copied
    }
    progress(`[${label}] created ${fmt(count)} objects in ${fmt(createS, 1)} s (${fmt(count / createS)}/s, ${opts.applyConcurrency} in flight); saving etcd's data dir`);
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    cpSync(join(workDir, "k8s-create", "etcd"), join(tmp, "etcd"), { recursive: true });
    const meta: CacheMeta = { key, objects: count, createS, concurrency: opts.applyConcurrency, createdOn: new Date().toISOString().slice(0, 10) };
    writeFileSync(join(tmp, META), JSON.stringify(meta, null, 1));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    rmSync(join(workDir, "k8s-create", "etcd"), { recursive: true, force: true });
  }
  const meta = JSON.parse(readFileSync(join(dir, META), "utf8")) as CacheMeta;
  const t0 = performance.now();
  const api = await startKubeApi({
    name: `bench-controller-${n}`,
    workDir: join(workDir, "k8s"),
    keepWorkDir: opts.keep,
    etcdSeedDir: join(dir, "etcd"),
    readyTimeoutMs: RESTORE_READY_MS,
  });
  try {
    await prepare(api);
    await warmWatchCaches(api, label);
    const apiStartS = (performance.now() - t0) / 1000;
    progress(
      `[${label}] API server ready on etcd restored from ${key} in ${fmt(apiStartS, 1)} s ` +
        `(${fmt(meta.objects)} objects, created ${meta.createdOn} in ${fmt(meta.createS, 1)} s, ${meta.concurrency} in flight)`,
    );
    return { api, objects: meta.objects, createS: meta.createS, createRate: meta.objects / meta.createS, source, createdOn: meta.createdOn, apiStartS };
  } catch (err) {
    await api.stop();
    throw err;
  }
}
