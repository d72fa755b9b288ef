// Source: informers on every watched kind → a full Snapshot after any change. Translators never
// see deltas (Envoy Gateway's provider does the same), so a replay or a restart produces the same
// output. Informer errors (including watch expiry) restart the informer with backoff; the
// informer relists on start.
//
// Each object is parsed once, when its informer event arrives (the parsed form is kept per
// object, by namespace/name), and the informer's cached copy is then cut down to the metadata the
// informer itself needs (name, namespace, uid, resourceVersion): the raw spec, status and
// managedFields are not kept twice. A snapshot reuses the arrays of kinds that did not change, so
// the translator's memo can keep what depends on them (translate/memo.ts). Nothing here outlives
// a restart: a new process lists and parses everything again.
import * as k8s from "@kubernetes/client-node";
import { collectParsed, parseObject, type ParsedObjects, type ParseOutcome } from "../api/index.ts";
import type { Snapshot } from "../api/snapshot.ts";
import { errorText } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import type { ResolvedKind } from "../kube/resources.ts";

export interface ClusterSourceOptions {
  kc: k8s.KubeConfig;
  kinds: readonly ResolvedKind[];
  log: Logger;
  /**
   * Coalesces bursts of events into one snapshot: it is taken once no event came for this long
   * (default 10 ms; `kubectl apply` of several objects arrives as one burst), but never later than
   * `maxDelayMs` after the burst's first event, so a steady stream of events cannot postpone it.
   */
  debounceMs?: number;
  /** See debounceMs; default 100 ms. */
  maxDelayMs?: number;
  /** Longest wait between informer restarts after errors. */
  maxBackoffMs?: number;
}

/** `changedAt`: performance.now() of the first informer event behind this snapshot (the start, for the first). */
type Listener = (parsed: ParsedObjects, changedAt: number) => void;

interface Watched {
  kind: ResolvedKind;
  informer: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
  backoffMs: number;
  timer?: NodeJS.Timeout;
  /** namespace/name → the object parsed when its last event arrived. */
  parsed: Map<string, ParseOutcome>;
  /** This kind's part of the snapshot; rebuilt when `dirty`. */
  part: ParsedObjects;
  dirty: boolean;
}

/** kubectl's copy of the whole object; Canal never reads it. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

export class ClusterSource {
  private readonly watched: Watched[] = [];
  private readonly listeners: Listener[] = [];
  private debounce?: NodeJS.Timeout;
  /** When the first event of the pending burst came (performance.now()). */
  private burstStart = 0;
  private started = false;
  private stopped = false;
  /** Informer (re)connections and errors, for /metrics. */
  readonly counters = { relists: 0, errors: 0, snapshots: 0 };

  constructor(private readonly options: ClusterSourceOptions) {}

  onSnapshot(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Starts every informer; resolves once each has listed, then emits the first snapshot. */
  async start(): Promise<void> {
    this.burstStart = performance.now();
    for (const kind of this.options.kinds) {
      const fetchPage = pageFetcher(this.options.kc, kind);
      const list = (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> => listInPages(fetchPage);
      const informer = k8s.makeInformer(this.options.kc, kind.path, list);
      const w: Watched = { kind, informer, backoffMs: 500, parsed: new Map(), part: collectParsed([]), dirty: true };
      // The controller's own status writes come back as UPDATE events of the InternalGateway (and
      // of HTTPRoutes and Gateway API Gateways).
      // Status never feeds translation, and a status-only write keeps metadata.generation, so
      // such events must not trigger another full translation (they tripled the work per change).
      const generations = new Map<string, number | undefined>();
      const statusOnly = (o: k8s.KubernetesObject): boolean => {
        if (kind.kind !== "InternalGateway" && kind.kind !== "HTTPRoute" && !(kind.kind === "Gateway" && kind.group === "gateway.networking.k8s.io")) return false;
        const key = o.metadata?.uid ?? keyOf(o);
        const generation = o.metadata?.generation;
        if (generation !== undefined && generations.get(key) === generation) return true;
        generations.set(key, generation);
        return false;
      };
      const updated = (o: k8s.KubernetesObject): void => {
        const skip = statusOnly(o); // before keep(), which trims the metadata
        this.keep(w, o);
        if (!skip) this.schedule();
      };
      informer.on(k8s.ADD, updated);
      informer.on(k8s.UPDATE, updated);
      informer.on(k8s.DELETE, (o: k8s.KubernetesObject) => {
        w.parsed.delete(keyOf(o));
        w.dirty = true;
        this.schedule();
      });
      informer.on(k8s.CONNECT, () => {
        this.counters.relists++;
        w.backoffMs = 500;
      });
      informer.on(k8s.ERROR, (err?: unknown) => this.restart(w, err));
      this.watched.push(w);
    }
    await Promise.all(this.watched.map((w) => w.informer.start()));
    this.started = true;
    this.emit();
  }

  /** Parses the object of an ADD/UPDATE event, keeps the result, and trims the informer's copy. */
  private keep(w: Watched, o: k8s.KubernetesObject): void {
    const metadata = o.metadata ?? {};
    const annotations = metadata.annotations;
    const trimmed = annotations !== undefined && LAST_APPLIED in annotations ? { ...metadata, annotations: withoutKey(annotations, LAST_APPLIED) } : metadata;
    const outcome = parseObject({ ...o, apiVersion: w.kind.apiVersion, kind: w.kind.kind, metadata: trimmed });
    w.parsed.set(keyOf(o), outcome);
    w.dirty = true;
    if (outcome.status !== "ignored") stripToIdentity(o);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    for (const w of this.watched) {
      if (w.timer) clearTimeout(w.timer);
      await w.informer.stop();
    }
  }

  private restart(w: Watched, err: unknown): void {
    if (this.stopped) return;
    this.counters.errors++;
    const delay = w.backoffMs;
    w.backoffMs = Math.min(w.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
    this.options.log.warn("watch failed; restarting", { kind: w.kind.kind, path: w.kind.path, retryInMs: delay, error: errorText(err) });
    w.timer = setTimeout(() => {
      if (this.stopped) return;
      w.informer.start().then(
        () => this.schedule(),
        (e: unknown) => this.restart(w, e),
      );
    }, delay);
  }

  private schedule(): void {
    if (!this.started || this.stopped) return;
    const now = performance.now();
    if (this.debounce) clearTimeout(this.debounce);
    else this.burstStart = now;
    const quiet = this.options.debounceMs ?? 10;
    const left = this.burstStart + (this.options.maxDelayMs ?? 100) - now;
    this.debounce = setTimeout(() => this.emit(), Math.max(0, Math.min(quiet, left)));
  }

  /** The current contents of every informer cache, parsed (kinds that did not change keep their arrays). */
  current(): ParsedObjects {
    return this.refresh().parsed;
  }

  /** Rebuilds the parts of kinds that had events; says which. */
  private refresh(): { parsed: ParsedObjects; changed: string[] } {
    const changed: string[] = [];
    for (const w of this.watched) {
      if (!w.dirty) continue;
      w.part = collectParsed(w.parsed.values());
      w.dirty = false;
      changed.push(w.kind.kind);
    }
    return { parsed: merge(this.watched.map((w) => w.part)), changed };
  }

  private emit(): void {
    this.debounce = undefined;
    const { parsed, changed } = this.refresh();
    this.options.log.debug("snapshot", { changed });
    this.counters.snapshots++;
    for (const l of this.listeners) {
      try {
        l(parsed, this.burstStart);
      } catch (err) {
        // A failing listener must never stop the source.
        this.options.log.error("snapshot listener failed", { error: errorText(err) });
      }
    }
  }
}

/** Objects per list request: the informer's initial list of 10,000 objects never arrives as one body. */
export const LIST_PAGE_SIZE = 500;

/**
 * The informer's list, in pages of LIST_PAGE_SIZE (one consistent snapshot: continue tokens keep
 * the first page's resourceVersion). Each page's objects lose managedFields and the last-applied
 * annotation before the next page is requested, so the full raw objects (often half of it
 * managedFields) never sit in memory all at once; Canal reads neither.
 */
/** One page of a list: `limit` objects at most, continuing after `token`. */
export type PageFetcher = (limit: number, token: string | undefined) => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;

/**
 * Pages of `kind`. Custom resources go through CustomObjectsApi, which returns the list as sent:
 * KubernetesObjectApi.list deserializes a custom resource list as a generic object and drops
 * metadata.continue. Services keep KubernetesObjectApi (typed: the token is metadata._continue).
 */
export function pageFetcher(kc: k8s.KubeConfig, kind: ResolvedKind): PageFetcher {
  if (kind.group === "") {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    return (limit, token) => objects.list(kind.apiVersion, kind.kind, undefined, undefined, undefined, undefined, undefined, undefined, limit, token);
  }
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  return async (limit, token) =>
    (await custom.listClusterCustomObject({ group: kind.group, version: kind.version, plural: kind.plural, limit, ...(token === undefined ? {} : { _continue: token }) })) as k8s.KubernetesListObject<k8s.KubernetesObject>;
}

/**
 * The informer's list, in pages of LIST_PAGE_SIZE (one consistent snapshot: continue tokens keep
 * the first page's resourceVersion). Each page's objects lose managedFields and the last-applied
 * annotation before the next page is requested, so the full raw objects (often half of it
 * managedFields) never sit in memory all at once; Canal reads neither.
 */
export async function listInPages(fetchPage: PageFetcher, pageSize = LIST_PAGE_SIZE): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> {
  const items: k8s.KubernetesObject[] = [];
  let token: string | undefined;
  for (;;) {
    const page = await fetchPage(pageSize, token);
    for (const o of page.items) {
      items.push(o);
      const m = o.metadata;
      if (m === undefined) continue;
      delete m.managedFields;
      if (m.annotations !== undefined && LAST_APPLIED in m.annotations) m.annotations = withoutKey(m.annotations, LAST_APPLIED);
    }
    const meta = page.metadata as { continue?: string; _continue?: string } | undefined;
    token = meta?.continue ?? meta?._continue;
    if (token === undefined || token === "") return { ...page, items };
  }
}

function keyOf(o: k8s.KubernetesObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

function withoutKey(map: Record<string, string>, key: string): Record<string, string> {
  const out = { ...map };
  delete out[key];
  return out;
}

/**
 * Leaves only what the informer reads of its cached objects (namespace and name to find them,
 * resourceVersion to tell changes from relists) plus uid. Everything Canal uses is in the parsed
 * form, made before this runs.
 */
function stripToIdentity(o: k8s.KubernetesObject): void {
  const m = o.metadata ?? {};
  const record = o as Record<string, unknown>;
  for (const key of Object.keys(record)) if (key !== "apiVersion" && key !== "kind") delete record[key];
  o.metadata = { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
}

/** One ParsedObjects from each kind's part; a field filled by one part keeps that part's array. */
function merge(parts: readonly ParsedObjects[]): ParsedObjects {
  const field = <K extends keyof Snapshot>(k: K): Snapshot[K] => {
    const filled = parts.map((p) => p.snapshot[k]).filter((a) => a.length > 0);
    if (filled.length === 1) return filled[0] as Snapshot[K];
    return filled.flat() as unknown as Snapshot[K];
  };
  return {
    snapshot: { internalGateways: field("internalGateways"), gateways: field("gateways"), virtualServices: field("virtualServices"), destinationRules: field("destinationRules"), services: field("services"), httpRoutes: field("httpRoutes"), referenceGrants: field("referenceGrants"), gatewayApiGateways: field("gatewayApiGateways"), gatewayClasses: field("gatewayClasses"), namespaces: field("namespaces") },
    problems: parts.flatMap((p) => p.problems),
    ignored: parts.flatMap((p) => p.ignored),
  };
}
