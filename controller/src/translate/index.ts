// The controller's pure translation layer: a snapshot of Istio and Canal objects → one route
// table, DNS plan and problem list per InternalGateway. No I/O: the regex check is injected
// (see regex-validator.ts for the real one). Same input in any order → identical output; the
// input is never modified.
import type { Problem } from "../api/problem.ts";
import { sortProblems } from "../api/problem.ts";
import type { Snapshot } from "../api/snapshot.ts";
import { acceptInternalGateways, unknownGatewayProblems } from "./binding.ts";
import type { RegexValidator } from "./context.ts";
import { translateGateway, type GatewayResult } from "./gateway.ts";
import type { TranslateMemo } from "./memo.ts";
import { isDnsSubdomain } from "./names.ts";
import { foreignOptOutProblems } from "./optout-scope.ts";
import { DEFAULT_SYSTEM_NAMESPACES } from "./ownership.ts";
import { ProblemSink } from "./problems.ts";
import { ServiceIndex } from "./services.ts";
import { servedGateways } from "./httproute/gateway-routes.ts";

export type { RegexValidator } from "./context.ts";
export type { ClusterRef } from "./destinations.ts";
export type { DnsEntry } from "./dnsplan.ts";
export type { GatewayCounts, GatewayResult } from "./gateway.ts";
export type { ServerPort } from "./servers.ts";
export { canonicalJson } from "./canonical.ts";
export { DEFAULT_SYSTEM_NAMESPACES } from "./ownership.ts";
export { TranslateMemo, type MemoStats } from "./memo.ts";
export { tableJson, tableJsonParts, type TableJsonParts } from "./assemble-table.ts";

export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";

export interface TranslateOptions {
  /** Kubernetes cluster domain; default "cluster.local". */
  clusterDomain?: string;
  /** The filter's regex check: null when the pattern compiles, else the error. */
  validateRegex: RegexValidator;
  /**
   * Results kept from earlier calls, so that a change costs about as much as the objects it
   * touches (memo.ts). The output is the same with or without it.
   */
  memo?: TranslateMemo;
  /**
   * Namespaces whose Services are never redirected in DNS. Default DEFAULT_SYSTEM_NAMESPACES
   * (kube-system); the controller adds its own namespace and --system-namespaces.
   */
  systemNamespaces?: readonly string[];
}

export interface TranslateResult {
  /** One per InternalGateway, sorted by namespace/name. */
  gateways: GatewayResult[];
  /** Every problem (each gateway's, plus references to Gateways that do not exist), sorted, without duplicates. */
  problems: Problem[];
  /** "namespace/name" of the Gateway API Gateways of a Canal GatewayClass (their routes' status is Canal's). */
  gatewayApiGateways?: string[];
  /** Per served Gateway and listener, the routes attached through any InternalGateway (the most of any). */
  gatewayApiAttached?: Record<string, Record<string, number>>;
}

export function translate(snapshot: Snapshot, options: TranslateOptions): TranslateResult {
  const clusterDomain = (options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN).toLowerCase();
  if (!isDnsSubdomain(clusterDomain)) throw new Error(`translate: clusterDomain ${JSON.stringify(options.clusterDomain)} is not a DNS name`);
  options.memo?.begin(options.validateRegex, clusterDomain);
  const services = options.memo?.serviceIndex(snapshot.services, clusterDomain) ?? new ServiceIndex(snapshot.services, clusterDomain);
  const validateRegex = guarded(options.validateRegex);
  const sinks = new Map<string, ProblemSink>();
  const sinkFor = (ig: { metadata: { namespace: string; name: string } }): ProblemSink => {
    const key = `${ig.metadata.namespace}/${ig.metadata.name}`;
    const existing = sinks.get(key);
    if (existing !== undefined) return existing;
    const created = new ProblemSink();
    sinks.set(key, created);
    return created;
  };
  const systemNamespaces = new Set(options.systemNamespaces ?? DEFAULT_SYSTEM_NAMESPACES);
  const acceptances = acceptInternalGateways(snapshot.internalGateways, snapshot.gateways, sinkFor);
  const gateways = acceptances.map((acceptance) => {
    const sink = sinkFor(acceptance.ig);
    const result = translateGateway(
      { acceptance, virtualServices: snapshot.virtualServices, destinationRules: snapshot.destinationRules, httpRoutes: snapshot.httpRoutes, referenceGrants: snapshot.referenceGrants, gatewayApiGateways: snapshot.gatewayApiGateways, gatewayClasses: snapshot.gatewayClasses, namespaces: snapshot.namespaces, services, clusterDomain, validateRegex, systemNamespaces, memo: options.memo },
      sink,
    );
    result.problems = sortProblems(sink.list);
    result.counts.problems = result.problems.length;
    return result;
  });
  gateways.sort((a, b) => {
    const ka = `${a.ref.namespace}/${a.ref.name}`;
    const kb = `${b.ref.namespace}/${b.ref.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const global = new ProblemSink();
  unknownGatewayProblems(snapshot.virtualServices, snapshot.gateways, global);
  foreignOptOutProblems(snapshot.virtualServices, clusterDomain, global);
  const problems = sortProblems([...global.list, ...gateways.flatMap((g) => g.problems)]);
  const served = [...servedGateways(snapshot.gatewayApiGateways, snapshot.gatewayClasses).keys()].sort();
  if (served.length === 0) return { gateways, problems };
  const attached: Record<string, Record<string, number>> = {};
  for (const g of gateways) {
    for (const [key, listeners] of Object.entries(g.gatewayApiAttached ?? {})) {
      const into = (attached[key] ??= {});
      for (const [l, n] of Object.entries(listeners)) into[l] = Math.max(into[l] ?? 0, n);
    }
  }
  return { gateways, problems, gatewayApiGateways: served, gatewayApiAttached: attached };
}

/** A validator that throws rejects the pattern instead of aborting the translation. */
function guarded(validate: RegexValidator): RegexValidator {
  return (pattern) => {
    try {
      return validate(pattern);
    } catch (e) {
      return `the regex validator failed (${e instanceof Error ? e.message : String(e)})`;
    }
  };
}
