import { describe, expect, it } from "vitest";
import type { HTTPRoute } from "../api/gateway-api.ts";
import { parseObject } from "../api/parse.ts";
import type { Problem } from "../api/problem.ts";
import { desiredParents, GATEWAY_CONTROLLER_NAME } from "./httproute-status.ts";

function route(): HTTPRoute {
  const out = parseObject({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "r", namespace: "shop", generation: 4 },
    spec: {
      parentRefs: [{ group: "", kind: "Service", name: "cart" }, { name: "some-gateway" }, { group: "", kind: "Service", name: "pay", port: 80 }],
      rules: [{ backendRefs: [{ name: "cart", port: 80 }, { name: "gone", port: 80 }] }],
    },
  });
  if (out.status !== "ok" || out.object.kind !== "HTTPRoute") throw new Error("fixture");
  return out.object;
}
const problem = (field: string, reason: Problem["reason"]): Problem => ({ kind: "HTTPRoute", namespace: "shop", name: "r", field, reason, message: `${reason} here` });
const NOW = new Date("2026-01-01T00:00:00Z");

describe("desiredParents", () => {
  it("one entry per Service parentRef (Gateway parents are left to their controller), with observedGeneration", () => {
    const out = desiredParents(route(), [], true, [], NOW);
    expect(out.map((s) => s.parentRef.name)).toEqual(["cart", "pay"]);
    for (const s of out) {
      expect(s.controllerName).toBe(GATEWAY_CONTROLLER_NAME);
      expect(s.conditions.map((c) => `${c.type}=${c.status} ${c.reason} ${c.observedGeneration}`)).toEqual(["Accepted=True Accepted 4", "ResolvedRefs=True ResolvedRefs 4"]);
    }
  });

  it("a Gateway parent gets an entry when its Gateway is of a Canal GatewayClass (`served`)", () => {
    const served = new Set(["shop/some-gateway"]);
    const out = desiredParents(route(), [problem("spec.parentRefs[1]", "NoMatchingListenerHostname")], true, [], NOW, served);
    expect(out.map((s) => `${s.parentRef.name} ${s.conditions[0]?.status} ${s.conditions[0]?.reason}`)).toEqual(["cart True Accepted", "some-gateway False NoMatchingListenerHostname", "pay True Accepted"]);
    const partly = desiredParents(route(), [problem("spec.hostnames", "HostNotGranted")], true, [], NOW, served);
    expect(partly[1]?.conditions[0]?.reason, "a host left out is not a refusal of the parent").toBe("Accepted");
    expect(desiredParents(route(), [], true, [], NOW, new Set(["other/some-gateway"])).map((s) => s.parentRef.name)).toEqual(["cart", "pay"]);
  });

  it.each([
    ["NotAllowedByListeners", "NotAllowedByListeners"],
    ["NoMatchingListenerHostname", "NoMatchingListenerHostname"],
    ["NoMatchingParent", "NoMatchingParent"],
    ["UnsupportedValue", "UnsupportedValue"],
    ["HostNotOwned", "NotAllowedByListeners"],
    ["HostConflict", "NotAllowedByListeners"],
  ] as const)("a %s problem on the parentRef → Accepted=False %s, on that parent only", (reason, condition) => {
    const out = desiredParents(route(), [problem("spec.parentRefs[2]", reason)], true, [], NOW);
    expect(out.map((s) => `${s.parentRef.name} ${s.conditions[0]?.status} ${s.conditions[0]?.reason}`)).toEqual(["cart True Accepted", `pay False ${condition}`]);
    expect(out[1]?.conditions[0]?.message).toBe(`${reason}: ${reason} here`);
  });

  it("backend problems → ResolvedRefs=False, RefNotPermitted before InvalidKind before BackendNotFound", () => {
    const out = desiredParents(route(), [problem("spec.rules[0].backendRefs[1]", "BackendNotFound"), problem("spec.rules[0].backendRefs[0].namespace", "RefNotPermitted"), problem("spec.hostnames", "UnsupportedValue")], true, [], NOW);
    expect(out[0]?.conditions.map((c) => `${c.type}=${c.status} ${c.reason}`)).toEqual(["Accepted=True Accepted", "ResolvedRefs=False RefNotPermitted"]);
  });

  it("no accepted InternalGateway → Accepted=False Pending; transition times are kept while a condition holds", () => {
    const pending = desiredParents(route(), [], false, [], NOW);
    expect(pending[0]?.conditions[0]).toMatchObject({ status: "False", reason: "Pending", lastTransitionTime: "2026-01-01T00:00:00Z" });
    const later = desiredParents(route(), [], false, pending, new Date("2026-01-02T00:00:00Z"));
    expect(later[0]?.conditions[0]?.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    const accepted = desiredParents(route(), [], true, later, new Date("2026-01-03T00:00:00Z"));
    expect(accepted[0]?.conditions[0]).toMatchObject({ status: "True", lastTransitionTime: "2026-01-03T00:00:00Z" });
  });
});
