// Which DestinationRule subsets are visible for a Service host from the gateway, Istio-style:
// DestinationRules in the gateway's namespace first, then the Service's namespace, then any
// other namespace, each only if exported to the gateway's namespace and (with a workload
// selector) selecting the gateway pods. In the first tier that has a rule for the host, the most
// specific host wins (exact over the longest wildcard); rules with that same host merge their
// subsets, the older rule's subset winning a name clash.
import type { DestinationRule, Subset } from "../api/istio.ts";
import { hostCovers, isExportedTo, selects } from "./hosts.ts";
import { resolveShortName } from "./names.ts";
import { byAge } from "./order.ts";

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
  return {
    subsets(fqdn, serviceNamespace) {
      const tiers = [
        visible.filter((v) => v.rule.metadata.namespace === gatewayNamespace),
        visible.filter((v) => v.rule.metadata.namespace === serviceNamespace && serviceNamespace !== gatewayNamespace),
        visible.filter((v) => v.rule.metadata.namespace !== gatewayNamespace && v.rule.metadata.namespace !== serviceNamespace),
      ];
      for (const tier of tiers) {
        const matching = tier.filter((v) => hostCovers(v.host, fqdn));
        if (matching.length === 0) continue;
        const best = matching.reduce((a, b) => (specificity(b.host) > specificity(a.host) ? b : a)).host;
        const merged = new Map<string, Subset>();
        const rules: string[] = [];
        for (const v of matching) {
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

/** Exact hosts beat wildcards; longer wildcards beat shorter ones. */
function specificity(host: string): number {
  return host.startsWith("*") ? host.length : 10_000;
}
