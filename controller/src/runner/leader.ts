// Leader election on a coordination.k8s.io Lease: only the leader writes. Optimistic concurrency
// (resourceVersion) makes two candidates that race for an expired lease end with one holder.
// On a clean stop the leader releases the lease so another replica takes over at once; after a
// crash the others wait for the lease duration.
import * as k8s from "@kubernetes/client-node";
import { errorText } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";

export interface LeaderElectionOptions {
  kc: k8s.KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** How often to renew or try to acquire. */
  retryPeriodMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private timer?: NodeJS.Timeout;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  /** The acquire/renew round in flight, if any: stop() waits for it before releasing. */
  private round: Promise<void> | undefined;

  constructor(private readonly o: LeaderElectionOptions) {
    this.api = o.kc.makeApiClient(k8s.CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get durationS(): number {
    return this.o.leaseDurationSeconds ?? 15;
  }

  start(): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.round = this.tryAcquireOrRenew().then(
        () => undefined,
        (err: unknown) => this.o.log.warn("lease update failed", { lease: `${this.o.namespace}/${this.o.name}`, error: errorText(err) }),
      ).finally(() => {
        // A leader that could not renew within the lease duration must assume it lost the lease.
        if (this.leading && Date.now() - this.lastRenew > this.durationS * 1000) this.setLeading(false);
        if (!this.stopped) this.timer = setTimeout(loop, this.o.retryPeriodMs ?? 2000);
      });
    };
    loop();
  }

  /**
   * Stops campaigning and releases the lease if the API server says this replica holds it, so a
   * standby takes over at once. It waits for a round in flight first (whose write would otherwise
   * conflict with the release), releases even when this replica had stepped down locally (a renew
   * that failed for a lease duration, e.g. across an API server restart, while the lease still
   * names it), and retries a release that lost a compare-and-swap race.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round?.catch(() => undefined);
    this.setLeading(false);
    for (let attempt = 1; ; attempt++) {
      try {
        const lease = await this.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
        if (lease.spec?.holderIdentity !== this.o.identity) return;
        lease.spec.holderIdentity = undefined;
        lease.spec.renewTime = new k8s.V1MicroTime(0);
        await this.api.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease });
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code === 409 && attempt < 3) continue;
        if ((err as { code?: unknown }).code === 404) return;
        this.o.log.warn("could not release the lease", { error: errorText(err) });
        return;
      }
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.o.log.info(leading ? "became leader" : "stopped leading", { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
    if (leading) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = new k8s.V1MicroTime(Date.now());
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
    } catch (err) {
      if ((err as { code?: unknown }).code !== 404) throw err;
      await this.api.createNamespacedLease({
        namespace: this.o.namespace,
        body: {
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { holderIdentity: this.o.identity, leaseDurationSeconds: this.durationS, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        },
      });
      this.lastRenew = Date.now();
      this.setLeading(true);
      return;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? this.durationS) * 1000 < Date.now();
    if (holder === this.o.identity) {
      lease.spec = { ...spec, renewTime: now, leaseDurationSeconds: this.durationS };
    } else if (!holder || expired) {
      lease.spec = { ...spec, holderIdentity: this.o.identity, acquireTime: now, renewTime: now, leaseDurationSeconds: this.durationS, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    } else {
      this.setLeading(false);
      return;
    }
    // resourceVersion from the read makes this a compare-and-swap: a racing candidate gets 409.
    await this.api.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease });
    this.lastRenew = Date.now();
    this.setLeading(true);
  }
}
