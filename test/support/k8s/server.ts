// The server part of the API-server harness: kube-apiserver's start (readiness over verified TLS),
// its client files, restart with the same etcd, and stop.

import * as k8s from "@kubernetes/client-node";
import { existsSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { pollUntil, spawnTracked, stopTracked } from "../processes.ts";
import { LOOPBACK } from "../ports.ts";
import { kubeApiserverBinary } from "./binaries.ts";
import type { KubeResponse, RestartReport, KubeApi } from "./types.ts";
import { tail, exited, lastCertificate, yamlQuote, liveWorkDirs, ApiserverExited, killGroupNow } from "./lifecycle.ts";
import { KubeRestClient } from "./rest.ts";

export class KubeApiImpl extends KubeRestClient implements KubeApi {
  readonly server: string;
  readonly caPath: string;
  readonly kubeconfigPath: string;
  readonly etcdUrl: string;
  readonly apiserverLogPath: string;
  readonly etcdLogPath: string;
  startupMs = 0;
  etcdVersion = "";
  lastRestart: RestartReport | undefined;
  ca = "";
  private apiserver: ChildProcess | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    readonly workDir: string,
    private readonly removeWorkDir: boolean,
    port: number,
    private readonly etcdPort: number,
    private readonly etcd: ChildProcess,
    private readonly apiserverArgs: string[],
    token: string,
    readonly tokens: Readonly<Record<string, string>>,
    private readonly readyTimeoutMs: number,
  ) {
    super(port, token);
    this.server = `https://${LOOPBACK}:${port}`;
    this.etcdUrl = `http://${LOOPBACK}:${etcdPort}`;
    this.caPath = join(workDir, "ca.crt");
    this.kubeconfigPath = join(workDir, "kubeconfig");
    this.apiserverLogPath = join(workDir, "kube-apiserver.log");
    this.etcdLogPath = join(workDir, "etcd.log");
  }

  pids(): { etcd: number; apiserver: number } {
    return { etcd: this.etcd.pid ?? -1, apiserver: this.apiserver?.pid ?? -1 };
  }

  protected logs(): string {
    return `${tail(this.apiserverLogPath)}\n${tail(this.etcdLogPath, 15)}`;
  }

  /** Starts kube-apiserver and resolves once /readyz says ok over a verified TLS connection. */
  async startApiserver(): Promise<void> {
    const logFd = openSync(this.apiserverLogPath, "a");
    let child: ChildProcess;
    try {
      child = spawnTracked(kubeApiserverBinary(), this.apiserverArgs, { stdio: ["ignore", logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    this.apiserver = child;
    const certFile = join(this.workDir, "pki", "apiserver.crt");
    const outcome = await pollUntil(
      `kube-apiserver ${this.name} /readyz on ${this.server}`,
      async (): Promise<"ready" | "exited" | undefined> => {
        if (exited(child)) return "exited";
        if (this.agent === undefined) {
          if (!existsSync(certFile)) return undefined;
          const ca = lastCertificate(readFileSync(certFile, "utf8"));
          this.agent = new Agent({ ca, keepAlive: false });
          this.ca = ca;
        }
        let res: KubeResponse;
        try {
          res = await this.request("GET", "/readyz", { timeoutMs: 2000 });
        } catch (err) {
          // A certificate read while it was being written: read it again on the next poll.
          if (err instanceof Error && /certificate|altnames|self.signed/i.test(err.message)) this.agent = undefined;
          throw err;
        }
        return res.status === 200 && res.text.trim() === "ok" ? "ready" : undefined;
      },
      { timeoutMs: this.readyTimeoutMs, intervalMs: 50, onTimeout: () => this.logs() },
    );
    if (outcome === "exited") {
      throw new ApiserverExited(
        `kube-apiserver ${this.name} exited during startup (code ${child.exitCode}, signal ${child.signalCode})\n${this.logs()}`,
      );
    }
  }

  writeClientFiles(): void {
    writeFileSync(this.caPath, this.ca);
    const caData = Buffer.from(this.ca).toString("base64");
    writeFileSync(
      this.kubeconfigPath,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: canal-test",
        "  cluster:",
        `    server: ${yamlQuote(this.server)}`,
        `    certificate-authority-data: ${caData}`,
        "users:",
        "- name: canal-admin",
        "  user:",
        `    token: ${yamlQuote(this.token)}`,
        "contexts:",
        "- name: canal-test",
        "  context:",
        "    cluster: canal-test",
        "    user: canal-admin",
        "    namespace: default",
        "current-context: canal-test",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
  }

  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  async restart(opts: { kill?: boolean } = {}): Promise<RestartReport> {
    if (this.stopped) throw new Error("restart() after stop()");
    const old = this.apiserver;
    const signal = opts.kill === true ? "SIGKILL" : "SIGTERM";
    const t0 = performance.now();
    if (old !== undefined && !exited(old)) {
      if (signal === "SIGKILL") killGroupNow(old);
      await stopTracked(old, 15_000); // SIGTERM, then SIGKILL after 15 s; resolves on exit
    }
    const t1 = performance.now();
    await this.startApiserver();
    this.discovery.clear();
    await this.waitCustomResourcesServed();
    const report: RestartReport = {
      signal,
      exitCode: old?.exitCode ?? null,
      exitSignal: old?.signalCode ?? null,
      stopMs: t1 - t0,
      startMs: performance.now() - t1,
    };
    this.lastRestart = report;
    return report;
  }

  /**
   * After a restart /readyz says ok before the watch caches of CRD-backed resources are rebuilt:
   * for a moment a list answers 429 "storage is (re)initializing" (seen once in CI-like runs).
   * A restarted server counts as ready once every served custom resource lists without a 429.
   */
  private async waitCustomResourcesServed(): Promise<void> {
    const crds = await this.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
    if (crds.status !== 200) return;
    const items = (JSON.parse(crds.text) as { items?: { spec?: { group?: string; names?: { plural?: string }; versions?: { name?: string; served?: boolean }[] } }[] }).items ?? [];
    const paths: string[] = [];
    for (const c of items) {
      for (const v of c.spec?.versions ?? []) {
        if (v.served === true && c.spec?.group && c.spec.names?.plural && v.name) paths.push(`/apis/${c.spec.group}/${v.name}/${c.spec.names.plural}?limit=1`);
      }
    }
    for (const path of paths) {
      await pollUntil(
        `kube-apiserver ${this.name}: ${path} served after the restart (not 429)`,
        async () => ((await this.request("GET", path, { timeoutMs: 2000 })).status === 429 ? undefined : true),
        { timeoutMs: this.readyTimeoutMs, intervalMs: 50, onTimeout: () => this.logs() },
      );
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const close of [...this.openWatches]) close();
    if (this.apiserver !== undefined) await stopTracked(this.apiserver, 10_000);
    await stopTracked(this.etcd, 10_000);
    this.agent?.destroy();
    if (this.removeWorkDir) {
      rmSync(this.workDir, { recursive: true, force: true });
      liveWorkDirs.delete(this.workDir);
    }
  }
}
