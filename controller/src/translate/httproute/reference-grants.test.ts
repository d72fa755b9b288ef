// ReferenceGrant semantics: a cross-namespace backendRef is allowed only by a grant in the
// target's namespace, from HTTPRoutes of the route's namespace, to that group/kind (and name,
// when the grant names one). Every near miss is a refusal.
import { describe, expect, it } from "vitest";
import type { ReferenceGrant, ReferenceGrantSpec } from "../../api/gateway-api.ts";
import { referencePermitted, type Reference } from "./reference-grants.ts";

const grant = (namespace: string, spec: ReferenceGrantSpec): ReferenceGrant => ({
  apiVersion: "gateway.networking.k8s.io/v1beta1",
  kind: "ReferenceGrant",
  metadata: { name: "g", namespace },
  spec,
});
const fromRoutes = (namespace: string): ReferenceGrantSpec["from"][number] => ({ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace });
const ref: Reference = { fromNamespace: "app", toNamespace: "backends", group: "", kind: "Service", name: "db" };

describe("referencePermitted", () => {
  it("needs no grant within one namespace", () => {
    expect(referencePermitted({ ...ref, toNamespace: "app" }, [])).toBe(true);
  });

  it("allows a grant for every Service of the namespace, and one naming the Service", () => {
    expect(referencePermitted(ref, [grant("backends", { from: [fromRoutes("app")], to: [{ group: "", kind: "Service" }] })])).toBe(true);
    expect(referencePermitted(ref, [grant("backends", { from: [fromRoutes("app")], to: [{ group: "", kind: "Service", name: "db" }] })])).toBe(true);
  });

  it.each([
    ["no grant at all", []],
    ["a grant in the route's namespace instead of the target's", [grant("app", { from: [fromRoutes("app")], to: [{ group: "", kind: "Service" }] })]],
    ["a grant for another source namespace", [grant("backends", { from: [fromRoutes("other")], to: [{ group: "", kind: "Service" }] })]],
    ["a grant for another Service name", [grant("backends", { from: [fromRoutes("app")], to: [{ group: "", kind: "Service", name: "cache" }] })]],
    ["a grant from GRPCRoutes", [grant("backends", { from: [{ group: "gateway.networking.k8s.io", kind: "GRPCRoute", namespace: "app" }], to: [{ group: "", kind: "Service" }] })]],
    ["a grant from HTTPRoutes of another group", [grant("backends", { from: [{ group: "example.com", kind: "HTTPRoute", namespace: "app" }], to: [{ group: "", kind: "Service" }] })]],
    ["a grant to Secrets", [grant("backends", { from: [fromRoutes("app")], to: [{ group: "", kind: "Secret" }] })]],
    ["a grant to a Service of another group", [grant("backends", { from: [fromRoutes("app")], to: [{ group: "example.com", kind: "Service" }] })]],
  ])("refuses with %s", (_why, grants) => {
    expect(referencePermitted(ref, grants)).toBe(false);
  });
});
