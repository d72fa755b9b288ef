// Sink: Istio's WasmPlugin carrying the route table to the gateways istiod configures. Written with
// server-side apply (field manager canal-controller) and only when the table or the filter
// artifact changed, so feeding it the same table twice changes nothing.
import * as k8s from "@kubernetes/client-node";
import type { RouteTable } from "../../../schema/route-table.ts";
import { CANAL_ROOT_ID } from "../../../schema/filter-identity.ts";

export const WASMPLUGIN_API_VERSION = "extensions.istio.io/v1alpha1";
export const FIELD_MANAGER = "canal-controller";
export const TABLE_VERSION_ANNOTATION = "canal.io/table-version";
export const ARTIFACT_ANNOTATION = "canal.io/filter-artifact";
/**
 * An etcd object is limited to ~1.5 MiB (request size limit); the table plus the object's own
 * fields must stay well below it. Larger tables need ECDS mode (no etcd in the path).
 */
export const MAX_PLUGIN_CONFIG_BYTES = 1_400_000;
/**
 * Istio's spec.failStrategy, which istiod (>= 1.25) renders as Envoy's failure_policy: a VM that
 * trapped is reloaded instead of failing every request until the next config (FAIL_CLOSE, the
 * default) or being bypassed (FAIL_OPEN). The same as the bootstrap's (docs/envoy.md).
 */
export const FAIL_STRATEGY = "FAIL_RELOAD";

export interface WasmPluginTarget {
  namespace: string;
  name: string;
  /** Labels of the gateway pods (default app: canal-gateway). */
  selector: Record<string, string>;
  /** oci://, http(s):// or file:// URL of the filter. */
  url: string;
  sha256?: string;
  /**
   * Istio's spec.imagePullSecret: the name of a Secret (kubernetes.io/dockerconfigjson) in the
   * WasmPlugin's namespace that istiod uses to pull an oci:// filter. Absent: the field is not
   * applied, so server-side apply removes it if an earlier apply set it.
   */
  imagePullSecret?: string;
}

/**
 * The filter artifact as annotated on every WasmPlugin: a change re-applies the object. The pull
 * secret is part of how the artifact is fetched, so changing (or dropping) it re-applies too.
 */
export function artifactAnnotation(target: Pick<WasmPluginTarget, "url" | "sha256" | "imagePullSecret">): string {
  return `${target.url}@${target.sha256 ?? ""}` + (target.imagePullSecret ? ` imagePullSecret=${target.imagePullSecret}` : "");
}

export type ApplyOutcome = "written" | "unchanged";

export class TableTooLargeError extends Error {}

export class WasmPluginWriter {
  private readonly api: k8s.KubernetesObjectApi;

  constructor(kc: k8s.KubeConfig) {
    this.api = k8s.KubernetesObjectApi.makeApiClient(kc);
  }

  /** The WasmPlugin object for a table, as it is applied. */
  static render(target: WasmPluginTarget, table: RouteTable): k8s.KubernetesObject & { spec: Record<string, unknown> } {
    const artifact = artifactAnnotation(target);
    const spec: Record<string, unknown> = {
      selector: { matchLabels: target.selector },
      url: target.url,
      pluginName: CANAL_ROOT_ID,
      pluginConfig: table,
      failStrategy: FAIL_STRATEGY,
    };
    if (target.sha256) spec["sha256"] = target.sha256;
    if (target.imagePullSecret) spec["imagePullSecret"] = target.imagePullSecret;
    return {
      apiVersion: WASMPLUGIN_API_VERSION,
      kind: "WasmPlugin",
      metadata: {
        name: target.name,
        namespace: target.namespace,
        labels: { "app.kubernetes.io/managed-by": "canal" },
        annotations: { [TABLE_VERSION_ANNOTATION]: table.version, [ARTIFACT_ANNOTATION]: artifact },
      },
      spec,
    };
  }

  async apply(target: WasmPluginTarget, table: RouteTable): Promise<ApplyOutcome> {
    const size = Buffer.byteLength(JSON.stringify(table));
    if (size > MAX_PLUGIN_CONFIG_BYTES) {
      throw new TableTooLargeError(
        `WasmPlugin ${target.namespace}/${target.name}: the route table is ${size} bytes, over the ${MAX_PLUGIN_CONFIG_BYTES} bytes a WasmPlugin can carry in etcd; ` +
          `serve it over ECDS instead (canal controller --ecds-address) or split the gateway's VirtualServices across InternalGateways`,
      );
    }
    const desired = WasmPluginWriter.render(target, table);
    const current = await this.read(target);
    const annotations = current?.metadata?.annotations ?? {};
    // A plugin written before failStrategy was set gets it on the next apply, table unchanged.
    const strategy = (current as { spec?: { failStrategy?: unknown } } | undefined)?.spec?.failStrategy;
    if (current && annotations[TABLE_VERSION_ANNOTATION] === table.version && annotations[ARTIFACT_ANNOTATION] === desired.metadata?.annotations?.[ARTIFACT_ANNOTATION] && strategy === FAIL_STRATEGY) {
      return "unchanged";
    }
    await this.api.patch(desired, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
    return "written";
  }

  /** Deletes the plugin (no InternalGateway wants it any more); absent is fine. */
  async remove(target: Pick<WasmPluginTarget, "namespace" | "name">): Promise<boolean> {
    try {
      await this.api.delete({ apiVersion: WASMPLUGIN_API_VERSION, kind: "WasmPlugin", metadata: { name: target.name, namespace: target.namespace } });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async read(target: Pick<WasmPluginTarget, "namespace" | "name">): Promise<k8s.KubernetesObject | undefined> {
    try {
      return await this.api.read({ apiVersion: WASMPLUGIN_API_VERSION, kind: "WasmPlugin", metadata: { name: target.name, namespace: target.namespace } });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

export function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 404;
}
