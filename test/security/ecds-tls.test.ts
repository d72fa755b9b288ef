// TLS on the ECDS channel: the real `canal controller` with --ecds-tls-cert/--ecds-tls-key (and
// --ecds-tls-client-ca) and a real Envoy whose ADS cluster has the UpstreamTlsContext that
// envoy/bootstrap.ts renders; certificates made by openssl for the test.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AdsGateway, startAdsGateway, Upstreams } from "../ecds/harness.ts";
import { startKubeApi, type KubeApi } from "../support/k8s.ts";
import { LOOPBACK } from "../support/ports.ts";
import { pollUntil } from "../support/processes.ts";
import { startUpstream } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import type { ControllerProcess } from "../support/controller-process.ts";
import { GROUP, internalGatewayStatus, makeTestCerts, SEED, startEcdsController, type TestCert, tlsCredentials } from "./ecds-harness.ts";

const SERVER_NAME = "canal-controller.istio-system.svc";

let api: KubeApi;
let tlsCtl: ControllerProcess;
let mutualCtl: ControllerProcess;
let certs: TestCert;
let upstreams: Upstreams | undefined;
let gw: AdsGateway | undefined;
let wasmPath: string;

beforeAll(async () => {
  wasmPath = ensureCanalWasm();
  certs = makeTestCerts(SERVER_NAME);
  api = await startKubeApi({ name: "security-ecds-tls" });
  await api.prepareForCanal();
  await api.applyYaml(SEED);
  const tls = ["--ecds-tls-cert", certs.certFile, "--ecds-tls-key", certs.keyFile];
  tlsCtl = await startEcdsController(api, [...tls, "--lease-name", "tls"], wasmPath);
  mutualCtl = await startEcdsController(api, [...tls, "--ecds-tls-client-ca", certs.caFile, "--lease-name", "mutual"], wasmPath);
}, 240_000);

afterAll(async () => {
  await gw?.stop();
  await upstreams?.close();
  await tlsCtl?.stop();
  await mutualCtl?.stop();
  await api?.stop();
});

it("a real Envoy gets its table over TLS and routes by it; status shows it acknowledged", async () => {
  const hello = await startUpstream("helloworld");
  upstreams = new Upstreams(new Map([["helloworld", hello]]));
  gw = await startAdsGateway({
    nodeId: "gw-tls",
    nodeCluster: GROUP,
    wasmPath,
    adsPort: tlsCtl.ecdsPort,
    upstreams: new Upstreams(new Map()),
    extraClusters: [{ name: "outbound|5000||helloworld.default.svc.cluster.local", host: LOOPBACK, port: hello.port }],
    adsTls: { caFile: certs.caFile, serverName: SERVER_NAME },
  });
  await gw.waitRoute("helloworld.default.svc.cluster.local:5000", "/hello", "helloworld", 30_000);
  await pollUntil("status: gw-tls acknowledged", async () => ((await internalGatewayStatus(api)).gateways?.find((g) => g.name === "gw-tls")?.acked ? true : undefined), {
    timeoutMs: 20_000,
    onTimeout: () => tlsCtl.tail(),
  });
}, 90_000);

it("a plaintext client cannot open a stream on the TLS port, and never shows in status", async () => {
  const c = tlsCtl.client("gw-plaintext");
  c.subscribe();
  const end = await c.end(15_000);
  c.close();
  expect(end.code).toBe(grpc.status.UNAVAILABLE);
  expect((await internalGatewayStatus(api)).gateways?.some((g) => g.name === "gw-plaintext") ?? false).toBe(false);
}, 30_000);

it("with --ecds-tls-client-ca, a client without a certificate signed by that CA is refused; one with it is served", async () => {
  const anonymous = mutualCtl.client("gw-anonymous", GROUP, tlsCredentials(certs, SERVER_NAME, false));
  anonymous.subscribe();
  const end = await anonymous.end(15_000);
  anonymous.close();
  expect(end.code).toBe(grpc.status.UNAVAILABLE);
  const known = mutualCtl.client("gw-with-cert", GROUP, tlsCredentials(certs, SERVER_NAME, true));
  known.subscribe();
  const res = await known.next(15_000);
  known.close();
  expect(res.versionInfo).toMatch(/^sha256:/);
}, 60_000);
