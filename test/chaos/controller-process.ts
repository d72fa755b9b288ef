// Controller replicas as child processes (controller-main.ts), and the controller Service the
// gateways' ECDS connections go through: a TCP forwarder on an ephemeral loopback port that sends
// each connection to the first replica in its order that accepts it (kube-proxy skips a dead
// replica once its endpoint goes; a refused connect stands in for that). Cuttable per gateway pod.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createServer, Socket, type Server } from "node:net";
import { pollUntil, spawnTracked, stopTracked } from "../support/processes.ts";
import { LOOPBACK } from "../support/ports.ts";
import { REPO_ROOT } from "../support/wasm.ts";

export class ControllerProcess {
  private readonly output: string[] = [];
  ads = 0;

  private constructor(readonly identity: string, readonly child: ChildProcess) {
    for (const s of [child.stdout, child.stderr]) s?.on("data", (d: Buffer) => {
      this.output.push(d.toString());
      if (this.output.length > 2000) this.output.splice(0, 500);
    });
  }

  static async start(identity: string, args: { kubeconfig: string; mountPath: string; podNet: string }): Promise<ControllerProcess> {
    const child = spawnTracked(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/chaos/controller-main.ts"), args.kubeconfig, identity, args.mountPath, args.podNet], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const p = new ControllerProcess(identity, child);
    p.ads = await pollUntil(`controller ${identity} to start`, () => {
      if (child.exitCode !== null) throw new Error(`controller ${identity} exited ${child.exitCode}: ${p.tail()}`);
      const m = /\{"ads":(\d+)\}/.exec(p.output.join(""));
      return m ? Number(m[1]) : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50, onTimeout: () => p.tail() });
    return p;
  }

  tail(lines = 20): string {
    return this.output.join("").split("\n").slice(-lines).join("\n");
  }

  /** A crash: SIGKILL to the process group, no lease released, no stream closed cleanly. */
  kill(): void {
    if (this.child.pid !== undefined) process.kill(-this.child.pid, "SIGKILL");
  }

  stop(): Promise<void> {
    return stopTracked(this.child);
  }
}

export class ControllerService {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly replicas: () => number[]) {}

  async open(): Promise<void> {
    const server = createServer((client) => this.forward(client, this.replicas(), 0));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, LOOPBACK, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  private forward(client: Socket, ports: number[], i: number): void {
    if (i === 0) {
      this.sockets.add(client);
      client.on("close", () => this.sockets.delete(client));
      client.on("error", () => undefined);
    }
    if (i >= ports.length) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    let connected = false;
    upstream.once("error", () => {
      if (!connected) this.forward(client, ports, i + 1);
      else client.destroy();
    });
    upstream.connect(ports[i]!, LOOPBACK, () => {
      connected = true;
      this.sockets.add(upstream);
      upstream.on("close", () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => undefined);
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
    });
  }

  /** Drops every connection and refuses new ones (the pod loses the controller). */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const x of this.sockets) x.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}
