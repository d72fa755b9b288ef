// GAMMA: HTTPRoutes attached to Services → one virtual host per routed Service, whose routes are
// every attached route's matches in the spec's precedence order (precedence.ts), per Service
// port when routes attach to some ports only (the port is read from the :authority; a port no
// route attaches to keeps going to the Service itself). Domains are the Service's FQDN and short
// forms, the bare name only when no other routed namespace has a Service of that name (ADR 0002).
// Pure: no I/O; the same input in any order gives the same output.
import type { Service } from "../../api/core.ts";
import type { HTTPRoute } from "../../api/gateway-api.ts";
import type { Problem } from "../../api/problem.ts";
import { sortProblems } from "../../api/problem.ts";
import type { AmbiguousHost, Route, StringMatch, VirtualHost } from "../../../../schema/route-table.ts";
import type { ClusterRef } from "../destinations.ts";
import { serviceAliases, serviceFqdn, virtualHostName } from "../names.ts";
import { byAge } from "../order.ts";
import { ProblemSink } from "../problems.ts";
import type { ServiceIndex } from "../services.ts";
import type { HTTPRouteContext, HTTPRouteEnv } from "./context.ts";
import { attachments, type Attachment } from "./parents.ts";
import { compareEntries, entriesOf, type Entry } from "./precedence.ts";
import { matchRoutes, translateRule, type TranslatedRule } from "./rules.ts";

export interface MeshEnv extends Omit<HTTPRouteEnv, "services"> {
  services: ServiceIndex;
}

export interface MeshResult {
  /** One per routed Service, sorted by namespace/name. */
  virtualHosts: VirtualHost[];
  ambiguousHosts: AmbiguousHost[];
  /** Clusters the routes send to, sorted by name. */
  clusters: ClusterRef[];
  /** The routed (parent) Services: the names DNS would move to the gateway. */
  services: Service[];
  /** Per virtual host (same order), the parentRefs attached to its Service: where AmbiguousHost is reported. */
  parents: { route: HTTPRoute; parentIndex: number }[][];
  problems: Problem[];
}

/** Fields of the route that, when unknown, make a match a condition Canal cannot evaluate. */
const MATCH_FIELD = /^spec\.rules\[\d+\]\.matches\[\d+\]/;

export function translateMeshRoutes(routes: readonly HTTPRoute[], env: MeshEnv): MeshResult {
  const sink = new ProblemSink();
  const byService = new Map<string, { service: Service; attached: Attachment[] }>();
  const translated = new Map<HTTPRoute, TranslatedRule[]>();
  const contexts = new Map<HTTPRoute, HTTPRouteContext>();
  for (const route of byAge(routes)) {
    const ctx: HTTPRouteContext = { ...env, route, sink };
    contexts.set(route, ctx);
    const attached = attachments(route, env, sink);
    if (attached.length === 0) continue;
    reportIgnored(route, sink);
    if (route.spec.hostnames.length > 0) {
      // GAMMA: a Service parent is matched by the Service it names, not by a Host; the spec does
      // not define hostnames for mesh routes, so they are not used rather than guessed.
      sink.add(route, "spec.hostnames", "UnsupportedValue", `spec.hostnames does not apply to the route's Service parentRefs: there the route takes the requests for the Service it is attached to, whatever hostnames say (they matter for Gateway parents only).`);
    }
    translated.set(route, route.spec.rules.map((rule, i) => translateRule(rule, i, ctx)));
    for (const a of attached) {
      const key = `${a.service.metadata.namespace}/${a.service.metadata.name}`;
      const group = byService.get(key) ?? { service: a.service, attached: [] };
      group.attached.push(a);
      byService.set(key, group);
    }
  }
  const clusters = new Map<string, ClusterRef>();
  const keys = [...byService.keys()].sort();
  const served = new Set(keys.map((k) => k.slice(0, k.indexOf("/"))));
  const virtualHosts: VirtualHost[] = [];
  const ambiguous = new Map<string, Set<string>>();
  for (const key of keys) {
    const { service, attached } = byService.get(key) as { service: Service; attached: Attachment[] };
    const routesOut: Route[] = [];
    const emit = (entries: readonly Entry[], authority: StringMatch | undefined): void => {
      for (const e of entries) {
        const rules = translated.get(e.route) as TranslatedRule[];
        const ctx = contexts.get(e.route) as HTTPRouteContext;
        const field = `spec.rules[${e.ruleIndex}].matches[${e.matchIndex}]`;
        if ((e.route.ignoredFields ?? []).some((f) => f.path.startsWith(field) && MATCH_FIELD.test(f.path))) continue;
        const r = matchRoutes(e.rule, rules[e.ruleIndex] as TranslatedRule, e.match, e.matchIndex, authority, ctx);
        if (r === undefined) continue;
        routesOut.push(...r.routes);
        for (const c of r.clusters) if (!clusters.has(c.cluster)) clusters.set(c.cluster, c);
      }
    };
    const ports = [...new Set(service.spec.ports.map((p) => p.port))].sort((a, b) => a - b);
    if (attached.every((a) => ports.every((p) => a.ports.includes(p)))) emit(sorted(attached), undefined);
    else for (const port of ports) {
      const on = attached.filter((a) => a.ports.includes(port));
      const authority = portCondition(port);
      if (on.length > 0) emit(sorted(on), authority);
      else routesOut.push(passThrough(service, port, authority, env, clusters));
    }
    const { name, namespace } = service.metadata;
    const fqdn = serviceFqdn(name, namespace, env.clusterDomain);
    const [withSvc, withNs, bare] = serviceAliases(name, namespace);
    const domains = [fqdn, withSvc, withNs];
    const others = env.services.named(name).filter((s) => s !== service && served.has(s.metadata.namespace));
    if (others.length === 0) domains.push(bare);
    else {
      const set = ambiguous.get(bare) ?? new Set<string>();
      for (const s of [service, ...others]) set.add(`${s.metadata.namespace}/${s.metadata.name}`);
      ambiguous.set(bare, set);
      reportAmbiguous(bare, [service, ...others], attached, sink);
    }
    virtualHosts.push({ name: virtualHostName(namespace, name), domains, routes: routesOut });
  }
  return {
    virtualHosts,
    ambiguousHosts: [...ambiguous.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([host, set]) => ({ host, candidates: [...set].sort() })),
    clusters: [...clusters.values()].sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0)),
    services: keys.map((k) => (byService.get(k) as { service: Service }).service),
    parents: keys.map((k) => (byService.get(k) as { attached: Attachment[] }).attached.map((a) => ({ route: a.route, parentIndex: a.parentIndex }))),
    problems: sortProblems(sink.list),
  };
}

function sorted(attached: readonly Attachment[]): Entry[] {
  // A route attached twice to one Service (two parentRefs) contributes its matches once.
  const routes = [...new Set(attached.map((a) => a.route))];
  return routes.flatMap(entriesOf).sort(compareEntries);
}

/** The :authority of a request for `port`: a name without port means 80 (plain HTTP). */
export function portCondition(port: number): StringMatch {
  return { regex: port === 80 ? "[^:]+(:80)?" : `[^:]+:${port}` };
}

/** Requests for a port no route attaches to go to the Service on that port, as without routes. */
function passThrough(service: Service, port: number, authority: StringMatch, env: MeshEnv, clusters: Map<string, ClusterRef>): Route {
  const { name, namespace } = service.metadata;
  const cluster = `outbound|${port}||${serviceFqdn(name, namespace, env.clusterDomain)}`;
  if (!clusters.has(cluster)) clusters.set(cluster, { cluster, namespace, service: name, port });
  return { name: `${namespace}/${name}:${port}`, match: [{ authority }], route: [{ cluster, weight: 1 }] };
}

/** The short name of a routed Service is not routed when Services of several served namespaces have it (ADR 0002). */
export function reportAmbiguous(bare: string, services: readonly Service[], parents: readonly { route: HTTPRoute; parentIndex: number }[], sink: ProblemSink): void {
  const candidates = services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort();
  const own = services[0] as Service;
  const withNs = `${own.metadata.name}.${own.metadata.namespace}`;
  for (const p of parents) {
    const field = `spec.parentRefs[${p.parentIndex}]`;
    sink.add(p.route, field, "AmbiguousHost", `${field}: the short name "${bare}" is not routed because Services named "${bare}" exist in several namespaces this gateway serves (${candidates.join(", ")}); requests for "${bare}" get a 404 naming them. Clients must use "${withNs}" or longer (ADR 0002). The route is attached for the longer names.`);
  }
}

export function reportIgnored(route: HTTPRoute, sink: ProblemSink): void {
  for (const f of route.ignoredFields ?? []) {
    // Members of unsupported filter types are reported with the filter (filters.ts).
    if (/\.(requestMirror|cors|extensionRef|externalAuth)$/.test(f.path)) continue;
    const consequence = MATCH_FIELD.test(f.path) ? "this match is dropped rather than matched more widely than written" : "it is ignored";
    const what = f.known ? `${f.path} is not supported by Canal` : `${f.path} is not a field Canal knows (a typo, or a newer API version?)`;
    sink.add(route, f.path, "UnsupportedField", `${what}: ${consequence}. Remove it to silence this problem.`);
  }
}
