// The ECDS server's limits one by one, on the real EcdsServer over real HTTP/2 connections (small
// limits so each case is quick), and the status caps checked against the CRD file itself.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EcdsServer, type EcdsLogEntry, type EcdsServerOptions } from "../../controller/src/sinks/ecds/index.ts";
import { MAX_NACK_MESSAGE_LENGTH } from "../../controller/src/sinks/ecds/limits.ts";
import { AdsTestClient } from "../../controller/src/sinks/ecds/testing/ads-client.ts";
import { fitStatusToCrd, STATUS_LIMITS } from "../../controller/src/status/crd-limits.ts";
import type { InternalGatewayStatus } from "../../controller/src/status/status-writer.ts";
import { pollUntil } from "../support/processes.ts";
import { REPO } from "./ecds-harness.ts";

const servers: EcdsServer[] = [];
const clients: AdsTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function start(opts: Partial<EcdsServerOptions> = {}): Promise<{ server: EcdsServer; port: number; logs: EcdsLogEntry[] }> {
  const logs: EcdsLogEntry[] = [];
  const server = new EcdsServer({ code: { local: "/etc/canal/canal.wasm" }, log: (e) => logs.push(e), ...opts });
  servers.push(server);
  const { port } = await server.start("127.0.0.1:0");
  server.publish({ version: "v1", json: JSON.stringify({ version: "v1", virtualHosts: [] }) });
  return { server, port, logs };
}

function client(port: number, id: string, opts: ConstructorParameters<typeof AdsTestClient>[2] = {}): AdsTestClient {
  const c = new AdsTestClient(port, { id, cluster: "" }, opts);
  clients.push(c);
  return c;
}

describe("ECDS server limits", () => {
  it("refuses streams beyond maxStreamsPerConnection on one connection with RESOURCE_EXHAUSTED", async () => {
    const { server, port } = await start({ maxStreamsPerConnection: 3 });
    // One grpc.Client per stream, but the shared subchannel pool puts them on one HTTP/2 connection.
    const cs = Array.from({ length: 6 }, (_, i) => client(port, `gw-${i}`));
    for (const c of cs) c.subscribe();
    const outcomes = await Promise.all(cs.map(async (c) => c.next(5000).then(() => "admitted", () => `ended ${c.ended?.code}`)));
    expect(outcomes.filter((o) => o === "admitted")).toHaveLength(3);
    expect(outcomes.filter((o) => o === `ended ${grpc.status.RESOURCE_EXHAUSTED}`)).toHaveLength(3);
    expect(server.openStreams).toBe(3);
  });

  it("refuses streams beyond maxStreamsPerClientIp over separate connections from one IP", async () => {
    const { server, port } = await start({ maxStreamsPerClientIp: 4 });
    const cs = Array.from({ length: 7 }, (_, i) => client(port, `ip-${i}`, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } }));
    for (const c of cs) c.subscribe();
    const outcomes = await Promise.all(cs.map(async (c) => c.next(5000).then(() => "admitted", () => `ended ${c.ended?.code}`)));
    expect(outcomes.filter((o) => o === "admitted")).toHaveLength(4);
    expect(outcomes.filter((o) => o === `ended ${grpc.status.RESOURCE_EXHAUSTED}`)).toHaveLength(3);
    expect(server.openStreams).toBe(4);
  });

  it("closes a stream that sends no first request within firstRequestTimeoutMs, freeing its slot", async () => {
    const { server, port } = await start({ firstRequestTimeoutMs: 300, maxStreams: 1 });
    const silent = client(port, "silent");
    const end = await silent.end(5000);
    expect(end.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(server.openStreams).toBe(0);
    const next = client(port, "gw-next", { channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
    next.subscribe();
    expect((await next.next(5000)).versionInfo).toBe("v1");
  });

  it("keeps at most maxDisconnectedGateways disconnected gateways, the most recent ones", async () => {
    const { server, port } = await start({ maxDisconnectedGateways: 5 });
    for (let i = 0; i < 20; i++) {
      const c = new AdsTestClient(port, { id: `gone-${String(i).padStart(2, "0")}`, cluster: "" });
      c.subscribe();
      await c.next(5000);
      c.close();
      await pollUntil(`gone-${i} disconnected`, () => (server.status().find((g) => g.nodeId.endsWith(String(i).padStart(2, "0")))?.connected === false ? true : undefined));
    }
    expect(server.status().map((g) => g.nodeId)).toEqual(["gone-15", "gone-16", "gone-17", "gone-18", "gone-19"]);
  });

  it("truncates NACK text and user agents it keeps; log lines stay single and short", async () => {
    const { server, port, logs } = await start();
    const c = client(port, "gw-loud");
    c.subscribe();
    const res = await c.next(5000);
    c.nack(res, "", `line one\nline two ${"z".repeat(100_000)}`);
    const g = await pollUntil("the NACK", () => server.status().find((x) => x.nodeId === "gw-loud" && x.lastNack !== undefined));
    expect(g.lastNack?.message.length).toBe(MAX_NACK_MESSAGE_LENGTH);
    for (let i = 0; i < 50; i++) {
      const r = client(port, `${"r".repeat(100_000)}-${i}`);
      r.subscribe();
    }
    await pollUntil("the refusals", () => (server.openStreams === 1 ? true : undefined));
    for (const l of logs) {
      expect(l.message).not.toContain("\n");
      expect(l.message.length).toBeLessThan(2048);
    }
    // 50 refusals within a second: one line, not 50.
    expect(logs.filter((l) => /node\.id of/.test(l.message)).length).toBeLessThanOrEqual(2);
  });

  it("ignores a repeated ACK or a late NACK of one response: no event, no status change", async () => {
    const { server, port } = await start();
    const kinds: string[] = [];
    server.onChange((e) => kinds.push(e.kind));
    const c = client(port, "gw-rep");
    c.subscribe();
    const res = await c.next(5000);
    c.ack(res);
    c.ack(res);
    c.ack(res);
    await pollUntil("the ACK", () => server.status().find((x) => x.lastAcked?.version === "v1"));
    c.nack(res, "v1", "late NACK of an ACKed response");
    await new Promise((r) => setTimeout(r, 200));
    expect(kinds.filter((k) => k === "acked")).toHaveLength(1);
    expect(kinds.filter((k) => k === "nacked")).toHaveLength(0);
    expect(server.status()[0]?.lastNack).toBeUndefined();
  });
});

describe("status within the InternalGateway CRD's caps", () => {
  const crd = parse(readFileSync(join(REPO, "charts/canal-control/crds/internalgateway.yaml"), "utf8")) as {
    spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { status: Schema } } } }> };
  };
  interface Schema {
    maxLength?: number;
    maxItems?: number;
    properties?: Record<string, Schema>;
    items?: Schema;
  }
  const status = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.status;
  const at = (...path: string[]): Schema => path.reduce<Schema>((s, p) => (p === "[]" ? s.items! : s.properties![p]!), status);

  it("STATUS_LIMITS are the CRD's maxLength and maxItems", () => {
    const L = STATUS_LIMITS;
    expect([L.conditions, L.conditionMessage, L.tableVersion]).toEqual([at("conditions").maxItems, at("conditions", "[]", "message").maxLength, at("tableVersion").maxLength]);
    expect([L.gateways, L.gatewayName, L.gatewayTableVersion]).toEqual([at("gateways").maxItems, at("gateways", "[]", "name").maxLength, at("gateways", "[]", "tableVersion").maxLength]);
    expect([L.dnsConfigMap, L.dnsEntries, L.dnsEntryName, L.dnsEntryReason, L.dnsEntryMessage]).toEqual([
      at("dns", "configMap").maxLength, at("dns", "entries").maxItems, at("dns", "entries", "[]", "name").maxLength,
      at("dns", "entries", "[]", "reason").maxLength, at("dns", "entries", "[]", "message").maxLength,
    ]);
    expect([L.rejected, L.rejectedNamespace, L.rejectedName, L.rejectedField, L.rejectedReason, L.rejectedMessage]).toEqual([
      at("rejected").maxItems, at("rejected", "[]", "namespace").maxLength, at("rejected", "[]", "name").maxLength,
      at("rejected", "[]", "field").maxLength, at("rejected", "[]", "reason").maxLength, at("rejected", "[]", "message").maxLength,
    ]);
  });

  it("cuts long gateway names to distinct keys and every list to its cap", () => {
    const long = "p".repeat(300);
    const s: InternalGatewayStatus = {
      conditions: [{ type: "Programmed", status: "False", lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Rejected", message: "m".repeat(40_000) }],
      tableVersion: "sha256:x",
      hosts: 0,
      routes: 0,
      gateways: [...Array.from({ length: 1100 }, (_, i) => ({ name: `gw-${i}`, acked: false })), { name: `${long}a`, acked: false }, { name: `${long}b`, tableVersion: "v".repeat(500), acked: false }],
      rejectedCount: 0,
      rejected: [],
    };
    const fit = fitStatusToCrd({ ...s, gateways: s.gateways.slice(-2) });
    expect(fit.gateways.map((g) => g.name.length)).toEqual([253, 253]);
    expect(fit.gateways[0]?.name).not.toBe(fit.gateways[1]?.name);
    expect(fit.gateways[1]?.tableVersion?.length).toBe(128);
    expect(fit.conditions[0]?.message.length).toBe(32768);
    expect(fitStatusToCrd(s).gateways).toHaveLength(1024);
  });
});
