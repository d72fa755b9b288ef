// The CoreDNS sink: the one ConfigMap the controller owns (default kube-system/canal-dns). Writes
// are compare-and-swap on resourceVersion: read, compute the keys we own from what was read,
// replace with that resourceVersion, and on 409 Conflict read again and recompute. Keys we do not
// own, labels and annotations are kept as they are. Nothing is written when the bytes are equal.
import * as k8s from "@kubernetes/client-node";

export interface ConfigMapRef {
  namespace: string;
  name: string;
}

export interface ConfigMapContent {
  data: Record<string, string>;
  resourceVersion?: string;
}

export type WriteOutcome = "unchanged" | "written" | "created";

/** The ConfigMap does not exist and may not be created: the chart should create it. */
export class ConfigMapMissingError extends Error {
  constructor(readonly ref: ConfigMapRef, cause: string) {
    super(`ConfigMap ${ref.namespace}/${ref.name} does not exist and could not be created (${cause}); create it empty (the chart does)`);
  }
}

function codeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown }).code;
  return typeof c === "number" ? c : undefined;
}

export class CorednsConfigMapWriter {
  private readonly core: k8s.CoreV1Api;
  /** Writes that met a 409 and were recomputed (for tests and metrics). */
  conflicts = 0;

  constructor(kc: k8s.KubeConfig, readonly ref: ConfigMapRef, private readonly maxAttempts = 10) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** The ConfigMap's data, or undefined when it does not exist. */
  async read(): Promise<ConfigMapContent | undefined> {
    try {
      const cm = await this.core.readNamespacedConfigMap({ name: this.ref.name, namespace: this.ref.namespace });
      return { data: { ...(cm.data ?? {}) }, resourceVersion: cm.metadata?.resourceVersion };
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * `compute` gets what is stored now and returns the keys we own; it runs again after every
   * conflict. Returns what happened and the data now stored.
   */
  async write(compute: (current: ConfigMapContent | undefined) => Record<string, string>): Promise<{ outcome: WriteOutcome; data: Record<string, string> }> {
    for (let attempt = 1; ; attempt++) {
      const cm = await this.readObject();
      if (cm === undefined) {
        const data = compute(undefined);
        try {
          await this.core.createNamespacedConfigMap({
            namespace: this.ref.namespace,
            body: { metadata: { name: this.ref.name, namespace: this.ref.namespace, labels: { "app.kubernetes.io/managed-by": "canal" } }, data },
          });
          return { outcome: "created", data };
        } catch (err) {
          const code = codeOf(err);
          if (code === 409 && attempt < this.maxAttempts) continue; // created meanwhile
          if (code === 403) throw new ConfigMapMissingError(this.ref, "forbidden");
          throw err;
        }
      }
      const current = { ...(cm.data ?? {}) };
      const owned = compute({ data: current, resourceVersion: cm.metadata?.resourceVersion });
      const next = { ...current, ...owned };
      if (Object.entries(owned).every(([k, v]) => current[k] === v)) return { outcome: "unchanged", data: current };
      try {
        await this.core.replaceNamespacedConfigMap({ name: this.ref.name, namespace: this.ref.namespace, body: { ...cm, data: next } });
        return { outcome: "written", data: next };
      } catch (err) {
        if (codeOf(err) === 409 && attempt < this.maxAttempts) {
          this.conflicts++;
          // jittered backoff: writers that collided do not collide again in lockstep
          await new Promise((r) => setTimeout(r, Math.random() * 25 * attempt));
          continue;
        }
        throw err;
      }
    }
  }

  private async readObject(): Promise<k8s.V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ name: this.ref.name, namespace: this.ref.namespace });
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw err;
    }
  }
}
