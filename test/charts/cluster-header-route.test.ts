// The chart's EnvoyFilter canal-cluster-header, rendered by real helm and exercised in real Envoy
// 1.40 with Canal's filter. In a cluster, istiod builds the gateways' routes from the Gateway and
// its VirtualServices and those routes never read x-canal-cluster; the EnvoyFilter prepends a
// cluster_header route to every virtual host and makes x-canal-cluster internal-only. Here an
// Envoy config shaped like istiod's (per-host virtual hosts whose routes send everything to
// cluster A) gets the patch values parsed from `helm template`, applied the way istiod applies
// them (pilot/pkg/networking/core/envoyfilter/rc_patch.go: ROUTE_CONFIGURATION MERGE is a proto
// merge; HTTP_ROUTE INSERT_FIRST without a route match prepends to every matching vhost), while
// the filter's table sends the host to cluster B. An authority rewrite reaches the route as
// x-canal-authority (host_rewrite_header), so Envoy still picks the virtual host by the client's host.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTHORITY_HEADER, CLUSTER_HEADER, renderCluster, renderWasmFilterConfig, type EnvoyConfig, type Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { clusterName } from "../support/gateway.ts";
import { request, type HttpResponse } from "../support/http.ts";
import type { KubeObject } from "../support/k8s.ts";
import { table, to, vhost } from "../support/tables.ts";
import { startUpstream, type Upstream } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { CONTROL_CHART, find, helm, SEED_CONTROL_SETS, sets, template } from "./helm.ts";

const NS = "istio-system";
const ROUTE_FILTER = "canal-cluster-header";
const ENVOYFILTER_SETS: Record<string, string> = { "global.hub": "registry.example/canal", "delivery.mode": "envoyfilter" };

type Obj = { [key: string]: Json };
interface ConfigPatch {
  applyTo: string;
  match?: { context?: string; routeConfiguration?: Obj };
  patch: { operation: string; value: Obj };
}

const patchesOf = (ef: KubeObject): ConfigPatch[] => (ef as unknown as { spec: { configPatches: ConfigPatch[] } }).spec.configPatches;
const selectorOf = (ef: KubeObject): unknown => (ef as unknown as { spec: { workloadSelector?: { labels?: unknown } } }).spec.workloadSelector?.labels;

/** Protobuf merge as istiod's merge.Merge does it: messages recursively, repeated fields appended, scalars replaced. */
function protoMerge(into: Obj, from: Obj): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (Array.isArray(v)) into[k] = [...(Array.isArray(cur) ? cur : []), ...structuredClone(v)];
    else if (v !== null && typeof v === "object" && cur !== null && typeof cur === "object" && !Array.isArray(cur)) protoMerge(cur as Obj, v as Obj);
    else into[k] = structuredClone(v);
  }
}

/**
 * What istiod does with an EnvoyFilter's route patches for a gateway's route configuration, for
 * the operations the chart uses (anything else fails loudly, so a changed chart cannot pass
 * through a harness that ignores it). `only` limits the patch kinds applied.
 */
function applyGatewayRoutePatches(routeConfig: Obj, patches: ConfigPatch[], only?: string): Obj {
  const out = structuredClone(routeConfig);
  const forGateway = patches.filter((p) => (only === undefined || p.applyTo === only) && ["GATEWAY", "ANY", undefined].includes(p.match?.context));
  for (const p of forGateway) {
    if (!["ROUTE_CONFIGURATION", "HTTP_ROUTE"].includes(p.applyTo)) throw new Error(`harness does not model applyTo ${p.applyTo}`);
    const rcMatch = p.match?.routeConfiguration ?? {};
    for (const key of Object.keys(rcMatch)) if (key !== "vhost") throw new Error(`harness does not model routeConfiguration.${key}`);
  }
  // istiod: every ROUTE_CONFIGURATION MERGE first, then the virtual hosts and their routes.
  for (const p of forGateway.filter((x) => x.applyTo === "ROUTE_CONFIGURATION")) {
    if (p.patch.operation !== "MERGE") throw new Error(`ROUTE_CONFIGURATION ${p.patch.operation}: istiod applies only MERGE`);
    protoMerge(out, p.patch.value);
  }
  for (const vh of out.virtual_hosts as Obj[]) {
    for (const p of forGateway.filter((x) => x.applyTo === "HTTP_ROUTE")) {
      const vhostMatch = (p.match?.routeConfiguration?.vhost ?? null) as Obj | null;
      if (vhostMatch !== null && Object.keys(vhostMatch).some((k) => k !== "name")) throw new Error("harness models only vhost.name matches");
      if (vhostMatch !== null && typeof vhostMatch.name === "string" && vhostMatch.name !== "" && vhostMatch.name !== vh.name) continue;
      if (p.patch.operation !== "INSERT_FIRST") throw new Error(`harness does not model HTTP_ROUTE ${p.patch.operation}`);
      vh.routes = [structuredClone(p.patch.value), ...((vh.routes as Json[]) ?? [])];
    }
  }
  return out;
}

const A = clusterName("a"); // istiod's choice for hello.test
const B = clusterName("b"); // the filter's choice for hello.test
const HELLO = "hello.test";

/** A gateway route configuration shaped like istiod's: one vhost per host plus a catch-all, every route to A. */
function istiodRouteConfig(): Obj {
  const toA = (name: string): Obj => ({ name, match: { prefix: "/" }, route: { cluster: A, timeout: "0s" } });
  return {
    name: "http.5000",
    validate_clusters: false,
    virtual_hosts: [
      { name: `${HELLO}:5000`, domains: [HELLO, `${HELLO}:*`], routes: [toA("istio-system/hello.http[0]")] },
      { name: "*:5000", domains: ["*"], routes: [toA("istio-system/catch-all.http[0]")] },
    ],
  };
}

/** The filter's table: hello.test → B (/auth also rewrites the authority); every other host is the filter's 404. */
const TABLE = table("cluster-header-route-1", [
  vhost("istio-system/hello", [HELLO], [
    { match: [{ uri: { prefix: "/auth" } }], rewrite: { authority: "elsewhere.test" }, route: to("b") },
    { route: to("b") },
  ]),
]);

function listener(name: string, routeConfig: Obj, withFilter: boolean, wasmPath: string): EnvoyConfig {
  const filters: Json[] = withFilter ? [{ name: "canal", typed_config: renderWasmFilterConfig(wasmPath, TABLE) }] : [];
  return {
    name,
    address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: name,
              // As istiod configures gateways; no internal_address_config (istiod sets one only
              // with ENABLE_HCM_INTERNAL_NETWORKS), so every client is external.
              use_remote_address: true,
              route_config: routeConfig as Json,
              http_filters: [...filters, { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
            },
          },
        ],
      },
    ],
  };
}

/** The route configuration with x-canal-authority added to the inserted route's request_headers_to_remove. */
function withAuthorityRemoved(routeConfig: Obj): Obj {
  const out = structuredClone(routeConfig);
  for (const vh of out.virtual_hosts as Obj[]) {
    for (const r of vh.routes as Obj[]) if (r.name === ROUTE_FILTER) r.request_headers_to_remove = [...(r.request_headers_to_remove as string[]), AUTHORITY_HEADER];
  }
  return out;
}

const upstreamOf = (res: HttpResponse): string | undefined => res.headers["x-upstream"] as string | undefined;
const seenHeaders = (res: HttpResponse): Record<string, unknown> => (JSON.parse(res.body) as { headers: Record<string, unknown> }).headers;

let wasmPlugin: KubeObject[];
let envoyFilter: KubeObject[];

beforeAll(async () => {
  [wasmPlugin, envoyFilter] = await Promise.all([
    template(CONTROL_CHART, "canal-control", NS, sets(SEED_CONTROL_SETS)),
    template(CONTROL_CHART, "canal-control", NS, sets(ENVOYFILTER_SETS)),
  ]);
}, 60_000);

describe("helm template: EnvoyFilter canal-cluster-header", () => {
  it("is rendered by default in both delivery modes, with the same patches, for the pods that get the filter", () => {
    const inWasmPluginMode = find(wasmPlugin, "EnvoyFilter", ROUTE_FILTER);
    const inEnvoyFilterMode = find(envoyFilter, "EnvoyFilter", ROUTE_FILTER);
    expect(inWasmPluginMode.metadata.namespace).toBe(NS);
    expect(patchesOf(inWasmPluginMode)).toEqual(patchesOf(inEnvoyFilterMode));
    expect(selectorOf(inWasmPluginMode)).toEqual({ app: "canal-gateway" }); // the InternalGateway's workloadSelector (the WasmPlugin's)
    expect(selectorOf(inEnvoyFilterMode)).toEqual({ app: "canal-gateway" }); // ecds.gatewaySelector (canal-ecds's)
    const patches = patchesOf(inWasmPluginMode);
    expect(patches.map((p) => [p.applyTo, p.match?.context, p.patch.operation])).toEqual([
      ["ROUTE_CONFIGURATION", "GATEWAY", "MERGE"],
      ["HTTP_ROUTE", "GATEWAY", "INSERT_FIRST"],
    ]);
    // No routeConfiguration/vhost/route match: istiod prepends the route to every virtual host.
    expect(patches.every((p) => p.match?.routeConfiguration === undefined)).toBe(true);
    expect(patches[1].patch.value).toEqual({
      name: ROUTE_FILTER,
      match: { prefix: "/", headers: [{ name: CLUSTER_HEADER, present_match: true }] },
      route: { cluster_header: CLUSTER_HEADER, host_rewrite_header: AUTHORITY_HEADER, timeout: "0s" },
      request_headers_to_remove: [CLUSTER_HEADER],
    });
    expect(patches[0].patch.value).toEqual({ internal_only_headers: [CLUSTER_HEADER, AUTHORITY_HEADER] });
  });

  it("follows the selectors: the default InternalGateway's and ecds.gatewaySelector, or routing.gatewaySelector", async () => {
    const custom = await template(CONTROL_CHART, "canal-control", NS, [...sets(SEED_CONTROL_SETS), "--set", "internalGateway.workloadSelector.matchLabels.app=east-west"]);
    expect(selectorOf(find(custom, "EnvoyFilter", ROUTE_FILTER))).toEqual({ app: "east-west" });
    const ecds = await template(CONTROL_CHART, "canal-control", NS, [...sets(ENVOYFILTER_SETS), "--set", "ecds.gatewaySelector.app=gw-ecds"]);
    expect(selectorOf(find(ecds, "EnvoyFilter", ROUTE_FILTER))).toEqual({ app: "gw-ecds" });
    expect(selectorOf(find(ecds, "EnvoyFilter", "canal-ecds"))).toEqual({ app: "gw-ecds" });
    const explicit = await template(CONTROL_CHART, "canal-control", NS, [...sets(SEED_CONTROL_SETS), "--set", "routing.gatewaySelector.tier=east-west"]);
    expect(selectorOf(find(explicit, "EnvoyFilter", ROUTE_FILTER))).toEqual({ tier: "east-west" });
  });

  it("is not rendered with routing.clusterHeaderRoute=false (either mode)", async () => {
    for (const base of [SEED_CONTROL_SETS, ENVOYFILTER_SETS]) {
      const objects = await template(CONTROL_CHART, "canal-control", NS, sets({ ...base, "routing.clusterHeaderRoute": "false" }));
      expect(objects.some((o) => o.kind === "EnvoyFilter" && o.metadata.name === ROUTE_FILTER)).toBe(false);
    }
  });

  it("refuses an empty selector (in Istio's root namespace it would patch every gateway) and a mistyped value", async () => {
    const empty = await helm(["template", "x", CONTROL_CHART, "-n", NS, ...sets(ENVOYFILTER_SETS), "--set", "ecds.gatewaySelector=null"]);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain("routing.clusterHeaderRoute needs gateway pod labels");
    const typo = await helm(["template", "x", CONTROL_CHART, "-n", NS, ...sets(SEED_CONTROL_SETS), "--set", "routing.clusterHeaderRoute=yes"]);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain("/routing/clusterHeaderRoute");
  });
});

describe("real Envoy 1.40 with Canal's filter and an istiod-shaped route configuration", () => {
  let envoy: EnvoyProcess;
  let a: Upstream;
  let b: Upstream;

  beforeAll(async () => {
    const wasmPath = ensureCanalWasm();
    [a, b] = await Promise.all([startUpstream("a"), startUpstream("b")]);
    // The patch values come from the rendered chart (WasmPlugin mode; the EnvoyFilter-mode
    // patches are equal, see above).
    const patches = patchesOf(find(wasmPlugin, "EnvoyFilter", ROUTE_FILTER));
    const istiod = istiodRouteConfig();
    envoy = await startEnvoy({
      name: "cluster-header-route",
      config: {
        admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
        static_resources: {
          listeners: [
            listener("patched", applyGatewayRoutePatches(istiod, patches), true, wasmPath),
            listener("unpatched", istiod, true, wasmPath),
            // istiod's config for VirtualServices with named hosts only: no "*" virtual host.
            listener("patched-named-hosts", applyGatewayRoutePatches({ ...istiod, virtual_hosts: [(istiod.virtual_hosts as Obj[])[0]] }, patches), true, wasmPath),
            // The filter did not run (e.g. a WasmPlugin istio-agent could not fetch, fail-open).
            listener("patched-no-filter", applyGatewayRoutePatches(istiod, patches), false, wasmPath),
            listener("route-only-no-filter", applyGatewayRoutePatches(istiod, patches, "HTTP_ROUTE"), false, wasmPath),
            // The route without the MERGE, with the filter: a client's x-canal-authority reaches
            // the filter, so what the upstream sees is the filter's doing alone.
            listener("route-only", applyGatewayRoutePatches(istiod, patches, "HTTP_ROUTE"), true, wasmPath),
            // Why the patch cannot also remove x-canal-authority: with it in the route's
            // request_headers_to_remove, Envoy removes it before the host rewrite reads it.
            listener("patched-removing-authority", withAuthorityRemoved(applyGatewayRoutePatches(istiod, patches)), true, wasmPath),
          ],
          clusters: [renderCluster({ name: A, host: "127.0.0.1", port: a.port }), renderCluster({ name: B, host: "127.0.0.1", port: b.port })],
        },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await envoy?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  const send = (listenerName: string, host: string, headers: Record<string, string> = {}, path = "/hello"): Promise<HttpResponse> =>
    request({ port: envoy.port(listenerName), host, path, headers });

  it("with the patch the request goes to the filter's cluster (B), and x-canal-cluster does not leave the gateway", async () => {
    const res = await send("patched", HELLO);
    expect(res.status, envoy.logTail()).toBe(200);
    expect(upstreamOf(res)).toBe("b");
    expect(seenHeaders(res)[CLUSTER_HEADER]).toBeUndefined();
  });

  it("without the patch istiod's route wins (A) although the filter chose B: the gap the patch closes", async () => {
    const res = await send("unpatched", HELLO);
    expect(res.status, envoy.logTail()).toBe(200);
    expect(upstreamOf(res)).toBe("a");
    expect(seenHeaders(res)[CLUSTER_HEADER]).toBe(B); // the filter ran and chose B; the router ignored it
  });

  it("a client-sent x-canal-cluster naming A cannot override the filter: still B", async () => {
    const res = await send("patched", HELLO, { [CLUSTER_HEADER]: A });
    expect(res.status, envoy.logTail()).toBe(200);
    expect(upstreamOf(res)).toBe("b");
  });

  it("a host the filter does not know gets the filter's local 404, not istiod's catch-all route to A", async () => {
    const before = a.requests.length;
    for (const headers of [{}, { [CLUSTER_HEADER]: A }] as Record<string, string>[]) {
      const res = await send("patched", "unknown.test", headers);
      expect(res.status).toBe(404);
      expect(res.body).toContain('canal: no route for host "unknown.test"');
      expect(res.headers["x-canal-table"]).toBe(TABLE.version);
    }
    expect(a.requests.length).toBe(before);
    // The same host without the filter's verdict would have reached A through istiod's route.
    expect(upstreamOf(await send("patched-no-filter", "unknown.test"))).toBe("a");
  });

  it("when the filter does not run, a client-sent x-canal-cluster is stripped (internal_only_headers): istiod's route, never the client's pick", async () => {
    const res = await send("patched-no-filter", HELLO, { [CLUSTER_HEADER]: B });
    expect(res.status, envoy.logTail()).toBe(200);
    expect(upstreamOf(res)).toBe("a");
    expect(seenHeaders(res)[CLUSTER_HEADER]).toBeUndefined();
    // Without the ROUTE_CONFIGURATION merge the inserted route would obey the client: this is what the merge prevents.
    const spoofed = await send("route-only-no-filter", HELLO, { [CLUSTER_HEADER]: B });
    expect(upstreamOf(spoofed)).toBe("b");
  });

  it("an authority rewrite reaches the filter's cluster with the new Host, also where the new host has no virtual host (istiod's named hosts only)", async () => {
    for (const name of ["patched", "patched-named-hosts"]) {
      const res = await send(name, HELLO, {}, "/auth");
      expect(res.status, `${name}\n${envoy.logTail()}`).toBe(200);
      expect(upstreamOf(res)).toBe("b");
      const seen = seenHeaders(res);
      expect(seen.host).toBe("elsewhere.test");
      expect(seen["x-forwarded-host"]).toBeUndefined();
      expect(seen[CLUSTER_HEADER]).toBeUndefined();
      // Removed before the host rewrite if listed in request_headers_to_remove (see below), so it
      // reaches the upstream on rewritten requests, equal to the Host.
      expect(seen[AUTHORITY_HEADER]).toBe("elsewhere.test");
      const plain = await send(name, HELLO);
      expect(upstreamOf(plain)).toBe("b");
      expect(seenHeaders(plain).host).toBe(HELLO);
      expect(seenHeaders(plain)[AUTHORITY_HEADER]).toBeUndefined();
    }
  });

  it("a client-sent x-canal-authority never sets the upstream Host: stripped by the MERGE, and removed or replaced by the filter", async () => {
    const spoof = { [AUTHORITY_HEADER]: "evil.test" };
    for (const name of ["patched", "patched-named-hosts", "route-only"]) {
      const plain = await send(name, HELLO, spoof);
      expect(upstreamOf(plain), name).toBe("b");
      expect(seenHeaders(plain).host, name).toBe(HELLO);
      expect(seenHeaders(plain)[AUTHORITY_HEADER], name).toBeUndefined();
      const rewritten = await send(name, HELLO, spoof, "/auth");
      expect(upstreamOf(rewritten), name).toBe("b");
      expect(seenHeaders(rewritten).host, name).toBe("elsewhere.test");
    }
    // Without the filter and without the MERGE, the inserted route would obey a client's pair.
    const noFilter = await send("route-only-no-filter", HELLO, { ...spoof, [CLUSTER_HEADER]: B });
    expect(upstreamOf(noFilter)).toBe("b");
    expect(seenHeaders(noFilter).host).toBe("evil.test");
    // With the MERGE it is stripped: istiod's route, the client's Host.
    const merged = await send("patched-no-filter", HELLO, { ...spoof, [CLUSTER_HEADER]: B });
    expect(upstreamOf(merged)).toBe("a");
    expect(seenHeaders(merged).host).toBe(HELLO);
    expect(seenHeaders(merged)[AUTHORITY_HEADER]).toBeUndefined();
  });

  it("x-canal-authority cannot be in the route's request_headers_to_remove: Envoy removes it before host_rewrite_header reads it", async () => {
    const res = await send("patched-removing-authority", HELLO, {}, "/auth");
    expect(res.status, envoy.logTail()).toBe(200);
    expect(upstreamOf(res)).toBe("b");
    expect(seenHeaders(res).host).toBe(HELLO); // the rewrite is lost
    expect(seenHeaders(res)[AUTHORITY_HEADER]).toBeUndefined();
  });

  it("without the patch the authority rewrite is not applied either: istiod's route has no host_rewrite_header", async () => {
    const res = await send("unpatched", HELLO, {}, "/auth");
    expect(upstreamOf(res)).toBe("a");
    expect(seenHeaders(res).host).toBe(HELLO);
  });
});
