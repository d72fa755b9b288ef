// One bound VirtualService's routes for one gateway, as a unit a memo can keep: the routes, the
// Services and clusters they use, the problems they raised, and every lookup they made of the
// Services and DestinationRules (their dependencies). A kept result is reused only while each
// recorded lookup still returns the same answer, so reusing it gives exactly what translating
// again would.
import type { Service } from "../api/core.ts";
import type { VirtualService } from "../api/istio.ts";
import type { Problem } from "../api/problem.ts";
import type { Route } from "../../../schema/route-table.ts";
import type { RouteContext, RouteEnv } from "./context.ts";
import type { ClusterRef } from "./destinations.ts";
import { ProblemSink } from "./problems.ts";
import { translateRoute } from "./routes.ts";
import type { ServiceLookup } from "./services.ts";
import type { SubsetLookup, VisibleSubsets } from "./subsets.ts";

export type { RouteEnv } from "./context.ts";

/** A lookup made while translating, with what it returned. */
export type Dependency =
  | { on: "fqdn"; fqdn: string; found: Service | undefined }
  | { on: "service"; namespace: string; name: string; found: Service | undefined }
  | { on: "subsets"; fqdn: string; namespace: string; found: string };

export interface VsRoutes {
  routes: Route[];
  /** Services the kept routes send traffic to (for the DNS plan), in route order. */
  services: Service[];
  clusters: ClusterRef[];
  problems: Problem[];
  dependencies: Dependency[];
}

/** Translates `vs`'s routes, recording every Service and DestinationRule lookup. */
export function translateVsRoutes(vs: VirtualService, env: RouteEnv): VsRoutes {
  const dependencies: Dependency[] = [];
  const services: ServiceLookup = {
    get(namespace, name) {
      const found = env.services.get(namespace, name);
      dependencies.push({ on: "service", namespace, name, found });
      return found;
    },
    byFqdn(fqdn) {
      const found = env.services.byFqdn(fqdn);
      dependencies.push({ on: "fqdn", fqdn, found });
      return found;
    },
  };
  const subsets: SubsetLookup = {
    subsets(fqdn, namespace) {
      const found = env.subsets.subsets(fqdn, namespace);
      dependencies.push({ on: "subsets", fqdn, namespace, found: subsetsKey(found) });
      return found;
    },
  };
  const sink = new ProblemSink();
  const ctx: RouteContext = { ...env, vs, services, subsets, sink };
  const out: VsRoutes = { routes: [], services: [], clusters: [], problems: sink.list, dependencies };
  vs.spec.http.forEach((http, i) => {
    const r = translateRoute(http, i, ctx);
    if (r.kind === "none") return;
    out.routes.push(r.route);
    out.services.push(...r.services);
    out.clusters.push(...r.clusters);
  });
  // Kept by the memo for every VirtualService: copies of exactly their length (push() leaves
  // room for 16 more elements in each array).
  return { routes: out.routes.slice(), services: out.services.slice(), clusters: out.clusters.slice(), problems: out.problems.slice(), dependencies: dependencies.slice() };
}

/** Do the recorded lookups still give the same answers in `env`? */
export function dependenciesHold(deps: readonly Dependency[], env: RouteEnv): boolean {
  for (const d of deps) {
    if (d.on === "fqdn" && env.services.byFqdn(d.fqdn) !== d.found) return false;
    if (d.on === "service" && env.services.get(d.namespace, d.name) !== d.found) return false;
    if (d.on === "subsets" && subsetsKey(env.subsets.subsets(d.fqdn, d.namespace)) !== d.found) return false;
  }
  return true;
}

/** Everything route translation can read of a subset lookup's answer, as one string. */
function subsetsKey(v: VisibleSubsets | undefined): string {
  if (v === undefined) return "";
  return JSON.stringify([v.rules, [...v.subsets.entries()]]);
}
