// Which DestinationRule subsets are visible for a Service host from the gateway, Istio-style:
// DestinationRules in the gateway's namespace first, then the Service's namespace, then any
// other namespace, each only if exported to the gateway's namespace and (with a workload
// selector) selecting the gateway pods. In the first tier that has a rule for the host, the most
// specific host wins (exact over the longest wildcard); rules with that same host merge their
// subsets, the older rule's subset winning a name clash.
import type { DestinationRule, Subset } from "../api/istio.ts";
import { hostCovers, isExportedTo, selects } from "./hosts.ts";
import { resolveShortName } from "./names.ts";
import { byAge, compareAge } from "./order.ts";

export interface VisibleSubsets {
  subsets: ReadonlyMap<string, Subset>;
  /** "namespace/name" of the DestinationRules they come from, oldest first. */
  rules: string[];
}

export interface SubsetLookup {
  /** The subsets visible for `fqdn` of a Service in `serviceNamespace`; undefined: no rule applies. */
  subsets(fqdn: string, serviceNamespace: string): VisibleSubsets | undefined;
}

export function subsetLookup(
  rules: readonly DestinationRule[],
  gatewayNamespace: string,
  workloadLabels: Readonly<Record<string, string>>,
  clusterDomain: string,
): SubsetLookup {
  const visible = byAge(rules)
    .filter((r) => isExportedTo(r.spec.exportTo, r.metadata.namespace, gatewayNamespace) || r.metadata.namespace === gatewayNamespace)
    .filter((r) => r.spec.workloadSelector === undefined || selects(r.spec.workloadSelector.matchLabels, workloadLabels))
    .map((r) => ({ rule: r, host: resolveShortName(r.spec.host.toLowerCase(), r.metadata.namespace, clusterDomain) }));
  // Exact hosts are looked up by name; the (few) wildcard rules are scanned.
  const exact = new Map<string, Entry[]>();
  const wildcards: Entry[] = [];
  for (const v of visible) {
    if (v.host.startsWith("*")) wildcards.push(v);
    else exact.set(v.host, [...(exact.get(v.host) ?? []), v]);
  }
  return {
    subsets(fqdn, serviceNamespace) {
      const candidates = [...(exact.get(fqdn) ?? []), ...wildcards.filter((v) => hostCovers(v.host, fqdn))];
      const tiers = [
        candidates.filter((v) => v.rule.metadata.namespace === gatewayNamespace),
        candidates.filter((v) => v.rule.metadata.namespace === serviceNamespace && serviceNamespace !== gatewayNamespace),
        candidates.filter((v) => v.rule.metadata.namespace !== gatewayNamespace && v.rule.metadata.namespace !== serviceNamespace),
      ];
      for (const matching of tiers) {
        if (matching.length === 0) continue;
        const best = matching.reduce((a, b) => (specificity(b.host) > specificity(a.host) ? b : a)).host;
        const merged = new Map<string, Subset>();
        const rules: string[] = [];
        for (const v of byAgeOf(matching)) {
          if (v.host !== best) continue;
          rules.push(`${v.rule.metadata.namespace}/${v.rule.metadata.name}`);
          for (const s of v.rule.spec.subsets) if (!merged.has(s.name)) merged.set(s.name, s);
        }
        return { subsets: merged, rules };
      }
      return undefined;
    },
  };
}

interface Entry {
  rule: DestinationRule;
  /** The rule's host, short names expanded. */
  host: string;
}

function byAgeOf(entries: readonly Entry[]): Entry[] {
  return [...entries].sort((a, b) => compareAge(a.rule, b.rule));
}

/** Exact hosts beat wildcards; longer wildcards beat shorter ones. */
function specificity(host: string): number {
  return host.startsWith("*") ? host.length : 10_000;
}
