// Stream admission for the ECDS server: a cap on open streams overall and per HTTP/2 connection
// (a connection is its peer address, "ip:port"). A refused stream is closed at once with
// RESOURCE_EXHAUSTED, so a client that opens thousands costs a counter each, not a gateway entry.

export interface AdmissionLimits {
  maxStreams: number;
  maxStreamsPerConnection: number;
}

export type Admission = { ok: true; release: () => void } | { ok: false; reason: string };

export class StreamAdmission {
  private total = 0;
  private readonly perConnection = new Map<string, number>();

  constructor(private readonly limits: AdmissionLimits) {}

  get open(): number {
    return this.total;
  }

  admit(peer: string): Admission {
    if (this.total >= this.limits.maxStreams) {
      return { ok: false, reason: `the server has ${this.total} streams open, its limit (maxStreams ${this.limits.maxStreams})` };
    }
    const n = this.perConnection.get(peer) ?? 0;
    if (n >= this.limits.maxStreamsPerConnection) {
      return { ok: false, reason: `connection ${peer} has ${n} streams open, the limit per connection (${this.limits.maxStreamsPerConnection})` };
    }
    this.total += 1;
    this.perConnection.set(peer, n + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total -= 1;
        const left = (this.perConnection.get(peer) ?? 1) - 1;
        if (left <= 0) this.perConnection.delete(peer);
        else this.perConnection.set(peer, left);
      },
    };
  }
}
