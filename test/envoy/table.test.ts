// Canal's filter in real Envoy: the table's life cycle (empty default, live swap, rejection
// with the last good table kept), the metrics in /stats/prometheus, and robustness against
// requests that must never trap the VM (docs/route-table.md, "Delivery", "Rejection", "Metrics").

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteTable } from "../../schema/route-table.ts";
import { wasmFailureLines } from "../support/envoy.ts";
import { clusterName, startGateway, type Gateway } from "../support/gateway.ts";
import { jsonBody, rawRequest } from "../support/http.ts";
import { table, to, vhost } from "../support/tables.ts";
import type { Echo } from "../support/upstream.ts";
import { pollUntil } from "../support/processes.ts";
import { ensureCanalWasm, REPO_ROOT } from "../support/wasm.ts";

const BASE = table("sha256:table-1", [
  vhost("default/hello.world:80", ["hello.default.svc.cluster.local", "hello.default"], [
    { match: [{ uri: { prefix: "/api" } }], route: to("alpha") },
    { match: [{ uri: { exact: "/local" } }], directResponse: { status: 200, body: "local" } },
    { match: [{ uri: { exact: "/moved" } }], redirect: { uri: "/api" } },
    { match: [{ uri: { exact: "/abort" } }], fault: { abort: { httpStatus: 500, percentage: 100 } }, route: to("alpha") },
  ]),
  vhost("robust", ["robust.test"], [
    { match: [{ headers: { "x-big": { regex: "a+b" } } }], route: to("beta") },
    { match: [{ headers: { "x-bin": { present: true } } }], route: to("alpha") },
    { match: [{ headers: { "x-bin2": { prefix: "ab" } } }], route: to("alpha") },
    { route: to("gamma") },
  ]),
]);

/** The same as BASE plus a catch-all host and a new route: a visible difference. */
const CHANGED = table("sha256:table-2", [
  ...BASE.virtualHosts.map((v) =>
    v.name === "default/hello.world:80" ? { ...v, routes: [{ match: [{ uri: { prefix: "/api" } }], route: to("beta") }, ...v.routes] } : v,
  ),
  vhost("catch-all", ["*"], [{ match: [{ uri: { prefix: "/anything" } }], route: to("gamma") }]),
]);

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ name: "table", wasmPath: ensureCanalWasm(), services: ["alpha", "beta", "gamma"] });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
});

async function upstreamOf(host: string, path: string): Promise<string> {
  const res = await gw.send(host, path);
  return res.status === 200 ? jsonBody<Echo>(res).upstream : String(res.status);
}

/** Delivers a table the filter must refuse; checks that BASE still serves afterwards. */
async function expectRejected(bad: RouteTable | string): Promise<void> {
  expect(await gw.apply(bad)).toBe("rejected");
  expect(await gw.servingVersion()).toBe(BASE.version);
  expect(await upstreamOf("hello.default", "/api/x")).toBe("alpha");
}

describe("table life cycle", () => {
  it("before any table (empty default config) every request is the filter's 404, never a 5xx", async () => {
    const res = await gw.send("hello.default", "/api");
    expect(res.status).toBe(404);
    expect(res.body).toBe('canal: no route for host "hello.default" path "/api"\n');
  });

  it("the first table takes effect live, without a restart", async () => {
    const pid = gw.envoy.pid;
    expect(await gw.apply(BASE)).toBe("applied");
    expect(await upstreamOf("hello.default", "/api/x")).toBe("alpha");
    expect(gw.envoy.pid).toBe(pid);
    expect(gw.envoy.alive).toBe(true);
  });

  it("a changed table takes effect live: new routes, a new catch-all host, a new version", async () => {
    expect(await upstreamOf("unknown.test", "/anything")).toBe("404");
    expect(await gw.apply(CHANGED)).toBe("applied");
    expect(await gw.servingVersion()).toBe(CHANGED.version);
    expect(await upstreamOf("hello.default", "/api/x")).toBe("beta");
    expect(await upstreamOf("unknown.test", "/anything/else")).toBe("gamma");
    expect(await gw.apply(BASE)).toBe("applied");
    expect(await upstreamOf("hello.default", "/api/x")).toBe("alpha");
    expect(await upstreamOf("unknown.test", "/anything")).toBe("404");
  });

  it("in-flight requests finish while the table changes underneath them", async () => {
    const slow = gw.send("hello.default", "/api/slow", { headers: { "x-test-delay-ms": "1000", "x-test-key": "inflight" } });
    await pollUntil("the slow request to reach the upstream", () => (gw.upstream("alpha").attempts("inflight") === 1 ? true : undefined));
    expect(await gw.apply(CHANGED)).toBe("applied");
    const res = await slow;
    expect(res.status).toBe(200);
    expect(jsonBody<Echo>(res).upstream).toBe("alpha");
    expect(await gw.apply(BASE)).toBe("applied");
  });
});

describe("rejected tables keep the last good one serving", () => {
  it("a regex that does not compile is rejected, with a log line naming the field", async () => {
    const bad = table("sha256:bad-regex", [vhost("x", ["x.test"], [{ match: [{ uri: { regex: "/a(b" } }], route: to("alpha") }])]);
    await expectRejected(bad);
    expect(gw.envoy.log()).toMatch(/canal: rejected route table: virtualHosts\[0\]\.routes\[0\]\.match\[0\]\.uri\.regex/);
  });

  it("an unknown field is rejected", async () => {
    await expectRejected(JSON.stringify({ format: 1, version: "sha256:bad-field", virtualHosts: [], surprise: true }));
  });

  it("a wrong type is rejected", async () => {
    await expectRejected(
      JSON.stringify({ format: 1, version: "sha256:bad-type", virtualHosts: [{ name: "x", domains: ["x.test"], routes: [{ route: [{ cluster: "c", weight: "10" }] }] }] }),
    );
    await expectRejected(JSON.stringify({ format: 1, version: "sha256:bad-type2", virtualHosts: "none" }));
  });

  it("another format version, malformed JSON, zero total weight and a repeated domain are rejected", async () => {
    await expectRejected(JSON.stringify({ format: 2, version: "sha256:fmt2", virtualHosts: [] }));
    await expectRejected('{"format":1,"version":"sha256:trunc","virtualHosts":[');
    await expectRejected(
      table("sha256:zero", [vhost("z", ["z.test"], [{ route: [{ cluster: clusterName("alpha"), weight: 0 }, { cluster: clusterName("beta"), weight: 0 }] }])]),
    );
    await expectRejected(
      table("sha256:dup", [vhost("a", ["dup.test"], [{ route: to("alpha") }]), vhost("b", ["dup.test"], [{ route: to("beta") }])]),
    );
  });

  it("a route with two actions is rejected", async () => {
    await expectRejected(
      JSON.stringify({
        format: 1,
        version: "sha256:two-actions",
        virtualHosts: [{ name: "t", domains: ["t.test"], routes: [{ route: [{ cluster: clusterName("alpha") }], directResponse: { status: 200 } }] }],
      }),
    );
  });

  it("envoy/demo-table.json (used by make run) is accepted", async () => {
    const demo = readFileSync(join(REPO_ROOT, "envoy", "demo-table.json"), "utf8");
    expect(await gw.apply(demo)).toBe("applied");
    const res = await gw.send("reviews", "/");
    expect(res.status).toBe(404);
    expect(res.headers["x-canal-table"]).toBe("sha256:demo-1");
  });

  it("after rejections a good table still applies", async () => {
    expect(await gw.apply(CHANGED)).toBe("applied");
    expect(await gw.apply(BASE)).toBe("applied");
    expect(await gw.servingVersion()).toBe(BASE.version);
  });
});

/** The value of canal_requests_total{vhost,outcome} in /stats/prometheus (0 when absent). */
async function promCounter(vhostName: string, outcome: string): Promise<number> {
  const text = await gw.envoy.prometheus();
  const esc = vhostName.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const m = new RegExp(`^canal_requests_total\\{vhost="${esc}",outcome="${outcome}"\\} (\\d+)$`, "m").exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe("metrics", () => {
  it("counts routed, local_reply, fault and no_route per vhost, with vhost/outcome labels in Prometheus", async () => {
    const vh = "default/hello.world:80";
    const before = {
      routed: await promCounter(vh, "routed"),
      local: await promCounter(vh, "local_reply"),
      fault: await promCounter(vh, "fault"),
      noRoute: await promCounter(vh, "no_route"),
      unmatched: await promCounter("unmatched", "no_route"),
    };
    for (let i = 0; i < 3; i++) expect((await gw.send("hello.default", "/api/m")).status).toBe(200);
    expect((await gw.send("hello.default", "/local")).status).toBe(200);
    expect((await gw.send("hello.default", "/moved")).status).toBe(301);
    expect((await gw.send("hello.default", "/abort")).status).toBe(500);
    expect((await gw.send("hello.default", "/nothing")).status).toBe(404);
    for (let i = 0; i < 2; i++) expect((await gw.send("who.test", "/")).status).toBe(404);
    const want = { routed: before.routed + 3, local: before.local + 2, fault: before.fault + 1, noRoute: before.noRoute + 1, unmatched: before.unmatched + 2 };
    const read = async (): Promise<typeof want> => ({
      routed: await promCounter(vh, "routed"),
      local: await promCounter(vh, "local_reply"),
      fault: await promCounter(vh, "fault"),
      noRoute: await promCounter(vh, "no_route"),
      unmatched: await promCounter("unmatched", "no_route"),
    });
    // The filter adds its counts to Envoy's counters on its tick (METRIC_FLUSH_MS, 1 s), so they lag.
    let last = before;
    await pollUntil("canal_requests_total to count the requests (flushed on the filter's tick)", async () => {
      last = await read();
      return (Object.keys(want) as (keyof typeof want)[]).every((k) => last[k] >= want[k]) ? true : undefined;
    }, { timeoutMs: 5_000, intervalMs: 100, onTimeout: () => JSON.stringify({ want, last }) });
    expect(await read()).toEqual(want);
    const text = await gw.envoy.prometheus();
    expect(text).toContain("# TYPE canal_requests_total counter");
    expect(text).not.toMatch(/^envoy_wasmcustom/m);
  });
});

describe("robustness: requests that must never trap the VM", () => {
  // Rejected tables above legitimately log Wasm configure failures; judge only what follows.
  let logMark = 0;
  beforeAll(() => {
    logMark = gw.envoy.log().length;
  });

  it("a 60 KB header value is routed and forwarded whole; a regex does not run over it (the regex budget)", async () => {
    // Issue 12: a regex condition runs only while the request's regex budget pays for it
    // (docs/regex.md, "Budget"): 60 KB is past it, so "a+b" does not match and the request falls
    // through to the catch-all route; a few KB still match.
    const big = `${"a".repeat(60 * 1024)}b`;
    const res = await gw.send("robust.test", "/big", { headers: { "x-big": big } });
    expect(res.status).toBe(200);
    const echo = jsonBody<Echo>(res);
    expect(echo.upstream).toBe("gamma");
    expect(echo.headers["x-big"]).toHaveLength(big.length);
    const small = await gw.send("robust.test", "/big", { headers: { "x-big": `${"a".repeat(4 * 1024)}b` } });
    expect(jsonBody<Echo>(small).upstream).toBe("beta");
    const notMatching = await gw.send("robust.test", "/big", { headers: { "x-big": "a".repeat(4 * 1024) } });
    expect(jsonBody<Echo>(notMatching).upstream).toBe("gamma");
  });

  it("header values with invalid UTF-8 are compared as bytes and forwarded unchanged", async () => {
    const req = Buffer.concat([
      Buffer.from("GET /bin HTTP/1.1\r\nHost: robust.test\r\nx-bin: ", "latin1"),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]),
      Buffer.from("\r\nConnection: close\r\n\r\n", "latin1"),
    ]);
    const res = await rawRequest(gw.port, req);
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body.toString("utf8")) as Echo;
    expect(echo.upstream).toBe("alpha");
    const raw = echo.rawHeaders;
    const i = raw.findIndex((h) => h.toLowerCase() === "x-bin");
    expect(Buffer.from(raw[i + 1], "latin1")).toEqual(Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]));
    const prefixed = Buffer.concat([
      Buffer.from("GET /bin HTTP/1.1\r\nHost: robust.test\r\nx-bin2: ab", "latin1"),
      Buffer.from([0xe2, 0x82]),
      Buffer.from("\r\nConnection: close\r\n\r\n", "latin1"),
    ]);
    const res2 = await rawRequest(gw.port, prefixed);
    expect(res2.status).toBe(200);
    expect((JSON.parse(res2.body.toString("utf8")) as Echo).upstream).toBe("alpha");
  });

  it("a path and query with non-UTF-8 percent-escapes and a host with odd bytes are handled", async () => {
    expect((await gw.send("robust.test", "/%ff%fe?q=%c3%28")).status).toBe(200);
    const res = await rawRequest(gw.port, Buffer.concat([
      Buffer.from("GET / HTTP/1.1\r\nHost: ", "latin1"),
      Buffer.from([0x72, 0xc3, 0x28, 0x2e, 0x74]),
      Buffer.from("\r\nConnection: close\r\n\r\n", "latin1"),
    ]));
    expect([400, 404]).toContain(res.status);
  });

  it("after all that, Envoy still serves and the log has no Wasm failure", async () => {
    expect(gw.envoy.alive).toBe(true);
    expect(await upstreamOf("hello.default", "/api/after")).toBe("alpha");
    expect(wasmFailureLines(gw.envoy.log().slice(logMark))).toEqual([]);
  });
});
