// Ephemeral ports on loopback. Servers started by the harness listen on port 0 and report the
// port the kernel chose, which is race-free; `freePort` is for the few places where a port
// must be known before the process that binds it starts (e.g. a config rendered up front).

import { createServer, type Server } from "node:net";

export const LOOPBACK = "127.0.0.1";

/** A port that was free on 127.0.0.1 a moment ago (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("no port"));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/** Listens on host:port (0: an ephemeral port); rejects on a bind error. */
export function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
}

/**
 * A port that was free on every address in `hosts` a moment ago: for servers that must share one
 * port on several loopback addresses (a Service port and its pods' port, as in a cluster).
 */
export async function freePortOn(hosts: string[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const probe = createServer();
    await listenOn(probe, hosts[0]!, 0);
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    let ok = true;
    for (const h of hosts) {
      const s = createServer();
      try {
        await listenOn(s, h, port);
      } catch {
        ok = false;
      }
      await new Promise((r) => s.close(r));
      if (!ok) break;
    }
    if (ok) return port;
  }
  throw new Error(`no port free on ${hosts.join(", ")}`);
}
