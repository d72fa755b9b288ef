import { describe, expect, it } from "vitest";
import { parseGatewaySupportObject, selectorMatches } from "./parse-gateway-api-gateway.ts";
import type { GatewayApiGateway } from "./gateway-api.ts";

const gw = (spec: unknown): unknown => ({ apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", metadata: { name: "gw", namespace: "infra" }, spec });
const listener = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name: "http", port: 80, protocol: "HTTP", ...extra });

function problems(raw: unknown): string[] {
  const out = parseGatewaySupportObject(raw);
  return out.status === "invalid" ? out.problems.map((p) => p.message) : [];
}

describe("parseGatewaySupportObject", () => {
  it("reads a Gateway with the CRD's defaults (allowedRoutes from Same) and records tls as known ignored", () => {
    const out = parseGatewaySupportObject(gw({ gatewayClassName: "canal", listeners: [listener({ tls: { mode: "Terminate" } })] }));
    expect(out.status).toBe("ok");
    const g = (out as { object: GatewayApiGateway }).object;
    expect(g.spec).toEqual({ gatewayClassName: "canal", listeners: [{ name: "http", port: 80, protocol: "HTTP", allowedRoutes: { from: "Same" } }] });
    expect(g.ignoredFields).toEqual([{ path: "spec.listeners[0].tls", known: true }]);
  });

  it("reads selectors, kinds (group defaulted), GatewayClasses and Namespaces (cluster-scoped)", () => {
    const out = parseGatewaySupportObject(gw({ gatewayClassName: "canal", listeners: [listener({ hostname: "*.example.com", allowedRoutes: { namespaces: { from: "Selector", selector: { matchLabels: { a: "b" }, matchExpressions: [{ key: "team", operator: "In", values: ["x"] }] } }, kinds: [{ kind: "HTTPRoute" }] } })] }));
    expect(out.status === "ok" && (out.object as GatewayApiGateway).spec.listeners[0]?.allowedRoutes).toEqual({ from: "Selector", selector: { matchLabels: { a: "b" }, matchExpressions: [{ key: "team", operator: "In", values: ["x"] }] }, kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }] });
    const cls = parseGatewaySupportObject({ apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name: "canal" }, spec: { controllerName: "canal.io/gateway-controller" } });
    expect(cls.status === "ok" && cls.object.metadata.namespace).toBe("");
    const ns = parseGatewaySupportObject({ apiVersion: "v1", kind: "Namespace", metadata: { name: "apps", labels: { team: "x" } }, spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } });
    expect(ns.status === "ok" && ns.object.metadata.labels).toEqual({ team: "x" });
  });

  it.each([
    ["no class", { listeners: [listener()] }, "spec.gatewayClassName: required"],
    ["no listeners", { gatewayClassName: "c", listeners: [] }, "spec.listeners: required: at least one listener"],
    ["65 listeners", { gatewayClassName: "c", listeners: Array.from({ length: 65 }, (_, i) => listener({ name: `l${i}` })) }, "spec.listeners: at most 64 items, got 65"],
    ["a listener name twice", { gatewayClassName: "c", listeners: [listener(), listener()] }, "spec.listeners[1].name: listener name \"http\" is used twice"],
    ["port 0", { gatewayClassName: "c", listeners: [listener({ port: 0 })] }, "spec.listeners[0].port: expected 1 to 65535, got 0"],
    ["an upper-case hostname", { gatewayClassName: "c", listeners: [listener({ hostname: "Foo.com" })] }, "spec.listeners[0].hostname: \"Foo.com\" does not match"],
    ["a hostname with CR/LF", { gatewayClassName: "c", listeners: [listener({ hostname: "a.com\r\nx: y" })] }, "spec.listeners[0].hostname:"],
    ["from Selector without a selector", { gatewayClassName: "c", listeners: [listener({ allowedRoutes: { namespaces: { from: "Selector" } } })] }, "spec.listeners[0].allowedRoutes.namespaces.selector: required when from is Selector"],
    ["an unknown from", { gatewayClassName: "c", listeners: [listener({ allowedRoutes: { namespaces: { from: "Some" } } })] }, "spec.listeners[0].allowedRoutes.namespaces.from: expected one of Same, All, Selector, None"],
    ["In without values", { gatewayClassName: "c", listeners: [listener({ allowedRoutes: { namespaces: { from: "Selector", selector: { matchExpressions: [{ key: "k", operator: "In" }] } } } })] }, "spec.listeners[0].allowedRoutes.namespaces.selector.matchExpressions[0].values: required for operator In"],
    ["an unknown operator", { gatewayClassName: "c", listeners: [listener({ allowedRoutes: { namespaces: { from: "Selector", selector: { matchExpressions: [{ key: "k", operator: "Gt", values: ["1"] }] } } } })] }, "matchExpressions[0].operator: expected one of In, NotIn, Exists, DoesNotExist"],
    ["9 route kinds", { gatewayClassName: "c", listeners: [listener({ allowedRoutes: { kinds: Array.from({ length: 9 }, () => ({ kind: "HTTPRoute" })) } })] }, "spec.listeners[0].allowedRoutes.kinds: at most 8 items, got 9"],
  ])("refuses %s, naming the field", (_name, spec, want) => {
    const got = problems(gw(spec));
    expect(got.some((p) => p.includes(want)), got.join("\n")).toBe(true);
  });

  it("ignores unserved versions and other kinds", () => {
    expect(parseGatewaySupportObject({ apiVersion: "gateway.networking.k8s.io/v1alpha2", kind: "Gateway" }).status).toBe("ignored");
    expect(parseGatewaySupportObject({ apiVersion: "v1", kind: "ConfigMap" }).status).toBe("ignored");
  });
});

describe("selectorMatches", () => {
  const sel = (matchLabels: Record<string, string>, matchExpressions: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values: string[] }[] = []) => ({ matchLabels, matchExpressions });
  it("needs every label and every expression", () => {
    expect(selectorMatches(sel({ a: "1" }), { a: "1", b: "2" })).toBe(true);
    expect(selectorMatches(sel({ a: "1" }), { a: "2" })).toBe(false);
    expect(selectorMatches(sel({}, [{ key: "a", operator: "In", values: ["1", "2"] }]), { a: "2" })).toBe(true);
    expect(selectorMatches(sel({}, [{ key: "a", operator: "NotIn", values: ["1"] }]), {})).toBe(true);
    expect(selectorMatches(sel({}, [{ key: "a", operator: "Exists", values: [] }]), {})).toBe(false);
    expect(selectorMatches(sel({}, [{ key: "a", operator: "DoesNotExist", values: [] }]), { b: "" })).toBe(true);
    expect(selectorMatches(sel({}), {}), "an empty selector selects everything").toBe(true);
  });
});
