// Controller replicas as child processes (controller-main.ts, run by test/support/controller-process.ts), and the controller Service the
// gateways' ECDS connections go through: a TCP forwarder on an ephemeral loopback port that sends
// each connection to the first replica in its order that accepts it (kube-proxy skips a dead
// replica once its endpoint goes; a refused connect stands in for that). Cuttable per gateway pod.
import { join } from "node:path";
import { createServer, Socket, type Server } from "node:net";
import { ControllerProcess } from "../support/controller-process.ts";
import { LOOPBACK } from "../support/ports.ts";
import { REPO_ROOT } from "../support/wasm.ts";

/** A replica (controller-main.ts), ready once it printed the port it serves ADS on. */
export function startReplica(identity: string, args: { kubeconfig: string; mountPath: string; podNet: string }): Promise<ControllerProcess> {
  return ControllerProcess.start({
    name: `controller ${identity}`,
    args: ["--import", "tsx", join(REPO_ROOT, "test/chaos/controller-main.ts"), args.kubeconfig, identity, args.mountPath, args.podNet],
    cwd: REPO_ROOT,
    maxLines: 10_000,
    ready: (output) => {
      const m = /\{"ads":(\d+)\}/.exec(output);
      return m ? { ecdsPort: Number(m[1]) } : undefined;
    },
    timeoutMs: 60_000,
    intervalMs: 50,
  });
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
