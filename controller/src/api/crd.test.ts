// controller/crds/internalgateway.yaml against the TypeScript API: the schema accepts what the
// parser reads (and the testdata), rejects bad references, and can hold the status the
// translator's results produce.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { PROBLEM_REASONS } from "./problem.ts";
import { parseObject } from "./parse.ts";
import { caseNames, readYamlObjects, TESTDATA } from "../translate/testing/cases.ts";

interface Crd {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns: Array<{ name: string; jsonPath: string }>;
      schema: { openAPIV3Schema: Schema };
    }>;
  };
}

interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
}

const crd = parse(readFileSync(join(import.meta.dirname, "../../crds/internalgateway.yaml"), "utf8")) as Crd;
const version = crd.spec.versions[0];
if (version === undefined) throw new Error("CRD has no version");
const root = version.schema.openAPIV3Schema;

const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
ajv.addKeyword("x-kubernetes-list-type");
ajv.addKeyword("x-kubernetes-list-map-keys");
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
const validate = ajv.compile(root);

const igOf = (spec: unknown, status?: unknown): Record<string, unknown> => ({
  apiVersion: "canal.io/v1alpha1",
  kind: "InternalGateway",
  metadata: { name: "canal", namespace: "istio-system" },
  spec,
  ...(status === undefined ? {} : { status }),
});

describe("the InternalGateway CRD", () => {
  it("declares canal.io/v1alpha1 InternalGateway, namespaced, with a status subresource", () => {
    expect(crd.spec.group).toBe("canal.io");
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names).toMatchObject({ kind: "InternalGateway", plural: "internalgateways" });
    expect(version).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
  });

  it("has printer columns that point at schema fields", () => {
    const names = version.additionalPrinterColumns.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(["Gateway", "Accepted", "Programmed", "Hosts", "Routes", "Age"]));
    for (const c of version.additionalPrinterColumns) {
      const path = c.jsonPath.replace(/\[\?.*\]/, "").split(".").filter(Boolean);
      if (path[0] === "metadata") continue;
      let s: Schema | undefined = root;
      for (const p of path) s = s?.properties?.[p] ?? s?.items?.properties?.[p];
      expect(s, c.jsonPath).toBeDefined();
    }
  });

  it("spec has exactly the fields the parser reads", () => {
    expect(Object.keys(root.properties?.["spec"]?.properties ?? {}).sort()).toEqual(["gatewayRef", "hostGrants", "serviceRef", "workloadSelector"]);
    const hostGrants = [{ namespaces: ["team-a", "*"], hosts: ["api.example.com", "*.example.com", "*"] }];
    const full = igOf({ gatewayRef: { name: "canal", namespace: "istio-system" }, serviceRef: { name: "gw", namespace: "x" }, workloadSelector: { matchLabels: { app: "a" } }, hostGrants });
    expect(validate(full)).toBe(true);
    const parsed = parseObject(full);
    expect(parsed.status).toBe("ok");
    if (parsed.status === "ok") expect(parsed.object.ignoredFields).toBeUndefined();
  });

  it("accepts every InternalGateway of the golden cases", () => {
    const igs = caseNames().flatMap((n) => readYamlObjects(readFileSync(join(TESTDATA, `${n}.in.yaml`), "utf8"), n))
      .filter((o) => (o as { kind?: string }).kind === "InternalGateway");
    expect(igs.length).toBeGreaterThan(10);
    for (const ig of igs) expect(validate(ig), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each([
    ["no gatewayRef", { serviceRef: { name: "gw" } }],
    ["no serviceRef", { gatewayRef: { name: "canal" } }],
    ["upper-case name", { gatewayRef: { name: "Canal" }, serviceRef: { name: "gw" } }],
    ["namespace with a dot", { gatewayRef: { name: "canal", namespace: "a.b" }, serviceRef: { name: "gw" } }],
    ["service name starting with a digit", { gatewayRef: { name: "canal" }, serviceRef: { name: "1gw" } }],
    ["empty name", { gatewayRef: { name: "" }, serviceRef: { name: "gw" } }],
    ["non-string label", { gatewayRef: { name: "canal" }, serviceRef: { name: "gw" }, workloadSelector: { matchLabels: { app: 1 } } }],
    ["a grant without namespaces", { gatewayRef: { name: "canal" }, serviceRef: { name: "gw" }, hostGrants: [{ namespaces: [], hosts: ["*"] }] }],
    ["a grant without hosts", { gatewayRef: { name: "canal" }, serviceRef: { name: "gw" }, hostGrants: [{ namespaces: ["a"] }] }],
    ["a grant namespace with a dot", { gatewayRef: { name: "canal" }, serviceRef: { name: "gw" }, hostGrants: [{ namespaces: ["a.b"], hosts: ["*"] }] }],
  ])("rejects %s", (_why, spec) => {
    expect(validate(igOf(spec))).toBe(false);
  });

  // The parser checks what the schema cannot say simply (host syntax), with field paths.
  it.each([
    [{ namespaces: ["a"], hosts: ["API.example.com:80"] }, "spec.hostGrants[0].hosts[0]"],
    [{ namespaces: ["a"], hosts: ["payments"] }, "spec.hostGrants[0].hosts[0]"],
    [{ namespaces: ["a", "B"], hosts: ["*"] }, "spec.hostGrants[0].namespaces[1]"],
    [{ namespaces: [], hosts: ["*"] }, "spec.hostGrants[0].namespaces"],
  ])("the parser refuses grant %j at %s", (grant, field) => {
    const parsed = parseObject(igOf({ gatewayRef: { name: "canal" }, serviceRef: { name: "gw" }, hostGrants: [grant] }));
    expect(parsed.status).toBe("invalid");
    if (parsed.status === "invalid") expect(parsed.problems.map((p) => p.field)).toContain(field);
  });

  it("holds the status the controller writes, including every problem reason", () => {
    const rejected = PROBLEM_REASONS.map((reason) => ({
      kind: "VirtualService", namespace: "default", name: "reviews", field: "spec.http[2].match[0].uri.regex", reason, message: "what is wrong and how to fix it",
    }));
    const status = {
      observedGeneration: 3,
      conditions: [
        { type: "Accepted", status: "True", observedGeneration: 3, lastTransitionTime: "2024-05-01T10:00:00Z", reason: "Accepted", message: "serving Gateway istio-system/canal" },
        { type: "Programmed", status: "False", observedGeneration: 3, lastTransitionTime: "2024-05-01T10:00:01Z", reason: "Pending", message: "1 of 2 gateway pods acknowledged the table" },
      ],
      tableVersion: `sha256:${"a".repeat(64)}`,
      hosts: 12,
      routes: 30,
      gateways: [{ name: "canal-gateway-7d9f-abcde", tableVersion: `sha256:${"a".repeat(64)}`, acked: true }],
      rejectedCount: rejected.length,
      rejected,
    };
    const ok = validate(igOf({ gatewayRef: { name: "canal" }, serviceRef: { name: "gw" } }, status));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    const bad = { ...status, rejected: [{ ...rejected[0], kind: "Deployment" }] };
    expect(validate(igOf({ gatewayRef: { name: "canal" }, serviceRef: { name: "gw" } }, bad))).toBe(false);
  });
});
