// Fast routing tests of the real filter binary in the emulator: one table, a matrix of requests.
// They complement test/envoy (which proves the same in real Envoy) by covering many more
// combinations in milliseconds.
import { beforeAll, describe, expect, it } from "vitest";
import type { ProxyWasmHost } from "./host.js";
import { header, send, startCanal } from "./canal.js";

const C = (name: string): string => `outbound|80||${name}.ns.svc.cluster.local`;

const table = {
  format: 1,
  version: "sha256:routing",
  ambiguousHosts: [{ host: "dup", candidates: ["a/dup", "b/dup"] }],
  virtualHosts: [
    {
      name: "ns/a",
      domains: ["a.example.com", "a", "a.ns"],
      routes: [
        { name: "exact", match: [{ uri: { exact: "/exact" } }], route: [{ cluster: C("exact") }] },
        { name: "icase", match: [{ uri: { prefix: "/CaSe" }, ignoreUriCase: true }], route: [{ cluster: C("icase") }] },
        { name: "regex", match: [{ uri: { regex: "/v[0-9]+/users/[^/]+" } }], route: [{ cluster: C("regex") }] },
        { name: "method", match: [{ uri: { prefix: "/m" }, method: { exact: "POST" } }], route: [{ cluster: C("post") }] },
        { name: "scheme", match: [{ uri: { prefix: "/s" }, scheme: { exact: "https" } }], route: [{ cluster: C("https") }] },
        { name: "authority", match: [{ uri: { prefix: "/auth" }, authority: { regex: "a\\.example\\.com:8[0-9]+" } }], route: [{ cluster: C("authority") }] },
        {
          name: "headers",
          match: [{ uri: { prefix: "/h" }, headers: { "x-user": { exact: "alice" }, "x-ver": { prefix: "v2" }, "x-id": { regex: "[0-9]{3}" }, "x-flag": { present: true } } }],
          route: [{ cluster: C("headers") }],
        },
        { name: "without", match: [{ uri: { prefix: "/w" }, withoutHeaders: { "x-block": { present: true } } }], route: [{ cluster: C("without") }] },
        {
          name: "query",
          match: [{ uri: { prefix: "/q" }, queryParams: { debug: { exact: "1" }, name: { prefix: "al" }, id: { regex: "[a-f]+" } } }],
          route: [{ cluster: C("query") }],
        },
        { name: "or", match: [{ uri: { exact: "/or1" } }, { uri: { exact: "/or2" } }], route: [{ cluster: C("or") }] },
        { name: "first-wins-1", match: [{ uri: { prefix: "/order" } }], route: [{ cluster: C("first") }] },
        { name: "first-wins-2", match: [{ uri: { prefix: "/order/more" } }], route: [{ cluster: C("second") }] },
        { name: "rewrite-prefix", match: [{ uri: { prefix: "/old" } }], route: [{ cluster: C("rw") }], rewrite: { uri: "/new", authority: "b.example.com" } },
        { name: "rewrite-full", match: [{ uri: { exact: "/full" } }], route: [{ cluster: C("rw") }], rewrite: { uri: "/replaced" } },
        // A table's header operation cannot hand Envoy a Host: the rewrite (or its absence) decides.
        { name: "ops-authority", match: [{ uri: { prefix: "/opsauth" } }], headers: { request: { set: { "x-canal-authority": "ops.example.com" } } }, route: [{ cluster: C("rw") }] },
        { name: "ops-authority-rw", match: [{ uri: { prefix: "/rwauth" } }], headers: { request: { set: { "x-canal-authority": "ops.example.com" } } }, route: [{ cluster: C("rw") }], rewrite: { authority: "c.example.com:8080" } },
        {
          name: "ops",
          match: [{ uri: { prefix: "/ops" } }],
          headers: { request: { set: { "x-set": "1" }, add: { "x-add": "2" }, remove: ["x-remove"] }, response: { set: { "x-resp": "r" }, remove: ["server"] } },
          route: [{ cluster: C("ops"), headers: { request: { set: { "x-dest": "d" } }, response: { add: { "x-dest-resp": "dr" } } } }],
        },
        { name: "retry", match: [{ uri: { prefix: "/retry" } }], route: [{ cluster: C("retry") }], timeoutMs: 1500, retries: { attempts: 3, perTryTimeoutMs: 200, retryOn: "5xx,503,reset" } },
        { name: "retry-default", match: [{ uri: { prefix: "/rdefault" } }], route: [{ cluster: C("retry") }], retries: { attempts: 2 } },
        { name: "retry-grpc", match: [{ uri: { prefix: "/rgrpc" } }], route: [{ cluster: C("retry") }], retries: { attempts: 1, retryOn: "5xx,unavailable,503,deadline-exceeded" } },
        { name: "retry-grpc-only", match: [{ uri: { prefix: "/rgonly" } }], route: [{ cluster: C("retry") }], retries: { attempts: 1, retryOn: "cancelled" } },
        { name: "abort", match: [{ uri: { prefix: "/abort" } }], route: [{ cluster: C("never") }], fault: { abort: { httpStatus: 503, percentage: 100 } } },
        {
          name: "abort-ops",
          match: [{ uri: { prefix: "/fopsabort" } }],
          route: [{ cluster: C("never") }],
          fault: { abort: { httpStatus: 400, percentage: 100 } },
          headers: { response: { set: { "x-resp": "r1", "content-type": "text/x-fault" }, add: { "x-more": "1" }, remove: ["x-canal-table"] } },
        },
        { name: "redirect", match: [{ uri: { prefix: "/redir" } }], redirect: { uri: "/there", scheme: "https", port: 8443, redirectCode: 302 } },
        { name: "redirect-q", match: [{ uri: { prefix: "/rq" } }], redirect: { uri: "/there?fixed=1" } },
        { name: "direct", match: [{ uri: { exact: "/direct" } }], directResponse: { status: 418, body: "short and stout" } },
        { name: "split", match: [{ uri: { prefix: "/split" } }], route: [{ cluster: C("v1"), weight: 75 }, { cluster: C("v2"), weight: 25 }, { cluster: C("v3"), weight: 0 }] },
      ],
    },
    { name: "ns/wild", domains: ["*.example.com"], routes: [{ route: [{ cluster: C("wild") }] }] },
    { name: "ns/deep", domains: ["*.deep.example.com"], routes: [{ route: [{ cluster: C("deep") }] }] },
  ],
};

let host: ProxyWasmHost;

/**
 * A canal counter as Envoy would show it: the filter counts in the VM and adds to Envoy's counters
 * on the root context's tick (filter/assembly/metrics.ts), so tick first.
 */
function counter(name: string): bigint | undefined {
  host.tick();
  return host.getMetricValue(name);
}

beforeAll(async () => {
  host = await startCanal(table);
});

describe("route selection", () => {
  it.each([
    ["/exact", {}, "exact"],
    ["/exact?x=1", {}, "exact"],
    ["/case/x", {}, "icase"],
    ["/CASE", {}, "icase"],
    ["/v12/users/bob", {}, "regex"],
    ["/m", { ":method": "POST" }, "post"],
    ["/s", { ":scheme": "https" }, "https"],
    ["/auth", { ":authority": "a.example.com:8080" }, "authority"],
    ["/h", { "x-user": "alice", "x-ver": "v2.1", "x-id": "123", "x-flag": "" }, "headers"],
    ["/w", {}, "without"],
    ["/q?debug=1&name=alice&id=cafe", {}, "query"],
    ["/q?id=beef&name=al&debug=1&debug=2", {}, "query"],
    ["/or1", {}, "or"],
    ["/or2", {}, "or"],
    ["/order/more", {}, "first"],
  ] as Array<[string, Record<string, string>, string]>)("%s %o → %s", (path, headers, cluster) => {
    expect(send(host, path, headers).cluster).toBe(C(cluster));
  });

  it.each([
    ["/exact/", {}],
    ["/EXACT", {}],
    ["/v12/users/bob/extra", {}],
    ["/vx/users/bob", {}],
    ["/m", { ":method": "GET" }],
    ["/s", { ":scheme": "http" }],
    ["/auth", { ":authority": "a.example.com" }],
    ["/h", { "x-user": "alice", "x-ver": "v2.1", "x-id": "1234", "x-flag": "" }],
    ["/h", { "x-user": "alice", "x-ver": "v2.1", "x-id": "123" }],
    ["/h", { "x-user": "Alice", "x-ver": "v2.1", "x-id": "123", "x-flag": "1" }],
    ["/w", { "x-block": "" }],
    ["/q?debug=1&name=bob&id=cafe", {}],
    ["/q?debug=1&name=alice&id=xyz", {}],
    ["/q?debug=10&name=alice&id=cafe", {}],
    ["/q", {}],
    ["/nothing-here", {}],
  ] as Array<[string, Record<string, string>]>)("%s %o → 404 naming host and path", (path, headers) => {
    const out = send(host, path, headers);
    expect(out.cluster).toBeUndefined();
    expect(out.local?.status).toBe(404);
    const authority = headers[":authority"] ?? "a.example.com";
    expect(out.local?.bodyText).toBe(`canal: no route for host "${authority}" path "${path.split("?")[0]}"\n`);
    expect(header(out.local?.headers ?? [], "x-canal-table")).toBe("sha256:routing");
  });
});

describe("host matching", () => {
  it.each([
    ["a.example.com", "exact"],
    ["A.Example.COM", "exact"],
    ["a.example.com:5000", "exact"],
    ["a", "exact"],
    ["a.ns:80", "exact"],
    ["b.example.com", "wild"],
    ["x.y.example.com", "wild"],
    ["x.deep.example.com", "deep"],
    ["x.y.deep.example.com", "deep"],
  ])("%s → %s", (authority, cluster) => {
    expect(send(host, "/exact", { ":authority": authority }).cluster).toBe(C(cluster === "exact" ? "exact" : cluster));
  });

  it.each(["example.com", "a.example.org", "", "bad host", "é.example.com", "[::1]:8080"])("%j → 404", (authority) => {
    const out = send(host, "/exact", { ":authority": authority });
    expect(out.local?.status).toBe(404);
  });

  it("an ambiguous short name gets a 404 that lists the candidates", () => {
    const out = send(host, "/exact", { ":authority": "dup:80" });
    expect(out.local?.status).toBe(404);
    expect(out.local?.bodyText).toBe('canal: host "dup" is ambiguous: a/dup, b/dup; use the namespace-qualified name\n');
    expect(counter("canal_requests_total.unmatched.no_route")).toBeGreaterThan(0n);
  });
});

describe("actions", () => {
  it("prefix rewrite replaces the matched prefix, keeps the rest and the query; the authority rewrite sets :authority and x-envoy-original-host", () => {
    const out = send(host, "/old/path/x?q=1");
    expect(header(out.requestHeaders, ":path")).toBe("/new/path/x?q=1");
    // As Envoy's router does for a route host rewrite (docs/envoy.md, "Authority rewrites").
    expect(header(out.requestHeaders, ":authority")).toBe("b.example.com");
    expect(header(out.requestHeaders, "x-envoy-original-host")).toBe("a.example.com");
    expect(out.requestHeaders.filter(([k]) => k === "x-canal-authority")).toEqual([]);
  });

  it("only the route's rewrite sets the Host: a client's x-envoy-original-host is replaced on rewrite, header operations never decide", () => {
    const spoof = { "x-envoy-original-host": "evil.example.com", "x-canal-authority": "evil.example.com" };
    const noRewrite = send(host, "/exact", spoof);
    expect(noRewrite.cluster).toBe(C("exact"));
    expect(header(noRewrite.requestHeaders, ":authority")).toBe("a.example.com");
    const rewrite = send(host, "/old/x", spoof);
    expect(header(rewrite.requestHeaders, ":authority")).toBe("b.example.com");
    expect(rewrite.requestHeaders.filter(([k]) => k === "x-envoy-original-host")).toEqual([["x-envoy-original-host", "a.example.com"]]);
    expect(header(send(host, "/opsauth", spoof).requestHeaders, ":authority")).toBe("a.example.com");
    expect(header(send(host, "/rwauth", spoof).requestHeaders, ":authority")).toBe("c.example.com:8080");
  });

  it("rewrite of an exact match replaces the whole path and keeps the query", () => {
    expect(header(send(host, "/full?k=v").requestHeaders, ":path")).toBe("/replaced?k=v");
  });

  it("a path rewrite sets x-envoy-original-path to the whole path before it, replacing a client's; no rewrite leaves it alone", () => {
    const spoof = { "x-envoy-original-path": "/client" };
    const rewritten = send(host, "/old/path/x?q=1", spoof);
    expect(rewritten.requestHeaders.filter(([k]) => k === "x-envoy-original-path")).toEqual([["x-envoy-original-path", "/old/path/x?q=1"]]);
    expect(header(send(host, "/full?k=v").requestHeaders, "x-envoy-original-path")).toBe("/full?k=v");
    expect(header(send(host, "/exact", spoof).requestHeaders, "x-envoy-original-path")).toBe("/client");
    expect(header(send(host, "/exact").requestHeaders, "x-envoy-original-path")).toBeUndefined();
  });

  it("request and response header operations, route then destination", () => {
    const out = send(host, "/ops", { "x-remove": "gone", "x-add": "1" }, [[":status", "200"], ["server", "upstream"]]);
    expect(header(out.requestHeaders, "x-set")).toBe("1");
    expect(out.requestHeaders.filter(([k]) => k === "x-add").map(([, v]) => v)).toEqual(["1", "2"]);
    expect(header(out.requestHeaders, "x-remove")).toBeUndefined();
    expect(header(out.requestHeaders, "x-dest")).toBe("d");
    expect(header(out.responseHeaders, "x-resp")).toBe("r");
    expect(header(out.responseHeaders, "server")).toBeUndefined();
    expect(header(out.responseHeaders, "x-dest-resp")).toBe("dr");
  });

  it("timeout and retries become Envoy router headers", () => {
    const out = send(host, "/retry");
    expect(header(out.requestHeaders, "x-envoy-upstream-rq-timeout-ms")).toBe("1500");
    expect(header(out.requestHeaders, "x-envoy-max-retries")).toBe("3");
    expect(header(out.requestHeaders, "x-envoy-retry-on")).toBe("5xx,reset,retriable-status-codes");
    expect(header(out.requestHeaders, "x-envoy-retriable-status-codes")).toBe("503");
    expect(header(out.requestHeaders, "x-envoy-upstream-rq-per-try-timeout-ms")).toBe("200");
  });

  it("retries without retryOn use Istio's default conditions, gRPC ones apart, and no status codes", () => {
    const out = send(host, "/rdefault", { "x-envoy-retry-grpc-on": "internal" });
    expect(header(out.requestHeaders, "x-envoy-max-retries")).toBe("2");
    expect(header(out.requestHeaders, "x-envoy-retry-on")).toBe("connect-failure,refused-stream,retriable-status-codes");
    // Replaced, not added: one value, the table's.
    expect(out.requestHeaders.filter(([k]) => k === "x-envoy-retry-grpc-on")).toEqual([["x-envoy-retry-grpc-on", "unavailable,cancelled"]]);
    expect(header(out.requestHeaders, "x-envoy-retriable-status-codes")).toBeUndefined();
  });

  it("gRPC conditions in retryOn go to x-envoy-retry-grpc-on, the rest to x-envoy-retry-on", () => {
    const out = send(host, "/rgrpc");
    expect(header(out.requestHeaders, "x-envoy-retry-on")).toBe("5xx,retriable-status-codes");
    expect(header(out.requestHeaders, "x-envoy-retry-grpc-on")).toBe("unavailable,deadline-exceeded");
    expect(header(out.requestHeaders, "x-envoy-retriable-status-codes")).toBe("503");
    const only = send(host, "/rgonly");
    expect(header(only.requestHeaders, "x-envoy-retry-on")).toBeUndefined();
    expect(header(only.requestHeaders, "x-envoy-retry-grpc-on")).toBe("cancelled");
    expect(header(only.requestHeaders, "x-envoy-max-retries")).toBe("1");
  });

  it("a client-sent x-canal-cluster is replaced by the table's choice", () => {
    expect(send(host, "/exact", { "x-canal-cluster": "outbound|80||admin.kube-system.svc.cluster.local" }).cluster).toBe(C("exact"));
  });

  it("abort 100% answers locally with the status and Envoy's body", () => {
    const out = send(host, "/abort");
    expect(out.local?.status).toBe(503);
    expect(out.local?.bodyText).toBe("fault filter abort");
    expect(counter("canal_requests_total.ns/a.fault")).toBeGreaterThan(0n);
  });

  it("an abort carries the route's response header operations, as Envoy applies them to the fault filter's reply", () => {
    const out = send(host, "/fopsabort");
    expect(out.local?.status).toBe(400);
    expect(out.local?.bodyText).toBe("fault filter abort");
    const headers = out.local?.headers ?? [];
    expect(headers.filter(([k]) => k === "x-resp")).toEqual([["x-resp", "r1"]]);
    expect(headers.filter(([k]) => k === "content-type")).toEqual([["content-type", "text/x-fault"]]);
    expect(headers.filter(([k]) => k === "x-more")).toEqual([["x-more", "1"]]);
    expect(headers.some(([k]) => k === "x-canal-table")).toBe(false);
    // Other routes' aborts keep the plain reply.
    expect((send(host, "/abort").local?.headers ?? []).some(([k]) => k === "x-resp")).toBe(false);
  });

  it("redirect: scheme, port, code, path replaced and query kept", () => {
    const out = send(host, "/redir?a=1", { ":authority": "a.example.com:5000" });
    expect(out.local?.status).toBe(302);
    expect(header(out.local?.headers ?? [], "location")).toBe("https://a.example.com:8443/there?a=1");
  });

  it("redirect whose uri has its own query drops the request's", () => {
    expect(header(send(host, "/rq?a=1").local?.headers ?? [], "location")).toBe("http://a.example.com/there?fixed=1");
  });

  it("direct response with body and content type", () => {
    const out = send(host, "/direct");
    expect(out.local?.status).toBe(418);
    expect(out.local?.bodyText).toBe("short and stout");
    expect(header(out.local?.headers ?? [], "content-type")).toBe("text/plain");
  });

  it("weighted split follows the weights; a 0-weight destination never receives traffic", () => {
    const counts = new Map<string, number>();
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const c = send(host, "/split").cluster ?? "none";
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(counts.get(C("v3"))).toBeUndefined();
    expect(counts.get("none")).toBeUndefined();
    // 75/25 with n=4000: the standard deviation of the v1 share is ~0.7%; allow 5 of them.
    const share = (counts.get(C("v1")) ?? 0) / n;
    expect(share).toBeGreaterThan(0.715);
    expect(share).toBeLessThan(0.785);
  });
});

describe("metrics", () => {
  it("counts routed, no_route and local_reply per virtual host", () => {
    const before = counter("canal_requests_total.ns/a.routed") ?? 0n;
    send(host, "/exact");
    send(host, "/exact");
    expect(counter("canal_requests_total.ns/a.routed")).toBe(before + 2n);
    const lr = counter("canal_requests_total.ns/a.local_reply") ?? 0n;
    send(host, "/direct");
    expect(counter("canal_requests_total.ns/a.local_reply")).toBe(lr + 1n);
    const nr = counter("canal_requests_total.ns/a.no_route") ?? 0n;
    send(host, "/none");
    expect(counter("canal_requests_total.ns/a.no_route")).toBe(nr + 1n);
  });

  it("adds the VM's counts to Envoy's counters on the tick, not per request", () => {
    const before = counter("canal_requests_total.ns/a.routed") ?? 0n;
    send(host, "/exact");
    send(host, "/exact");
    expect(host.getMetricValue("canal_requests_total.ns/a.routed")).toBe(before);
    expect(host.tickPeriodMs).toBeGreaterThan(0);
    expect(counter("canal_requests_total.ns/a.routed")).toBe(before + 2n);
    // Nothing pending: a second tick adds nothing.
    expect(counter("canal_requests_total.ns/a.routed")).toBe(before + 2n);
  });
});
