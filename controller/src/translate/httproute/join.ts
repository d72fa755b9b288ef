// Joining the mesh routes' virtual hosts to the VirtualServices' in one table. A Service is routed
// by one API only (parents.ts refuses an HTTPRoute parentRef to a Service a VirtualService
// claims), so what is left to settle here is names: a domain a VirtualService's virtual host
// already has stays with it, and a bare Service name shared by Services of several served
// namespaces becomes an ambiguous host (ADR 0002), as it would between VirtualServices.
import type { Service } from "../../api/core.ts";
import type { AmbiguousHost, VirtualHost } from "../../../../schema/route-table.ts";
import { serviceAliases } from "../names.ts";
import type { ServiceIndex } from "../services.ts";
import type { Problem } from "../../api/problem.ts";
import { ProblemSink } from "../problems.ts";
import { reportAmbiguous, type MeshResult } from "./mesh.ts";

export interface JoinedHosts {
  virtualHosts: VirtualHost[];
  ambiguous: AmbiguousHost[];
  /** AmbiguousHost on the HTTPRoutes whose Service's short name is shared with a VirtualService-routed namespace. */
  problems: Problem[];
}

/** `served`: namespaces of every Service this gateway serves (its whole DNS plan). */
export function joinMeshHosts(vsHosts: readonly VirtualHost[], vsAmbiguous: readonly AmbiguousHost[], mesh: MeshResult, services: ServiceIndex, served: ReadonlySet<string>): JoinedHosts {
  if (mesh.virtualHosts.length === 0) return { virtualHosts: [...vsHosts], ambiguous: [...vsAmbiguous], problems: [] };
  const sink = new ProblemSink();
  const taken = new Set<string>();
  for (const vh of vsHosts) for (const d of vh.domains) taken.add(d);
  const ambiguous = new Map<string, Set<string>>();
  for (const a of [...vsAmbiguous, ...mesh.ambiguousHosts]) {
    const set = ambiguous.get(a.host) ?? new Set<string>();
    for (const c of a.candidates) set.add(c);
    ambiguous.set(a.host, set);
  }
  const meshHosts = mesh.virtualHosts.map((vh, i): VirtualHost => {
    const service = mesh.services[i] as Service;
    const bare = serviceAliases(service.metadata.name, service.metadata.namespace)[2];
    const domains = vh.domains.filter((d) => {
      if (taken.has(d)) return false;
      if (d !== bare) return true;
      const others = services.named(bare).filter((s) => s !== service && served.has(s.metadata.namespace));
      if (others.length === 0) return true;
      const set = ambiguous.get(bare) ?? new Set<string>();
      for (const s of [service, ...others]) set.add(`${s.metadata.namespace}/${s.metadata.name}`);
      ambiguous.set(bare, set);
      reportAmbiguous(bare, [service, ...others], mesh.parents[i] ?? [], sink);
      return false;
    });
    return { ...vh, domains };
  });
  const domains = new Set([...taken, ...meshHosts.flatMap((vh) => vh.domains)]);
  return {
    virtualHosts: [...vsHosts, ...meshHosts.filter((vh) => vh.domains.length > 0)],
    ambiguous: [...ambiguous.entries()]
      .filter(([host]) => !domains.has(host))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([host, set]) => ({ host, candidates: [...set].sort() })),
    problems: sink.list,
  };
}
