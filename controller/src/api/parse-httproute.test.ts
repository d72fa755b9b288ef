import { describe, expect, it } from "vitest";
import { parseGatewayApiObject } from "./parse-httproute.ts";
import { HTTPROUTE_LIMITS } from "./gateway-api.ts";

const route = (spec: unknown, metadata: Record<string, unknown> = { name: "r", namespace: "gamma" }, apiVersion = "gateway.networking.k8s.io/v1"): unknown => ({ apiVersion, kind: "HTTPRoute", metadata, spec });
const grant = (spec: unknown): unknown => ({ apiVersion: "gateway.networking.k8s.io/v1beta1", kind: "ReferenceGrant", metadata: { name: "g", namespace: "backends" }, spec });
const svcParent = { group: "", kind: "Service", name: "echo" };

function ok(raw: unknown): Record<string, unknown> {
  const out = parseGatewayApiObject(raw);
  if (out.status !== "ok") throw new Error(`expected ok, got ${JSON.stringify(out)}`);
  return out.object as unknown as Record<string, unknown>;
}

/** The field paths of the problems of an invalid object. */
function fields(raw: unknown): string[] {
  const out = parseGatewayApiObject(raw);
  if (out.status !== "invalid") throw new Error(`expected invalid, got ${out.status}`);
  for (const p of out.problems) {
    expect(p.reason).toBe("InvalidField");
    expect(p.message).toContain(p.field);
  }
  return out.problems.map((p) => p.field);
}

describe("parseGatewayApiObject: what it reads", () => {
  it.each([
    ["gateway.networking.k8s.io/v1", "HTTPRoute"],
    ["gateway.networking.k8s.io/v1beta1", "HTTPRoute"],
    ["gateway.networking.k8s.io/v1beta1", "ReferenceGrant"],
    ["gateway.networking.k8s.io/v1", "ReferenceGrant"],
  ])("reads %s %s", (apiVersion, kind) => {
    const spec = kind === "ReferenceGrant" ? { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "a" }], to: [{ group: "", kind: "Service" }] } : {};
    expect(parseGatewayApiObject({ apiVersion, kind, metadata: { name: "x" }, spec }).status).toBe("ok");
  });

  it.each([
    ["gateway.networking.k8s.io/v1alpha2", "HTTPRoute"],
    ["gateway.networking.k8s.io/v1", "Gateway"],
    ["gateway.networking.k8s.io/v1", "GRPCRoute"],
    ["networking.istio.io/v1", "VirtualService"],
    ["", ""],
  ])("ignores %s %s", (apiVersion, kind) => {
    expect(parseGatewayApiObject({ apiVersion, kind, metadata: { name: "x" } })).toEqual({ status: "ignored", apiVersion, kind });
  });

  it("ignores things that are not objects", () => {
    for (const v of ["text", null, 42, [route({})]]) expect(parseGatewayApiObject(v).status).toBe("ignored");
  });

  it("applies the API server's defaults: parentRef group/kind, rule and match, path, header type, backend kind and weight, redirect code", () => {
    const o = ok(route({
      parentRefs: [{ name: "gw" }, svcParent],
      rules: [
        {},
        { matches: [{ headers: [{ name: "x-a", value: "1" }] }], backendRefs: [{ name: "echo", port: 80 }], filters: [{ type: "RequestRedirect", requestRedirect: {} }] },
      ],
    }));
    expect(o["spec"]).toEqual({
      parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw" }, { group: "", kind: "Service", name: "echo" }],
      hostnames: [],
      rules: [
        { matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] }], filters: [], backendRefs: [] },
        {
          matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [{ type: "Exact", name: "x-a", value: "1" }], queryParams: [] }],
          filters: [{ type: "RequestRedirect", requestRedirect: { statusCode: 302 } }],
          backendRefs: [{ group: "", kind: "Service", name: "echo", port: 80, weight: 1, filters: [] }],
        },
      ],
    });
  });

  it("defaults spec.rules to one rule without backends when absent or empty, as the CRD does", () => {
    for (const spec of [{}, { rules: [] }, { rules: null }]) {
      const o = ok(route(spec));
      expect((o["spec"] as { rules: unknown[] }).rules).toEqual([{ matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] }], filters: [], backendRefs: [] }]);
    }
  });

  it("reads every supported filter with its member", () => {
    const o = ok(route({
      rules: [{
        filters: [
          { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "X-A", value: "1" }], add: [{ name: "x-b", value: "2" }], remove: ["x-c"] } },
          { type: "ResponseHeaderModifier", responseHeaderModifier: { remove: ["server"] } },
          { type: "URLRewrite", urlRewrite: { hostname: "example.com", path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } } },
          { type: "RequestMirror", requestMirror: { backendRef: { name: "m", port: 80 } } },
        ],
        timeouts: { request: "10s", backendRequest: "1m30s" },
        retry: { codes: [503], attempts: 2, backoff: "100ms" },
      }],
    }));
    const rule = (o["spec"] as { rules: Record<string, unknown>[] }).rules[0];
    expect(rule?.["filters"]).toEqual([
      { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "X-A", value: "1" }], add: [{ name: "x-b", value: "2" }], remove: ["x-c"] } },
      { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [], add: [], remove: ["server"] } },
      { type: "URLRewrite", urlRewrite: { hostname: "example.com", path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } } },
      { type: "RequestMirror" },
    ]);
    expect(rule?.["timeouts"]).toEqual({ request: "10s", backendRequest: "1m30s" });
    expect(rule?.["retry"]).toEqual({ codes: [503], attempts: 2, backoff: "100ms" });
    // The unsupported filter's member is recorded, so the translator can name it.
    expect(o["ignoredFields"]).toEqual([{ path: "spec.rules[0].filters[3].requestMirror", known: true }]);
  });

  it("records fields it does not know and ignores status", () => {
    const o = ok({ ...(route({ rules: [{ sessionPersistence: {}, mystery: 1 }] }) as object), status: { parents: [] } });
    expect(o["ignoredFields"]).toEqual([{ path: "spec.rules[0].sessionPersistence", known: true }, { path: "spec.rules[0].mystery", known: false }]);
  });

  it("reads a ReferenceGrant with and without to[].name", () => {
    const o = ok(grant({ from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "gamma" }], to: [{ group: "", kind: "Service" }, { group: "", kind: "Service", name: "echo" }] }));
    expect(o["spec"]).toEqual({ from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "gamma" }], to: [{ group: "", kind: "Service" }, { group: "", kind: "Service", name: "echo" }] });
  });
});

describe("parseGatewayApiObject: hostile and malformed input", () => {
  const many = (n: number, item: unknown): unknown[] => Array.from({ length: n }, () => item);

  it.each([
    ["spec.parentRefs", { parentRefs: many(HTTPROUTE_LIMITS.parentRefs + 1, svcParent) }],
    ["spec.hostnames", { hostnames: many(HTTPROUTE_LIMITS.hostnames + 1, "a.example") }],
    ["spec.rules", { rules: many(HTTPROUTE_LIMITS.rules + 1, {}) }],
    ["spec.rules[0].matches", { rules: [{ matches: many(HTTPROUTE_LIMITS.matches + 1, {}) }] }],
    ["spec.rules[0].backendRefs", { rules: [{ backendRefs: many(HTTPROUTE_LIMITS.backendRefs + 1, { name: "a" }) }] }],
    ["spec.rules[0].filters", { rules: [{ filters: many(HTTPROUTE_LIMITS.filters + 1, { type: "CORS", cors: {} }) }] }],
    ["spec.rules[0].matches[0].headers", { rules: [{ matches: [{ headers: many(HTTPROUTE_LIMITS.headerMatches + 1, { name: "a", value: "b" }) }] }] }],
    ["spec.rules[0].matches[0].queryParams", { rules: [{ matches: [{ queryParams: many(HTTPROUTE_LIMITS.queryMatches + 1, { name: "a", value: "b" }) }] }] }],
    ["spec.rules[0].filters[0].requestHeaderModifier.set", { rules: [{ filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: many(17, { name: "a", value: "b" }) } }] }] }],
  ])("refuses more items than the CRD allows at %s", (field, spec) => {
    expect(fields(route(spec))).toEqual([field]);
  });

  it.each([
    ["a path value of 1025 characters", { rules: [{ matches: [{ path: { value: `/${"a".repeat(1024)}` } }] }] }, "spec.rules[0].matches[0].path.value"],
    ["a relative prefix", { rules: [{ matches: [{ path: { type: "PathPrefix", value: "v2" } }] }] }, "spec.rules[0].matches[0].path.value"],
    ["a prefix with //", { rules: [{ matches: [{ path: { type: "PathPrefix", value: "/a//b" } }] }] }, "spec.rules[0].matches[0].path.value"],
    ["an exact path with /../", { rules: [{ matches: [{ path: { type: "Exact", value: "/a/../b" } }] }] }, "spec.rules[0].matches[0].path.value"],
    ["an encoded slash", { rules: [{ matches: [{ path: { value: "/a%2Fb" } }] }] }, "spec.rules[0].matches[0].path.value"],
    ["an unknown path type", { rules: [{ matches: [{ path: { type: "Prefix", value: "/" } }] }] }, "spec.rules[0].matches[0].path.type"],
    ["a lower-case method", { rules: [{ matches: [{ method: "get" }] }] }, "spec.rules[0].matches[0].method"],
    ["a header name with a space", { rules: [{ matches: [{ headers: [{ name: "x a", value: "1" }] }] }] }, "spec.rules[0].matches[0].headers[0].name"],
    ["a header match without value", { rules: [{ matches: [{ headers: [{ name: "x-a" }] }] }] }, "spec.rules[0].matches[0].headers[0].value"],
    ["a header value with 4097 characters", { rules: [{ matches: [{ headers: [{ name: "x-a", value: "v".repeat(4097) }] }] }] }, "spec.rules[0].matches[0].headers[0].value"],
    ["an upper-case hostname", { hostnames: ["Echo.Example"] }, "spec.hostnames[0]"],
    ["a hostname with a port", { hostnames: ["echo:80"] }, "spec.hostnames[0]"],
    ["a wildcard in the middle", { hostnames: ["a.*.example"] }, "spec.hostnames[0]"],
    ["a parentRef without name", { parentRefs: [{ kind: "Service", group: "" }] }, "spec.parentRefs[0].name"],
    ["a parentRef port 0", { parentRefs: [{ ...svcParent, port: 0 }] }, "spec.parentRefs[0].port"],
    ["a parentRef port 65536", { parentRefs: [{ ...svcParent, port: 65536 }] }, "spec.parentRefs[0].port"],
    ["a parentRef namespace with a dot", { parentRefs: [{ ...svcParent, namespace: "a.b" }] }, "spec.parentRefs[0].namespace"],
    ["a backend weight over 1,000,000", { rules: [{ backendRefs: [{ name: "a", weight: 1_000_001 }] }] }, "spec.rules[0].backendRefs[0].weight"],
    ["a negative backend weight", { rules: [{ backendRefs: [{ name: "a", weight: -1 }] }] }, "spec.rules[0].backendRefs[0].weight"],
    ["a fractional weight", { rules: [{ backendRefs: [{ name: "a", weight: 0.5 }] }] }, "spec.rules[0].backendRefs[0].weight"],
    ["a weight given as a string", { rules: [{ backendRefs: [{ name: "a", weight: "10" }] }] }, "spec.rules[0].backendRefs[0].weight"],
    ["an unknown filter type", { rules: [{ filters: [{ type: "Lua" }] }] }, "spec.rules[0].filters[0].type"],
    ["a filter without its member", { rules: [{ filters: [{ type: "RequestHeaderModifier" }] }] }, "spec.rules[0].filters[0].requestHeaderModifier"],
    ["a filter with another type's member", { rules: [{ filters: [{ type: "URLRewrite", urlRewrite: {}, requestRedirect: {} }] }] }, "spec.rules[0].filters[0].requestRedirect"],
    ["a redirect code 300", { rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { statusCode: 300 } }] }] }, "spec.rules[0].filters[0].requestRedirect.statusCode"],
    ["a redirect scheme ftp", { rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "ftp" } }] }] }, "spec.rules[0].filters[0].requestRedirect.scheme"],
    ["a path modifier with both values", { rules: [{ filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplaceFullPath", replaceFullPath: "/a", replacePrefixMatch: "/b" } } }] }] }, "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch"],
    ["a relative replacement path", { rules: [{ filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplaceFullPath", replaceFullPath: "a" } } }] }] }, "spec.rules[0].filters[0].urlRewrite.path.replaceFullPath"],
    ["a header to set with CR LF in its name", { rules: [{ filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x\r\nevil", value: "1" }] } }] }] }, "spec.rules[0].filters[0].requestHeaderModifier.set[0].name"],
    ["a timeout in Go syntax", { rules: [{ timeouts: { request: "1.5s" } }] }, "spec.rules[0].timeouts.request"],
    ["a negative timeout", { rules: [{ timeouts: { backendRequest: "-1s" } }] }, "spec.rules[0].timeouts.backendRequest"],
    ["a retry code 200", { rules: [{ retry: { codes: [200] } }] }, "spec.rules[0].retry.codes[0]"],
    ["a rule name with upper case", { rules: [{ name: "Rule" }] }, "spec.rules[0].name"],
    ["rules as an object", { rules: { a: {} } }, "spec.rules"],
    ["a match that is a string", { rules: [{ matches: ["/"] }] }, "spec.rules[0].matches[0]"],
  ])("refuses %s with its field path", (_why, spec, field) => {
    expect(fields(route(spec))).toContain(field);
  });

  it("names the object and namespace on every problem, defaulting the namespace", () => {
    const out = parseGatewayApiObject(route({ rules: 7 }, { name: "bad" }), { defaultNamespace: "team" });
    expect(out).toEqual({ status: "invalid", problems: [{ kind: "HTTPRoute", namespace: "team", name: "bad", field: "spec.rules", reason: "InvalidField", message: "spec.rules: expected a list, got number 7; the HTTPRoute is ignored until this is fixed" }] });
  });

  it("refuses an object without a name and a spec that is not an object", () => {
    expect(fields(route({}, {}))).toEqual(["metadata.name"]);
    expect(fields(route("spec"))).toEqual(["spec"]);
  });

  it("does not modify its input", () => {
    const raw = route({ parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "a" }] }] });
    const copy = JSON.stringify(raw);
    ok(raw);
    expect(JSON.stringify(raw)).toBe(copy);
  });

  it.each([
    ["no from", { to: [{ group: "", kind: "Service" }] }, "spec.from"],
    ["no to", { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "a" }] }, "spec.to"],
    ["a from without namespace", { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }], to: [{ group: "", kind: "Service" }] }, "spec.from[0].namespace"],
    ["a to without group", { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "a" }], to: [{ kind: "Service" }] }, "spec.to[0].group"],
    ["17 from entries", { from: Array.from({ length: 17 }, () => ({ group: "g", kind: "HTTPRoute", namespace: "a" })), to: [{ group: "", kind: "Service" }] }, "spec.from"],
  ])("refuses a ReferenceGrant with %s", (_why, spec, field) => {
    expect(fields(grant(spec))).toContain(field);
  });
});
