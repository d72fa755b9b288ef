// The TTL-honouring client the chaos scenarios load the mesh with: it resolves the Service name
// through the real CoreDNS over UDP, keeps the answer exactly as long as the record's TTL says (a
// caching stub resolver, the strictest client for the DNS drain), and sends each HTTP request to
// whatever the name resolves to on a fresh connection: the backend directly before the flip, the
// gateway Service (the kube-proxy stand-in) after it. A request is never retried: a non-2xx, a
// wrong body or a connection error is a failure. Bounded in requests and time; stops by itself.
import { request as httpRequest } from "node:http";
import { udpLookup } from "../support/coredns.ts";

export interface Outcome {
  /** The address the name resolved to. */
  ip: string;
  status: number | string;
  /** Which backend answered (the upstream's x-upstream header). */
  upstream?: string;
  at: number;
}

export interface LoadOptions {
  dnsPort: number;
  fqdn: string;
  port: number;
  /** Concurrent request loops sharing one resolver cache. */
  workers?: number;
  maxRequests?: number;
  maxMs?: number;
}

/** One request to http://ip:port/hello with the Service's host name, on a fresh connection. */
function send(ip: string, port: number, fqdn: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: ip, port, path: "/hello", headers: { host: `${fqdn}:${port}` }, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ ip, status: res.statusCode ?? 0, upstream: res.headers["x-upstream"] as string | undefined, at: Date.now() }));
      res.on("error", (err) => resolve({ ip, status: `response: ${err.message}`, at: Date.now() }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ ip, status: err.message, at: Date.now() }));
    req.end();
  });
}

export class LoadClient {
  readonly outcomes: Outcome[] = [];
  /** UDP queries lost and asked again (a stub resolver's retry; not an HTTP failure). */
  dnsRetries = 0;
  lookups = 0;
  private cached?: { ip: string; until: number };
  private resolving?: Promise<string>;
  private stopping = false;
  private readonly started = Date.now();
  private readonly loops: Promise<void>[] = [];
  private fatal?: Error;

  constructor(private readonly o: LoadOptions) {}

  start(): this {
    for (let i = 0; i < (this.o.workers ?? 4); i++) this.loops.push(this.loop());
    return this;
  }

  get count(): number {
    return this.outcomes.length;
  }

  /** Requests answered through address `ip` since index `from`. */
  countVia(ip: string, from = 0): number {
    let n = 0;
    for (let i = from; i < this.outcomes.length; i++) if (this.outcomes[i]!.ip === ip) n++;
    return n;
  }

  failures(): Outcome[] {
    return this.outcomes.filter((o) => o.status !== 200 || o.upstream !== "helloworld");
  }

  private async resolve(): Promise<string> {
    const c = this.cached;
    if (c !== undefined && Date.now() < c.until) return c.ip;
    // One query at a time: the workers share the cache, as processes share a node's resolver.
    this.resolving ??= (async () => {
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            const answer = await udpLookup(this.o.dnsPort, this.o.fqdn, "A", 1000);
            this.lookups++;
            const a = answer.answers.find((r) => r.type === "A");
            if (a === undefined) throw new Error(`no A record for ${this.o.fqdn}: ${JSON.stringify(answer)}`);
            this.cached = { ip: a.data, until: Date.now() + a.ttl * 1000 };
            return a.data;
          } catch (err) {
            this.dnsRetries++;
            if (attempt >= 3) throw err;
          }
        }
      } finally {
        this.resolving = undefined;
      }
    })();
    return this.resolving;
  }

  private async loop(): Promise<void> {
    const maxRequests = this.o.maxRequests ?? 40_000;
    const maxMs = this.o.maxMs ?? 150_000;
    try {
      while (!this.stopping && this.outcomes.length < maxRequests && Date.now() - this.started < maxMs) {
        const ip = await this.resolve();
        this.outcomes.push(await send(ip, this.o.port, this.o.fqdn));
        await new Promise((r) => setTimeout(r, 2));
      }
    } catch (err) {
      this.fatal = err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Stops the loops and waits for the requests in flight; throws if resolving failed for good. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    if (this.fatal) throw this.fatal;
  }

  summary(addresses: Record<string, string>): string {
    const via = Object.entries(addresses).map(([name, ip]) => `${this.countVia(ip)} via ${name}`).join(", ");
    return `${this.count} requests (${via}), ${this.failures().length} failed, ${this.lookups} DNS lookups, ${this.dnsRetries} DNS retries`;
  }
}
