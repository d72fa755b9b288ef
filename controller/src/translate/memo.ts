// What translate() may keep between calls so that a change to one object costs about as much as
// that object: each VirtualService's host candidates and routes per gateway (reused while the VirtualService object is
// the same and every Service/DestinationRule lookup it made gives the same answer), each virtual
// host serialized, and the Service index while the Services are the same array. Keyed by
// object identity (WeakMaps): an object that leaves the snapshot leaves the memo with it. The
// memo never changes a result: translate() with and without it returns the same output
// (incremental.test.ts checks it over random edit sequences).
import type { Service } from "../api/core.ts";
import type { VirtualService } from "../api/istio.ts";
import type { Route, VirtualHost } from "../../../schema/route-table.ts";
import type { RegexValidator } from "./context.ts";
import { dnsEntry, planOf, plannedServices, type DnsEntry, type DnsPlanInput } from "./dnsplan.ts";
import { ServiceIndex } from "./services.ts";
import { serializeVirtualHost, type VirtualHostJson } from "./table.ts";
import { candidatesKey, hostCandidates, type HostCandidates, type HostContext } from "./vhosts.ts";
import { dependenciesHold, translateVsRoutes, type RouteEnv, type VsRoutes } from "./vs-routes.ts";

interface KeptVirtualHost {
  name: string;
  domains: readonly string[];
  json: VirtualHostJson;
}

export interface MemoStats {
  /** VirtualService route sets reused / translated, since the memo was created. */
  reused: number;
  translated: number;
}

export class TranslateMemo {
  readonly stats: MemoStats = { reused: 0, translated: 0 };
  /** Results depend on the validator: a different one starts over. */
  private validator?: RegexValidator;
  private clusterDomain?: string;
  private dnsEntries = new WeakMap<Service, DnsEntry>();
  /** The last DNS plan per gateway Service, with the Services it was made of. */
  private plans = new Map<string, { services: ReadonlySet<Service>; plan: DnsEntry[] }>();
  /** Per gateway environment (gateway, its Service, cluster domain). */
  private routes = new Map<string, WeakMap<VirtualService, VsRoutes>>();
  /** Per gateway view (candidatesKey). */
  private candidates = new Map<string, WeakMap<VirtualService, HostCandidates>>();
  /** Serialized virtual hosts, by their routes array (a memo result's, so stable). */
  private readonly vhosts = new WeakMap<readonly Route[], KeptVirtualHost>();
  private index?: { services: readonly Service[]; clusterDomain: string; index: ServiceIndex };

  /** Called once per translate(): drops everything if the validator or the cluster domain changed. */
  begin(validator: RegexValidator, clusterDomain: string): void {
    if (this.validator === validator && this.clusterDomain === clusterDomain) return;
    this.validator = validator;
    this.clusterDomain = clusterDomain;
    this.routes = new Map();
    this.candidates = new Map();
    this.index = undefined;
    this.dnsEntries = new WeakMap();
    this.plans = new Map();
  }

  /** buildDnsPlan(input), the same array while the planned Services are the same objects. */
  dnsPlan(input: DnsPlanInput): DnsEntry[] {
    const planned = plannedServices(input);
    const key = `${input.gatewayService.namespace}/${input.gatewayService.name}`;
    const last = this.plans.get(key);
    if (last !== undefined && last.services.size === planned.size && [...planned].every((s) => last.services.has(s))) return last.plan;
    const plan = planOf(planned, input.clusterDomain, (s, domain) => {
      let e = this.dnsEntries.get(s);
      if (e === undefined) {
        e = dnsEntry(s, domain);
        this.dnsEntries.set(s, e);
      }
      return e;
    });
    this.plans.set(key, { services: planned, plan });
    return plan;
  }

  /** The Service index for this array of Services (the same array gets the same index). */
  serviceIndex(services: readonly Service[], clusterDomain: string): ServiceIndex {
    const i = this.index;
    if (i !== undefined && i.services === services && i.clusterDomain === clusterDomain) return i.index;
    const index = new ServiceIndex(services, clusterDomain);
    this.index = { services, clusterDomain, index };
    return index;
  }

  /** hostCandidates(vs, ctx), kept per VirtualService object and gateway view. */
  hostCandidates(vs: VirtualService, ctx: HostContext): HostCandidates {
    const key = candidatesKey(ctx);
    let byVs = this.candidates.get(key);
    if (byVs === undefined) {
      byVs = new WeakMap();
      this.candidates.set(key, byVs);
    }
    let kept = byVs.get(vs);
    if (kept === undefined) {
      kept = hostCandidates(vs, ctx);
      byVs.set(vs, kept);
    }
    return kept;
  }

  /** `vs`'s routes in `env`: kept if still valid, else translated and kept. */
  vsRoutes(vs: VirtualService, env: RouteEnv): VsRoutes {
    const key = `${env.gatewayKey}\n${env.gatewayService.namespace}/${env.gatewayService.name}\n${env.clusterDomain}`;
    let byVs = this.routes.get(key);
    if (byVs === undefined) {
      byVs = new WeakMap();
      this.routes.set(key, byVs);
    }
    const kept = byVs.get(vs);
    if (kept !== undefined && dependenciesHold(kept.dependencies, env)) {
      this.stats.reused++;
      return kept;
    }
    const fresh = translateVsRoutes(vs, env);
    byVs.set(vs, fresh);
    this.stats.translated++;
    return fresh;
  }

  /** A virtual host serialized; kept per routes array while its name and domains stay the same. */
  virtualHostJson(vh: VirtualHost): VirtualHostJson {
    const kept = this.vhosts.get(vh.routes);
    if (kept !== undefined && kept.name === vh.name && sameStrings(kept.domains, vh.domains)) return kept.json;
    const json = serializeVirtualHost(vh);
    this.vhosts.set(vh.routes, { name: vh.name, domains: vh.domains, json });
    return json;
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
