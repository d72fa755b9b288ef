// Per-Service opt-out: the annotation or label `canal.io/dns-redirect: "false"` on a Service keeps
// its name out of DNS; on a VirtualService it keeps out every Service the VirtualService names
// (its hosts and its route destinations, short names resolved in its namespace). Pure.
import type { Snapshot } from "../api/index.ts";
import { resolveShortName, serviceFqdn } from "../translate/names.ts";

export const OPT_OUT_KEY = "canal.io/dns-redirect";

function optsOut(meta: { labels?: Record<string, string>; annotations?: Record<string, string> }): "annotation" | "label" | undefined {
  if (meta.annotations?.[OPT_OUT_KEY]?.toLowerCase() === "false") return "annotation";
  if (meta.labels?.[OPT_OUT_KEY]?.toLowerCase() === "false") return "label";
  return undefined;
}

/** fqdn → a message naming the object that opts it out. */
export function optedOutNames(snapshot: Snapshot, clusterDomain: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of snapshot.services) {
    const how = optsOut(s.metadata);
    if (how !== undefined) out.set(serviceFqdn(s.metadata.name, s.metadata.namespace, clusterDomain), `opted out by the ${how} ${OPT_OUT_KEY}=false on Service ${s.metadata.namespace}/${s.metadata.name}`);
  }
  for (const vs of snapshot.virtualServices) {
    const how = optsOut(vs.metadata);
    if (how === undefined) continue;
    const ns = vs.metadata.namespace;
    const hosts = [...vs.spec.hosts, ...vs.spec.http.flatMap((h) => (h.route ?? []).map((r) => r.destination.host))];
    for (const h of hosts) {
      const fqdn = resolveShortName(h.toLowerCase(), ns, clusterDomain);
      if (!out.has(fqdn)) out.set(fqdn, `opted out by the ${how} ${OPT_OUT_KEY}=false on VirtualService ${ns}/${vs.metadata.name}`);
    }
  }
  return out;
}
