// Stream admission for the ECDS server: a cap on open streams overall, per client IP and per
// HTTP/2 connection (a connection is its peer address, "ip:port"). A refused stream is closed at
// once with RESOURCE_EXHAUSTED, so a client that opens thousands costs a counter each, not a
// gateway entry; the per-IP cap keeps one pod from taking every slot from the real gateways.

export interface AdmissionLimits {
  maxStreams: number;
  maxStreamsPerClientIp: number;
  maxStreamsPerConnection: number;
}

/** The IP of a grpc-js peer ("10.0.0.1:4242", "[::1]:4242"); the whole string if it has no port. */
export function peerIp(peer: string): string {
  const m = /^\[?(.*?)\]?:\d+$/.exec(peer);
  return m?.[1] ?? peer;
}

export type Admission = { ok: true; release: () => void } | { ok: false; reason: string };

export class StreamAdmission {
  private total = 0;
  private readonly perConnection = new Map<string, number>();
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: AdmissionLimits) {}

  get open(): number {
    return this.total;
  }

  admit(peer: string): Admission {
    if (this.total >= this.limits.maxStreams) {
      return { ok: false, reason: `the server has ${this.total} streams open, its limit (maxStreams ${this.limits.maxStreams})` };
    }
    const ip = peerIp(peer);
    const byIp = this.perIp.get(ip) ?? 0;
    if (byIp >= this.limits.maxStreamsPerClientIp) {
      return { ok: false, reason: `client ${ip} has ${byIp} streams open, the limit per client IP (${this.limits.maxStreamsPerClientIp})` };
    }
    const n = this.perConnection.get(peer) ?? 0;
    if (n >= this.limits.maxStreamsPerConnection) {
      return { ok: false, reason: `connection ${peer} has ${n} streams open, the limit per connection (${this.limits.maxStreamsPerConnection})` };
    }
    this.total += 1;
    this.perConnection.set(peer, n + 1);
    this.perIp.set(ip, byIp + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total -= 1;
        decrement(this.perConnection, peer);
        decrement(this.perIp, ip);
      },
    };
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left <= 0) counts.delete(key);
  else counts.set(key, left);
}
