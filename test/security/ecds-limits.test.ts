// A rogue client of the ECDS port, against the real `canal controller` process and a real API
// server with the InternalGateway CRD: huge node ids and messages are refused, 10,000 streams are
// capped, endless NACKs cost nothing, status values over the CRD's caps are truncated (and status
// keeps updating), and the controller's memory stays bounded throughout.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ecdsServiceDefinition, ECDS_METHOD_PATH, TYPED_EXTENSION_CONFIG_TYPE_URL } from "../../controller/src/sinks/ecds/index.ts";
import type { DiscoveryRequest, DiscoveryResponse } from "../../controller/src/sinks/ecds/proto.ts";
import { startKubeApi, type KubeApi } from "../support/k8s.ts";
import { pollUntil } from "../support/processes.ts";
import type { ControllerProcess } from "../support/controller-process.ts";
import { GROUP, internalGatewayStatus, SEED, startEcdsController } from "./ecds-harness.ts";

const MAX_STREAMS = 300;
const MiB = 1024 * 1024;

let api: KubeApi;
let ctl: ControllerProcess;

beforeAll(async () => {
  api = await startKubeApi({ name: "security-ecds" });
  await api.prepareForCanal();
  await api.applyYaml(SEED);
  // Every test client is 127.0.0.1: the per-IP cap (tested in ecds-server-limits.test.ts) is
  // raised here so the overall cap is what the 10,000-stream flood meets.
  ctl = await startEcdsController(api, ["--ecds-max-streams", String(MAX_STREAMS), "--ecds-max-streams-per-ip", "100000"]);
  await pollUntil("the seed's status", async () => ((await internalGatewayStatus(api)).tableVersion ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, onTimeout: () => ctl.tail() });
}, 240_000);

afterAll(async () => {
  await ctl?.stop();
  await api?.stop();
});

function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, intervalMs: 50, onTimeout: () => ctl.tail() });
}

it("a node id over 512 characters is refused with INVALID_ARGUMENT, and never reaches status", async () => {
  const c = ctl.client("n".repeat(600));
  c.subscribe();
  const end = await c.end(10_000);
  c.close();
  expect(end.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(end.details).toMatch(/node\.id of 600 characters, over the limit of 512/);
  await until("the refusal's log line", () => (ctl.linesMatching(/node\.id of 600 characters/).length > 0 ? true : undefined));
  // The log line quotes no client text beyond the cap.
  for (const l of ctl.linesMatching(/node\.id of 600 characters/)) expect(l.length).toBeLessThan(1024);
  expect((await internalGatewayStatus(api)).gateways?.some((g) => g.name.startsWith("nnn")) ?? false).toBe(false);
});

it("a version_info over 128 characters is refused with INVALID_ARGUMENT", async () => {
  const c = ctl.client("gw-long-version");
  c.subscribe("v".repeat(200));
  const end = await c.end(10_000);
  c.close();
  expect(end.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(end.details).toMatch(/version_info of 200 characters/);
});

it("status values over the CRD's caps are truncated, and status keeps updating afterwards", async () => {
  const before = await internalGatewayStatus(api);
  const rogue = ctl.client("g".repeat(400));
  rogue.subscribe();
  const res = await rogue.next(10_000);
  rogue.nack(res, "", `E${"\n".repeat(3)}${"x".repeat(200_000)}`);
  const nacked = await until("status showing the 400-character gateway and its NACK", async () => {
    const s = await internalGatewayStatus(api);
    const programmed = s.conditions?.find((c) => c.type === "Programmed");
    return s.gateways?.some((g) => g.name.startsWith("ggg")) && programmed?.reason === "Rejected" ? s : undefined;
  });
  const g = nacked.gateways?.find((x) => x.name.startsWith("ggg"));
  expect(g?.name.length).toBeLessThanOrEqual(253);
  expect(nacked.conditions?.find((c) => c.type === "Programmed")?.message.length).toBeLessThanOrEqual(32768);
  // A change after the oversized values still reaches status: no write is stuck on a 422.
  await api.applyYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: after-truncation, namespace: istio-system}
spec:
  hosts: [after-truncation.example.com]
  gateways: [canal]
  http: [{route: [{destination: {host: helloworld.default.svc.cluster.local, port: {number: 5000}}}]}]
`);
  await until("a new tableVersion in status", async () => {
    const s = await internalGatewayStatus(api);
    return s.tableVersion !== before.tableVersion && s.tableVersion !== nacked.tableVersion ? true : undefined;
  }, 30_000);
  rogue.close();
}, 60_000);

it("endless NACKs of one response cost no syncs and one log line", async () => {
  const c = ctl.client("gw-nacker");
  c.subscribe();
  const res = await c.next(10_000);
  c.nack(res, "", "first and only real NACK");
  await until("the first NACK in the log", () => (ctl.linesMatching(/first and only real NACK/).length > 0 ? true : undefined));
  // Let the sync the first NACK caused finish before counting.
  await until("status settled", async () => {
    const a = await ctl.metric('canal_reconciles_total{result="ok"}');
    await new Promise((r) => setTimeout(r, 500));
    return (await ctl.metric('canal_reconciles_total{result="ok"}')) === a ? a : undefined;
  });
  const reconciles = await ctl.metric('canal_reconciles_total{result="ok"}');
  for (let i = 0; i < 2000; i++) c.nack(res, "", `repeat ${i}`);
  c.send({ versionInfo: "", responseNonce: res.nonce, resourceNames: ["canal"] });
  // A fresh, well-behaved stream after the flood still gets its table: the server kept up.
  const probe = ctl.client("gw-after-nacks");
  probe.subscribe();
  await probe.next(10_000);
  probe.close();
  await new Promise((r) => setTimeout(r, 1000));
  expect((await ctl.metric('canal_reconciles_total{result="ok"}')) - reconciles).toBeLessThanOrEqual(4);
  expect(ctl.linesMatching(/repeat \d+/)).toHaveLength(0);
  expect(c.received).toHaveLength(1);
  c.close();
}, 60_000);

it("40 connect/disconnect cycles with 3 MB node ids are refused before decoding; RSS stays bounded", async () => {
  const rssBefore = ctl.rssBytes();
  for (let i = 0; i < 40; i++) {
    const c = ctl.client(`${i}-${"h".repeat(3 * MiB)}`);
    c.subscribe();
    const end = await c.end(10_000);
    c.close();
    expect(end.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  }
  const grown = ctl.rssBytes() - rssBefore;
  expect(grown, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`).toBeLessThan(64 * MiB);
}, 120_000);

interface Flood {
  admitted: number;
  refused: number;
  other: number;
}

/** Opens `perConnection` streams on each of `connections` connections, each subscribing as its own gateway. */
async function flood(connections: number, perConnection: number, timeoutMs: number): Promise<{ result: Flood; close: () => void }> {
  const def = ecdsServiceDefinition().StreamExtensionConfigs as grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse>;
  const clients: grpc.Client[] = [];
  const calls: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>[] = [];
  const result: Flood = { admitted: 0, refused: 0, other: 0 };
  for (let c = 0; c < connections; c++) {
    // A local subchannel pool: a connection of its own per client (grpc-js shares them otherwise).
    const client = new grpc.Client(`127.0.0.1:${ctl.ecdsPort}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    clients.push(client);
    for (let i = 0; i < perConnection; i++) {
      const call = client.makeBidiStreamRequest(ECDS_METHOD_PATH, def.requestSerialize, def.responseDeserialize);
      calls.push(call);
      let counted = false;
      call.on("data", () => {
        if (!counted) result.admitted += 1;
        counted = true;
      });
      call.on("error", (e: grpc.ServiceError) => {
        if (counted) return;
        counted = true;
        if (e.code === grpc.status.RESOURCE_EXHAUSTED) result.refused += 1;
        else result.other += 1;
      });
      call.write({
        versionInfo: "",
        node: { id: `flood-${c}-${i}`, cluster: GROUP, userAgentName: "flood", userAgentVersion: "0" },
        resourceNames: ["canal"],
        typeUrl: TYPED_EXTENSION_CONFIG_TYPE_URL,
        responseNonce: "",
        errorDetail: undefined,
      });
    }
  }
  const total = connections * perConnection;
  await pollUntil("every flood stream admitted or refused", () => (result.admitted + result.refused + result.other >= total ? true : undefined), {
    timeoutMs,
    intervalMs: 100,
    onTimeout: () => JSON.stringify(result),
  });
  return {
    result,
    close: () => {
      for (const call of calls) call.cancel();
      for (const client of clients) client.close();
    },
  };
}

it("10,000 streams: at most --ecds-max-streams are admitted, the rest refused with RESOURCE_EXHAUSTED; it ends by itself", async () => {
  const rssBefore = ctl.rssBytes();
  const started = Date.now();
  const f = await flood(100, 100, 90_000);
  const seconds = (Date.now() - started) / 1000;
  try {
    expect(f.result.admitted).toBeLessThanOrEqual(MAX_STREAMS);
    expect(f.result.admitted).toBeGreaterThan(0);
    expect(f.result.refused).toBeGreaterThanOrEqual(10_000 - MAX_STREAMS);
    expect(f.result.other).toBe(0);
    // Refusals are logged at most once a second (with a count), not once per stream.
    expect(ctl.linesMatching(/refused a stream/).length).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    expect(ctl.lines.filter((l) => l.includes("per connection")).length).toBeGreaterThan(0);
  } finally {
    f.close();
  }
  const grown = ctl.rssBytes() - rssBefore;
  expect(grown, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`).toBeLessThan(128 * MiB);
  // Once the flood is gone, a real gateway connects and gets its table.
  const gw = await until("a gateway admitted after the flood", async () => {
    const c = ctl.client("gw-after-flood");
    c.subscribe();
    try {
      await c.next(2000);
      return c;
    } catch {
      c.close();
      return undefined;
    }
  }, 30_000);
  gw.close();
}, 180_000);
