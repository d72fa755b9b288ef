// `canal controller` as a real process serving ECDS against a real API server, for the ECDS
// hardening tests: its ECDS port, its log lines, its RSS and its /metrics. Everything is polled;
// the child is SIGKILLed in stop() if it does not exit on SIGTERM.
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AdsTestClient } from "../../controller/src/sinks/ecds/testing/ads-client.ts";
import type { KubeApi, KubeObject } from "../support/k8s.ts";
import { pollUntil, spawnTracked, stopTracked } from "../support/processes.ts";

export const REPO = join(import.meta.dirname, "..", "..");
export const SEED = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");
/** The seed's InternalGateway: gateways name it as node.cluster. */
export const GROUP = "istio-system/canal";

export class ControllerProcess {
  readonly lines: string[] = [];
  private buffered = "";

  constructor(
    readonly child: ChildProcess,
    readonly ecdsPort: number,
    readonly metricsUrl: string,
  ) {}

  static async start(api: KubeApi, extraArgs: string[], wasmPath = "/etc/canal/canal.wasm"): Promise<ControllerProcess> {
    const output: string[] = [];
    const child = spawnTracked(
      process.execPath,
      [join(REPO, "bin/canal.mjs"), "controller", "--kubeconfig", api.kubeconfigPath, "--no-wasmplugin", "--ecds-address", "127.0.0.1:0", "--wasm-path", wasmPath,
        "--metrics-address", "127.0.0.1:0", "--lease-duration", "4", "--identity", "security-test", ...extraArgs],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CANAL_CODE: "sources" } },
    );
    const onData = (d: Buffer): void => {
      output.push(d.toString());
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    const found = await pollUntil(
      "the controller's ECDS and metrics addresses",
      () => {
        if (child.exitCode !== null) throw new Error(`the controller exited ${child.exitCode}:\n${output.join("")}`);
        const text = output.join("");
        const ecds = /"msg":"serving ECDS".*?"address":"[^"]*:(\d+)"/.exec(text);
        const metrics = /"metrics":"(http:\/\/[^"]+)\/metrics"/.exec(text);
        return ecds?.[1] !== undefined && metrics?.[1] !== undefined ? { ecds: Number(ecds[1]), metrics: metrics[1] } : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, onTimeout: () => output.join("").slice(-4000) },
    );
    const p = new ControllerProcess(child, found.ecds, found.metrics);
    for (const chunk of output) p.take(chunk);
    child.stdout?.off("data", onData);
    child.stderr?.off("data", onData);
    child.stdout?.on("data", (d: Buffer) => p.take(d.toString()));
    child.stderr?.on("data", (d: Buffer) => p.take(d.toString()));
    return p;
  }

  private take(chunk: string): void {
    const parts = (this.buffered + chunk).split("\n");
    this.buffered = parts.pop() ?? "";
    this.lines.push(...parts);
  }

  /** Log lines (JSON) whose message matches. */
  linesMatching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l));
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join("\n");
  }

  /** Resident set size of the controller process, from /proc. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    if (m?.[1] === undefined) throw new Error(`no VmRSS in /proc/${this.child.pid}/status`);
    return Number(m[1]) * 1024;
  }

  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.metricsUrl}/metrics`)).text();
    const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text);
    return m?.[1] === undefined ? 0 : Number(m[1]);
  }

  /** An ADS client on the controller's ECDS port. */
  client(id: string, cluster = GROUP, opts: ConstructorParameters<typeof AdsTestClient>[2] = {}): AdsTestClient {
    return new AdsTestClient(this.ecdsPort, { id, cluster }, opts);
  }

  async stop(): Promise<void> {
    await stopTracked(this.child);
  }
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
