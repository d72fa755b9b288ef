// kube-proxy's stand-in for one Service on loopback: a TCP listener on the Service's cluster IP
// and port that forwards each new connection to one *ready* endpoint of the Service, round robin,
// as kube-proxy's rules do. It learns the endpoints the way kube-proxy does, from the Service's
// EndpointSlices in the API server (polled every 100 ms; the last good list is kept while the API
// server is down). Endpoint addresses are mapped to where the pod listens by `dial` (the one place
// the test network differs from a cluster's). With no ready endpoint a connection is reset.
import { createServer, Socket, type Server } from "node:net";
import type { KubeApi, KubeObject } from "../support/k8s.ts";
import { repeat, type Repeater } from "./repeat.ts";

interface Slice extends KubeObject {
  endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }>;
}

export interface Backend {
  /** Connections forwarded to this endpoint address in total. */
  total: number;
  /** Connections open now. */
  active: number;
  /** When the first connection was forwarded to it. */
  firstAt?: number;
}

export class KubeProxy {
  private server?: Server;
  private poller?: Repeater;
  private next = 0;
  private readonly sockets = new Set<Socket>();
  /** The ready endpoint addresses as of the last successful poll. */
  ready: string[] = [];
  readonly backends = new Map<string, Backend>();
  /** Connections reset because no endpoint was ready, or the endpoint refused. */
  resets = 0;
  syncs = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly service: { namespace: string; name: string },
    private readonly listen: { host: string; port: number },
    private readonly dial: (address: string, port: number) => { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    await this.sync();
    const server = createServer((client) => this.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    this.server = server;
    this.poller = repeat(() => this.sync(), 100);
  }

  private async sync(): Promise<void> {
    const sel = encodeURIComponent(`kubernetes.io/service-name=${this.service.name}`);
    const list = await this.api.list<Slice>(`/apis/discovery.k8s.io/v1/namespaces/${this.service.namespace}/endpointslices?labelSelector=${sel}`);
    const ready: string[] = [];
    for (const s of list.items) for (const e of s.endpoints ?? []) if (e.conditions?.ready === true) ready.push(...e.addresses);
    this.ready = [...new Set(ready)].sort();
    this.syncs++;
  }

  private forward(client: Socket): void {
    client.on("error", () => undefined);
    const ready = this.ready;
    if (ready.length === 0) {
      this.resets++;
      client.resetAndDestroy();
      return;
    }
    const address = ready[this.next++ % ready.length]!;
    const b = this.backends.get(address) ?? { total: 0, active: 0 };
    this.backends.set(address, b);
    b.total++;
    b.active++;
    b.firstAt ??= Date.now();
    const to = this.dial(address, this.listen.port);
    const upstream = new Socket();
    upstream.on("error", () => {
      this.resets++;
      client.resetAndDestroy();
    });
    upstream.connect(to.port, to.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    }
    let open = true;
    const done = (): void => {
      if (open) b.active--;
      open = false;
    };
    client.pipe(upstream).pipe(client);
    client.on("close", () => {
      done();
      upstream.destroy();
    });
    upstream.on("close", () => {
      done();
      client.destroy();
    });
  }

  /** Syncs done so far; a caller waits for two more to know a change it made is seen. */
  async seenAfter(timeoutMs = 10_000): Promise<void> {
    const want = this.syncs + 2;
    const until = Date.now() + timeoutMs;
    while (this.syncs < want) {
      if (Date.now() > until) throw new Error(`kube-proxy stand-in did not sync within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.poller?.stop();
    for (const s of this.sockets) s.destroy();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise((r) => s.close(r));
  }
}
