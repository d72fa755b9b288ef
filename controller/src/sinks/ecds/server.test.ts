// EcdsServer's xDS state machine, driven by a real grpc-js ADS client over a real HTTP/2
// connection (no mocks): initial request, ACK, NACK, stale nonces, coalescing, reconnects,
// several gateways, groups, limits. The real-Envoy counterpart is test/ecds/ecds-envoy.test.ts.

import * as grpc from "@grpc/grpc-js";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { EcdsServer, TableTooLargeError, TYPED_EXTENSION_CONFIG_TYPE_URL, type EcdsServerOptions, type GatewayEvent } from "./index.ts";
import { AdsTestClient, resourceNameOf, tableJsonOf } from "./testing/ads-client.ts";
import { gatewayWhere, until } from "./testing/wait.ts";

const WASM = "/opt/canal/canal.wasm";

const servers: EcdsServer[] = [];
const clients: AdsTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.cancel();
  for (const s of servers.splice(0)) await s.stop();
});

async function startServer(opts: Partial<EcdsServerOptions> = {}): Promise<{ server: EcdsServer; port: number }> {
  const server = new EcdsServer({ code: { local: WASM }, ...opts });
  servers.push(server);
  const { port } = await server.start("127.0.0.1:0");
  return { server, port };
}

function connect(port: number, id: string, cluster = "canal", opts: { maxReceiveMessageBytes?: number; service?: "ads" | "ecds" } = {}): AdsTestClient {
  const c = new AdsTestClient(port, { id, cluster }, opts);
  clients.push(c);
  return c;
}

function tableJson(version: string, extra = ""): string {
  return JSON.stringify({ format: 1, version, virtualHosts: [], extra });
}

describe("EcdsServer: the ExtensionConfigDiscoveryService (istiod's gateways with the chart's EnvoyFilter)", () => {
  it("serves StreamExtensionConfigs like ADS: same table, ACK recorded for the gateway", async () => {
    const { server, port } = await startServer();
    const json = tableJson("v1");
    server.publish({ version: "v1", json });
    const c = connect(port, "gw-ecds", "canal", { service: "ecds" });
    c.subscribe();
    const r = await c.next();
    expect(r.versionInfo).toBe("v1");
    expect(resourceNameOf(r)).toBe("canal");
    expect(tableJsonOf(r)).toBe(json);
    c.ack(r);
    await gatewayWhere(server, "gw-ecds", "acked v1", (g) => g.lastAcked?.version === "v1");
  });
});

describe("EcdsServer: one gateway", () => {
  it("holds the initial request until a table exists, then sends it with version and nonce", async () => {
    const { server, port } = await startServer();
    const c = connect(port, "gw-1");
    c.subscribe();
    await gatewayWhere(server, "gw-1", "connected", (g) => g.connected && g.streams === 1);
    expect(c.pending).toBe(0);
    expect(server.status()[0].lastSent).toBeUndefined();

    const json = tableJson("v1");
    const result = server.publish({ version: "v1", json });
    expect(result).toMatchObject({ version: "v1", changed: true, streams: 1 });
    const r = await c.next();
    expect(r.versionInfo).toBe("v1");
    expect(r.typeUrl).toBe(TYPED_EXTENSION_CONFIG_TYPE_URL);
    expect(r.nonce).not.toBe("");
    expect(r.controlPlane).toBe("canal-controller");
    expect(r.resources).toHaveLength(1);
    expect(r.resources[0].type_url).toBe(TYPED_EXTENSION_CONFIG_TYPE_URL);
    expect(resourceNameOf(r)).toBe("canal");
    expect(tableJsonOf(r)).toBe(json);

    const sent = await gatewayWhere(server, "gw-1", "sent v1", (g) => g.lastSent?.version === "v1");
    expect(sent.lastSent?.nonce).toBe(r.nonce);
    expect(sent.lastSent?.bytes).toBe(result.bytes);
    expect(sent.lastAcked).toBeUndefined();
  });

  it("sends the latest table at once to a gateway that subscribes after the publish", async () => {
    const { port, server } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1");
    c.subscribe();
    expect((await c.next()).versionInfo).toBe("v1");
  });

  it("an ACK (our nonce, no error_detail) records the version as acked and reported", async () => {
    const { server, port } = await startServer();
    const events: GatewayEvent[] = [];
    server.onChange((e) => events.push(e));
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1", "gateways");
    c.subscribe();
    const r = await c.next();
    c.ack(r);
    const g = await gatewayWhere(server, "gw-1", "acked v1", (x) => x.lastAcked?.version === "v1");
    expect(g).toMatchObject({ nodeId: "gw-1", cluster: "gateways", connected: true, reportedVersion: "v1", userAgent: "ads-test-client/0" });
    expect(g.lastNack).toBeUndefined();
    expect(events.map((e) => e.kind)).toEqual(["connected", "sent", "acked"]);
    expect(events[2].gateway.lastAcked?.version).toBe("v1");
  });

  it("a NACK records version and Envoy's message, keeps the acked version, and the NACKed table is not re-sent", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1");
    c.subscribe();
    const r1 = await c.next();
    c.ack(r1);
    await gatewayWhere(server, "gw-1", "acked v1", (g) => g.lastAcked?.version === "v1");

    server.publish({ version: "v2-bad", json: tableJson("v2-bad") });
    const r2 = await c.next();
    expect(r2.versionInfo).toBe("v2-bad");
    c.nack(r2, "v1", "Unable to create Wasm plugin canal");
    const g = await gatewayWhere(server, "gw-1", "nacked v2-bad", (x) => x.lastNack !== undefined);
    expect(g.lastNack).toMatchObject({ version: "v2-bad", code: 13, message: "Unable to create Wasm plugin canal" });
    expect(g.lastAcked?.version).toBe("v1");
    expect(g.reportedVersion).toBe("v1");

    // A duplicate NACK with the same nonce must not make the server send v2-bad (or v1) either.
    c.nack(r2, "v1", "Unable to create Wasm plugin canal");
    // The next response is v3: nothing (no v2-bad, no v1) was sent in between.
    server.publish({ version: "v3", json: tableJson("v3") });
    const r3 = await c.next();
    expect(r3.versionInfo).toBe("v3");
    expect(c.received.map((x) => x.versionInfo)).toEqual(["v1", "v2-bad", "v3"]);
    c.ack(r3);
    await gatewayWhere(server, "gw-1", "acked v3", (x) => x.lastAcked?.version === "v3");
    expect(server.status()[0].lastNack?.version).toBe("v2-bad");
  });

  it("ignores stale and unknown nonces, ACK or NACK alike", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1");
    c.subscribe();
    const r1 = await c.next();
    // v2 goes out before the gateway answered v1: v1's nonce becomes stale.
    server.publish({ version: "v2", json: tableJson("v2") });
    const r2 = await c.next();
    expect(r2.versionInfo).toBe("v2");
    c.nack(r1, "", "stale NACK");
    c.ack(r1);
    c.send({ versionInfo: "v9", responseNonce: "no-such-nonce", errorDetail: { code: 13, message: "unknown nonce" } });
    c.ack(r2);
    const g = await gatewayWhere(server, "gw-1", "acked v2", (x) => x.lastAcked?.version === "v2");
    expect(g.lastNack).toBeUndefined();
    expect(g.reportedVersion).toBe("v2");
    // Nothing was re-sent in reaction to the stale requests.
    server.publish({ version: "v3", json: tableJson("v3") });
    expect((await c.next()).versionInfo).toBe("v3");
    expect(c.received.map((x) => x.versionInfo)).toEqual(["v1", "v2", "v3"]);
  });

  it("uses a new nonce for every response and a new one again after a reconnect", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const a = connect(port, "gw-1");
    a.subscribe();
    const r1 = await a.next();
    a.ack(r1);
    server.publish({ version: "v2", json: tableJson("v2") });
    const r2 = await a.next();
    a.ack(r2);
    await gatewayWhere(server, "gw-1", "acked v2", (g) => g.lastAcked?.version === "v2");
    a.close();
    const down = await gatewayWhere(server, "gw-1", "disconnected", (g) => !g.connected);
    expect(down.streams).toBe(0);
    expect(down.disconnectedAt).toBeDefined();

    // Envoy's first request after a reconnect reports the version it kept.
    const b = connect(port, "gw-1");
    b.subscribe("v2");
    await gatewayWhere(server, "gw-1", "reconnected", (g) => g.connected && g.streams === 1);
    expect(server.status()).toHaveLength(1);
    const r3 = await b.next();
    expect(r3.versionInfo).toBe("v2");
    expect(new Set([r1.nonce, r2.nonce, r3.nonce]).size).toBe(3);
    b.ack(r3);
    const g = await gatewayWhere(server, "gw-1", "re-acked v2", (x) => x.lastSent?.nonce === r3.nonce && x.lastAcked?.version === "v2");
    expect(g.reportedVersion).toBe("v2");
  });

  it("a cancelled stream (gateway vanished) marks the gateway disconnected", async () => {
    const { server, port } = await startServer();
    const c = connect(port, "gw-1");
    c.subscribe();
    await gatewayWhere(server, "gw-1", "connected", (g) => g.connected);
    c.cancel();
    await gatewayWhere(server, "gw-1", "disconnected", (g) => !g.connected && g.streams === 0);
  });

  it("coalesces publishes during an in-flight response into the newest table", async () => {
    const { server, port } = await startServer();
    const c = connect(port, "gw-1");
    c.subscribe();
    await gatewayWhere(server, "gw-1", "connected", (g) => g.connected);
    // Synchronous publishes: v1 is being written when v2..v5 arrive; only v5 follows it.
    for (const v of ["v1", "v2", "v3", "v4", "v5"]) server.publish({ version: v, json: tableJson(v) });
    expect((await c.next()).versionInfo).toBe("v1");
    const last = await c.next();
    expect(last.versionInfo).toBe("v5");
    c.ack(last);
    await gatewayWhere(server, "gw-1", "acked v5", (g) => g.lastAcked?.version === "v5");
    expect(c.received.map((r) => r.versionInfo)).toEqual(["v1", "v5"]);
  });

  it("republishing the same table is a no-op; the same version with other content is refused", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1");
    c.subscribe();
    c.ack(await c.next());
    await gatewayWhere(server, "gw-1", "acked v1", (g) => g.lastAcked?.version === "v1");
    expect(server.publish({ version: "v1", json: tableJson("v1") }).changed).toBe(false);
    expect(() => server.publish({ version: "v1", json: tableJson("v1", "other") })).toThrow(/different content/);
    expect(() => server.publish({ version: "", json: "{}" })).toThrow(/non-empty version/);
    server.publish({ version: "v2", json: tableJson("v2") });
    expect((await c.next()).versionInfo).toBe("v2");
    expect(c.received.map((r) => r.versionInfo)).toEqual(["v1", "v2"]);
    expect(server.latest()).toMatchObject({ version: "v2" });
  });
});

describe("EcdsServer: fallback for a gateway without a table", () => {
  it("a fresh gateway (version_info \"\") that NACKs the latest gets the last ACKed table", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "good", json: tableJson("good") });
    const a = connect(port, "gw-a");
    a.subscribe();
    a.ack(await a.next());
    await gatewayWhere(server, "gw-a", "acked good", (g) => g.lastAcked?.version === "good");
    server.publish({ version: "bad", json: tableJson("bad") });
    a.nack(await a.next(), "good");
    await gatewayWhere(server, "gw-a", "nacked bad", (g) => g.lastNack?.version === "bad");

    const b = connect(port, "gw-b");
    b.subscribe();
    const first = await b.next();
    expect(first.versionInfo).toBe("bad");
    b.nack(first, "");
    const second = await b.next();
    expect(second.versionInfo).toBe("good");
    expect(tableJsonOf(second)).toBe(tableJson("good"));
    b.ack(second);
    const g = await gatewayWhere(server, "gw-b", "acked good", (x) => x.lastAcked?.version === "good");
    expect(g.lastNack?.version).toBe("bad");
    expect(g.reportedVersion).toBe("good");
    // gw-a runs "good" already: its NACK did not trigger a fallback response.
    expect(a.received.map((r) => r.versionInfo)).toEqual(["good", "bad"]);
  });

  it("no fallback when disabled, when the gateway runs a table, or when nothing was ever ACKed", async () => {
    const { server, port } = await startServer({ fallbackToLastAcked: false });
    server.publish({ version: "good", json: tableJson("good") });
    const a = connect(port, "gw-a");
    a.subscribe();
    a.ack(await a.next());
    await gatewayWhere(server, "gw-a", "acked", (g) => g.lastAcked?.version === "good");
    server.publish({ version: "bad", json: tableJson("bad") });
    a.nack(await a.next(), "good");
    const b = connect(port, "gw-b");
    b.subscribe();
    b.nack(await b.next(), "");
    await gatewayWhere(server, "gw-b", "nacked", (g) => g.lastNack?.version === "bad");
    server.publish({ version: "next", json: tableJson("next") });
    expect((await b.next()).versionInfo).toBe("next");
    expect(b.received.map((r) => r.versionInfo)).toEqual(["bad", "next"]);

    const { server: s2, port: p2 } = await startServer();
    s2.publish({ version: "bad", json: tableJson("bad") });
    const c = connect(p2, "gw-c");
    c.subscribe();
    c.nack(await c.next(), "");
    await gatewayWhere(s2, "gw-c", "nacked", (g) => g.lastNack?.version === "bad");
    s2.publish({ version: "next", json: tableJson("next") });
    expect((await c.next()).versionInfo).toBe("next");
    expect(c.received.map((r) => r.versionInfo)).toEqual(["bad", "next"]);
  });
});

describe("EcdsServer: several gateways", () => {
  it("pushes every publish to every connected gateway and tracks each one", async () => {
    const { server, port } = await startServer();
    const gws = ["gw-1", "gw-2", "gw-3"].map((id) => connect(port, id));
    for (const c of gws) c.subscribe();
    await until("three gateways", () => (server.status().filter((g) => g.connected).length === 3 ? true : undefined));
    expect(server.publish({ version: "v1", json: tableJson("v1") }).streams).toBe(3);
    for (const c of gws) c.ack(await c.next());
    for (const id of ["gw-1", "gw-2", "gw-3"]) await gatewayWhere(server, id, "acked v1", (g) => g.lastAcked?.version === "v1");
    server.publish({ version: "v2", json: tableJson("v2") });
    const [r1, r2, r3] = await Promise.all(gws.map((c) => c.next()));
    gws[0].ack(r1);
    gws[1].nack(r2, "v1", "gw-2 says no");
    // gw-3 does not answer (yet).
    await gatewayWhere(server, "gw-1", "acked v2", (g) => g.lastAcked?.version === "v2");
    await gatewayWhere(server, "gw-2", "nacked v2", (g) => g.lastNack?.message === "gw-2 says no");
    const st = server.status();
    expect(st.map((g) => [g.nodeId, g.lastSent?.version, g.lastAcked?.version, g.lastNack?.version ?? null])).toEqual([
      ["gw-1", "v2", "v2", null],
      ["gw-2", "v2", "v1", "v2"],
      ["gw-3", "v2", "v1", null],
    ]);
    expect(r3.nonce).not.toBe(r1.nonce);
  });

  it("serves one table per group (groupOf) and never another group's", async () => {
    const { server, port } = await startServer({ groupOf: (n) => n.cluster });
    const east = connect(port, "e-1", "east");
    const west = connect(port, "w-1", "west");
    east.subscribe();
    west.subscribe();
    await until("two gateways", () => (server.status().filter((g) => g.connected).length === 2 ? true : undefined));
    server.publish({ version: "east-1", json: tableJson("east-1") }, { group: "east" });
    const e1 = await east.next();
    expect(e1.versionInfo).toBe("east-1");
    server.publish({ version: "west-1", json: tableJson("west-1") }, { group: "west" });
    const w1 = await west.next();
    expect(w1.versionInfo).toBe("west-1");
    expect(tableJsonOf(w1)).toBe(tableJson("west-1"));
    expect(east.received.map((r) => r.versionInfo)).toEqual(["east-1"]);
    expect(server.status().map((g) => [g.nodeId, g.group])).toEqual([
      ["e-1", "east"],
      ["w-1", "west"],
    ]);
  });

  it("two streams with the same node id count as one gateway with two streams", async () => {
    const { server, port } = await startServer();
    const a = connect(port, "same");
    const b = connect(port, "same");
    a.subscribe();
    b.subscribe();
    await gatewayWhere(server, "same", "two streams", (g) => g.streams === 2);
    a.close();
    const g = await gatewayWhere(server, "same", "one stream", (x) => x.streams === 1);
    expect(g.connected).toBe(true);
  });
});

describe("EcdsServer: protocol edges", () => {
  it("refuses remote Wasm code unless explicitly allowed (Envoy bypasses the filter with it)", () => {
    const remote = { remote: { uri: "http://x/canal.wasm", cluster: "wasm", sha256: "0".repeat(64) } };
    expect(() => new EcdsServer({ code: remote })).toThrow(/remote Wasm code is refused/);
    expect(() => new EcdsServer({ code: remote, unsafeAllowRemoteCode: true })).not.toThrow();
    expect(() => new EcdsServer({ code: { local: "" } })).toThrow(/empty/);
  });

  it("rejects a stream whose first request has no node id", async () => {
    const { port, server } = await startServer();
    const c = connect(port, "ignored");
    c.send({ withoutNode: true });
    const end = await c.end();
    expect(end.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(end.details).toMatch(/node\.id/);
    expect(server.status()).toEqual([]);
  });

  it("ignores requests for other type URLs and resources it does not serve", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1");
    c.send({ typeUrl: "type.googleapis.com/envoy.config.listener.v3.Listener", resourceNames: [] });
    c.send({ resourceNames: ["some-other-filter"] });
    await gatewayWhere(server, "gw-1", "connected", (g) => g.connected);
    c.send({ resourceNames: ["some-other-filter", "canal"] });
    const r = await c.next();
    expect(r.versionInfo).toBe("v1");
    expect(c.received).toHaveLength(1);
  });

  it("resends the current table when a stream subscribes again (empty nonce)", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1");
    c.subscribe();
    const r1 = await c.next();
    c.ack(r1);
    await gatewayWhere(server, "gw-1", "acked", (g) => g.lastAcked?.version === "v1");
    c.subscribe("v1");
    const r2 = await c.next();
    expect(r2.versionInfo).toBe("v1");
    expect(r2.nonce).not.toBe(r1.nonce);
  });

  it("delivers an 8 MB table and refuses one over maxSendMessageBytes", async () => {
    const { server, port } = await startServer({ maxSendMessageBytes: 16 * 1024 * 1024 });
    const big = tableJson("big", "x".repeat(8 * 1024 * 1024));
    const c = connect(port, "gw-1", "canal", { maxReceiveMessageBytes: 32 * 1024 * 1024 });
    c.subscribe();
    const result = server.publish({ version: "big", json: big });
    expect(result.bytes).toBeGreaterThan(8 * 1024 * 1024);
    const r = await c.next(20_000);
    expect(tableJsonOf(r)).toBe(big);
    c.ack(r);
    await gatewayWhere(server, "gw-1", "acked big", (g) => g.lastAcked?.version === "big");

    const huge = tableJson("huge", "x".repeat(16 * 1024 * 1024));
    expect(() => server.publish({ version: "huge", json: huge })).toThrow(TableTooLargeError);
    expect(server.latest()?.version).toBe("big");
  });

  it("a client with gRPC's default 4 MiB receive limit cannot take a 5 MB table (why the limit must be set on the gateway side too)", async () => {
    const { server, port } = await startServer();
    const c = connect(port, "small-client", "canal", { maxReceiveMessageBytes: 4 * 1024 * 1024 });
    c.subscribe();
    server.publish({ version: "five", json: tableJson("five", "x".repeat(5 * 1024 * 1024)) });
    const end = await c.end(20_000);
    expect(end.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await gatewayWhere(server, "small-client", "disconnected", (g) => !g.connected);
  });

  it("stop() closes every stream; start() again serves the same latest table to reconnecting gateways", async () => {
    const { server, port } = await startServer();
    server.publish({ version: "v1", json: tableJson("v1") });
    const a = connect(port, "gw-1");
    a.subscribe();
    a.ack(await a.next());
    await gatewayWhere(server, "gw-1", "acked", (g) => g.lastAcked?.version === "v1");
    await server.stop();
    await a.end();
    expect(server.status()[0]).toMatchObject({ connected: false, streams: 0 });
    expect(server.port).toBeUndefined();
    await server.start(`127.0.0.1:${port}`);
    const b = connect(port, "gw-1");
    b.subscribe("v1");
    const r = await b.next();
    expect(r.versionInfo).toBe("v1");
    await gatewayWhere(server, "gw-1", "connected again", (g) => g.connected);
  });

  it("answers Delta xDS with UNIMPLEMENTED (SotW only)", async () => {
    const { port } = await startServer();
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest(
      "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources",
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const code = await new Promise<grpc.status>((resolve) => {
      call.on("error", (e: grpc.ServiceError) => resolve(e.code));
      call.on("status", (st: grpc.StatusObject) => resolve(st.code));
      call.on("data", () => {});
      call.write(Buffer.alloc(0));
    });
    client.close();
    expect(code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("keepalive pings mark a gateway that vanished without closing the connection as disconnected", async () => {
    const { server, port } = await startServer({ keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 });
    // A TCP relay that can go silent: it stops forwarding in both directions but keeps the
    // sockets open, like a peer whose node died or a network partition.
    let silent = false;
    const sockets: Socket[] = [];
    const relay: Server = createServer((inbound) => {
      const outbound = tcpConnect(port, "127.0.0.1");
      sockets.push(inbound, outbound);
      inbound.on("data", (d) => {
        if (!silent) outbound.write(d);
      });
      outbound.on("data", (d) => {
        if (!silent) inbound.write(d);
      });
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", () => resolve()));
    try {
      const c = connect((relay.address() as AddressInfo).port, "gw-ghost");
      c.subscribe();
      await gatewayWhere(server, "gw-ghost", "connected", (g) => g.connected);
      silent = true;
      const g = await gatewayWhere(server, "gw-ghost", "disconnected by keepalive", (x) => !x.connected, 10_000);
      expect(g.streams).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  }, 20_000);

  it("prunes disconnected gateways after the retention time", async () => {
    const { server, port } = await startServer({ disconnectedRetentionMs: 0 });
    const c = connect(port, "gw-1");
    c.subscribe();
    await gatewayWhere(server, "gw-1", "connected", (g) => g.connected);
    c.close();
    await until("gw-1 to be forgotten", () => (server.status().length === 0 ? true : undefined));
  });

  it("a listener that throws does not disturb the protocol; unsubscribing stops events", async () => {
    const logs: string[] = [];
    const { server, port } = await startServer({ log: (e) => logs.push(`${e.level}: ${e.message}`) });
    const off = server.onChange(() => {
      throw new Error("listener bug");
    });
    const kinds: string[] = [];
    const off2 = server.onChange((e) => kinds.push(e.kind));
    server.publish({ version: "v1", json: tableJson("v1") });
    const c = connect(port, "gw-1");
    c.subscribe();
    c.ack(await c.next());
    await gatewayWhere(server, "gw-1", "acked", (g) => g.lastAcked?.version === "v1");
    expect(logs.some((l) => l.includes("listener bug"))).toBe(true);
    off();
    off2();
    const seen = kinds.length;
    server.publish({ version: "v2", json: tableJson("v2") });
    c.ack(await c.next());
    await gatewayWhere(server, "gw-1", "acked v2", (g) => g.lastAcked?.version === "v2");
    expect(kinds).toHaveLength(seen);
  });
});
