import { describe, expect, it } from "vitest";
import type { RouteTable } from "../../../../schema/route-table.ts";
import { assembleTable } from "../../translate/assemble-table.ts";
import { drainVirtualHost, virtualHostFor, withDraining } from "./drain.ts";
import { decide, type DecideInput, type GatewayDnsInput } from "./gating.ts";
import { dnsNameError } from "./names.ts";
import { renderHosts, renderSnippet } from "./render.ts";
import { emptyState, parseState, serializeState } from "./state.ts";

const NOW = new Date("2026-11-26T02:00:00.500Z");
const WEB = { fqdn: "web.shop.svc.cluster.local", namespace: "shop", name: "web", ports: [80] };

function gw(over: Partial<GatewayDnsInput> = {}): GatewayDnsInput {
  return {
    key: "istio-system/canal",
    accepted: true,
    plan: [WEB],
    serverPorts: [80],
    gatewayName: "istio-system/canal",
    service: { namespace: "istio-system", name: "canal-gateway", ports: [80], addresses: ["10.96.9.9", "fd00::9"] },
    readyEndpoints: 2,
    pods: [
      { pod: "istio-system/gw-a", address: "10.1.0.1", version: "v1" },
      { pod: "istio-system/gw-b", address: "10.1.0.2", version: "v1" },
    ],
    tableNames: new Map([["v0", new Set<string>()], ["v1", new Set([WEB.fqdn])]]),
    deliveryReason: "Acknowledged",
    deliveryMessage: "all 1 gateways run table v1",
    ...over,
  };
}

function input(over: Partial<DecideInput> = {}): DecideInput {
  return { gateways: [gw()], optedOut: new Map(), current: emptyState(), leavingVirtualHosts: new Map(), now: NOW, drainSeconds: 30, ...over };
}

describe("gating", () => {
  it("redirects a planned name when all three conditions hold, with both address families", () => {
    const d = decide(input());
    expect(d.state.entries).toEqual([{ fqdn: WEB.fqdn, gateway: "istio-system/canal", addresses: ["10.96.9.9", "fd00::9"] }]);
    expect(d.added).toEqual([WEB.fqdn]);
    expect(d.statuses.get("istio-system/canal")?.[0]?.state).toBe("Redirected");
  });

  it.each([
    ["GatewayNotReady", { readyEndpoints: 0 }],
    ["PortsNotExposed", { serverPorts: [8080] }],
    ["PortsNotExposed", { service: { namespace: "istio-system", name: "canal-gateway", ports: [8080], addresses: ["10.96.9.9"] } }],
    ["RoutesNotServed", { pods: [{ pod: "istio-system/gw-a", address: "10.1.0.1", version: "v0" }, { pod: "istio-system/gw-b", address: "10.1.0.2", version: "v1" }] }],
    ["GatewayNoAddress", { service: { namespace: "istio-system", name: "canal-gateway", ports: [80], addresses: [] } }],
  ] as const)("keeps DNS unchanged and says %s when that condition is unmet", (reason, over) => {
    const d = decide(input({ gateways: [gw(over as Partial<GatewayDnsInput>)] }));
    expect(d.state.entries).toEqual([]);
    const s = d.statuses.get("istio-system/canal")?.[0];
    expect(s?.state).toBe("Pending");
    expect(s?.reason).toBe(reason);
  });

  it.each([
    ["an old table", { version: "v0" }, "runs table v0, which does not route web.shop.svc.cluster.local"],
    ["a version this controller did not build", { version: "forged" }, "runs table forged, which is not one this controller built recently"],
    ["no table", { error: "has no route table yet (the probe answered 503)" }, "has no route table yet"],
    ["no answer", {}, "has not answered the probe yet"],
  ] as const)("keeps a name pending while one ready pod serves %s, naming that pod", (_what, b, text) => {
    const d = decide(input({ gateways: [gw({ pods: [{ pod: "istio-system/gw-a", address: "10.1.0.1", version: "v1" }, { pod: "istio-system/gw-b", address: "10.1.0.2", ...b }] })] }));
    expect(d.state.entries).toEqual([]);
    const s = d.statuses.get("istio-system/canal")?.[0];
    expect(s?.reason).toBe("RoutesNotServed");
    expect(s?.message).toContain(`pod istio-system/gw-b (10.1.0.2) ${text}`);
    expect(s?.message).not.toContain("gw-a");
  });

  it("a ready endpoint without a probe result keeps names pending", () => {
    const d = decide(input({ gateways: [gw({ readyEndpoints: 3 })] }));
    expect(d.state.entries).toEqual([]);
    expect(d.statuses.get("istio-system/canal")?.[0]?.message).toContain("1 ready endpoints have no probe result");
  });

  it("names both the Gateway and the gateway Service when ports are missing on each", () => {
    const d = decide(input({ gateways: [gw({ serverPorts: [81], service: { namespace: "istio-system", name: "canal-gateway", ports: [82], addresses: ["10.96.9.9"] } })] }));
    const m = d.statuses.get("istio-system/canal")?.[0]?.message ?? "";
    expect(m).toContain("Gateway istio-system/canal has no HTTP server on port 80");
    expect(m).toContain("gateway Service istio-system/canal-gateway does not expose port 80");
  });

  it("keeps a redirected name while a newer table is pending, but drops it when the gateway has no endpoints", () => {
    const current = decide(input()).state;
    expect(decide(input({ current, gateways: [gw({ pods: [{ pod: "istio-system/gw-a", address: "10.1.0.1", version: "v0" }] })] })).state.entries).toHaveLength(1);
    const down = decide(input({ current, gateways: [gw({ readyEndpoints: 0 })] }));
    expect(down.state.entries).toEqual([]);
    expect(down.removed).toEqual([WEB.fqdn]);
    expect(down.state.draining).toEqual([{ fqdn: WEB.fqdn, gateway: "istio-system/canal", until: "2026-11-26T02:00:30Z" }]);
    expect(down.statuses.get("istio-system/canal")?.[0]?.state).toBe("Draining");
  });

  it("opt-out keeps the name out and says which object opted out", () => {
    const d = decide(input({ optedOut: new Map([[WEB.fqdn, "opted out by the annotation canal.io/dns-redirect=false on Service shop/web"]]) }));
    expect(d.state.entries).toEqual([]);
    expect(d.statuses.get("istio-system/canal")?.[0]).toMatchObject({ state: "OptedOut", reason: "OptedOut" });
  });

  it("never writes a name that is not DNS-1123, whatever the plan says", () => {
    const bad = { fqdn: "a } evil {.shop.svc.cluster.local", namespace: "shop", name: "a } evil {", ports: [80] };
    const d = decide(input({ gateways: [gw({ plan: [bad, WEB] })] }));
    expect(d.state.entries.map((e) => e.fqdn)).toEqual([WEB.fqdn]);
    expect(d.rejected).toHaveLength(1);
    expect(() => renderHosts([{ fqdn: "x\nevil", gateway: "a/b", addresses: ["1.2.3.4"] }], "kube-system/canal-dns")).toThrow(/refusing/);
    expect(() => renderHosts([{ fqdn: "x.y", gateway: "a/b", addresses: ["1.2.3.4 evil"] }], "kube-system/canal-dns")).toThrow(/refusing/);
  });

  it("drain records expire and are kept with their deadline across decisions (restart-safe)", () => {
    const current = decide(input()).state;
    const gone = decide(input({ current, gateways: [gw({ plan: [] })] })).state;
    const later = decide(input({ current: gone, gateways: [gw({ plan: [] })], now: new Date(NOW.getTime() + 10_000) })).state;
    expect(serializeState(later)).toBe(serializeState(gone));
    const expired = decide(input({ current: gone, gateways: [gw({ plan: [] })], now: new Date(NOW.getTime() + 31_000) })).state;
    expect(expired.draining).toEqual([]);
  });

  it("never keeps a stored drain deadline beyond now + --dns-drain (a hand edit cannot pin routes)", () => {
    const edited = { entries: [], draining: [{ fqdn: WEB.fqdn, gateway: "istio-system/canal", until: "2036-01-01T00:00:00Z" }] };
    expect(decide(input({ current: edited, gateways: [gw({ plan: [] })] })).state.draining[0]?.until).toBe("2026-11-26T02:00:30Z");
  });

  it("is deterministic: the same input gives the same bytes", () => {
    const a = serializeState(decide(input()).state);
    const b = serializeState(decide(input({ gateways: [gw({ plan: [WEB] })] })).state);
    expect(a).toBe(b);
  });
});

describe("state and rendering", () => {
  it("round-trips and drops invalid records from a hand-edited state", () => {
    const s = decide(input()).state;
    expect(parseState(serializeState(s)).state).toEqual(s);
    const edited = JSON.stringify({ format: 1, entries: [{ fqdn: "a } evil {", gateway: "a/b", addresses: ["1.2.3.4"] }, ...s.entries], draining: [] });
    const p = parseState(edited);
    expect(p.state.entries).toEqual(s.entries);
    expect(p.errors).toHaveLength(1);
    expect(parseState("not json").state).toEqual(emptyState());
  });

  it("renders the hosts file and snippet from validated input only", () => {
    expect(renderHosts(decide(input()).state.entries, "kube-system/canal-dns").split("\n").filter((l) => !l.startsWith("#"))).toEqual([
      "10.96.9.9 web.shop.svc.cluster.local",
      "fd00::9 web.shop.svc.cluster.local",
      "",
    ]);
    const snippet = renderSnippet({ mountPath: "/etc/coredns/canal", zone: "cluster.local", ttlSeconds: 5, reloadSeconds: 1, configMap: "kube-system/canal-dns" });
    expect(snippet).toContain("hosts /etc/coredns/canal/canal.hosts cluster.local {");
    expect(snippet).toContain("    ttl 5\n");
    expect(() => renderSnippet({ mountPath: "/x } evil {", zone: "cluster.local", ttlSeconds: 5, reloadSeconds: 1, configMap: "a/b" })).toThrow();
    expect(dnsNameError("Web.shop")).not.toBeNull();
    expect(dnsNameError("web.shop.svc.cluster.local")).toBeNull();
  });
});

describe("drain", () => {
  const route = { name: "r", route: [{ cluster: "outbound|80||web.shop.svc.cluster.local", weight: 100 }] };
  const old: RouteTable = assembleTable([{ name: "istio-system/web", domains: ["*"], routes: [route] }], []);

  it("finds the virtual host the filter would pick and keeps its routes for the service's names", () => {
    expect(virtualHostFor(old, WEB.fqdn)?.name).toBe("istio-system/web");
    const vh = drainVirtualHost(old, WEB.fqdn);
    expect(vh?.domains).toEqual([WEB.fqdn, "web.shop.svc", "web.shop", "web"]);
    const empty = assembleTable([], []);
    const merged = withDraining(empty, "istio-system/canal", [{ fqdn: WEB.fqdn, gateway: "istio-system/canal", until: "2026-11-26T02:00:30Z", virtualHost: vh! }], NOW.getTime(), new Set());
    expect(merged.virtualHosts.map((v) => v.name)).toEqual([`drain/${WEB.fqdn}`]);
    expect(merged.version).not.toBe(empty.version);
    // after the deadline, or back in the plan, or another gateway: nothing added
    expect(withDraining(empty, "istio-system/canal", [{ fqdn: WEB.fqdn, gateway: "istio-system/canal", until: "2026-11-26T02:00:00Z", virtualHost: vh! }], NOW.getTime(), new Set())).toBe(empty);
    expect(withDraining(empty, "other/gw", [{ fqdn: WEB.fqdn, gateway: "istio-system/canal", until: "2026-11-26T02:00:30Z", virtualHost: vh! }], NOW.getTime(), new Set())).toBe(empty);
    // a stored virtual host cannot claim other names
    const wide = { ...vh!, domains: ["*", "other.ns.svc.cluster.local", WEB.fqdn] };
    const m1 = withDraining(empty, "istio-system/canal", [{ fqdn: WEB.fqdn, gateway: "istio-system/canal", until: "2026-11-26T02:00:30Z", virtualHost: wide }], NOW.getTime(), new Set());
    expect(m1.virtualHosts[0]?.domains).toEqual([WEB.fqdn]);
    // domains the new table serves stay with it
    const now = assembleTable([{ name: "x", domains: ["web.shop"], routes: [] }], []);
    const m2 = withDraining(now, "istio-system/canal", [{ fqdn: WEB.fqdn, gateway: "istio-system/canal", until: "2026-11-26T02:00:30Z", virtualHost: vh! }], NOW.getTime(), new Set());
    expect(m2.virtualHosts[1]?.domains).toEqual([WEB.fqdn, "web.shop.svc", "web"]);
  });
});
