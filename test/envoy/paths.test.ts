// Paths as Istio's gateways see them, in real Envoy: the connection manager normalizes the path
// before the filter runs (Istio's default pathNormalization BASE, envoy/bootstrap.ts
// ISTIO_PATH_NORMALIZATION), so the filter matches, and a prefix rule guards, the path the
// backend receives (docs/envoy.md, "Path normalization"); and a path rewrite tells the backend
// the path before it in x-envoy-original-path, as Envoy's router does for its own rewrites.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNativeBootstrap } from "../../envoy/bootstrap.ts";
import { startEnvoy, type EnvoyProcess } from "../support/envoy.ts";
import { clusterName, startGateway, type Gateway } from "../support/gateway.ts";
import { jsonBody, request, type HttpResponse } from "../support/http.ts";
import { table, to, vhost } from "../support/tables.ts";
import type { Echo } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const VERSION = "sha256:paths-1";
const HOST = "productpage.test";
const REWRITE_HOST = "rewrite.test";
const OPS_HOST = "ops.test";

// Bookinfo's productpage routes, a prefix rewrite and a prefix rule that denies /admin.
const PATHS = table(VERSION, [
  vhost("paths/productpage", [HOST], [
    { match: [{ uri: { prefix: "/admin" } }], directResponse: { status: 403, body: "denied\n" } },
    { match: [{ uri: { prefix: "/productpage" } }, { uri: { prefix: "/static" } }], route: to("alpha") },
    { match: [{ uri: { prefix: "/old" } }], rewrite: { uri: "/new" }, route: to("beta") },
    { match: [{ uri: { prefix: "/public" } }], route: to("gamma") },
  ]),
  // Rewrites the Envoy-native bootstrap renders as prefix_rewrite (renderNativeRouteConfig).
  vhost("paths/rewrites", [REWRITE_HOST], [
    { match: [{ uri: { prefix: "/old" } }], rewrite: { uri: "/new" }, route: to("beta") },
    { match: [{ uri: { exact: "/full" } }], rewrite: { uri: "/replaced" }, route: to("beta") },
    { match: [{ uri: { prefix: "/same" } }], rewrite: { uri: "/same" }, route: to("beta") },
    { route: to("gamma") },
  ]),
  // A header operation cannot set x-envoy-original-path on a rewritten request (nor can Envoy's
  // request_headers_to_add on a native route with prefix_rewrite: the rewrite comes after).
  vhost("paths/ops", [OPS_HOST], [
    {
      match: [{ uri: { prefix: "/old" } }],
      headers: { request: { set: { "x-envoy-original-path": "/from-op" } } },
      rewrite: { uri: "/new" },
      route: to("beta"),
    },
    { headers: { request: { set: { "x-envoy-original-path": "/from-op" } } }, route: to("gamma") },
  ]),
]);

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ name: "paths", wasmPath: ensureCanalWasm(), services: ["alpha", "beta", "gamma"], table: PATHS });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
});

/** Where a routed request went and the path the backend received. */
function reached(res: HttpResponse): { status: number; upstream: string; path: string } {
  expect(res.status, res.body).toBe(200);
  const echo = jsonBody<Echo>(res);
  return { status: res.status, upstream: echo.upstream, path: echo.path };
}

describe("path normalization (Istio's BASE: normalize_path, no merge_slashes, escaped slashes kept)", () => {
  it("a percent-encoded unreserved character is decoded before routing: /%70roductpage is /productpage", async () => {
    expect(reached(await gw.send(HOST, "/%70roductpage"))).toEqual({ status: 200, upstream: "alpha", path: "/productpage" });
  });

  it("dot segments are resolved before routing: /static/../productpage reaches the backend as /productpage", async () => {
    expect(reached(await gw.send(HOST, "/static/../productpage?x=1"))).toEqual({ status: 200, upstream: "alpha", path: "/productpage?x=1" });
  });

  it("a rewrite applies to the normalized path: /status/../old/x becomes /new/x", async () => {
    expect(reached(await gw.send(HOST, "/status/../old/x"))).toEqual({ status: 200, upstream: "beta", path: "/new/x" });
  });

  it("a prefix rule cannot be sidestepped with .. or an encoded dot or letter", async () => {
    for (const path of ["/public/../admin/secret", "/public/%2E%2E/admin/secret", "/%61dmin/secret", "/public/./../admin"]) {
      const res = await gw.send(HOST, path, { headers: { "x-test-key": `sidestep ${path}` } });
      expect(res.status, path).toBe(403);
      expect(res.body).toBe("denied\n");
      expect(gw.upstream("gamma").attempts(`sidestep ${path}`)).toBe(0);
    }
  });

  it("an encoded slash and repeated slashes are kept as sent (Istio's BASE does not decode or merge them)", async () => {
    expect(reached(await gw.send(HOST, "/public%2F..%2Fadmin"))).toEqual({ status: 200, upstream: "gamma", path: "/public%2F..%2Fadmin" });
    expect(reached(await gw.send(HOST, "/public//x"))).toEqual({ status: 200, upstream: "gamma", path: "/public//x" });
  });
});

/** Every x-envoy-original-path the backend received, in order. */
function originalPaths(res: HttpResponse): string[] {
  const raw = jsonBody<Echo>(res).rawHeaders;
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i].toLowerCase() === "x-envoy-original-path") out.push(raw[i + 1]);
  return out;
}

/**
 * The same table as Envoy-native routes (envoy/bootstrap.ts renderNativeBootstrap: the bench's
 * comparison, with the same path normalization), on the same backends.
 */
describe("compared with Envoy-native routes", () => {
  let native: EnvoyProcess;

  beforeAll(async () => {
    native = await startEnvoy({
      name: "paths-native",
      config: renderNativeBootstrap({
        listenerPort: 0,
        adminPort: 0,
        table: PATHS,
        clusters: ["alpha", "beta", "gamma"].map((s) => ({ name: clusterName(s), host: "127.0.0.1", port: gw.upstream(s).port })),
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await native?.stop();
  });

  it("the native bootstrap normalizes too: /%70roductpage and /static/../productpage reach the backend as /productpage", async () => {
    for (const path of ["/%70roductpage", "/static/../productpage"]) {
      const res = await request({ port: native.port(), host: HOST, path });
      expect(reached(res), path).toEqual({ status: 200, upstream: "alpha", path: "/productpage" });
    }
  });

  // Envoy 1.40's router, on a route with prefix_rewrite or regex_rewrite, sets
  // x-envoy-original-path to the whole :path before the rewrite (query included, after
  // normalization), replacing a client's value; on a request it does not rewrite, a client's
  // value passes through (the connection manager does not strip it).
  it.each([
    ["/old/x?q=1", undefined, ["/old/x?q=1"]],
    ["/old/x", "/client", ["/old/x"]],
    ["/full?k=v", undefined, ["/full?k=v"]],
    ["/same/a", undefined, ["/same/a"]],
    ["/status/../old/x", undefined, ["/old/x"]],
    ["/plain", "/client", ["/client"]],
    ["/plain", undefined, []],
  ])("%s (client's x-envoy-original-path %s): the backend sees the same path and x-envoy-original-path %j", async (path, client, want) => {
    const headers: Record<string, string> = client === undefined ? {} : { "x-envoy-original-path": client };
    const viaNative = await request({ port: native.port(), host: REWRITE_HOST, path, headers });
    const viaCanal = await gw.send(REWRITE_HOST, path, { headers });
    expect(originalPaths(viaNative)).toEqual(want);
    expect({ ...reached(viaCanal), originalPaths: originalPaths(viaCanal) }).toEqual({ ...reached(viaNative), originalPaths: originalPaths(viaNative) });
  });
});

describe("x-envoy-original-path", () => {
  it("the rewrite sets it after the table's header operations; without a rewrite the operation's value stays", async () => {
    expect(originalPaths(await gw.send(OPS_HOST, "/old/x", { headers: { "x-envoy-original-path": "/client" } }))).toEqual(["/old/x"]);
    expect(originalPaths(await gw.send(OPS_HOST, "/plain"))).toEqual(["/from-op"]);
  });
});
