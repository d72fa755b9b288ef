// The controller's own HTTP endpoints: /metrics (Prometheus), /healthz (the process runs),
// /readyz (caches synced and the first translation done).
import { createServer, type Server } from "node:http";
import type { Metrics } from "../common/metrics.ts";

export interface HealthSource {
  readonly ready: boolean;
  readonly isLeader: boolean;
}

export function startHttp(address: string, metrics: Metrics, health: HealthSource): Promise<{ server: Server; port: number }> {
  const [host, portText] = splitAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      metrics.gauge("canal_leader", "1 when this replica is the leader.", health.isLeader ? 1 : 0);
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metrics.render());
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      if (health.ready) res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      else res.writeHead(503, { "content-type": "text/plain" }).end("caches not synced yet\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics, /healthz, /readyz\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(portText), host, () => {
      const a = server.address();
      resolve({ server, port: typeof a === "object" && a !== null ? a.port : Number(portText) });
    });
  });
}

export function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(":");
  if (i <= 0 || !/^\d+$/.test(address.slice(i + 1))) throw new Error(`invalid address "${address}": expected host:port, e.g. 127.0.0.1:9090`);
  return [address.slice(0, i).replace(/^\[|\]$/g, ""), address.slice(i + 1)];
}
