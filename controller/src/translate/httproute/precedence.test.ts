// The spec's match precedence, one criterion at a time: each pair differs in exactly one
// criterion, and the first of the pair must come first whatever the input order.
import { describe, expect, it } from "vitest";
import type { HTTPRoute, HTTPRouteMatch } from "../../api/gateway-api.ts";
import { compareEntries, entriesOf } from "./precedence.ts";

const match = (m: Partial<HTTPRouteMatch>): HTTPRouteMatch => ({ path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [], ...m });
const route = (name: string, matches: HTTPRouteMatch[][], created = "2024-01-01T00:00:00Z", namespace = "ns"): HTTPRoute => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name, namespace, creationTimestamp: created },
  spec: { parentRefs: [], hostnames: [], rules: matches.map((ms) => ({ matches: ms, filters: [], backendRefs: [] })) },
});
const h = (name: string): { type: "Exact"; name: string; value: string } => ({ type: "Exact", name, value: "v" });

/** The order of the entries of `routes`, as "route.rule.match". */
function order(routes: HTTPRoute[]): string[] {
  return routes.flatMap(entriesOf).sort(compareEntries).map((e) => `${e.route.metadata.name}.${e.ruleIndex}.${e.matchIndex}`);
}

describe("match precedence", () => {
  it.each([
    ["an Exact path before a longer prefix", match({ path: { type: "Exact", value: "/a" } }), match({ path: { type: "PathPrefix", value: "/a/b/c" } })],
    ["a longer prefix before a shorter one", match({ path: { type: "PathPrefix", value: "/abc" } }), match({ path: { type: "PathPrefix", value: "/ab" } })],
    ["a prefix before a regex", match({ path: { type: "PathPrefix", value: "/" } }), match({ path: { type: "RegularExpression", value: "/a.*" } })],
    ["a longer regex before a shorter one", match({ path: { type: "RegularExpression", value: "/a/[0-9]+" } }), match({ path: { type: "RegularExpression", value: "/a.*" } })],
    ["a method before more headers", match({ method: "GET" }), match({ headers: [h("a"), h("b")] })],
    ["more headers before more query params", match({ headers: [h("a")] }), match({ queryParams: [h("a"), h("b")] })],
    ["more query params before none", match({ queryParams: [h("a")] }), match({})],
  ])("%s", (_why, first, second) => {
    expect(order([route("x", [[second, first]])])).toEqual(["x.0.1", "x.0.0"]);
    expect(order([route("x", [[first, second]])])).toEqual(["x.0.0", "x.0.1"]);
  });

  it("ignores a prefix's trailing slash and counts a repeated header name once", () => {
    expect(order([route("x", [[match({ path: { type: "PathPrefix", value: "/ab/" } }), match({ path: { type: "PathPrefix", value: "/ab" } })]])])).toEqual(["x.0.0", "x.0.1"]);
    expect(order([route("x", [[match({ headers: [h("a"), h("A")] }), match({ headers: [h("b"), h("c")] })]])])).toEqual(["x.0.1", "x.0.0"]);
  });

  it("breaks ties by the oldest route, then namespace/name, then rule and match order", () => {
    const m = match({});
    expect(order([route("new", [[m]], "2024-02-01T00:00:00Z"), route("old", [[m]], "2024-01-01T00:00:00Z")])).toEqual(["old.0.0", "new.0.0"]);
    expect(order([route("b", [[m]]), route("a", [[m]], undefined, "ns")])).toEqual(["a.0.0", "b.0.0"]);
    expect(order([route("z", [[m]], undefined, "ns-a"), route("a", [[m]], undefined, "ns-b")])).toEqual(["z.0.0", "a.0.0"]);
    expect(order([route("x", [[m, m], [m]])])).toEqual(["x.0.0", "x.0.1", "x.1.0"]);
  });
});
