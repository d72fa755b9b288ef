// Per-Service opt-out: the annotation or label `canal.io/dns-redirect: "false"` on a Service keeps
// its name out of DNS; on a VirtualService it keeps out the Services of the VirtualService's own
// namespace that it names (its hosts and route destinations, short names resolved in its
// namespace). Names of other namespaces are ignored (translate reports OptOutNotOwned). Pure.
import type { Snapshot } from "../api/index.ts";
import { OPT_OUT_KEY, optsOut, vsOptOut } from "./optout-scope.ts";
import { serviceFqdn } from "./names.ts";

export { OPT_OUT_KEY };

/** fqdn → a message naming the object that opts it out. */
export function optedOutNames(snapshot: Snapshot, clusterDomain: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of snapshot.services) {
    const how = optsOut(s.metadata);
    if (how !== undefined) out.set(serviceFqdn(s.metadata.name, s.metadata.namespace, clusterDomain), `opted out by the ${how} ${OPT_OUT_KEY}=false on Service ${s.metadata.namespace}/${s.metadata.name}`);
  }
  for (const vs of snapshot.virtualServices) {
    const o = vsOptOut(vs, clusterDomain);
    if (o === undefined) continue;
    for (const fqdn of o.own) {
      if (!out.has(fqdn)) out.set(fqdn, `opted out by the ${o.how} ${OPT_OUT_KEY}=false on VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`);
    }
  }
  return out;
}
