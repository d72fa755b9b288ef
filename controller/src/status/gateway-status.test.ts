import { describe, expect, it } from "vitest";
import type { GatewayApiGateway } from "../api/gateway-api.ts";
import { parseObject } from "../api/parse.ts";
import { desiredGatewayStatus } from "./gateway-status.ts";

function gateway(): GatewayApiGateway {
  const out = parseObject({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: "gw", namespace: "infra", generation: 3 },
    spec: {
      gatewayClassName: "canal",
      listeners: [
        { name: "http", port: 80, protocol: "HTTP" },
        { name: "https", port: 443, protocol: "HTTPS" },
        { name: "grpc", port: 80, protocol: "HTTP", hostname: "g.example.com", allowedRoutes: { kinds: [{ kind: "GRPCRoute" }] } },
      ],
    },
  });
  if (out.status !== "ok" || out.object.kind !== "Gateway" || !("gatewayClassName" in out.object.spec)) throw new Error("fixture");
  return out.object as GatewayApiGateway;
}
const NOW = new Date("2026-01-01T00:00:00Z");
const summary = (c: { type: string; status: string; reason: string }[]): string[] => c.map((x) => `${x.type}=${x.status} ${x.reason}`);

describe("desiredGatewayStatus", () => {
  it("Accepted and Programmed; per listener its kinds, attachedRoutes and conditions, with observedGeneration", () => {
    const s = desiredGatewayStatus(gateway(), { http: 2 }, true, undefined, NOW);
    expect(summary(s.conditions)).toEqual(["Accepted=True Accepted", "Programmed=True Programmed"]);
    expect(s.conditions.every((c) => c.observedGeneration === 3)).toBe(true);
    const [http, https, grpc] = s.listeners;
    expect(http).toMatchObject({ name: "http", attachedRoutes: 2, supportedKinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }] });
    expect(summary(http?.conditions ?? [])).toEqual(["Accepted=True Accepted", "Programmed=True Programmed", "ResolvedRefs=True ResolvedRefs", "Conflicted=False NoConflicts"]);
    expect(https).toMatchObject({ attachedRoutes: 0, supportedKinds: [] });
    expect(summary(https?.conditions ?? []).slice(0, 2)).toEqual(["Accepted=False UnsupportedProtocol", "Programmed=False Invalid"]);
    expect(grpc?.supportedKinds).toEqual([]);
    expect(summary(grpc?.conditions ?? [])[2]).toBe("ResolvedRefs=False InvalidRouteKinds");
  });

  it("Programmed=False Pending without an accepted InternalGateway; transition times kept while a status holds", () => {
    const pending = desiredGatewayStatus(gateway(), {}, false, undefined, NOW);
    expect(summary(pending.conditions)[1]).toBe("Programmed=False Pending");
    const later = desiredGatewayStatus(gateway(), {}, true, pending, new Date("2026-01-02T00:00:00Z"));
    expect(later.conditions[0]?.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
    expect(later.conditions[1]?.lastTransitionTime).toBe("2026-01-02T00:00:00Z");
  });
});
