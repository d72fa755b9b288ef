// Real HTTP upstreams on 127.0.0.1 that record every request and answer with a JSON echo of
// what they received. Behaviour is driven per request by headers (which pass through Envoy),
// so concurrent tests never share state:
//   x-test-key: <k>            groups requests; the echo carries `attempt` = n-th request for k
//   x-test-fail-times: <n>     the first n requests of the key answer x-test-fail-status (503)
//   x-test-fail-status: <code>
//   x-test-delay-ms: <ms>      wait before answering ...
//   x-test-delay-times: <n>    ... only for the first n requests of the key (default: all)
//   x-test-response-header: name=value[, name=value]   add these headers to the response (repeatable)

import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { LOOPBACK } from "./ports.ts";

export interface RecordedRequest {
  upstream: string;
  method: string;
  /** Request target as received (path and query). */
  path: string;
  headers: IncomingHttpHeaders;
  /** Name/value pairs as received; repeated headers stay separate. */
  rawHeaders: string[];
  body: string;
  attempt: number;
  receivedAt: number;
}

/** What the upstream answers (JSON). */
export type Echo = RecordedRequest;

function firstHeader(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function intHeader(h: IncomingHttpHeaders, name: string, dflt: number): number {
  const v = firstHeader(h, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? n : dflt;
}

export class Upstream {
  readonly requests: RecordedRequest[] = [];
  private readonly counts = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly name: string,
    private readonly server: Server,
  ) {
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** How many requests with `x-test-key: key` arrived. */
  attempts(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Requests with `x-test-key: key`, in arrival order. */
  requestsFor(key: string): RecordedRequest[] {
    return this.requests.filter((r) => firstHeader(r.headers, "x-test-key") === key);
  }

  handle(rec: Omit<RecordedRequest, "attempt" | "upstream">, res: ServerResponse): void {
    const key = firstHeader(rec.headers, "x-test-key") ?? "";
    const attempt = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, attempt);
    const full: RecordedRequest = { ...rec, upstream: this.name, attempt };
    this.requests.push(full);
    if (this.requests.length > 50_000) this.requests.splice(0, 25_000);
    const failTimes = intHeader(rec.headers, "x-test-fail-times", 0);
    const failStatus = intHeader(rec.headers, "x-test-fail-status", 503);
    const delayMs = intHeader(rec.headers, "x-test-delay-ms", 0);
    const delayTimes = intHeader(rec.headers, "x-test-delay-times", Number.MAX_SAFE_INTEGER);
    const status = attempt <= failTimes ? failStatus : 200;
    const extra: [string, string][] = [];
    for (let i = 0; i + 1 < rec.rawHeaders.length; i += 2) {
      if (rec.rawHeaders[i].toLowerCase() !== "x-test-response-header") continue;
      for (const h of rec.rawHeaders[i + 1].split(",")) {
        const eq = h.indexOf("=");
        if (eq > 0) extra.push([h.slice(0, eq).trim(), h.slice(eq + 1).trim()]);
      }
    }
    const answer = (): void => {
      if (res.destroyed) return;
      const body = JSON.stringify(full);
      const headers: [string, string][] = [
        ["content-type", "application/json"],
        ["x-upstream", this.name],
        ["content-length", String(Buffer.byteLength(body))],
        ...extra,
      ];
      res.writeHead(status, headers.flat());
      res.end(body);
    };
    if (delayMs > 0 && attempt <= delayTimes) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        answer();
      }, delayMs);
      this.timers.add(t);
    } else {
      answer();
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Starts an echo upstream called `name` on 127.0.0.1 (ephemeral port). */
export async function startUpstream(name: string): Promise<Upstream> {
  // maxHeaderSize: well above Envoy's limit, so large headers are Envoy's (and the filter's) business.
  const server = createServer({ keepAliveTimeout: 60_000, maxHeaderSize: 256 * 1024 });
  const upstream = new Upstream(name, server);
  server.on("request", (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () =>
      upstream.handle(
        {
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: Buffer.concat(chunks).toString("utf8"),
          receivedAt: Date.now(),
        },
        res,
      ),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  return upstream;
}
