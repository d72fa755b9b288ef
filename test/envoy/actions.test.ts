// Canal's filter in real Envoy: actions (single cluster, weighted split, redirect, direct
// response), rewrites, header operations, and that a client cannot choose the cluster itself
// (docs/route-table.md, "Actions", "Modifiers").

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterName, startGateway, type Gateway } from "../support/gateway.ts";
import { headerValues, jsonBody, keepAliveAgent, request } from "../support/http.ts";
import { table, to, vhost } from "../support/tables.ts";
import type { Echo } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const VERSION = "sha256:actions-1";

const ACTIONS = table(VERSION, [
  vhost("act/single", ["single.test"], [{ match: [{ uri: { prefix: "/" } }], route: to("alpha") }]),
  vhost("act/weighted", ["weighted.test"], [
    {
      route: [
        { cluster: clusterName("alpha"), weight: 70 },
        { cluster: clusterName("beta"), weight: 30 },
        { cluster: clusterName("gamma"), weight: 0 },
      ],
    },
  ]),
  vhost("act/unrouted", ["unrouted.test"], [{ route: [{ cluster: clusterName("alpha"), weight: 3 }], unroutedWeight: 1 }]),
  vhost("act/redirect", ["redirect.test"], [
    { match: [{ uri: { prefix: "/r1" } }], redirect: { uri: "/new" } },
    { match: [{ uri: { prefix: "/r2" } }], redirect: { uri: "/x?y=1", authority: "other.test", scheme: "https", port: 8443, redirectCode: 302 } },
    { match: [{ uri: { prefix: "/r3" } }], redirect: { scheme: "https", redirectCode: 307 } },
    { match: [{ uri: { prefix: "/r4" } }], redirect: { authority: "moved.test", redirectCode: 308 } },
    { match: [{ uri: { prefix: "/r5/" } }, { uri: { exact: "/r5" } }], redirect: { prefixRewrite: "/five/", redirectCode: 302 } },
  ]),
  vhost("act/direct", ["direct.test"], [
    { match: [{ uri: { exact: "/hello" } }], directResponse: { status: 200, body: "hello from canal\n" } },
    { match: [{ uri: { exact: "/gone" } }], directResponse: { status: 410 } },
    { match: [{ uri: { exact: "/teapot" } }], directResponse: { status: 418, body: "short and stout" } },
  ]),
  vhost("act/rewrite", ["rewrite.test"], [
    { match: [{ uri: { prefix: "/old" } }], rewrite: { uri: "/new" }, route: to("alpha") },
    { match: [{ uri: { exact: "/exact-old" } }], rewrite: { uri: "/replaced" }, route: to("alpha") },
    { match: [{ uri: { regex: "/rx/[a-z]+" } }], rewrite: { uri: "/whole" }, route: to("alpha") },
    { match: [{ uri: { prefix: "/strip/" } }], rewrite: { uri: "/" }, route: to("alpha") },
    { match: [{ uri: { prefix: "/auth" } }], rewrite: { authority: "backend.internal" }, route: to("beta") },
    {
      match: [{ headers: { "x-which": { exact: "a" } } }, { uri: { prefix: "/either" } }],
      rewrite: { uri: "/by-block" },
      route: to("alpha"),
    },
  ]),
  vhost("act/headers", ["headers-ops.test"], [
    {
      match: [{ uri: { prefix: "/ops" } }],
      headers: {
        request: { set: { "x-set": "route", "x-order": "route" }, add: { "x-add": "added" }, remove: ["x-remove-me"] },
        response: { set: { "x-resp-set": "canal" }, add: { "x-resp-add": "added" }, remove: ["x-upstream-secret"] },
      },
      route: [
        {
          cluster: clusterName("alpha"),
          headers: {
            request: { set: { "x-order": "destination", "x-dest": "alpha" } },
            response: { set: { "x-dest-resp": "alpha" } },
          },
        },
      ],
    },
    {
      match: [{ uri: { prefix: "/split" } }],
      route: [
        { cluster: clusterName("alpha"), weight: 50, headers: { request: { set: { "x-dest": "alpha" } }, response: { add: { "x-picked": "alpha" } } } },
        { cluster: clusterName("beta"), weight: 50, headers: { request: { set: { "x-dest": "beta" } }, response: { add: { "x-picked": "beta" } } } },
      ],
    },
  ]),
]);

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({
    name: "actions",
    wasmPath: ensureCanalWasm(),
    services: ["alpha", "beta", "gamma"],
    table: ACTIONS,
  });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
});

describe("route to a single cluster", () => {
  it("forwards method, path, query and body unchanged to the one destination", async () => {
    const res = await gw.send("single.test", "/a/b?c=1&d", { method: "PUT", body: "payload", headers: { "x-test-key": "single" } });
    expect(res.status).toBe(200);
    const echo = jsonBody<Echo>(res);
    expect(echo.upstream).toBe("alpha");
    expect(echo.method).toBe("PUT");
    expect(echo.path).toBe("/a/b?c=1&d");
    expect(echo.body).toBe("payload");
    expect(echo.headers.host).toBe("single.test");
  });

  it("a client-supplied x-canal-cluster neither picks the cluster nor reaches the upstream", async () => {
    const res = await gw.send("single.test", "/", { headers: { "x-canal-cluster": clusterName("beta") } });
    expect(res.status).toBe(200);
    const echo = jsonBody<Echo>(res);
    expect(echo.upstream).toBe("alpha");
    expect(echo.headers["x-canal-cluster"]).toBeUndefined();
    const unknownHost = await gw.send("nowhere.test", "/", { headers: { "x-canal-cluster": clusterName("beta") } });
    expect(unknownHost.status).toBe(404);
    expect(unknownHost.body).toBe('canal: no route for host "nowhere.test" path "/"\n');
    const noRoute = await gw.send("direct.test", "/other", { headers: { "x-canal-cluster": clusterName("beta") } });
    expect(noRoute.status).toBe(404);
    expect(gw.upstream("beta").requests.filter((r) => r.path === "/other")).toHaveLength(0);
  });
});

describe("weighted split", () => {
  it("splits 70/30 within statistical bounds over a fixed sample and never picks a 0-weight destination", async () => {
    const n = 2000;
    const counts = new Map<string, number>();
    const agent = keepAliveAgent(16);
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < n) {
          next += 1;
          const res = await request({ port: gw.port, host: "weighted.test", path: "/w", agent });
          expect(res.status).toBe(200);
          const u = jsonBody<Echo>(res).upstream;
          counts.set(u, (counts.get(u) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    } finally {
      agent.destroy();
    }
    const alpha = counts.get("alpha") ?? 0;
    const beta = counts.get("beta") ?? 0;
    // Binomial(2000, 0.7): mean 1400, sd 20.5; ±5 sd is [1297, 1503] (false failure ~6e-7).
    expect(alpha + beta).toBe(n);
    expect(alpha).toBeGreaterThanOrEqual(1297);
    expect(alpha).toBeLessThanOrEqual(1503);
    expect(counts.get("gamma") ?? 0).toBe(0);
  }, 60_000);

  it("answers the unrouted share with a local 500 and routes the rest (3:1 over a fixed sample)", async () => {
    const n = 400;
    let local = 0;
    for (let i = 0; i < n; i++) {
      const res = await gw.send("unrouted.test", "/u");
      if (res.status === 500) {
        expect(res.body).toBe("canal: no usable backend for this share of the route's traffic\n");
        expect(res.headers["x-canal-table"]).toBe(VERSION);
        local += 1;
      } else {
        expect(res.status).toBe(200);
        expect(jsonBody<Echo>(res).upstream).toBe("alpha");
      }
    }
    // Binomial(400, 0.25): mean 100, sd 8.7; ±5 sd is [57, 143].
    expect(local).toBeGreaterThanOrEqual(57);
    expect(local).toBeLessThanOrEqual(143);
  }, 60_000);
});

describe("redirect", () => {
  it("replaces the path, keeps the request's scheme/authority and query, 301 by default", async () => {
    const res = await gw.send("redirect.test", "/r1/anything?keep=me");
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe("http://redirect.test/new?keep=me");
    expect(res.headers["x-canal-table"]).toBe(VERSION);
  });

  it("sets code, scheme, authority and port; a uri with '?' drops the request's query", async () => {
    const res = await gw.send("redirect.test", "/r2?dropped=1");
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe("https://other.test:8443/x?y=1");
  });

  it("defaults the path to the request's own (307 to https; 308 to another authority)", async () => {
    const a = await gw.send("redirect.test", "/r3/p?q=1");
    expect(a.status).toBe(307);
    expect(a.headers.location).toBe("https://redirect.test/r3/p?q=1");
    const b = await gw.send("redirect.test", "/r4");
    expect(b.status).toBe(308);
    expect(b.headers.location).toBe("http://moved.test/r4");
  });

  it("prefixRewrite replaces the prefix the block matched and keeps the rest and the query; the whole path after an exact match", async () => {
    const a = await gw.send("redirect.test", "/r5/a/b?q=1");
    expect(a.status).toBe(302);
    expect(a.headers.location).toBe("http://redirect.test/five/a/b?q=1");
    const b = await gw.send("redirect.test", "/r5");
    expect(b.headers.location).toBe("http://redirect.test/five/");
  });
});

describe("direct response", () => {
  it("answers locally with status, text body and the table version", async () => {
    const res = await gw.send("direct.test", "/hello");
    expect(res.status).toBe(200);
    expect(res.body).toBe("hello from canal\n");
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.headers["x-canal-table"]).toBe(VERSION);
    const teapot = await gw.send("direct.test", "/teapot");
    expect(teapot.status).toBe(418);
    expect(teapot.body).toBe("short and stout");
  });

  it("a direct response without body is empty", async () => {
    const res = await gw.send("direct.test", "/gone");
    expect(res.status).toBe(410);
    expect(res.body).toBe("");
    expect(res.headers["x-canal-table"]).toBe(VERSION);
  });
});

describe("rewrite", () => {
  it("a prefix match rewrites only the prefix and keeps the suffix and the query", async () => {
    const res = await gw.send("rewrite.test", "/old/x/y?q=1&r");
    expect(jsonBody<Echo>(res).path).toBe("/new/x/y?q=1&r");
    const bare = await gw.send("rewrite.test", "/old");
    expect(jsonBody<Echo>(bare).path).toBe("/new");
  });

  it("an exact or regex match replaces the whole path, query kept", async () => {
    const exact = await gw.send("rewrite.test", "/exact-old?z=2");
    expect(jsonBody<Echo>(exact).path).toBe("/replaced?z=2");
    const rx = await gw.send("rewrite.test", "/rx/abc");
    expect(jsonBody<Echo>(rx).path).toBe("/whole");
  });

  it("rewriting a prefix to / does not leave a double slash", async () => {
    const res = await gw.send("rewrite.test", "/strip/a/b");
    expect(jsonBody<Echo>(res).path).toBe("/a/b");
  });

  it("the block that matched decides: a header-only block replaces only the leading / (Istio renders it as prefix /)", async () => {
    // istiod gives a block without a uri condition Envoy's `prefix: /` and rewrite.uri as
    // prefix_rewrite, so "/zzz" becomes "/by-block" + "zzz" (seen with a real istiod, test/oracle).
    const byHeader = await gw.send("rewrite.test", "/zzz?k=v", { headers: { "x-which": "a" } });
    expect(jsonBody<Echo>(byHeader).path).toBe("/by-blockzzz?k=v");
    const byPrefix = await gw.send("rewrite.test", "/either/tail");
    expect(jsonBody<Echo>(byPrefix).path).toBe("/by-block/tail");
  });

  it("an authority rewrite is what the upstream sees as Host, without x-forwarded-host, with x-envoy-original-host, and no Canal header", async () => {
    const res = await gw.send("rewrite.test", "/auth/x");
    const echo = jsonBody<Echo>(res);
    expect(echo.upstream).toBe("beta");
    expect(echo.headers.host).toBe("backend.internal");
    expect(echo.path).toBe("/auth/x");
    expect(echo.headers["x-forwarded-host"]).toBeUndefined();
    // What Envoy's router adds for a route's host rewrite (Istio's host_rewrite_literal, Envoy
    // >= 1.35); the filter sets it with the new Host; test/istio compares it with istiod's own routing.
    expect(echo.headers["x-envoy-original-host"]).toBe("rewrite.test");
    expect(Object.keys(echo.headers).filter((h) => h.startsWith("x-canal-"))).toEqual([]);
  });

  it("a client-sent x-canal-authority or x-envoy-original-host never changes the upstream Host, with or without a rewrite on the route", async () => {
    const spoof = { "x-canal-authority": "evil.test", "x-envoy-original-host": "evil.test" };
    const plain = jsonBody<Echo>(await gw.send("rewrite.test", "/old/x", { headers: spoof }));
    expect(plain.upstream).toBe("alpha");
    expect(plain.headers.host).toBe("rewrite.test");
    const single = jsonBody<Echo>(await gw.send("single.test", "/", { headers: spoof }));
    expect(single.headers.host).toBe("single.test");
    const rewritten = jsonBody<Echo>(await gw.send("rewrite.test", "/auth/x", { headers: spoof }));
    expect(rewritten.headers.host).toBe("backend.internal");
    expect(rewritten.headers["x-envoy-original-host"]).toBe("rewrite.test");
    // The filter's 404 for an unknown host is not affected either.
    expect((await gw.send("nowhere.test", "/", { headers: spoof })).status).toBe(404);
  });
});

describe("header operations", () => {
  it("request set replaces, add appends, remove deletes; destination ops run after route ops", async () => {
    const res = await gw.send("headers-ops.test", "/ops", {
      headers: { "x-set": "client", "x-add": "client", "x-remove-me": "1", "x-keep": "k" },
    });
    expect(res.status).toBe(200);
    const echo = jsonBody<Echo>(res);
    expect(echo.headers["x-set"]).toBe("route");
    const adds: string[] = [];
    for (let i = 0; i < echo.rawHeaders.length; i += 2) if (echo.rawHeaders[i].toLowerCase() === "x-add") adds.push(echo.rawHeaders[i + 1]);
    expect(adds.join(",").split(",").map((s) => s.trim()).sort()).toEqual(["added", "client"]);
    expect(echo.headers["x-remove-me"]).toBeUndefined();
    expect(echo.headers["x-keep"]).toBe("k");
    expect(echo.headers["x-order"]).toBe("destination");
    expect(echo.headers["x-dest"]).toBe("alpha");
  });

  it("response set/add/remove apply to the upstream's response as the client sees it", async () => {
    const res = await gw.send("headers-ops.test", "/ops", {
      headers: { "x-test-response-header": ["x-upstream-secret=s3cret", "x-resp-set=upstream", "x-resp-add=upstream"] },
    });
    expect(res.status).toBe(200);
    expect(res.headers["x-upstream-secret"]).toBeUndefined();
    expect(headerValues(res, "x-resp-set")).toEqual(["canal"]);
    expect(headerValues(res, "x-resp-add").join(",").split(",").map((s) => s.trim()).sort()).toEqual(["added", "upstream"]);
    expect(res.headers["x-dest-resp"]).toBe("alpha");
  });

  it("per-destination operations follow the destination that was drawn", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const res = await gw.send("headers-ops.test", "/split");
      const echo = jsonBody<Echo>(res);
      expect(echo.headers["x-dest"]).toBe(echo.upstream);
      expect(res.headers["x-picked"]).toBe(echo.upstream);
      seen.add(echo.upstream);
    }
    expect([...seen].sort()).toEqual(["alpha", "beta"]);
  });
});
