// The chart's EnvoyFilter canal-cluster-header as `helm template` renders it. It replaces, in the
// gateways' HTTP connection managers, istiod's RDS with Canal's own route configuration
// (envoy/bootstrap.ts canalRouteConfig): one catch-all virtual host whose one route forwards by
// x-canal-cluster. What istiod and Envoy make of it is tested against a real istiod in
// test/istio (wasmplugin-mode, envoyfilter-mode, seed); here: the rendered patch itself, that it
// is the bootstrap's route configuration byte for byte, and its selectors.
import { beforeAll, describe, expect, it } from "vitest";
import { canalRouteConfig, type Json } from "../../envoy/bootstrap.ts";
import type { KubeObject } from "../support/k8s.ts";
import { CONTROL_CHART, find, helm, SEED_CONTROL_SETS, sets, template } from "./helm.ts";

const NS = "istio-system";
const ROUTE_FILTER = "canal-cluster-header";
const ENVOYFILTER_SETS: Record<string, string> = { "global.hub": "registry.example/canal", "delivery.mode": "envoyfilter" };
const HCM = "envoy.filters.network.http_connection_manager";

type Obj = { [key: string]: Json };
interface ConfigPatch {
  applyTo: string;
  match?: { context?: string; listener?: Obj; routeConfiguration?: Obj };
  patch: { operation: string; value: Obj };
}

const patchesOf = (ef: KubeObject): ConfigPatch[] => (ef as unknown as { spec: { configPatches: ConfigPatch[] } }).spec.configPatches;
const selectorOf = (ef: KubeObject): unknown => (ef as unknown as { spec: { workloadSelector?: { labels?: unknown } } }).spec.workloadSelector?.labels;

let wasmPlugin: KubeObject[];
let envoyFilter: KubeObject[];

beforeAll(async () => {
  [wasmPlugin, envoyFilter] = await Promise.all([
    template(CONTROL_CHART, "canal-control", NS, sets(SEED_CONTROL_SETS)),
    template(CONTROL_CHART, "canal-control", NS, sets(ENVOYFILTER_SETS)),
  ]);
}, 60_000);

describe("helm template: EnvoyFilter canal-cluster-header", () => {
  it("is rendered by default in both delivery modes, with the same patch, for the pods that get the filter", () => {
    const inWasmPluginMode = find(wasmPlugin, "EnvoyFilter", ROUTE_FILTER);
    const inEnvoyFilterMode = find(envoyFilter, "EnvoyFilter", ROUTE_FILTER);
    expect(inWasmPluginMode.metadata.namespace).toBe(NS);
    expect(patchesOf(inWasmPluginMode)).toEqual(patchesOf(inEnvoyFilterMode));
    expect(selectorOf(inWasmPluginMode)).toEqual({ app: "canal-gateway" }); // the InternalGateway's workloadSelector (the WasmPlugin's)
    expect(selectorOf(inEnvoyFilterMode)).toEqual({ app: "canal-gateway" }); // ecds.gatewaySelector (canal-ecds's)
    const patches = patchesOf(inWasmPluginMode);
    // One MERGE into every HTTP connection manager of the gateway (no port or route match).
    expect(patches.map((p) => [p.applyTo, p.match?.context, p.patch.operation])).toEqual([["NETWORK_FILTER", "GATEWAY", "MERGE"]]);
    expect(patches[0].match?.listener).toEqual({ filterChain: { filter: { name: HCM } } });
  });

  it("sets route_config to Canal's bootstrap route configuration, exactly (one catch-all virtual host, the cluster_header route)", () => {
    const value = patchesOf(find(wasmPlugin, "EnvoyFilter", ROUTE_FILTER))[0].patch.value;
    expect(value.name).toBe(HCM);
    const typed = value.typed_config as Obj;
    expect(typed["@type"]).toBe("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
    // Only route_config: a MERGE appends repeated fields (http_filters) and replaces scalars, so
    // nothing else of istiod's connection manager may be touched by this patch.
    expect(Object.keys(typed).sort()).toEqual(["@type", "route_config"]);
    expect(typed.route_config).toEqual(canalRouteConfig());
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
