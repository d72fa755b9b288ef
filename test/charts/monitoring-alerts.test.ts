// What the two gateway alerts read, when it matters: real Envoy gateways with the filter, Istio's
// stats configuration and the chart's override (istio-stats.ts), fed by two ECDS servers as two
// controller replicas would. A pod that stops receiving tables keeps the previous version gauge,
// so CanalTableNotDelivered's count_values sees two values; a NACK raises the pod's
// update_rejected (CanalGatewayRejectingTable) and leaves its version gauge alone; the update
// duration histogram (the dashboard's filter configure time) fills. Values are read
// as Prometheus reads them: float64, from /stats/prometheus, with the labels the alerts select.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { EcdsServer } from "../../controller/src/sinks/ecds/index.ts";
import { gatewayStatus, startEcdsServer, tableJson, type AdsGateway } from "../ecds/harness.ts";
import { adminRequest } from "../support/envoy.ts";
import { pollUntil } from "../support/processes.ts";
import { table, to, vhost } from "../support/tables.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { startIstioGateway } from "./istio-stats.ts";
import { renderMonitoring } from "./monitoring.ts";

const A = table("sha256:alerts-a", [vhost("test/app", ["app.test"], [{ route: to("alpha") }])]);
const B = table("sha256:alerts-b", [vhost("test/app", ["app.test"], [{ route: to("beta") }])]);
/** The filter refuses it: the regex does not compile. */
const BAD = table("sha256:alerts-bad", [vhost("test/app", ["app.test"], [{ match: [{ uri: { regex: "/(unclosed" } }], route: to("alpha") }])]);

const servers: EcdsServer[] = [];
const gateways: AdsGateway[] = [];

beforeAll(async () => {
  const { bootstrapOverride } = await renderMonitoring();
  const wasmPath = ensureCanalWasm();
  for (const nodeId of ["gw-a", "gw-b"]) {
    const { server, port } = await startEcdsServer({ code: { local: wasmPath } });
    servers.push(server);
    gateways.push(await startIstioGateway({ nodeId, wasmPath, adsPort: port, override: bootstrapOverride }));
  }
}, 120_000);

afterAll(async () => {
  for (const g of gateways) await g.stop();
  for (const s of servers) await s.stop();
});

/** The value of the ECDS stat of Canal's filter (`ecds_filter="canal"`), as Prometheus parses it. */
async function ecdsStat(g: AdsGateway, stat: string): Promise<number | undefined> {
  const { body } = await adminRequest(g.envoy.adminPort, "/stats/prometheus");
  const m = new RegExp(`^envoy_extension_config_discovery_http_filter_${stat}\\{ecds_filter="canal"\\} (\\S+)$`, "m").exec(body);
  return m === null ? undefined : Number(m[1]);
}

it("a pod that misses a table keeps its version gauge: the pods' gauges differ (CanalTableNotDelivered)", async () => {
  const [a, b] = gateways as [AdsGateway, AdsGateway];
  for (const s of servers) s.publish(tableJson(A));
  for (const g of gateways) await g.waitServing(A.version);
  const versionA = await ecdsStat(a, "version");
  expect(versionA).toBeDefined();
  expect(await ecdsStat(b, "version")).toBe(versionA);

  servers[0]!.publish(tableJson(B)); // b's replica has not got it: b stalls on A
  await a.waitServing(B.version);
  const versionB = await ecdsStat(a, "version");
  expect(versionB).toBeDefined();
  expect(versionB).not.toBe(versionA);
  expect(await ecdsStat(b, "version")).toBe(versionA);
  // count(count_values("table", version)) over the two pods: 2 distinct values.
  expect(new Set([versionB, await ecdsStat(b, "version")]).size).toBe(2);
}, 60_000);

it("a NACK raises that pod's update_rejected and leaves its version gauge (CanalGatewayRejectingTable)", async () => {
  const a = gateways[0]!;
  const rejectedBefore = (await ecdsStat(a, "update_rejected")) ?? -1;
  expect(rejectedBefore).toBe(0);
  const version = await ecdsStat(a, "version");
  servers[0]!.publish(tableJson(BAD));
  await gatewayStatus(servers[0]!, a.nodeId, "NACK of the bad table", (x) => x.lastNack?.version === BAD.version, () => a.envoy.logTail());
  expect(await ecdsStat(a, "update_rejected")).toBe(1);
  expect(await ecdsStat(a, "version")).toBe(version);
  expect(await a.servingVersion()).toBe(B.version);
}, 60_000);

it("the ECDS update_duration histogram (the dashboard's filter configure time) records the updates", async () => {
  const a = gateways[0]!;
  // Histograms reach /stats/prometheus at Envoy's stats flush (every 5 s by default).
  const count = await pollUntil("update_duration_count > 0", async () => {
    const n = await ecdsStat(a, "update_duration_count");
    return n !== undefined && n > 0 ? n : undefined;
  }, { timeoutMs: 20_000, intervalMs: 500 });
  // A and B, the accepted updates (seen here: 2 after A, B and the rejected table; a NACK is not recorded).
  expect(count).toBe(2);
  expect(await ecdsStat(a, "update_duration_sum")).toBeGreaterThanOrEqual(0);
}, 30_000);
