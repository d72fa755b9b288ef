import { describe, expect, it } from "vitest";
import { parseObject, parseObjects } from "./parse.ts";

const vs = (spec: unknown, metadata: Record<string, unknown> = { name: "app", namespace: "default" }): unknown => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata,
  spec,
});

describe("parseObject", () => {
  it.each([
    ["networking.istio.io/v1", "VirtualService"],
    ["networking.istio.io/v1beta1", "VirtualService"],
    ["networking.istio.io/v1alpha3", "Gateway"],
    ["networking.istio.io/v1", "DestinationRule"],
    ["v1", "Service"],
    ["canal.io/v1alpha1", "InternalGateway"],
  ])("reads %s %s", (apiVersion, kind) => {
    const spec = kind === "InternalGateway" ? { gatewayRef: { name: "g" }, serviceRef: { name: "s" } } : kind === "DestinationRule" ? { host: "h" } : {};
    const out = parseObject({ apiVersion, kind, metadata: { name: "x" }, spec });
    expect(out.status).toBe("ok");
  });

  it.each([
    ["apps/v1", "Deployment"],
    ["networking.istio.io/v2", "VirtualService"],
    ["gateway.networking.k8s.io/v1alpha2", "Gateway"],
    ["v1", "ConfigMap"],
    ["", ""],
  ])("ignores %s %s", (apiVersion, kind) => {
    expect(parseObject({ apiVersion, kind, metadata: { name: "x" } })).toEqual({ status: "ignored", apiVersion, kind });
  });

  it("ignores things that are not objects", () => {
    expect(parseObject("text").status).toBe("ignored");
    expect(parseObject(null).status).toBe("ignored");
  });

  it("defaults the namespace, keeps metadata Canal reads, drops the rest", () => {
    const out = parseObject(vs({ hosts: ["a"] }, { name: "app", uid: "u1", generation: 3, creationTimestamp: "2024-01-02T03:04:05Z", managedFields: [{}] }), { defaultNamespace: "team" });
    if (out.status !== "ok") throw new Error("expected ok");
    expect(out.object.metadata).toEqual({ name: "app", namespace: "team", uid: "u1", generation: 3, creationTimestamp: "2024-01-02T03:04:05Z" });
    expect(out.object.ignoredFields).toBeUndefined();
  });

  it("accepts a YAML-parsed Date as creationTimestamp", () => {
    const out = parseObject(vs({}, { name: "app", creationTimestamp: new Date("2024-01-02T03:04:05Z") }));
    if (out.status !== "ok") throw new Error("expected ok");
    expect(out.object.metadata.creationTimestamp).toBe("2024-01-02T03:04:05Z");
  });

  it("records known Istio fields it does not translate and unknown fields, by path", () => {
    const out = parseObject(vs({
      hosts: ["a"],
      tcp: [],
      http: [{ mirror: { host: "x" }, match: [{ sourceLabels: { a: "b" }, uri: { exact: "/" }, sourceIp: "1.2.3.4" }], route: [{ destination: { host: "a" } }], retryPolicy: {} }],
    }));
    if (out.status !== "ok") throw new Error("expected ok");
    expect(out.object.ignoredFields).toEqual([
      { path: "spec.tcp", known: true },
      { path: "spec.http[0].mirror", known: true },
      { path: "spec.http[0].retryPolicy", known: false },
      { path: "spec.http[0].match[0].sourceLabels", known: true },
      { path: "spec.http[0].match[0].sourceIp", known: false },
    ]);
  });

  it("treats null as absent (as Kubernetes does)", () => {
    const out = parseObject(vs({ hosts: ["a"], gateways: null, http: [{ route: [{ destination: { host: "a" }, weight: null }], match: null }] }));
    if (out.status !== "ok") throw new Error("expected ok");
    expect(out.object.spec).toEqual({ hosts: ["a"], gateways: [], http: [{ route: [{ destination: { host: "a" } }] }], exportTo: [] });
  });

  it("reads a header match given as null or {} as presence", () => {
    const out = parseObject(vs({ http: [{ match: [{ headers: { "x-a": null, "x-b": {} } }] }] }));
    if (out.status !== "ok" || out.object.kind !== "VirtualService") throw new Error("expected a VirtualService");
    expect(out.object.spec.http[0]?.match?.[0]?.headers).toEqual({ "x-a": {}, "x-b": {} });
  });

  it.each([
    [{ hosts: "app" }, "spec.hosts", "expected a list"],
    [{ http: [{ route: [{ destination: { host: "a" }, weight: "50" }] }] }, "spec.http[0].route[0].weight", "expected an integer"],
    [{ http: [{ route: [{ destination: { host: "a" }, weight: 1.5 }] }] }, "spec.http[0].route[0].weight", "expected an integer"],
    [{ http: [{ route: [{ weight: 1 }] }] }, "spec.http[0].route[0].destination", "required"],
    [{ http: [{ match: [{ headers: { "x-a": { exact: 1 } } }] }] }, "spec.http[0].match[0].headers[x-a].exact", "expected a string"],
    [{ http: [{ match: [{ ignoreUriCase: "yes" }] }] }, "spec.http[0].match[0].ignoreUriCase", "expected a boolean"],
    [{ http: [{ directResponse: { body: { string: "x" } } }] }, "spec.http[0].directResponse.status", "required"],
    [[], "spec", "expected an object"],
  ])("reports malformed VirtualService %j at %s", (spec, field, message) => {
    const out = parseObject(vs(spec));
    expect(out.status).toBe("invalid");
    if (out.status !== "invalid") return;
    expect(out.problems).toContainEqual(expect.objectContaining({ kind: "VirtualService", namespace: "default", name: "app", field, reason: "InvalidField", message: expect.stringContaining(message) }));
  });

  it("reports a missing name and a bad timestamp", () => {
    const out = parseObject(vs({}, { namespace: "x", creationTimestamp: "yesterday" }));
    expect(out.status).toBe("invalid");
    if (out.status !== "invalid") return;
    expect(out.problems.map((p) => p.field)).toEqual(["metadata.creationTimestamp", "metadata.name"]);
  });

  it("requires the InternalGateway's references", () => {
    const out = parseObject({ apiVersion: "canal.io/v1alpha1", kind: "InternalGateway", metadata: { name: "c", namespace: "istio-system" }, spec: { serviceRef: { name: "s" } } });
    expect(out.status).toBe("invalid");
    if (out.status === "invalid") expect(out.problems[0]?.field).toBe("spec.gatewayRef");
  });

  it("reads a Service with defaults and ignores fields that do not affect routing", () => {
    const out = parseObject({
      apiVersion: "v1", kind: "Service", metadata: { name: "s" },
      spec: { selector: { app: "s" }, sessionAffinity: "None", ports: [{ port: 80, targetPort: "http", nodePort: 30080 }] },
      status: { loadBalancer: {} },
    });
    if (out.status !== "ok") throw new Error("expected ok");
    expect(out.object.spec).toEqual({ type: "ClusterIP", ports: [{ port: 80, protocol: "TCP", targetPort: "http" }] });
    // Nothing reports a Service's other fields, so they are not kept.
    expect(out.object.ignoredFields).toBeUndefined();
  });

  it("never modifies its input", () => {
    const raw = vs({ hosts: ["a"], http: [{ match: [{ headers: { "X-A": {} } }], route: [{ destination: { host: "a" } }] }] }, { name: "app" });
    const before = JSON.stringify(raw);
    parseObject(raw);
    expect(JSON.stringify(raw)).toBe(before);
  });
});

describe("parseObjects", () => {
  it("sorts objects into a snapshot and collects every problem", () => {
    const out = parseObjects([
      vs({ hosts: ["a"] }),
      vs({ hosts: 1 }, { name: "bad" }),
      { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { ports: [{ port: 80 }] } },
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" } },
    ]);
    expect(out.snapshot.virtualServices.map((v) => v.metadata.name)).toEqual(["app"]);
    expect(out.snapshot.services.map((s) => s.metadata.name)).toEqual(["s"]);
    expect(out.problems.map((p) => `${p.name} ${p.field}`)).toEqual(["bad spec.hosts"]);
    expect(out.ignored).toEqual(["apps/v1/Deployment"]);
  });

  it("reads HTTPRoutes and ReferenceGrants into the snapshot, with their problems", () => {
    const route = (name: string, spec: unknown): unknown => ({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name, namespace: "shop" }, spec });
    const out = parseObjects([
      route("r", { parentRefs: [{ group: "", kind: "Service", name: "cart" }] }),
      route("bad", { parentRefs: [{ name: "cart", kind: "Service", port: 70000 }] }),
      { apiVersion: "gateway.networking.k8s.io/v1beta1", kind: "ReferenceGrant", metadata: { name: "g", namespace: "db" }, spec: { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "shop" }], to: [{ group: "", kind: "Service" }] } },
      { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", metadata: { name: "gw" }, spec: {} },
    ]);
    expect(out.snapshot.httpRoutes.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(["shop/r"]);
    expect(out.snapshot.referenceGrants.map((g) => `${g.metadata.namespace}/${g.metadata.name}`)).toEqual(["db/g"]);
    // A Gateway API Gateway is read too (docs/gateway-api.md, "Gateway parents"); this one lacks its class.
    expect(out.problems.map((p) => `${p.kind} ${p.name} ${p.field} ${p.reason}`)).toEqual(["HTTPRoute bad spec.parentRefs[0].port InvalidField", "Gateway gw spec.gatewayClassName InvalidField"]);
    expect(out.ignored).toEqual([]);
  });
});
