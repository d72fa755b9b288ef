// `canal controller` as a real process serving ECDS against a real API server, for the ECDS
// hardening tests: its ECDS port, its log lines, its RSS and its /metrics. Everything is polled;
// the child is SIGKILLed in stop() if it does not exit on SIGTERM.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { KubeApi, KubeObject } from "../support/k8s.ts";
import { canalControllerReady, ControllerProcess } from "../support/controller-process.ts";

export const REPO = join(import.meta.dirname, "..", "..");
export const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");
/** The seed's InternalGateway: gateways name it as node.cluster. */
export const GROUP = "istio-system/canal";

/** `canal controller` serving ECDS (no WasmPlugin) against `api`, from the sources, once it logged its ECDS port and metrics URL. */
export function startEcdsController(api: KubeApi, extraArgs: string[], wasmPath = "/etc/canal/canal.wasm"): Promise<ControllerProcess> {
  return ControllerProcess.start({
    name: "the controller",
    args: [join(REPO, "bin/canal.mjs"), "controller", "--kubeconfig", api.kubeconfigPath, "--no-wasmplugin", "--ecds-address", "127.0.0.1:0", "--wasm-path", wasmPath,
      "--metrics-address", "127.0.0.1:0", "--lease-duration", "4", "--identity", "security-test", ...extraArgs],
    env: { ...process.env, CANAL_CODE: "sources" },
    ready: canalControllerReady(true),
    timeoutMs: 60_000,
    intervalMs: 100,
  });
}

export interface InternalGatewayStatusView {
  tableVersion?: string;
  gateways?: Array<{ name: string; tableVersion?: string; acked?: boolean }>;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
}

export async function internalGatewayStatus(api: KubeApi): Promise<InternalGatewayStatusView & { resourceVersion: string }> {
  const r = await api.request("GET", "/apis/canal.io/v1alpha1/namespaces/istio-system/internalgateways/canal");
  const o = r.json as KubeObject & { status?: InternalGatewayStatusView };
  return { ...(o.status ?? {}), resourceVersion: o.metadata.resourceVersion ?? "" };
}

export interface TestCert {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  ca: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
}

/** A CA, a server certificate for `serverName` (DNS SAN) and a client certificate, made with openssl. */
export function makeTestCerts(serverName: string): TestCert {
  const dir = mkdtempSync(join(tmpdir(), "canal-ecds-tls-"));
  const f = (n: string): string => join(dir, n);
  const ssl = (...args: string[]): void => {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  };
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=canal-test-ca");
  writeFileSync(f("server.ext"), `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`);
  writeFileSync(f("client.ext"), "subjectAltName=DNS:gateway.canal.test\nextendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f(`${who}.key`), "-out", f(`${who}.csr`), "-subj", `/CN=${who}`);
    ssl("x509", "-req", "-in", f(`${who}.csr`), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f(`${who}.crt`), "-days", "2", "-extfile", f(`${who}.ext`));
  }
  return {
    dir,
    caFile: f("ca.crt"),
    certFile: f("server.crt"),
    keyFile: f("server.key"),
    clientCertFile: f("client.crt"),
    clientKeyFile: f("client.key"),
    ca: readFileSync(f("ca.crt")),
    clientCert: readFileSync(f("client.crt")),
    clientKey: readFileSync(f("client.key")),
  };
}

/** TLS channel credentials for a test client that checks the server against `cert`'s CA. */
export function tlsCredentials(cert: TestCert, serverName: string, withClientCert: boolean): { credentials: grpc.ChannelCredentials; channelOptions: grpc.ChannelOptions } {
  const credentials = withClientCert ? grpc.credentials.createSsl(cert.ca, cert.clientKey, cert.clientCert) : grpc.credentials.createSsl(cert.ca);
  return { credentials, channelOptions: { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName } };
}
