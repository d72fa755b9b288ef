// Paths as Istio's gateways see them, in real Envoy: the connection manager normalizes the path
// before the filter runs (Istio's default pathNormalization BASE, envoy/bootstrap.ts
// ISTIO_PATH_NORMALIZATION), so the filter matches, and a prefix rule guards, the path the
// backend receives (docs/envoy.md, "Path normalization").

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

// Bookinfo's productpage routes, a prefix rewrite and a prefix rule that denies /admin.
const PATHS = table(VERSION, [
  vhost("paths/productpage", [HOST], [
    { match: [{ uri: { prefix: "/admin" } }], directResponse: { status: 403, body: "denied\n" } },
    { match: [{ uri: { prefix: "/productpage" } }, { uri: { prefix: "/static" } }], route: to("alpha") },
    { match: [{ uri: { prefix: "/old" } }], rewrite: { uri: "/new" }, route: to("beta") },
    { match: [{ uri: { prefix: "/public" } }], route: to("gamma") },
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

describe("the Envoy-native comparison bootstrap (bench) normalizes the same way", () => {
  let native: EnvoyProcess;
  const routesOnly = table("sha256:paths-native", [
    vhost("paths/productpage", [HOST], [{ match: [{ uri: { prefix: "/productpage" } }, { uri: { prefix: "/static" } }], route: to("alpha") }]),
  ]);

  beforeAll(async () => {
    const alpha = gw.upstream("alpha");
    native = await startEnvoy({
      name: "paths-native",
      config: renderNativeBootstrap({
        listenerPort: 0,
        adminPort: 0,
        table: routesOnly,
        clusters: [{ name: clusterName("alpha"), host: "127.0.0.1", port: alpha.port }],
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await native?.stop();
  });

  it("/%70roductpage and /static/../productpage reach the backend as /productpage", async () => {
    for (const path of ["/%70roductpage", "/static/../productpage"]) {
      const res = await request({ port: native.port(), host: HOST, path });
      expect(reached(res), path).toEqual({ status: 200, upstream: "alpha", path: "/productpage" });
    }
  });
});
