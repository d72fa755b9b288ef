// Source for gating condition 3 (docs/adr/0004-delivery-proof.md): asks every ready gateway pod,
// over plain HTTP on its own IP, which table its filter runs (the reserved host
// canal-probe.invalid, answered by filter/assembly/probe.ts before routing). Keeps the last answer
// per pod and calls `onChange` when one changes. Bounded: a timeout per probe, at most
// `concurrency` probes in flight, at most `ratePerSecond` started per second, at most
// MAX_TARGETS pods, and a body read of at most MAX_BODY bytes.
import { request } from "node:http";

export const PROBE_HOST = "canal-probe.invalid";
export const PROBE_PATH = "/";
const MAX_TARGETS = 4096;
const MAX_BODY = 512;
/** A table version as the filter reports it (content hashes; "empty" is never a 200). */
const VERSION_RE = /^[\x21-\x7e]{1,128}$/;

export interface ProbeTarget {
  /** "namespace/pod" from the endpoint's targetRef, else the address. */
  pod: string;
  address: string;
  port: number;
  /** The table version the pod should run now: while it reports another, it is probed fast. */
  wanted: string;
}

export interface ProbeResult {
  pod: string;
  address: string;
  port: number;
  /** The version the filter answered with (200); absent when there is none. */
  version?: string;
  /** Why there is no version: no answer, no table yet (503), not the filter. */
  error?: string;
  /** When the answer arrived (ms since the epoch). */
  at: number;
}

export interface ProberOptions {
  timeoutMs: number;
  concurrency: number;
  ratePerSecond: number;
  /** Re-probe a pod that runs the wanted version this often. */
  intervalMs: number;
  /** Re-probe a pod that does not (yet) run the wanted version this often. */
  fastMs: number;
  /**
   * Where to connect for an endpoint address and port. Identity in a cluster; tests map the
   * EndpointSlice addresses (the API server refuses loopback ones) to their gateways' loopback
   * addresses and ports.
   */
  dial?: (address: string, port: number) => { host: string; port: number };
  onChange: () => void;
}

export const DEFAULT_PROBER: Omit<ProberOptions, "onChange"> = { timeoutMs: 1000, concurrency: 16, ratePerSecond: 100, intervalMs: 5000, fastMs: 200 };

interface Slot {
  target: ProbeTarget;
  result?: ProbeResult;
  nextAt: number;
  inFlight: boolean;
}

const keyOf = (t: { address: string; port: number }): string => `${t.address}|${t.port}`;

export class TableProber {
  private readonly slots = new Map<string, Slot>();
  private inFlight = 0;
  private tokens: number;
  private lastRefill = Date.now();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly o: ProberOptions) {
    this.tokens = o.ratePerSecond;
  }

  /** Replaces the set of pods to probe: new ones are probed at once, gone ones forgotten. */
  setTargets(targets: readonly ProbeTarget[]): void {
    const seen = new Set<string>();
    for (const t of targets.slice(0, MAX_TARGETS)) {
      const k = keyOf(t);
      seen.add(k);
      const s = this.slots.get(k);
      if (s === undefined) this.slots.set(k, { target: t, nextAt: 0, inFlight: false });
      else {
        // A new wanted version (a table was just published): ask again now.
        if (s.target.wanted !== t.wanted && s.result?.version !== t.wanted) s.nextAt = Math.min(s.nextAt, Date.now());
        s.target = t;
      }
    }
    for (const k of [...this.slots.keys()]) if (!seen.has(k)) this.slots.delete(k);
    this.schedule(0);
  }

  result(t: { address: string; port: number }): ProbeResult | undefined {
    return this.slots.get(keyOf(t))?.result;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), Math.max(0, delayMs));
  }

  private run(): void {
    const now = Date.now();
    this.tokens = Math.min(this.o.ratePerSecond, this.tokens + ((now - this.lastRefill) / 1000) * this.o.ratePerSecond);
    this.lastRefill = now;
    let next = Infinity;
    for (const s of this.slots.values()) {
      if (s.inFlight) continue;
      if (s.nextAt > now) {
        next = Math.min(next, s.nextAt);
        continue;
      }
      if (this.inFlight >= this.o.concurrency || this.tokens < 1) {
        next = Math.min(next, now + Math.ceil(1000 / this.o.ratePerSecond));
        continue;
      }
      this.tokens -= 1;
      this.start(s);
    }
    if (next !== Infinity) this.schedule(next - now);
  }

  private start(s: Slot): void {
    s.inFlight = true;
    this.inFlight++;
    const t = s.target;
    const to = this.o.dial?.(t.address, t.port) ?? { host: t.address, port: t.port };
    probe(to.host, to.port, this.o.timeoutMs).then((answer) => {
      s.inFlight = false;
      this.inFlight--;
      if (this.slots.get(keyOf(t)) !== s) return this.schedule(0);
      const before = s.result;
      s.result = { pod: s.target.pod, address: t.address, port: t.port, ...answer, at: Date.now() };
      s.nextAt = Date.now() + (s.result.version === s.target.wanted ? this.o.intervalMs : this.o.fastMs);
      if (before?.version !== s.result.version || before?.error !== s.result.error || before?.pod !== s.result.pod) this.o.onChange();
      this.schedule(0);
    });
  }
}

/** One probe: never rejects; the answer is a version or the reason there is none. */
export function probe(address: string, port: number, timeoutMs: number): Promise<{ version?: string; error?: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { version?: string; error?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = request({ host: address, port, path: PROBE_PATH, method: "GET", headers: { host: PROBE_HOST, connection: "close" }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      res.on("end", () => {
        const raw = res.headers["x-canal-table"];
        const header = Array.isArray(raw) ? raw[0] : raw;
        const body = Buffer.concat(chunks).toString("utf8").trim();
        if (res.statusCode === 503 && header !== undefined) return finish({ error: "has no route table yet (the probe answered 503)" });
        if (res.statusCode !== 200) return finish({ error: `answered ${res.statusCode} to the probe: the filter is not loaded or not answering it` });
        if (header === undefined || !VERSION_RE.test(header) || header !== body) return finish({ error: `answered 200 without a valid table version: the filter is not answering the probe` });
        finish({ version: header });
      });
      res.on("error", (err) => finish({ error: `did not answer the probe: ${err.message}` }));
    });
    const timer = setTimeout(() => finish({ error: `did not answer the probe within ${timeoutMs} ms` }), timeoutMs);
    req.on("error", (err) => finish({ error: `did not answer the probe: ${err.message}` }));
    req.end();
  });
}
