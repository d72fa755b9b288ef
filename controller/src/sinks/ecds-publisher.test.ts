// The ECDS sink's metrics as the controller sees its gateways: a real EcdsServer (inside the
// EcdsPublisher) and real grpc-js ADS clients that ACK and NACK, scraped through Metrics.render.
import { afterEach, expect, it } from "vitest";
import { Metrics } from "../common/metrics.ts";
import type { GatewayResult } from "../translate/index.ts";
import { EcdsPublisher } from "./ecds-publisher.ts";
import { AdsTestClient } from "./ecds/testing/ads-client.ts";
import { gatewayWhere, until } from "./ecds/testing/wait.ts";

const publishers: EcdsPublisher[] = [];
const clients: AdsTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.cancel();
  for (const p of publishers.splice(0)) await p.server.stop();
});

/** What EcdsPublisher.publish reads of a translation: the InternalGateway and its table's version. */
function gateway(version: string): GatewayResult {
  const table = { format: 1, version, virtualHosts: [] };
  return { accepted: true, ref: { namespace: "ns", name: "gw" }, table } as unknown as GatewayResult;
}

function json(version: string): string {
  return JSON.stringify({ format: 1, version, virtualHosts: [] });
}

/** The value of one series in the rendered text, or undefined when absent. */
function value(metrics: Metrics, series: string): number | undefined {
  const line = metrics.render().split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function start(): Promise<{ publisher: EcdsPublisher; metrics: Metrics; port: number }> {
  const metrics = new Metrics();
  const publisher = new EcdsPublisher({ code: { local: "/opt/canal/canal.wasm" }, metrics });
  publishers.push(publisher);
  const { port } = await publisher.server.start("127.0.0.1:0");
  return { publisher, metrics, port };
}

function connect(port: number, id: string): AdsTestClient {
  const c = new AdsTestClient(port, { id, cluster: "ns/gw" });
  clients.push(c);
  c.subscribe();
  return c;
}

it("reports ACK/NACK counts and gateways by state, 0 included, before any gateway connects", async () => {
  const { metrics } = await start();
  expect(value(metrics, 'canal_ecds_responses_total{outcome="ack"}')).toBe(0);
  expect(value(metrics, 'canal_ecds_responses_total{outcome="nack"}')).toBe(0);
  for (const state of ["current", "behind", "rejected"]) expect(value(metrics, `canal_ecds_gateways{state="${state}"}`)).toBe(0);
  expect(value(metrics, 'canal_change_delivered_seconds_count{sink="ecds"}')).toBe(0);
});

it("change → delivered: one sample once every connected gateway ACKed, timed from the informer event", async () => {
  const { publisher, metrics, port } = await start();
  const [a, b] = [connect(port, "gw-a"), connect(port, "gw-b")];
  await until("two gateways connected", () => (publisher.server.status().filter((g) => g.connected).length === 2 ? true : undefined));
  const changedAt = performance.now() - 300; // the informer event came 300 ms before the publish
  publisher.publish(gateway("v1"), json("v1"), changedAt);
  a.ack(await a.next());
  await gatewayWhere(publisher.server, "gw-a", "acked v1", (g) => g.lastAcked?.version === "v1");
  expect(value(metrics, 'canal_change_delivered_seconds_count{sink="ecds"}')).toBe(0); // gw-b has not ACKed
  expect(value(metrics, 'canal_ecds_gateways{state="current"}')).toBe(1);
  expect(value(metrics, 'canal_ecds_gateways{state="behind"}')).toBe(1);
  const before = performance.now();
  b.ack(await b.next());
  await until("one latency sample", () => (value(metrics, 'canal_change_delivered_seconds_count{sink="ecds"}') === 1 ? true : undefined));
  const sum = value(metrics, 'canal_change_delivered_seconds_sum{sink="ecds"}') ?? 0;
  expect(sum).toBeGreaterThanOrEqual((before - changedAt) / 1000);
  expect(sum).toBeLessThan(10);
  expect(value(metrics, 'canal_change_delivered_seconds_bucket{le="0.25",sink="ecds"}')).toBe(0);
  expect(value(metrics, 'canal_change_delivered_seconds_bucket{le="+Inf",sink="ecds"}')).toBe(1);
  expect(value(metrics, 'canal_ecds_responses_total{outcome="ack"}')).toBe(2);
  expect(value(metrics, 'canal_ecds_gateways{state="current"}')).toBe(2);
});

it("a NACK counts, marks the gateway rejected, and the next delivered table is timed from the oldest undelivered change", async () => {
  const { publisher, metrics, port } = await start();
  const [a, b] = [connect(port, "gw-a"), connect(port, "gw-b")];
  await until("two gateways connected", () => (publisher.server.status().filter((g) => g.connected).length === 2 ? true : undefined));
  const first = performance.now() - 2000; // v2's change: 2 s ago, never delivered (gw-a rejects it)
  publisher.publish(gateway("v2"), json("v2"), first);
  a.nack(await a.next(), "");
  b.ack(await b.next());
  await gatewayWhere(publisher.server, "gw-a", "NACKed v2", (g) => g.lastNack?.version === "v2");
  await gatewayWhere(publisher.server, "gw-b", "ACKed v2", (g) => g.lastAcked?.version === "v2");
  expect(value(metrics, 'canal_ecds_responses_total{outcome="nack"}')).toBe(1);
  expect(value(metrics, 'canal_ecds_gateways{state="rejected"}')).toBe(1);
  expect(value(metrics, 'canal_ecds_gateways{state="current"}')).toBe(1);
  expect(value(metrics, 'canal_change_delivered_seconds_count{sink="ecds"}')).toBe(0);

  publisher.publish(gateway("v3"), json("v3"), performance.now());
  a.ack(await a.next());
  b.ack(await b.next());
  await until("one latency sample", () => (value(metrics, 'canal_change_delivered_seconds_count{sink="ecds"}') === 1 ? true : undefined));
  // Measured from v2's change, the oldest one not delivered: over 2 s, not the few ms of v3's.
  expect(value(metrics, 'canal_change_delivered_seconds_sum{sink="ecds"}')).toBeGreaterThanOrEqual(2);
  expect(value(metrics, 'canal_change_delivered_seconds_bucket{le="1",sink="ecds"}')).toBe(0);
  expect(value(metrics, 'canal_change_delivered_seconds_bucket{le="2.5",sink="ecds"}')).toBe(1);
  expect(value(metrics, 'canal_ecds_gateways{state="rejected"}')).toBe(0);
  expect(value(metrics, 'canal_ecds_gateways{state="current"}')).toBe(2);
});
