// The controller's ECDS sink with REAL Envoy: gateways rendered by renderCanalBootstrap with
// `table: {kind: "ads"}` connect to EcdsServer and run Canal's filter with the tables it pushes.
// The first describe is one gateway's life in order (default table, v1, v2, a rejected table,
// a 10,000-host table, a controller restart); the second runs several gateways at once.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteTable, VirtualHost } from "../../schema/route-table.ts";
import type { EcdsServer, GatewayEvent, GatewayStatus } from "../../controller/src/sinks/ecds/index.ts";
import { request } from "../support/http.ts";
import { freePort } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { table, to, vhost } from "../support/tables.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { gatewayStatus, startAdsGateway, startEcdsServer, tableJson, Upstreams, type AdsGateway } from "./harness.ts";

const V1 = table("sha256:ecds-v1", [
  vhost("test/app", ["app.test"], [
    { match: [{ uri: { prefix: "/api" } }], route: to("alpha") },
    { route: to("beta") },
  ]),
]);

/** /api moves from alpha to gamma; a new host appears. */
const V2 = table("sha256:ecds-v2", [
  vhost("test/app", ["app.test"], [
    { match: [{ uri: { prefix: "/api" } }], route: to("gamma") },
    { route: to("beta") },
  ]),
  vhost("test/new", ["new.test"], [{ route: to("alpha") }]),
]);

/** Everything would go to alpha — but the regex does not compile, so the filter refuses the table. */
const BAD = table("sha256:ecds-bad", [
  vhost("test/app", ["app.test"], [
    { match: [{ uri: { regex: "/api/(unclosed" } }], route: to("alpha") },
    { route: to("alpha") },
  ]),
]);

/** 10,000 virtual hosts, several MB of JSON: more than gRPC's default 4 MiB message limit. */
function largeTable(version: string): RouteTable {
  const services = ["alpha", "beta", "gamma"];
  const hosts: VirtualHost[] = [];
  for (let i = 0; i < 10_000; i++) {
    const ns = `namespace-${String(i % 97).padStart(3, "0")}`;
    const svc = `service-number-${String(i).padStart(5, "0")}`;
    const fqdn = `${svc}.${ns}.svc.cluster.local`;
    hosts.push(
      vhost(`${ns}/${svc}`, [fqdn, `${svc}.${ns}.svc`, `${svc}.${ns}`], [
        {
          name: `${ns}/${svc}.http[0]`,
          match: [{ uri: { prefix: "/v1/" }, headers: { "x-canary": { exact: "true" } } }, { uri: { regex: "/v1/items/[0-9]+" } }],
          route: [
            { cluster: `outbound|80|canary|${fqdn}`, weight: 0 },
            { cluster: `outbound|80||${services[(i + 1) % 3]}.test.svc.cluster.local`, weight: 100 },
          ],
          retries: { attempts: 2, perTryTimeoutMs: 2000, retryOn: "5xx,connect-failure" },
          timeoutMs: 15000,
        },
        { name: `${ns}/${svc}.http[1]`, route: to(services[i % 3]) },
      ]),
    );
  }
  return table(version, hosts);
}

const WASM = ensureCanalWasm();
const VERSIONS_SENT: string[] = [];

describe("ECDS with one real Envoy", () => {
  let upstreams: Upstreams;
  let server: EcdsServer;
  let adsPort: number;
  let gw: AdsGateway;
  const events: GatewayEvent[] = [];

  beforeAll(async () => {
    upstreams = await Upstreams.start(["alpha", "beta", "gamma"]);
    ({ server, port: adsPort } = await startEcdsServer({ code: { local: WASM } }));
    server.onChange((e) => {
      events.push(e);
      if (e.kind === "sent") VERSIONS_SENT.push(e.gateway.lastSent?.version ?? "?");
    });
    gw = await startAdsGateway({ nodeId: "gw-solo", wasmPath: WASM, adsPort, upstreams });
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await server?.stop();
    await upstreams?.close();
  });

  // Was "every request is the filter's empty-table 404" as the intended state of a new gateway
  // (issue 12, finding 7). The listener still serves the default config without warming, but the
  // filter's reserved probe now answers 503, so the chart's readinessProbe keeps the pod out of
  // the Service until its first table: only a request sent to the pod directly sees the 404.
  it("(a) before the first table: connected, nothing sent; the readiness probe answers 503 (not Ready) and a request sent anyway gets the empty-table 404", async () => {
    const g = await gatewayStatus(server, "gw-solo", "connected", (x) => x.connected, () => gw.envoy.logTail());
    expect(g).toMatchObject({ cluster: "canal", streams: 1, reportedVersion: "" });
    expect(g.userAgent).toMatch(/^envoy\/1\.40\./);
    expect(g.lastSent).toBeUndefined();
    const res = await gw.send("app.test", "/api/x");
    expect(res.status).toBe(404);
    expect(res.body).toBe('canal: no route for host "app.test" path "/api/x"\n');
    expect(res.ms).toBeLessThan(5000);
    expect(await gw.servingVersion()).toBe("empty");
    const probe = await gw.send("canal-probe.invalid", "/");
    expect(probe.status).toBe(503);
    expect(probe.body).toBe("canal: no route table yet\n");
    expect(await gw.adsConnected()).toBe(true);
  });

  it("(b) publish v1 → Envoy ACKs → requests route per v1", async () => {
    server.publish(tableJson(V1));
    const g = await gatewayStatus(server, "gw-solo", "acked v1", (x) => x.lastAcked?.version === V1.version, () => gw.envoy.logTail());
    expect(g.lastSent?.version).toBe(V1.version);
    expect(g.reportedVersion).toBe(V1.version);
    expect(g.lastNack).toBeUndefined();
    await gw.waitServing(V1.version);
    // Ready now: the probe answers 200 with the version, before routing.
    const probe = await gw.send("canal-probe.invalid:8080", "/anything");
    expect(probe).toMatchObject({ status: 200, body: `${V1.version}\n` });
    expect(probe.headers["x-canal-table"]).toBe(V1.version);
    expect(await gw.upstreamOf("app.test", "/api/x")).toBe("alpha");
    expect(await gw.upstreamOf("app.test", "/other")).toBe("beta");
    expect(await gw.upstreamOf("new.test", "/")).toBe("404");
    expect(await gw.ecdsStats()).toMatchObject({ success: 1, rejected: 0 });
  });

  it("(c) publish v2 → ACK → routing changes without a restart", async () => {
    const pid = gw.envoy.pid;
    server.publish(tableJson(V2));
    await gatewayStatus(server, "gw-solo", "acked v2", (x) => x.lastAcked?.version === V2.version, () => gw.envoy.logTail());
    await gw.waitRoute("app.test", "/api/x", "gamma");
    expect(await gw.upstreamOf("new.test", "/")).toBe("alpha");
    expect(await gw.servingVersion()).toBe(V2.version);
    expect(gw.envoy.pid).toBe(pid);
    expect(gw.envoy.alive).toBe(true);
    expect(await gw.ecdsStats()).toMatchObject({ success: 2, rejected: 0 });
  });

  it("(d) a table the filter rejects → NACK with Envoy's error detail; v2 keeps serving; not re-sent", async () => {
    server.publish(tableJson(BAD));
    const g = await gatewayStatus(server, "gw-solo", "NACK of the bad table", (x) => x.lastNack !== undefined, () => gw.envoy.logTail());
    expect(g.lastNack?.version).toBe(BAD.version);
    expect(g.lastNack?.message).toMatch(/Wasm plugin canal|canal/);
    expect(g.lastNack?.message.length).toBeGreaterThan(0);
    // Envoy's NACK carries the version it keeps running.
    expect(g.reportedVersion).toBe(V2.version);
    expect(g.lastAcked?.version).toBe(V2.version);
    expect(gw.envoy.log()).toMatch(/canal: rejected route table: virtualHosts\[0\]\.routes\[0\]\.match\[0\]\.uri\.regex/);
    expect(await gw.ecdsStats()).toMatchObject({ success: 2, rejected: 1 });
    expect(await gw.servingVersion()).toBe(V2.version);
    expect(await gw.upstreamOf("app.test", "/api/x")).toBe("gamma");
    expect(await gw.upstreamOf("app.test", "/other")).toBe("beta");
    console.log(`(d) Envoy's NACK: code ${g.lastNack?.code}, message ${JSON.stringify(g.lastNack?.message)}`);
  });

  it("(e) a 10,000-host table (several MB) is delivered, ACKed and routes", async () => {
    const big = largeTable("sha256:ecds-large");
    const t = tableJson(big);
    const started = performance.now();
    const result = server.publish(t);
    expect(result.bytes).toBeGreaterThan(4 * 1024 * 1024);
    // While Envoy loads it (seconds), requests keep being answered by a table: the old one
    // (gamma) or the new one (no app.test: 404). Never by the client's own x-canal-cluster.
    const during = new Map<string, number>();
    let loading = true;
    const spoofLoop = (async () => {
      while (loading) {
        const res = await request({
          port: gw.port,
          host: "app.test",
          path: "/api/x",
          headers: { "x-canal-cluster": "outbound|80||alpha.test.svc.cluster.local" },
        });
        const who = res.status === 200 ? String(res.headers["x-upstream"]) : String(res.status);
        during.set(who, (during.get(who) ?? 0) + 1);
      }
    })();
    let g: GatewayStatus;
    try {
      g = await gatewayStatus(server, "gw-solo", "acked the large table", (x) => x.lastAcked?.version === big.version, () => gw.envoy.logTail(), 60_000);
    } finally {
      loading = false;
      await spoofLoop;
    }
    const ackedMs = performance.now() - started;
    expect([...during.keys()].filter((k) => k !== "gamma" && k !== "404")).toEqual([]);
    expect(during.get("gamma") ?? 0).toBeGreaterThan(0);
    await gw.waitServing(big.version, 60_000);
    const servingMs = performance.now() - started;
    expect(g.lastNack?.version).toBe(BAD.version);
    // Host i: namespace i % 97; "/v1/items/<n>" → services[(i + 1) % 3], anything else → services[i % 3].
    expect(await gw.upstreamOf("service-number-09999.namespace-008", "/x")).toBe("alpha");
    expect(await gw.upstreamOf("service-number-09999.namespace-008.svc.cluster.local", "/v1/items/42")).toBe("beta");
    expect(await gw.upstreamOf("service-number-00001.namespace-001.svc", "/")).toBe("beta");
    expect(await gw.upstreamOf("service-number-05002.namespace-055.svc.cluster.local", "/v1/items/7")).toBe("gamma");
    expect(await gw.upstreamOf("app.test", "/api/x")).toBe("404");
    console.log(
      `(e) large table: ${big.virtualHosts.length} virtual hosts, ${(t.json.length / 1048576).toFixed(2)} MiB JSON, ` +
        `${(result.bytes / 1048576).toFixed(2)} MiB resource; ACK after ${ackedMs.toFixed(0)} ms, serving after ${servingMs.toFixed(0)} ms; ` +
        `requests during the load: ${JSON.stringify(Object.fromEntries(during))}`,
    );
  }, 120_000);

  it("(f) the controller restarts: Envoy keeps the table while it is down, reconnects, and takes new tables", async () => {
    const bigVersion = "sha256:ecds-large";
    await server.stop();
    await pollUntil("Envoy to notice the control plane is gone", async () => ((await gw.adsConnected()) ? undefined : true), {
      timeoutMs: 20_000,
      onTimeout: () => gw.envoy.logTail(),
    });
    // Down: the last accepted table keeps serving.
    expect(await gw.servingVersion()).toBe(bigVersion);
    expect(await gw.upstreamOf("service-number-09999.namespace-008", "/x")).toBe("alpha");

    // A new controller process: no memory of anything, same port. Its first table is V2.
    const { server: next } = await startEcdsServer({ code: { local: WASM } }, `127.0.0.1:${adsPort}`);
    server = next;
    server.onChange((e) => events.push(e));
    const back = await gatewayStatus(server, "gw-solo", "reconnected", (x) => x.connected, () => gw.envoy.logTail(), 60_000);
    // Envoy's first request on the new stream reports the version it kept.
    expect(back.reportedVersion).toBe(bigVersion);
    expect(back.lastSent).toBeUndefined();
    expect(await gw.servingVersion()).toBe(bigVersion);

    server.publish(tableJson(V2));
    await gatewayStatus(server, "gw-solo", "acked v2 from the new server", (x) => x.lastAcked?.version === V2.version, () => gw.envoy.logTail());
    await gw.waitServing(V2.version);
    expect(await gw.upstreamOf("app.test", "/api/x")).toBe("gamma");
    expect(await gw.adsConnected()).toBe(true);
  }, 120_000);

  it("sent each version once: the rejected table was not re-sent after its NACK", () => {
    expect(VERSIONS_SENT).toEqual([V1.version, V2.version, BAD.version, "sha256:ecds-large"]);
    const kinds = events.filter((e) => e.kind !== "sent").map((e) => e.kind);
    expect(kinds.slice(0, 6)).toEqual(["connected", "acked", "acked", "nacked", "acked", "disconnected"]);
  });
});

describe("ECDS with several real Envoys", () => {
  let upstreams: Upstreams;
  let server: EcdsServer;
  let adsPort: number;
  const gateways: AdsGateway[] = [];

  beforeAll(async () => {
    upstreams = await Upstreams.start(["alpha", "beta", "gamma"]);
    ({ server, port: adsPort } = await startEcdsServer({ code: { local: WASM } }));
    server.publish(tableJson(V1));
    gateways.push(...(await Promise.all(["gw-a", "gw-b"].map((nodeId) => startAdsGateway({ nodeId, wasmPath: WASM, adsPort, upstreams })))));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await server?.stop();
    await upstreams?.close();
  });

  it("(g) two Envoys: both tracked, both ACK each publish, both route", async () => {
    for (const g of gateways) {
      await gatewayStatus(server, g.nodeId, "acked v1", (x) => x.lastAcked?.version === V1.version, () => g.envoy.logTail());
      await g.waitServing(V1.version);
      expect(await g.upstreamOf("app.test", "/api/1")).toBe("alpha");
    }
    server.publish(tableJson(V2));
    for (const g of gateways) {
      await gatewayStatus(server, g.nodeId, "acked v2", (x) => x.lastAcked?.version === V2.version, () => g.envoy.logTail());
      await g.waitRoute("app.test", "/api/1", "gamma");
    }
    const st = server.status();
    expect(st.map((g) => [g.nodeId, g.cluster, g.connected, g.lastAcked?.version])).toEqual([
      ["gw-a", "canal", true, V2.version],
      ["gw-b", "canal", true, V2.version],
    ]);
    expect(new Set(st.map((g) => g.peer)).size).toBe(2);
  });

  it("a bad table is NACKed by both; a gateway that starts afterwards falls back to the last ACKed table", async () => {
    server.publish(tableJson(BAD));
    for (const g of gateways) {
      const s = await gatewayStatus(server, g.nodeId, "NACK", (x) => x.lastNack?.version === BAD.version, () => g.envoy.logTail());
      expect(s.reportedVersion).toBe(V2.version);
    }
    const late = await startAdsGateway({ nodeId: "gw-late", wasmPath: WASM, adsPort, upstreams });
    gateways.push(late);
    const s = await gatewayStatus(server, "gw-late", "NACK of the bad table, then ACK of v2", (x) => x.lastAcked?.version === V2.version, () => late.envoy.logTail());
    // A fresh Envoy NACKs with version_info "" (it runs only the default config) ...
    expect(s.lastNack?.version).toBe(BAD.version);
    // ... and then runs the table every other gateway runs, instead of the empty default.
    await late.waitServing(V2.version);
    expect(await late.upstreamOf("app.test", "/api/1")).toBe("gamma");
  }, 120_000);

  it("a stopped gateway is recorded as disconnected; the others stay connected", async () => {
    const gone = gateways[0];
    await gone.stop();
    const s = await gatewayStatus(server, gone.nodeId, "disconnected", (x) => !x.connected);
    expect(s.streams).toBe(0);
    expect(s.disconnectedAt).toBeDefined();
    expect(server.status().filter((g) => g.connected).map((g) => g.nodeId)).toEqual(["gw-b", "gw-late"]);
  });
});

describe("ECDS when the controller is not there yet", () => {
  it("Envoy starts without a control plane, serves the default 404, and takes the table once the server appears", async () => {
    const upstreams = await Upstreams.start(["alpha"]);
    const adsPort = await freePort();
    let gw: AdsGateway | undefined;
    let server: EcdsServer | undefined;
    try {
      gw = await startAdsGateway({ nodeId: "gw-early", wasmPath: WASM, adsPort, upstreams });
      const g0 = gw;
      expect(await g0.adsConnected()).toBe(false);
      const res = await g0.send("app.test", "/api/x");
      expect(res.status).toBe(404);
      expect(res.headers["x-canal-table"]).toBe("empty");
      ({ server } = await startEcdsServer({ code: { local: WASM } }, `127.0.0.1:${adsPort}`));
      server.publish(tableJson(V1));
      // Envoy retries the ADS stream with backoff (500 ms base, 30 s cap by default).
      await gatewayStatus(server, "gw-early", "acked v1", (x) => x.lastAcked?.version === V1.version, () => g0.envoy.logTail(), 60_000);
      await g0.waitRoute("app.test", "/api/x", "alpha");
    } finally {
      await gw?.stop();
      await server?.stop();
      await upstreams.close();
    }
  }, 120_000);
});

describe("ECDS with remote Wasm code (why EcdsServer refuses it)", () => {
  it("Envoy 1.40 ACKs remote code over ECDS, never fetches it, and the filter is skipped; internal_only_headers keeps clients from picking a cluster", async () => {
    const bytes = readFileSync(WASM);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    let fetches = 0;
    const store = createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { "content-type": "application/wasm" });
      res.end(bytes);
    });
    await new Promise<void>((resolve) => store.listen(0, "127.0.0.1", () => resolve()));
    const storePort = (store.address() as AddressInfo).port;
    const upstreams = await Upstreams.start(["alpha"]);
    const { server, port } = await startEcdsServer({
      code: { remote: { uri: `http://127.0.0.1:${storePort}/canal.wasm`, cluster: "wasm-store", sha256 } },
      unsafeAllowRemoteCode: true,
    });
    let gw: AdsGateway | undefined;
    try {
      gw = await startAdsGateway({
        nodeId: "gw-remote",
        wasmPath: WASM,
        adsPort: port,
        upstreams,
        extraClusters: [{ name: "wasm-store", host: "127.0.0.1", port: storePort }],
      });
      const g0 = gw;
      const t = table("sha256:ecds-remote", [vhost("test/app", ["app.test"], [{ route: to("alpha") }])]);
      server.publish(tableJson(t));
      const s = await gatewayStatus(server, "gw-remote", "acked", (x) => x.lastAcked?.version === t.version, () => g0.envoy.logTail());
      expect(s.lastNack).toBeUndefined();
      // After the ACK the filter is gone from the chain: the router sees the request as the
      // client sent it (no x-canal-cluster → 503 cluster_not_found) ...
      await pollUntil("the filter to be bypassed", async () => ((await g0.upstreamOf("app.test", "/")) === "503" ? true : undefined), {
        onTimeout: () => g0.envoy.logTail(),
      });
      // ... and a client that names a cluster itself is NOT routed there: the bootstrap lists
      // x-canal-cluster in internal_only_headers, so the HCM strips it before any filter runs.
      const res = await request({
        port: g0.port,
        host: "app.test",
        path: "/",
        headers: { "x-canal-cluster": "outbound|80||alpha.test.svc.cluster.local" },
      });
      expect(res.status).toBe(503);
      expect(res.headers["x-upstream"]).toBeUndefined();
      expect(res.headers["x-canal-table"]).toBeUndefined();
      expect(fetches).toBe(0);
      expect(g0.envoy.log()).toMatch(/Wasm remote code fetch is unstable/);
      expect(g0.envoy.log()).not.toMatch(/loaded route table sha256:ecds-remote/);
    } finally {
      await gw?.stop();
      await server.stop();
      await upstreams.close();
      await new Promise<void>((resolve) => store.close(() => resolve()));
    }
  }, 120_000);
});
