// Stands in for kubelet's ConfigMap volume (there is no kubelet here): watches ConfigMaps through
// the real API server and writes their keys into a directory the way kubelet's AtomicWriter does:
// the data goes into a fresh hidden "..<timestamp>" directory, a "..data" symlink is swapped to it
// with rename(2), and each key is a symlink "<key> -> ..data/<key>". Readers (CoreDNS's reload
// and hosts plugins) therefore never see a half-written file. Unlike kubelet, which syncs on its
// own period (about a minute plus its cache TTL), this projects on every watch event: the
// propagation delay in a real cluster is documented in docs/dns.md, not modelled here.
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeApi, KubeObject, KubeWatch } from "../support/k8s.ts";

interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

export interface Projection {
  namespace: string;
  name: string;
  dir: string;
}

let serial = 0;

/** Writes `data` into `dir` atomically, kubelet-style. Keys not in `data` disappear. */
export function projectInto(dir: string, data: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[-:.]/g, "_")}.${process.pid}.${serial++}`;
  const tsDir = join(dir, stamp);
  mkdirSync(tsDir);
  for (const [k, v] of Object.entries(data)) {
    if (!/^[-._a-zA-Z0-9]+$/.test(k) || k.startsWith("..")) throw new Error(`projector: refusing key ${JSON.stringify(k)}`);
    writeFileSync(join(tsDir, k), v);
  }
  const dataLink = join(dir, "..data");
  const old = existsSync(dataLink) ? readlinkSync(dataLink) : undefined;
  const tmpLink = join(dir, "..data_tmp");
  rmSync(tmpLink, { force: true });
  symlinkSync(stamp, tmpLink);
  renameSync(tmpLink, dataLink);
  for (const k of Object.keys(data)) {
    const link = join(dir, k);
    let isOurs = false;
    try {
      isOurs = lstatSync(link).isSymbolicLink() && readlinkSync(link) === join("..data", k);
    } catch {
      isOurs = false;
    }
    if (!isOurs) {
      const tmp = join(dir, `..${k}.link`);
      rmSync(tmp, { force: true });
      symlinkSync(join("..data", k), tmp);
      renameSync(tmp, link); // replaces a plain file (e.g. the harness's first Corefile) atomically
    }
  }
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (!entry.startsWith("..") && lstatSync(p).isSymbolicLink() && readlinkSync(p).startsWith("..data/") && !(entry in data)) rmSync(p, { force: true });
  }
  if (old !== undefined && old !== stamp) rmSync(join(dir, old), { recursive: true, force: true });
}

export class ConfigMapProjector {
  private stopped = false;
  private readonly watches = new Set<KubeWatch<ConfigMapObject>>();
  private readonly loops: Promise<void>[] = [];
  /** Projections done, per "namespace/name", and when the last one happened (performance.now()). */
  readonly counts = new Map<string, number>();
  readonly lastAt = new Map<string, number>();
  /** The last resourceVersion projected, per "namespace/name". */
  readonly versions = new Map<string, string>();

  constructor(private readonly api: KubeApi, private readonly projections: Projection[]) {}

  start(): void {
    for (const p of this.projections) this.loops.push(this.run(p));
  }

  private project(p: Projection, cm: ConfigMapObject | undefined): void {
    const key = `${p.namespace}/${p.name}`;
    const rv = cm?.metadata.resourceVersion ?? "";
    if (this.versions.get(key) === rv && rv !== "") return;
    projectInto(p.dir, cm?.data ?? {});
    this.versions.set(key, rv);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.lastAt.set(key, performance.now());
  }

  private async run(p: Projection): Promise<void> {
    const collection = `/api/v1/namespaces/${p.namespace}/configmaps`;
    const fieldSelector = `metadata.name=${p.name}`;
    while (!this.stopped) {
      try {
        const list = await this.api.request("GET", collection, { query: { fieldSelector } });
        const body = list.json as { metadata?: { resourceVersion?: string }; items?: ConfigMapObject[] };
        this.project(p, body.items?.[0]);
        const w = await this.api.watch<ConfigMapObject>(collection, { resourceVersion: body.metadata?.resourceVersion, query: { fieldSelector } });
        this.watches.add(w);
        try {
          while (!this.stopped) {
            const e = await w.next(3_600_000);
            if (e.type === "ADDED" || e.type === "MODIFIED") this.project(p, e.object);
            else if (e.type === "DELETED") this.project(p, undefined);
            else if (e.type === "ERROR") break;
          }
        } finally {
          w.close();
          this.watches.delete(w);
        }
      } catch {
        if (!this.stopped) await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watches) w.close();
    await Promise.allSettled(this.loops);
  }
}
