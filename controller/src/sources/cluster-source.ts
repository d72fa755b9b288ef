// Source: informers on every watched kind → a full Snapshot after any change. Translators never
// see deltas (Envoy Gateway's provider does the same), so a replay or a restart produces the same
// output. Informer errors (including watch expiry) restart the informer with backoff; the
// informer relists on start.
import * as k8s from "@kubernetes/client-node";
import { parseObjects, type ParsedObjects } from "../api/index.ts";
import type { Logger } from "../runner/log.ts";
import type { ResolvedKind } from "../kube/resources.ts";

export interface ClusterSourceOptions {
  kc: k8s.KubeConfig;
  kinds: readonly ResolvedKind[];
  log: Logger;
  /** Coalesces bursts of events into one snapshot. */
  debounceMs?: number;
  /** Longest wait between informer restarts after errors. */
  maxBackoffMs?: number;
}

type Listener = (parsed: ParsedObjects) => void;

interface Watched {
  kind: ResolvedKind;
  informer: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
  backoffMs: number;
  timer?: NodeJS.Timeout;
}

export class ClusterSource {
  private readonly watched: Watched[] = [];
  private readonly listeners: Listener[] = [];
  private debounce?: NodeJS.Timeout;
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
    const objects = k8s.KubernetesObjectApi.makeApiClient(this.options.kc);
    for (const kind of this.options.kinds) {
      const list = (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> => objects.list(kind.apiVersion, kind.kind);
      const informer = k8s.makeInformer(this.options.kc, kind.path, list);
      const w: Watched = { kind, informer, backoffMs: 500 };
      const changed = (): void => this.schedule();
      // The controller's own status writes come back as UPDATE events of the InternalGateway.
      // Status never feeds translation, and a status-only write keeps metadata.generation, so
      // such events must not trigger another full translation (they tripled the work per change).
      const generations = new Map<string, number | undefined>();
      const updated = (o: k8s.KubernetesObject): void => {
        if (kind.kind === "InternalGateway") {
          const key = o.metadata?.uid ?? `${o.metadata?.namespace}/${o.metadata?.name}`;
          const generation = o.metadata?.generation;
          if (generation !== undefined && generations.get(key) === generation) return;
          generations.set(key, generation);
        }
        this.schedule();
      };
      informer.on(k8s.ADD, updated);
      informer.on(k8s.UPDATE, updated);
      informer.on(k8s.DELETE, changed);
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
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.emit(), this.options.debounceMs ?? 50);
  }

  /** The current contents of every informer cache, parsed. */
  current(): ParsedObjects {
    const raws: unknown[] = [];
    for (const w of this.watched) {
      for (const o of w.informer.list()) raws.push({ ...o, apiVersion: w.kind.apiVersion, kind: w.kind.kind });
    }
    return parseObjects(raws);
  }

  private emit(): void {
    this.debounce = undefined;
    const parsed = this.current();
    this.counters.snapshots++;
    for (const l of this.listeners) {
      try {
        l(parsed);
      } catch (err) {
        // A failing listener must never stop the source.
        this.options.log.error("snapshot listener failed", { error: errorText(err) });
      }
    }
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.cause ? `${err.message} (cause: ${errorText(err.cause)})` : err.message;
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; body?: unknown; message?: unknown };
    const parts = [e.code, e.message, typeof e.body === "string" ? e.body : JSON.stringify(e.body)].filter((p) => p !== undefined && p !== null);
    return parts.map(String).join(": ");
  }
  return String(err);
}
