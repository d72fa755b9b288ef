// `canal controller --wasm-pull-secret`: the WasmPlugin's imagePullSecret (a filter in a private
// OCI registry), against a REAL kube-apiserver + etcd with Istio's real CRDs. The CRD's structural
// schema prunes unknown fields, so the field surviving the round trip means Istio's schema has it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseControllerFlags } from "../../controller/src/cli/controller-command.ts";
import { UsageError } from "../../controller/src/common/errors.ts";
import { resolveKinds } from "../../controller/src/kube/resources.ts";
import { Controller } from "../../controller/src/runner/controller.ts";
import type { WasmPluginOptions } from "../../controller/src/sinks/wasmplugin-sink.ts";
import { jsonLogger } from "../../controller/src/common/log.ts";
import { FIELD_MANAGER } from "../../controller/src/sinks/wasmplugin.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";

const REPO = join(import.meta.dirname, "..", "..");
const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");
const WASM_URL = "oci://private.registry.example/canal/filter:test";
const SHA = "0".repeat(64);
const PLUGIN_PATH = "/apis/extensions.istio.io/v1alpha1/namespaces/istio-system/wasmplugins/canal-canal";

describe("--wasm-pull-secret flag validation", () => {
  const base = ["--wasm-url", WASM_URL];
  const parse = (...extra: string[]) => parseControllerFlags([...base, ...extra]);

  it("carries a Secret name into the WasmPlugin config; absent without the flag", () => {
    expect(parse("--wasm-pull-secret", "filter-registry")).toMatchObject({ wasmPlugin: { url: WASM_URL, pullSecret: "filter-registry" } });
    expect(parse("--wasm-pull-secret=a.b-c.0")).toMatchObject({ wasmPlugin: { pullSecret: "a.b-c.0" } });
    expect(parse("--wasm-pull-secret", "x".repeat(253))).toMatchObject({ wasmPlugin: { pullSecret: "x".repeat(253) } });
    const without = parse();
    if (without === "help") throw new Error("unexpected help");
    expect(without.wasmPlugin).toStrictEqual({ url: WASM_URL, sha256: undefined });
  });

  it.each([
    ["upper case", "Filter-Registry"],
    ["an underscore", "filter_registry"],
    ["a leading dash", "-filter"],
    ["a trailing dot", "filter."],
    ["an empty name", ""],
    ["a namespace/name pair", "istio-system/filter"],
    ["254 characters", "x".repeat(254)],
  ])("refuses %s with a one-line UsageError", (_what, name) => {
    let err: unknown;
    try {
      parse(`--wasm-pull-secret=${name}`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as Error).message;
    expect(message).toMatch(/^canal controller: --wasm-pull-secret must be a Secret name \(DNS-1123 subdomain/);
    expect(message).not.toContain("\n");
  });

  it("is refused with --no-wasmplugin (no WasmPlugin to carry it)", () => {
    expect(() => parseControllerFlags(["--no-wasmplugin", "--ecds-address", "0.0.0.0:18000", "--wasm-pull-secret", "filter-registry"])).toThrow(
      /^canal controller: --wasm-pull-secret is for WasmPlugin mode/,
    );
  });
});

describe("WasmPlugin imagePullSecret against a real API server", () => {
  let api: KubeApi;
  let kc: k8s.KubeConfig;
  const controllers: Controller[] = [];
  const logs: string[] = [];

  function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    return pollUntil(what, probe, { timeoutMs, intervalMs: 100, onTimeout: () => `controller log tail:\n${logs.slice(-15).join("\n")}` });
  }

  async function startController(identity: string, wasmPlugin: WasmPluginOptions): Promise<Controller> {
    const c = new Controller({
      kc,
      kinds: await resolveKinds(kc),
      log: jsonLogger("debug", { identity }, (l) => logs.push(l)),
      identity,
      leaseNamespace: "istio-system",
      leaseDurationSeconds: 3,
      wasmPlugin,
      validateRegex: loadRegexValidator(),
    });
    await c.start();
    controllers.push(c);
    await until(`${identity} leads`, async () => (c.isLeader ? true : undefined));
    return c;
  }

  async function stopController(c: Controller): Promise<void> {
    await c.stop();
    controllers.splice(controllers.indexOf(c), 1);
  }

  interface WasmPluginObject extends KubeObject {
    spec: { url: string; sha256?: string; imagePullSecret?: string; pluginConfig: { version: string } };
  }

  async function plugin(): Promise<WasmPluginObject | undefined> {
    const r = await api.request("GET", PLUGIN_PATH);
    return r.status === 200 ? (r.json as WasmPluginObject) : undefined;
  }

  /** The spec fields the controller's field manager owns (from managedFields). */
  function ownedSpecFields(p: WasmPluginObject): string[] {
    const entry = (p.metadata as { managedFields?: Array<{ manager: string; operation: string; fieldsV1?: { "f:spec"?: Record<string, unknown> } }> }).managedFields?.find(
      (m) => m.manager === FIELD_MANAGER && m.operation === "Apply",
    );
    return Object.keys(entry?.fieldsV1?.["f:spec"] ?? {});
  }

  beforeAll(async () => {
    api = await startKubeApi({ name: "wasm-pull-secret" });
    await api.prepareForCanal();
    kc = api.kubeConfig();
  }, 180_000);

  afterEach(async () => {
    for (const c of [...controllers]) await stopController(c);
  });

  afterAll(async () => {
    for (const c of [...controllers]) await c.stop();
    await api?.stop();
  });

  it("with the flag the WasmPlugin carries imagePullSecret; restarted without it the field is gone; with it again it is back", async () => {
    // The Secret istiod would read (kubernetes.io/dockerconfigjson, the WasmPlugin's namespace).
    await api.applyYaml(`apiVersion: v1
kind: Secret
metadata: {name: filter-registry, namespace: istio-system}
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: ${Buffer.from(JSON.stringify({ auths: { "private.registry.example": { auth: Buffer.from("u:p").toString("base64") } } })).toString("base64")}
`);
    const withSecret = await startController("with-secret", { url: WASM_URL, sha256: SHA, pullSecret: "filter-registry" });
    await api.applyYaml(SEED);
    const p = await until("the WasmPlugin with imagePullSecret", async () => {
      const q = await plugin();
      return q?.spec.imagePullSecret !== undefined ? q : undefined;
    });
    // Kept by the real Istio CRD (unknown fields would be pruned), next to url and sha256.
    expect(p.spec.imagePullSecret).toBe("filter-registry");
    expect(p.spec.url).toBe(WASM_URL);
    expect(p.spec.sha256).toBe(SHA);
    expect(ownedSpecFields(p)).toContain("f:imagePullSecret");
    const table = p.spec.pluginConfig.version;
    await stopController(withSecret);

    // Same table, no flag: the apply is not skipped as "unchanged", and SSA with the same field
    // manager removes the field it no longer applies.
    await startController("without-secret", { url: WASM_URL, sha256: SHA });
    const q = await until("the WasmPlugin without imagePullSecret", async () => {
      const r = await plugin();
      return r && !("imagePullSecret" in r.spec) ? r : undefined;
    });
    expect(q.spec.pluginConfig.version).toBe(table);
    expect(q.spec.url).toBe(WASM_URL);
    expect(ownedSpecFields(q)).not.toContain("f:imagePullSecret");
    expect(q.metadata.annotations?.["canal.io/filter-artifact"]).toBe(`${WASM_URL}@${SHA}`);
    await stopController(controllers[0] as Controller);

    // And a different secret name is applied as well.
    await startController("other-secret", { url: WASM_URL, sha256: SHA, pullSecret: "other.registry-cred" });
    const r = await until("the WasmPlugin with the other imagePullSecret", async () => {
      const x = await plugin();
      return x?.spec.imagePullSecret === "other.registry-cred" ? x : undefined;
    });
    expect(r.spec.pluginConfig.version).toBe(table);

    // The real Istio CRD bounds the field as the flag validation does (at most 253 characters).
    const tooLong = await api.request("PATCH", PLUGIN_PATH, {
      body: { spec: { imagePullSecret: "x".repeat(254) } },
      contentType: "application/merge-patch+json",
      query: { dryRun: "All", fieldManager: "probe" },
    });
    expect(tooLong.status).toBe(422);
    expect(() => parseControllerFlags(["--wasm-url", WASM_URL, "--wasm-pull-secret", "x".repeat(254)])).toThrow(UsageError);
  }, 90_000);
});
