// Source for gating conditions 1 and 3: ready endpoints of gateway Services (and their pods'
// addresses, which the prober asks), from an informer on discovery.k8s.io/v1 EndpointSlices (label
// kubernetes.io/service-name). An endpoint counts as ready unless its conditions say ready: false
// (the API's meaning of an absent condition).
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../common/log.ts";
import { errorText } from "../common/errors.ts";

const PATH = "/apis/discovery.k8s.io/v1/endpointslices";
const SERVICE_LABEL = "kubernetes.io/service-name";

export interface ReadyPod {
  pod: string;
  address: string;
  /** IPv4, IPv6 or FQDN (an FQDN endpoint cannot be probed). */
  addressType: string;
  port?: number;
}

export class EndpointReadiness {
  private informer?: k8s.Informer<k8s.V1EndpointSlice> & k8s.ObjectCache<k8s.V1EndpointSlice>;
  private stopped = false;
  private backoffMs = 500;
  private timer?: NodeJS.Timeout;
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly kc: k8s.KubeConfig, private readonly log: Logger) {}

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    const api = this.kc.makeApiClient(k8s.DiscoveryV1Api);
    const informer = k8s.makeInformer(this.kc, PATH, () => api.listEndpointSliceForAllNamespaces());
    const changed = (): void => {
      for (const l of this.listeners) l();
    };
    informer.on(k8s.ADD, changed);
    informer.on(k8s.UPDATE, changed);
    informer.on(k8s.DELETE, changed);
    informer.on(k8s.CONNECT, () => {
      this.backoffMs = 500;
    });
    informer.on(k8s.ERROR, (err?: unknown) => {
      if (this.stopped) return;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
      this.log.warn("EndpointSlice watch failed; restarting", { retryInMs: delay, error: errorText(err) });
      this.timer = setTimeout(() => {
        if (!this.stopped) informer.start().then(changed, () => undefined);
      }, delay);
    });
    this.informer = informer;
    await informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.informer?.stop();
  }

  /**
   * The ready endpoints of Service namespace/name with the address to probe and the port that
   * Service port `portName` targets in their slice (absent: the slice has no such port).
   */
  readyPods(namespace: string, name: string, portName: string): ReadyPod[] {
    const out: ReadyPod[] = [];
    for (const s of this.informer?.list(namespace) ?? []) {
      if (s.metadata?.labels?.[SERVICE_LABEL] !== name) continue;
      const port = (s.ports ?? []).find((p) => (p.name ?? "") === portName)?.port;
      for (const e of s.endpoints ?? []) {
        if (e.conditions?.ready === false) continue;
        const address = e.addresses[0] ?? "";
        const ref = e.targetRef;
        const pod = ref?.name ? `${ref.namespace ?? namespace}/${ref.name}` : address;
        out.push({ pod, address, addressType: s.addressType, ...(port === undefined ? {} : { port }) });
      }
    }
    return out.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  }

  /** Ready endpoints of Service namespace/name across its EndpointSlices. */
  ready(namespace: string, name: string): number {
    let n = 0;
    for (const s of this.informer?.list(namespace) ?? []) {
      if (s.metadata?.labels?.[SERVICE_LABEL] !== name) continue;
      for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false) n++;
    }
    return n;
  }
}
