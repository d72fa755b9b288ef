// Demo upstreams for running Canal locally (`make run`): small HTTP servers on 127.0.0.1 that
// answer every request with JSON saying which upstream they are and what they received.
//
//   node --import tsx envoy/demo-upstream.ts [name=port ...]
//
// Without arguments it starts the upstreams envoy/canal.yaml's clusters point at (DEMO_UPSTREAMS).

import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

export interface DemoUpstream {
  name: string;
  port: number;
}

/** The demo upstreams behind envoy/canal.yaml's clusters. */
export const DEMO_UPSTREAMS: DemoUpstream[] = [
  { name: "helloworld-v1", port: 18081 },
  { name: "helloworld-v2", port: 18082 },
  { name: "ratings", port: 18083 },
  { name: "reviews-prod", port: 18084 },
  { name: "reviews-test", port: 18085 },
];

export interface DemoEcho {
  upstream: string;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/** Starts one demo upstream; resolves once it listens. */
export function startDemoUpstream(name: string, port: number, host = "127.0.0.1"): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const echo: DemoEcho = { upstream: name, method: req.method ?? "", path: req.url ?? "", headers: req.headers };
      const body = `${JSON.stringify(echo, null, 2)}\n`;
      res.writeHead(200, { "content-type": "application/json", "x-demo-upstream": name, "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

function parseArgs(args: string[]): DemoUpstream[] {
  if (args.length === 0) return DEMO_UPSTREAMS;
  return args.map((a) => {
    const m = /^([A-Za-z0-9_.-]+)=(\d+)$/.exec(a);
    if (m === null) throw new Error(`expected name=port, got "${a}"`);
    return { name: m[1], port: Number(m[2]) };
  });
}

async function main(): Promise<void> {
  const servers: Server[] = [];
  for (const u of parseArgs(process.argv.slice(2))) {
    servers.push(await startDemoUpstream(u.name, u.port));
    console.log(`demo upstream ${u.name} on http://127.0.0.1:${u.port}`);
  }
  const stop = (): void => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
