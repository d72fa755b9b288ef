// Issue 12, finding 10: Canal matched only the first value of a repeated request header (the host's
// single-value call returns the first); a trailing-dot host was suspected of being matched
// differently from Envoy. The same routes run here as Canal's table in the filter and as native
// Envoy route config, both in real Envoy 1.40 with the HCM settings of Canal's gateway (Istio's
// path normalization; no strip_trailing_host_dot: neither Canal's bootstraps nor istiod's gateway
// set it), and every request must get the same answer from both. What Envoy 1.40 does, found
// here: a header matcher matches a repeated header when ANY of its values matches (not the values
// joined with ","; invert_match: when none does), and a trailing-dot host matches no domain
// (not "reviews.default.svc.cluster.local", not "*.example.com").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ISTIO_PATH_NORMALIZATION, type EnvoyConfig } from "../../envoy/bootstrap.ts";
import type { RouteTable } from "../../schema/route-table.ts";
import { send, startCanal } from "../emulator/canal.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { rawRequest } from "../support/http.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const FQDN = "reviews.default.svc.cluster.local";
const ok = (body: string): { directResponse: { status: number; body: string } } => ({ directResponse: { status: 200, body } });

const TABLE: RouteTable = {
  format: 1,
  version: "sha256:semantics-1",
  virtualHosts: [
    {
      name: "default/reviews",
      domains: [FQDN],
      routes: [
        { match: [{ headers: { "x-exact": { exact: "admin" } } }], ...ok("exact") },
        { match: [{ headers: { "x-prefix": { prefix: "admin" } } }], ...ok("prefix") },
        { match: [{ headers: { "x-regex": { regex: "admin,bob" } } }], ...ok("regex") },
        { match: [{ headers: { "x-present": { present: true } } }], ...ok("present") },
        { match: [{ uri: { prefix: "/without" }, withoutHeaders: { "x-without": { exact: "bob" } } }], ...ok("without") },
        ok("default"),
      ],
    },
    { name: "default/wild", domains: ["*.example.com"], routes: [ok("wild")] },
  ],
};

/** The same routes as native Envoy route configuration. */
function nativeRoutes(): EnvoyConfig {
  const direct = (body: string): EnvoyConfig => ({ direct_response: { status: 200, body: { inline_string: body } } });
  const header = (name: string, m: EnvoyConfig): EnvoyConfig => ({ name, ...m });
  return {
    name: "native",
    virtual_hosts: [
      {
        name: "reviews",
        domains: [FQDN],
        routes: [
          { match: { prefix: "/", headers: [header("x-exact", { string_match: { exact: "admin" } })] }, ...direct("exact") },
          { match: { prefix: "/", headers: [header("x-prefix", { string_match: { prefix: "admin" } })] }, ...direct("prefix") },
          { match: { prefix: "/", headers: [header("x-regex", { string_match: { safe_regex: { regex: "admin,bob" } } })] }, ...direct("regex") },
          { match: { prefix: "/", headers: [header("x-present", { present_match: true })] }, ...direct("present") },
          { match: { prefix: "/without", headers: [header("x-without", { string_match: { exact: "bob" }, invert_match: true })] }, ...direct("without") },
          { match: { prefix: "/" }, ...direct("default") },
        ],
      },
      { name: "wild", domains: ["*.example.com"], routes: [{ match: { prefix: "/" }, ...direct("wild") }] },
    ],
  };
}

function nativeBootstrap(): EnvoyConfig {
  return {
    node: { id: "native-semantics", cluster: "canal" },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [
        {
          name: "native",
          address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
          filter_chains: [{
            filters: [{
              name: "envoy.filters.network.http_connection_manager",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                stat_prefix: "native",
                route_config: nativeRoutes(),
                http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
                ...ISTIO_PATH_NORMALIZATION,
                // Canal's filter matches hosts without their port (docs/route-table.md).
                strip_any_host_port: true,
              },
            }],
          }],
        },
      ],
    },
  };
}

/** [name, host, path, extra header lines] */
const CASES: Array<[string, string, string, Array<[string, string]>]> = [
  ["one value, exact", FQDN, "/", [["x-exact", "admin"]]],
  ["repeated, exact: the first value matches", FQDN, "/", [["x-exact", "admin"], ["x-exact", "bob"]]],
  ["repeated, exact: a later value matches", FQDN, "/", [["x-exact", "bob"], ["x-exact", "admin"]]],
  ["repeated, prefix: a later value matches", FQDN, "/", [["x-prefix", "bob"], ["x-prefix", "admin-1"]]],
  ["repeated, regex: not against the joined values", FQDN, "/", [["x-regex", "admin"], ["x-regex", "bob"]]],
  ["repeated, one value with a comma", FQDN, "/", [["x-regex", "admin,bob"]]],
  ["present and empty", FQDN, "/", [["x-present", ""]]],
  ["repeated, withoutHeaders: a later value excludes", FQDN, "/without", [["x-without", "admin"], ["x-without", "bob"]]],
  ["repeated, withoutHeaders: no value excludes", FQDN, "/without", [["x-without", "admin"], ["x-without", "carol"]]],
  ["one value, withoutHeaders excludes", FQDN, "/without", [["x-without", "bob"]]],
  ["trailing dot", `${FQDN}.`, "/", [["x-exact", "admin"]]],
  ["trailing dot and port", `${FQDN}.:80`, "/", []],
  ["port", `${FQDN}:9080`, "/", [["x-exact", "admin"]]],
  ["upper case", FQDN.toUpperCase(), "/", []],
  ["wildcard", "a.example.com", "/", []],
  ["wildcard, trailing dot", "a.example.com.", "/", []],
];

function raw(host: string, path: string, headers: Array<[string, string]>): Buffer {
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...headers.map(([k, v]) => `${k}: ${v}`), "Connection: close", "", ""];
  return Buffer.from(lines.join("\r\n"), "latin1");
}

describe("Envoy's semantics in the filter (emulator)", () => {
  it("a value condition matches when any value of a repeated header does", async () => {
    const host = await startCanal(TABLE);
    const body = (h: Record<string, string>, extra: Array<[string, string]> = []): string | undefined => {
      const id = host.newHttpContext();
      host.requestHeaders(id, [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", FQDN], ...Object.entries(h), ...extra], true);
      const local = host.getLocalResponse(id);
      host.completeRequest(id);
      return local?.bodyText;
    };
    expect(body({ "x-exact": "admin" })).toBe("exact");
    expect(body({}, [["x-exact", "bob"], ["x-exact", "admin"]])).toBe("exact"); // was: only "bob" seen
    expect(body({}, [["x-regex", "admin"], ["x-regex", "bob"]])).toBe("default"); // not joined
    expect(body({}, [["x-without", "admin"], ["x-without", "bob"]])).toBe("default");
    expect(send(host, "/", { ":authority": FQDN }).local?.bodyText).toBe("default");
  }, 120_000);
});

describe("the filter and native Envoy route config agree (real Envoy 1.40)", () => {
  let gw: Gateway;
  let native: EnvoyProcess;
  beforeAll(async () => {
    gw = await startGateway({ name: "semantics", wasmPath: ensureCanalWasm(), services: [], probe: async () => (await rawRequest(gw.port, raw(FQDN, "/", []))).body.toString() === "default" });
    expect(await gw.apply(TABLE)).toBe("applied");
    native = await startEnvoy({ name: "semantics-native", config: nativeBootstrap() });
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    await native?.stop();
  });

  it.each(CASES)("%s", async (_name, host, path, headers) => {
    const [a, b] = await Promise.all([rawRequest(gw.port, raw(host, path, headers)), rawRequest(native.port("native"), raw(host, path, headers))]);
    const what = (r: { status: number; body: Buffer }): string => (r.status === 200 ? `200 ${r.body.toString()}` : String(r.status));
    expect(what(a)).toBe(what(b));
  }, 30_000);
});
