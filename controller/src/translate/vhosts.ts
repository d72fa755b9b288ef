// Hosts → virtual host domains. Each bound VirtualService claims the domains its hosts are
// exposed as and that its namespace owns or is granted (ADR 0003; oldest VirtualService wins a
// domain); Service FQDNs then get their short aliases (name.ns.svc, name.ns, and the bare name
// when it is unique among the served namespaces, else an ambiguousHosts entry: ADR 0002). A
// literal host never takes a Service's alias.
import type { Service } from "../api/core.ts";
import type { HostGrant } from "../api/internalgateway.ts";
import type { VirtualService } from "../api/istio.ts";
import type { AmbiguousHost } from "../../../schema/route-table.ts";
import { exposedDomains } from "./hosts.ts";
import { normalizeHost, resolveShortName, serviceAliases, type ServerHost } from "./names.ts";
import { grantHint, mayRoute } from "./ownership.ts";
import type { Problem } from "../api/problem.ts";
import { ProblemSink, refOf } from "./problems.ts";
import type { ServiceIndex } from "./services.ts";

export interface HostClaim {
  domain: string;
  /** Index in spec.hosts that produced it (for problem fields). */
  hostIndex: number;
}

export interface VsHosts {
  vs: VirtualService;
  /** Domains this VirtualService won, in spec.hosts order. */
  claims: HostClaim[];
}

export interface HostContext {
  gatewayKey: string;
  serverHosts: readonly ServerHost[];
  clusterDomain: string;
  /** spec.hostGrants of the InternalGateway, and its "namespace/name" (for messages). */
  grants: readonly HostGrant[];
  grantsFrom: string;
  sink: ProblemSink;
}

/** The domains one VirtualService's hosts are exposed as (before conflicts), and its host problems. */
export interface HostCandidates {
  candidates: HostClaim[];
  problems: Problem[];
}

/** What a VirtualService's candidates depend on besides itself (a memo key). */
export function candidatesKey(ctx: HostContext): string {
  return `${ctx.gatewayKey}\n${ctx.clusterDomain}\n${ctx.serverHosts.map((h) => `${h.namespace}/${h.host}`).join(",")}\n${ctx.grantsFrom}\n${JSON.stringify(ctx.grants)}`;
}

/** Per VirtualService, independent of the others: normalization, short names, exposure. */
export function hostCandidates(vs: VirtualService, ctx: HostContext): HostCandidates {
  const sink = new ProblemSink();
  const candidates: HostClaim[] = [];
  if (vs.spec.hosts.length === 0) {
    sink.add(vs, "spec.hosts", "InvalidHost", "spec.hosts is empty: a VirtualService bound to a gateway needs at least one host, so its routes are not used. Add the hosts it serves.");
  }
  vs.spec.hosts.forEach((raw, i) => {
    const field = `spec.hosts[${i}]`;
    const h = normalizeHost(raw);
    if (!h.ok) {
      sink.add(vs, field, "InvalidHost", `${field}: ${JSON.stringify(raw)} is not a valid host: ${h.error}. It is left out of the route table and DNS.`);
      return;
    }
    const host = resolveShortName(h.host, vs.metadata.namespace, ctx.clusterDomain);
    const domains = exposedDomains(host, vs.metadata.namespace, ctx.serverHosts);
    if (domains.length === 0) {
      const shown = host === h.host ? `"${host}"` : `"${h.host}" (${host})`;
      const servers = ctx.serverHosts.map((sh) => `${sh.namespace}/${sh.host}`).join(", ") || "none";
      sink.add(vs, field, "HostNotExposed", `${field}: host ${shown} is not exposed by any server of Gateway ${ctx.gatewayKey} for namespace "${vs.metadata.namespace}" (server hosts: ${servers}). Add it to a server's hosts or remove it here.`);
      return;
    }
    for (const domain of domains) {
      if (owned(vs, field, domain, ctx, sink)) candidates.push({ domain, hostIndex: i });
    }
  });
  // Kept by the memo: a copy of exactly its length (see translateVsRoutes).
  return { candidates: candidates.slice(), problems: sink.list };
}

/** Ownership of one exposed domain; a refusal is a problem naming the owner or the missing grant. */
function owned(vs: VirtualService, field: string, domain: string, ctx: HostContext, sink: ProblemSink): boolean {
  const ns = vs.metadata.namespace;
  const o = mayRoute(domain, ns, ctx.grants, ctx.clusterDomain);
  if (o.ok) return true;
  const grant = `or the gateway's owner adds ${grantHint(ns, domain)} to spec.hostGrants of InternalGateway ${ctx.grantsFrom}`;
  if (o.reason === "HostNotOwned") {
    sink.add(vs, field, "HostNotOwned", `${field}: host "${domain}" is a Service name of namespace "${o.owner}"; only VirtualServices in "${o.owner}" may route it through Gateway ${ctx.gatewayKey} (ADR 0003), so it is left out of the route table and DNS. Move this VirtualService to "${o.owner}", ${grant}.`);
  } else {
    sink.add(vs, field, "HostNotGranted", `${field}: host "${domain}" is not a Service of namespace "${ns}" (only "name", "name.${ns}.svc" and "name.${ns}.svc.${ctx.clusterDomain}" are), and no spec.hostGrants entry of InternalGateway ${ctx.grantsFrom} grants it to "${ns}" (ADR 0003), so it is left out of the route table and DNS. Use the Service's own name, ${grant}.`);
  }
  return false;
}

/**
 * `vss` oldest first: the oldest VirtualService wins a domain. VirtualServices without HTTP
 * routes claim nothing (no HTTP virtual host). `candidatesOf` may return kept results.
 */
export function claimHosts(vss: readonly VirtualService[], ctx: HostContext, candidatesOf: (vs: VirtualService, index: number) => HostCandidates = (vs) => hostCandidates(vs, ctx)): VsHosts[] {
  const owner = new Map<string, VirtualService>();
  return vss.map((vs, index) => {
    const claims: HostClaim[] = [];
    if (vs.spec.http.length === 0) return { vs, claims };
    const { candidates, problems } = candidatesOf(vs, index);
    ctx.sink.list.push(...problems);
    for (const c of candidates) {
      const winner = owner.get(c.domain);
      if (winner === vs || claims.some((x) => x.domain === c.domain)) continue;
      if (winner !== undefined) {
        const field = `spec.hosts[${c.hostIndex}]`;
        ctx.sink.add(vs, field, "HostConflict", `${field}: host "${c.domain}" is already claimed by the older VirtualService ${refOf(winner)} on Gateway ${ctx.gatewayKey}; this VirtualService's routes are not used for it. Merge the routes into ${refOf(winner)} or use another host.`);
        continue;
      }
      owner.set(c.domain, vs);
      claims.push(c);
    }
    return { vs, claims };
  });
}

/** The Services whose FQDN is a claimed domain. */
export function hostServices(all: readonly VsHosts[], services: ServiceIndex): Service[] {
  const out: Service[] = [];
  for (const v of all) for (const c of v.claims) {
    const s = services.byFqdn(c.domain);
    if (s !== undefined) out.push(s);
  }
  return out;
}

export interface Domains {
  /** Per VirtualService (same order as the input): its claimed domains plus aliases. */
  domains: string[][];
  ambiguous: AmbiguousHost[];
}

/**
 * Adds Service aliases. `served`: namespaces of the Services this gateway serves (its DNS
 * plan); a bare name is unique when no other Service of that name lives in one of them.
 */
export function withAliases(all: readonly VsHosts[], services: ServiceIndex, served: ReadonlySet<string>, ctx: HostContext): Domains {
  // Aliases of every claimed Service FQDN are reserved for its claimant before any literal host.
  const reserved = new Map<string, VirtualService>();
  for (const v of all) for (const c of v.claims) {
    const svc = services.byFqdn(c.domain);
    if (svc === undefined) continue;
    const [withSvc, withNs] = serviceAliases(svc.metadata.name, svc.metadata.namespace);
    reserved.set(withSvc, v.vs);
    reserved.set(withNs, v.vs);
  }
  const taken = new Map<string, VirtualService>();
  const kept = all.map((v) => v.claims.filter((c) => keepLiteral(v.vs, c, services, reserved, ctx)));
  all.forEach((v, i) => {
    for (const c of kept[i] as HostClaim[]) taken.set(c.domain, v.vs);
  });
  const ambiguous = new Map<string, Set<string>>();
  const domains = all.map((v, i) => {
    const list: string[] = [];
    for (const c of kept[i] as HostClaim[]) {
      list.push(c.domain);
      const svc = services.byFqdn(c.domain);
      if (svc === undefined) continue;
      const { name, namespace } = svc.metadata;
      const [withSvc, withNs, bare] = serviceAliases(name, namespace);
      for (const alias of [withSvc, withNs]) addAlias(alias, v, c, list, taken, ctx);
      const others = services.named(name).filter((s) => s !== svc && served.has(s.metadata.namespace));
      if (others.length === 0) {
        addAlias(bare, v, c, list, taken, ctx);
        continue;
      }
      if (taken.has(bare)) continue;
      const candidates = [svc, ...others].map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort();
      const set = ambiguous.get(bare) ?? new Set<string>();
      candidates.forEach((x) => set.add(x));
      ambiguous.set(bare, set);
      const field = `spec.hosts[${c.hostIndex}]`;
      ctx.sink.add(v.vs, field, "AmbiguousHost", `${field}: the short name "${bare}" is not routed because Services named "${bare}" exist in several namespaces this gateway serves (${candidates.join(", ")}); requests for "${bare}" get a 404 naming them. Clients must use "${withNs}" or longer (ADR 0002).`);
    }
    return list;
  });
  const amb = [...ambiguous.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([host, set]) => ({ host, candidates: [...set].sort() }));
  return { domains, ambiguous: amb };
}

/**
 * A literal host that spells a Service's short form ("name.ns", "name.ns.svc") is kept only when
 * no other VirtualService claims that Service's FQDN and it comes from the Service's own
 * namespace: otherwise callers of the Service would reach routes its owner did not write.
 */
function keepLiteral(vs: VirtualService, c: HostClaim, services: ServiceIndex, reserved: ReadonlyMap<string, VirtualService>, ctx: HostContext): boolean {
  if (services.byFqdn(c.domain) !== undefined) return true;
  const claimant = reserved.get(c.domain);
  const svc = claimant === undefined ? shortFormService(c.domain, services) : undefined;
  if (claimant === vs || (claimant === undefined && (svc === undefined || svc.metadata.namespace === vs.metadata.namespace))) return true;
  const field = `spec.hosts[${c.hostIndex}]`;
  const whose = claimant !== undefined ? `the VirtualService ${refOf(claimant)} routes that Service` : `it belongs to Service ${refOf(svc as Service)}`;
  ctx.sink.add(vs, field, "AliasReserved", `${field}: host "${c.domain}" is a short name of a Service and ${whose}; a literal host never takes a Service's alias (ADR 0002), so requests for "${c.domain}" do not reach this VirtualService. Remove this host or route the Service from its own namespace.`);
  return false;
}

/** The existing Service that "name.ns" or "name.ns.svc" names, if any. */
function shortFormService(host: string, services: ServiceIndex): Service | undefined {
  const parts = (host.endsWith(".svc") ? host.slice(0, -".svc".length) : host).split(".");
  if (parts.length !== 2) return undefined;
  return services.get(parts[1] as string, parts[0] as string);
}

function addAlias(alias: string, v: VsHosts, c: HostClaim, list: string[], taken: Map<string, VirtualService>, ctx: HostContext): void {
  const owner = taken.get(alias);
  if (owner === v.vs) return;
  if (owner !== undefined) {
    const field = `spec.hosts[${c.hostIndex}]`;
    ctx.sink.add(v.vs, field, "HostConflict", `${field}: the alias "${alias}" of ${c.domain} is already a host of VirtualService ${refOf(owner)} on Gateway ${ctx.gatewayKey}; requests for "${alias}" follow ${refOf(owner)}. Remove that host or use the FQDN.`);
    return;
  }
  taken.set(alias, v.vs);
  list.push(alias);
}
