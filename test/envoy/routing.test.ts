// Canal's filter in real Envoy: every match kind and host matching (docs/route-table.md,
// "Virtual hosts and host matching", "Routes", "Match conditions"). One Envoy and one table for
// the whole file; each case has its own virtual host.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { jsonBody, type HttpResponse } from "../support/http.ts";
import { table, to, vhost } from "../support/tables.ts";
import type { Echo } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const VERSION = "sha256:routing-1";

const ROUTING = table(
  VERSION,
  [
    vhost("match/uri", ["uri.test"], [
      { match: [{ uri: { exact: "/exact" } }], route: to("alpha") },
      { match: [{ uri: { prefix: "/prefix/" } }], route: to("beta") },
      { match: [{ uri: { regex: "/re/[0-9]+" } }], route: to("gamma") },
      { match: [{ uri: { prefix: "/case/" }, ignoreUriCase: true }], route: to("delta") },
      { match: [{ uri: { exact: "/Exact-Case" }, ignoreUriCase: true }], route: to("alpha") },
      { match: [{ uri: { regex: "/rx/[a-z]+" }, ignoreUriCase: true }], route: to("beta") },
    ]),
    vhost("match/scheme", ["scheme.test"], [
      { match: [{ scheme: { exact: "https" } }], route: to("beta") },
      { match: [{ scheme: { exact: "http" } }], route: to("alpha") },
    ]),
    vhost("match/method", ["method.test"], [
      { match: [{ method: { exact: "POST" } }], route: to("beta") },
      { match: [{ method: { regex: "GET|HEAD" } }], route: to("alpha") },
      { match: [{ method: { prefix: "PA" } }], route: to("gamma") },
    ]),
    vhost("match/authority", ["authority.test"], [
      { match: [{ authority: { exact: "authority.test:8080" } }], route: to("beta") },
      { match: [{ authority: { regex: "authority\\.test:9[0-9]+" } }], route: to("gamma") },
      { match: [{ authority: { prefix: "authority.test" } }], route: to("alpha") },
    ]),
    vhost("match/headers", ["headers.test"], [
      { match: [{ headers: { "x-exact": { exact: "yes" } } }], route: to("alpha") },
      { match: [{ headers: { "x-prefix": { prefix: "pre" } } }], route: to("beta") },
      { match: [{ headers: { "x-regex": { regex: "v[0-9]+" } } }], route: to("gamma") },
      { match: [{ headers: { "x-present": { present: true } } }], route: to("delta") },
    ]),
    vhost("match/without", ["without.test"], [
      { match: [{ uri: { prefix: "/" }, withoutHeaders: { "x-canary": { exact: "true" }, "x-debug": { present: true } } }], route: to("alpha") },
      { route: to("beta") },
    ]),
    vhost("match/query", ["query.test"], [
      { match: [{ queryParams: { v: { exact: "1" } } }], route: to("alpha") },
      { match: [{ queryParams: { p: { prefix: "ab" } } }], route: to("beta") },
      { match: [{ queryParams: { r: { regex: "[0-9]{3}" } } }], route: to("gamma") },
      { match: [{ queryParams: { flag: { exact: "" } } }], route: to("delta") },
    ]),
    vhost("match/logic", ["logic.test"], [
      { match: [{ uri: { prefix: "/a" }, headers: { "x-k": { exact: "1" } } }, { uri: { prefix: "/b" } }], route: to("alpha") },
      { match: [], route: to("beta") },
    ]),
    vhost("match/order", ["order.test"], [
      { match: [{ uri: { prefix: "/x" } }], route: to("alpha") },
      { match: [{ uri: { prefix: "/x/y" } }], route: to("beta") },
      { match: [{ uri: { exact: "/x/y/z" } }], route: to("gamma") },
    ]),
    vhost("hosts/exact", ["svc.ns.svc.cluster.local", "svc.ns.svc", "svc.ns", "svc"], [{ route: to("alpha") }]),
    vhost("hosts/wildcard", ["*.example.com"], [{ route: to("beta") }]),
    vhost("hosts/wildcard-longer", ["*.b.example.com"], [{ route: to("gamma") }]),
    vhost("hosts/exact-beats-wildcard", ["exact.b.example.com"], [{ route: to("delta") }]),
  ],
  {
    ambiguousHosts: [{ host: "helloworld", candidates: ["default/helloworld", "prod/helloworld"] }],
  },
);

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({
    name: "routing",
    wasmPath: ensureCanalWasm(),
    services: ["alpha", "beta", "gamma", "delta"],
    table: ROUTING,
  });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
});

/** The upstream that served `res`, or "404"/status text for anything else. */
function servedBy(res: HttpResponse): string {
  if (res.status !== 200) return String(res.status);
  return jsonBody<Echo>(res).upstream;
}

async function via(host: string, path = "/", opts: Parameters<Gateway["send"]>[2] = {}): Promise<string> {
  return servedBy(await gw.send(host, path, opts));
}

describe("uri matching", () => {
  it("exact matches the whole path, without the query string", async () => {
    expect(await via("uri.test", "/exact")).toBe("alpha");
    expect(await via("uri.test", "/exact?x=1&y")).toBe("alpha");
    expect(await via("uri.test", "/exact/")).toBe("404");
    expect(await via("uri.test", "/exac")).toBe("404");
  });

  it("prefix matches the beginning of the path", async () => {
    expect(await via("uri.test", "/prefix/")).toBe("beta");
    expect(await via("uri.test", "/prefix/a/b?c=d")).toBe("beta");
    expect(await via("uri.test", "/prefix")).toBe("404");
    expect(await via("uri.test", "/PREFIX/a")).toBe("404");
  });

  it("regex must match the whole path (RE2 full match)", async () => {
    expect(await via("uri.test", "/re/123")).toBe("gamma");
    expect(await via("uri.test", "/re/123?q=x")).toBe("gamma");
    expect(await via("uri.test", "/re/12a")).toBe("404");
    expect(await via("uri.test", "/re/123/more")).toBe("404");
    expect(await via("uri.test", "/x/re/123")).toBe("404");
  });

  it("ignoreUriCase folds ASCII case for prefix and exact, not for regex", async () => {
    expect(await via("uri.test", "/case/a")).toBe("delta");
    expect(await via("uri.test", "/CASE/A")).toBe("delta");
    expect(await via("uri.test", "/CaSe/x")).toBe("delta");
    expect(await via("uri.test", "/exact-case")).toBe("alpha");
    expect(await via("uri.test", "/EXACT-CASE")).toBe("alpha");
    expect(await via("uri.test", "/rx/abc")).toBe("beta");
    expect(await via("uri.test", "/rx/ABC")).toBe("404");
  });
});

describe("other conditions", () => {
  it("scheme matches :scheme (plain HTTP is http)", async () => {
    expect(await via("scheme.test", "/")).toBe("alpha");
  });

  it("method matches exact, regex and prefix", async () => {
    expect(await via("method.test", "/", { method: "POST", body: "x" })).toBe("beta");
    expect(await via("method.test", "/", { method: "GET" })).toBe("alpha");
    const head = await gw.send("method.test", "/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["x-upstream"]).toBe("alpha");
    expect(await via("method.test", "/", { method: "PATCH", body: "x" })).toBe("gamma");
    expect(await via("method.test", "/", { method: "DELETE" })).toBe("404");
    expect(await via("method.test", "/", { method: "OPTIONS" })).toBe("404");
  });

  it("authority matches the raw :authority, port included", async () => {
    expect(await via("authority.test:8080", "/")).toBe("beta");
    expect(await via("authority.test:9090", "/")).toBe("gamma");
    expect(await via("authority.test", "/")).toBe("alpha");
    expect(await via("authority.test:7070", "/")).toBe("alpha");
  });

  it("headers match exact, prefix, regex and presence (empty value included)", async () => {
    expect(await via("headers.test", "/", { headers: { "x-exact": "yes" } })).toBe("alpha");
    expect(await via("headers.test", "/", { headers: { "x-exact": "yess" } })).toBe("404");
    expect(await via("headers.test", "/", { headers: { "x-exact": "YES" } })).toBe("404");
    expect(await via("headers.test", "/", { headers: { "x-prefix": "prefixed" } })).toBe("beta");
    expect(await via("headers.test", "/", { headers: { "x-prefix": "xpre" } })).toBe("404");
    expect(await via("headers.test", "/", { headers: { "x-regex": "v42" } })).toBe("gamma");
    expect(await via("headers.test", "/", { headers: { "x-regex": "v42x" } })).toBe("404");
    expect(await via("headers.test", "/", { headers: { "x-present": "" } })).toBe("delta");
    expect(await via("headers.test", "/", { headers: { "x-present": "anything" } })).toBe("delta");
    expect(await via("headers.test", "/")).toBe("404");
  });

  it("withoutHeaders fails the block when any listed header matches (absent never matches)", async () => {
    expect(await via("without.test", "/")).toBe("alpha");
    expect(await via("without.test", "/", { headers: { "x-canary": "false" } })).toBe("alpha");
    expect(await via("without.test", "/", { headers: { "x-canary": "true" } })).toBe("beta");
    expect(await via("without.test", "/", { headers: { "x-debug": "" } })).toBe("beta");
  });

  it("queryParams match the first occurrence, undecoded; a bare parameter has the empty value", async () => {
    expect(await via("query.test", "/?v=1")).toBe("alpha");
    expect(await via("query.test", "/p?x=0&v=1")).toBe("alpha");
    expect(await via("query.test", "/?v=12")).toBe("404");
    expect(await via("query.test", "/?v=2&v=1")).toBe("404");
    expect(await via("query.test", "/?v=%31")).toBe("404");
    expect(await via("query.test", "/?p=abc")).toBe("beta");
    expect(await via("query.test", "/?p=xab")).toBe("404");
    expect(await via("query.test", "/?r=123")).toBe("gamma");
    expect(await via("query.test", "/?r=1234")).toBe("404");
    expect(await via("query.test", "/?flag")).toBe("delta");
    expect(await via("query.test", "/?a=b&flag&c")).toBe("delta");
    expect(await via("query.test", "/")).toBe("404");
  });

  it("match blocks are OR'ed and conditions inside a block AND'ed; an empty match list matches all", async () => {
    expect(await via("logic.test", "/a", { headers: { "x-k": "1" } })).toBe("alpha");
    expect(await via("logic.test", "/a")).toBe("beta");
    expect(await via("logic.test", "/b", { headers: { "x-k": "2" } })).toBe("alpha");
    expect(await via("logic.test", "/c", { headers: { "x-k": "1" } })).toBe("beta");
  });

  it("routes are tried in order and the first match wins (not the longest)", async () => {
    expect(await via("order.test", "/x/y/z")).toBe("alpha");
    expect(await via("order.test", "/x/y")).toBe("alpha");
    expect(await via("order.test", "/y")).toBe("404");
  });
});

describe("host matching", () => {
  it("exact domains, with the port stripped and case folded", async () => {
    expect(await via("svc.ns.svc.cluster.local", "/")).toBe("alpha");
    expect(await via("svc.ns.svc.cluster.local:8080", "/")).toBe("alpha");
    expect(await via("SVC.NS.Svc.Cluster.Local", "/")).toBe("alpha");
    expect(await via("Svc.Ns:80", "/")).toBe("alpha");
  });

  it("short names route only as the explicit domains the table lists", async () => {
    expect(await via("svc", "/")).toBe("alpha");
    expect(await via("svc.ns.svc", "/")).toBe("alpha");
    expect(await via("svc.ns.svc.cluster", "/")).toBe("404");
    expect(await via("svc.other", "/")).toBe("404");
  });

  it("wildcard suffixes match one or more labels but not the bare suffix; the longest wins; exact beats both", async () => {
    expect(await via("a.example.com", "/")).toBe("beta");
    expect(await via("a.c.example.com", "/")).toBe("beta");
    expect(await via("a.b.example.com", "/")).toBe("gamma");
    expect(await via("x.y.b.example.com:443", "/")).toBe("gamma");
    expect(await via("exact.b.example.com", "/")).toBe("delta");
    expect(await via("example.com", "/")).toBe("404");
    expect(await via("b.example.com", "/")).toBe("beta");
  });

  it("an ambiguous short name is a 404 that names the candidates", async () => {
    const res = await gw.send("helloworld", "/hi");
    expect(res.status).toBe(404);
    expect(res.body).toBe(
      'canal: host "helloworld" is ambiguous: default/helloworld, prod/helloworld; use the namespace-qualified name\n',
    );
    expect(res.headers["x-canal-table"]).toBe(VERSION);
    const withPort = await gw.send("HelloWorld:5000", "/");
    expect(withPort.status).toBe(404);
    expect(withPort.body).toContain("is ambiguous");
  });

  it("an unknown host is a 404 naming host and path (without query) and the table version", async () => {
    const res = await gw.send("nowhere.test", "/a/b?x=1");
    expect(res.status).toBe(404);
    expect(res.body).toBe('canal: no route for host "nowhere.test" path "/a/b"\n');
    expect(res.headers["x-canal-table"]).toBe(VERSION);
  });

  it("a known host whose routes do not match is the same 404", async () => {
    const res = await gw.send("order.test", "/nothing?q");
    expect(res.status).toBe(404);
    expect(res.body).toBe('canal: no route for host "order.test" path "/nothing"\n');
    expect(res.headers["x-canal-table"]).toBe(VERSION);
  });
});
