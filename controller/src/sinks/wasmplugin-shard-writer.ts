// Applies a sharded table's WasmPlugins (ADR 0005) with server-side apply, in planWrites' order:
// changed shards, then the manifest, then the router if it is not yet the sharded router, then
// deletions of shards past the count. It remembers what it applied per gateway, and rebuilds that
// from the objects themselves (labels, pluginConfig versions, artifact annotation) after a
// restart, a new lead or a failed write: everything the controller knows is in the cluster.
import * as k8s from "@kubernetes/client-node";
import { errorText } from "../common/errors.ts";
import type { ShardPlan } from "../translate/shards.ts";
import { ARTIFACT_ANNOTATION, artifactAnnotation, FIELD_MANAGER, isNotFound, TABLE_VERSION_ANNOTATION, WASMPLUGIN_API_VERSION } from "./wasmplugin.ts";
import {
  MANIFEST_INDEX,
  manifestPluginName,
  planWrites,
  renderRouter,
  ROUTER_TABLE_VERSION,
  SHARD_INDEX_LABEL,
  shardPluginName,
  TABLE_LABEL,
  type AppliedPlan,
  type ShardedTarget,
  type WasmPluginObject,
} from "./wasmplugin-shards.ts";

/** Most VirtualServices an error message names (a shard holds thousands). */
const NAMED_VIRTUAL_SERVICES = 5;

/** One object of the plan could not be written: which one, which shard, which VirtualServices it carries. */
export class ShardWriteError extends Error {
  constructor(
    readonly objectName: string,
    /** The shard's index, or "manifest" / "router" / "delete". */
    readonly part: number | "manifest" | "router" | "delete",
    readonly virtualServices: readonly string[],
    cause: unknown,
  ) {
    const what = typeof part === "number" ? `shard ${part}` : part;
    const shown = virtualServices.slice(0, NAMED_VIRTUAL_SERVICES).join(", ");
    const more = virtualServices.length > NAMED_VIRTUAL_SERVICES ? ` and ${virtualServices.length - NAMED_VIRTUAL_SERVICES} more` : "";
    const vs = virtualServices.length > 0 ? ` (VirtualServices ${shown}${more})` : "";
    super(`WasmPlugin ${objectName}, ${what}${vs}, not written: ${errorText(cause)}`);
    this.name = "ShardWriteError";
  }
}

export interface ShardApplyResult {
  /** Names of the objects applied, in order. */
  written: string[];
  /** Names of the shard objects deleted (past the count). */
  deleted: string[];
}

interface Applied {
  artifact: string;
  plan: AppliedPlan;
  /** The router object is the sharded router of this artifact. */
  router: boolean;
}

type Listed = WasmPluginObject & { spec: { pluginConfig?: { version?: unknown; shards?: unknown } } };

export class ShardedWasmPluginWriter {
  private readonly api: k8s.KubernetesObjectApi;
  private readonly applied = new Map<string, Applied>();

  constructor(kc: k8s.KubeConfig) {
    this.api = k8s.KubernetesObjectApi.makeApiClient(kc);
  }

  /** Applies what changed between the last applied plan of `t` and `plan`. Throws ShardWriteError. */
  async apply(t: ShardedTarget, plan: ShardPlan): Promise<ShardApplyResult> {
    const key = `${t.namespace}/${t.name}`;
    const artifact = artifactAnnotation(t);
    let prev = this.applied.get(key);
    if (prev === undefined || prev.artifact !== artifact) prev = await this.readBack(t);
    const writes = planWrites(t, prev.plan, plan);
    // Until every write succeeded, what the cluster holds is read back next time.
    this.applied.delete(key);
    const written: string[] = [];
    for (const obj of writes.shards) {
      const index = Number(obj.metadata.labels?.[SHARD_INDEX_LABEL]);
      await this.write(obj, index, () => plan.shards[index]?.virtualHosts.map((v) => v.name) ?? []);
      written.push(obj.metadata.name);
    }
    if (writes.manifest) {
      await this.write(writes.manifest, "manifest", () => []);
      written.push(writes.manifest.metadata.name);
    }
    if (!prev.router) {
      const router = renderRouter(t);
      await this.write(router, "router", () => []);
      written.push(router.metadata.name);
    }
    const deleted: string[] = [];
    for (const name of writes.deletions) {
      if (await this.remove(t.namespace, name)) deleted.push(name);
    }
    this.applied.set(key, { artifact, router: true, plan: { manifest: plan.manifest, shards: plan.shards.map((s) => ({ version: s.version })) } });
    return { written, deleted };
  }

  /**
   * The shard count `t` was last delivered with (0: not sharded): from memory, else from its
   * manifest in the cluster, so a restart keeps the count and rewrites no unchanged shard.
   */
  async count(t: ShardedTarget): Promise<number> {
    const known = this.applied.get(`${t.namespace}/${t.name}`) ?? (await this.readBack(t));
    return known.plan.manifest.shards.length;
  }

  /** Deletes `t`'s manifest and every shard object (after the router went back to one table). */
  async removeShards(t: Pick<ShardedTarget, "namespace" | "name">): Promise<string[]> {
    this.applied.delete(`${t.namespace}/${t.name}`);
    const deleted: string[] = [];
    for (const o of await this.list(t)) {
      if (o.metadata.labels?.[SHARD_INDEX_LABEL] === undefined) continue;
      if (await this.remove(t.namespace, o.metadata.name)) deleted.push(o.metadata.name);
    }
    return deleted;
  }

  /** Forgets what was applied (another replica may write meanwhile): the next apply reads back. */
  forget(): void {
    this.applied.clear();
  }

  /** What `t`'s objects carry: shard versions by index, the manifest's versions, whether the router is sharded. */
  private async readBack(t: ShardedTarget): Promise<Applied> {
    const artifact = artifactAnnotation(t);
    const shards: Array<{ version: string } | undefined> = [];
    let manifest: AppliedPlan["manifest"] = { version: "", shards: [] };
    let router = false;
    for (const o of await this.list(t)) {
      const ours = o.metadata.annotations?.[ARTIFACT_ANNOTATION] === artifact;
      const index = o.metadata.labels?.[SHARD_INDEX_LABEL];
      const config = o.spec.pluginConfig ?? {};
      if (index === undefined) {
        router = o.metadata.name === t.name && ours && o.metadata.annotations?.[TABLE_VERSION_ANNOTATION] === ROUTER_TABLE_VERSION;
      } else if (index === MANIFEST_INDEX) {
        const versions = Array.isArray(config.shards) && config.shards.every((v) => typeof v === "string") ? (config.shards as string[]) : [];
        // A manifest of another artifact is rewritten (version ""), but its shard count still tells that the gateway was sharded.
        manifest = { version: ours && typeof config.version === "string" ? config.version : "", shards: versions };
      } else if (/^\d+$/.test(index)) {
        const i = Number(index);
        // Absent indexes below a present one stay holes: planWrites writes them; the length still covers leftovers to delete.
        while (shards.length <= i) shards.push(undefined);
        shards[i] = ours && typeof config.version === "string" ? { version: config.version } : { version: "" };
      }
    }
    const applied: Applied = { artifact, router, plan: { manifest, shards } };
    this.applied.set(`${t.namespace}/${t.name}`, applied);
    return applied;
  }

  private async list(t: Pick<ShardedTarget, "namespace" | "name">): Promise<Listed[]> {
    const list = await this.api.list(WASMPLUGIN_API_VERSION, "WasmPlugin", t.namespace, undefined, undefined, undefined, undefined, `${TABLE_LABEL}=${t.name}`);
    return list.items.filter((o): o is Listed => typeof o.metadata?.name === "string");
  }

  private async write(obj: WasmPluginObject, part: number | "manifest" | "router", virtualServices: () => string[]): Promise<void> {
    try {
      await this.api.patch(obj, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
    } catch (err) {
      throw new ShardWriteError(`${obj.metadata.namespace}/${obj.metadata.name}`, part, virtualServices(), err);
    }
  }

  private async remove(namespace: string, name: string): Promise<boolean> {
    try {
      await this.api.delete({ apiVersion: WASMPLUGIN_API_VERSION, kind: "WasmPlugin", metadata: { name, namespace } });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw new ShardWriteError(`${namespace}/${name}`, "delete", [], err);
    }
  }
}

/** Every object name of a sharded table of `count` shards (the router, the manifest, the shards). */
export function shardedObjectNames(name: string, count: number): string[] {
  return [name, manifestPluginName(name), ...Array.from({ length: count }, (_, i) => shardPluginName(name, i))];
}
