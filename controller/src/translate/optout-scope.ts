// The DNS opt-out on a VirtualService (label or annotation canal.io/dns-redirect: "false") acts
// only on Services of the VirtualService's own namespace (ADR 0003): a tenant must not be able
// to switch off the redirection of another tenant's Service. The names it gives for other
// namespaces are ignored and reported. Pure.
import type { VirtualService } from "../api/istio.ts";
import { mapKey } from "../api/reader.ts";
import { resolveShortName } from "./names.ts";
import { ownerNamespace } from "./ownership.ts";
import type { ProblemSink } from "./problems.ts";

export const OPT_OUT_KEY = "canal.io/dns-redirect";

type Meta = { labels?: Record<string, string>; annotations?: Record<string, string> };

/** Where an object opts out: the annotation wins over the label. */
export function optsOut(meta: Meta): "annotation" | "label" | undefined {
  if (meta.annotations?.[OPT_OUT_KEY]?.toLowerCase() === "false") return "annotation";
  if (meta.labels?.[OPT_OUT_KEY]?.toLowerCase() === "false") return "label";
  return undefined;
}

export interface VsOptOut {
  how: "annotation" | "label";
  /** Service FQDNs of the VirtualService's namespace it names (hosts, then destinations). */
  own: string[];
  /** Service FQDNs of other namespaces it names, with the field naming each: ignored. */
  foreign: { field: string; fqdn: string; owner: string }[];
}

/** The opt-out of one VirtualService, or undefined when it does not opt out. */
export function vsOptOut(vs: VirtualService, clusterDomain: string): VsOptOut | undefined {
  const how = optsOut(vs.metadata);
  if (how === undefined) return undefined;
  const ns = vs.metadata.namespace;
  const named: { field: string; host: string }[] = [
    ...vs.spec.hosts.map((host, i) => ({ field: `spec.hosts[${i}]`, host })),
    ...vs.spec.http.flatMap((h, i) => (h.route ?? []).map((r, j) => ({ field: `spec.http[${i}].route[${j}].destination.host`, host: r.destination.host }))),
  ];
  const out: VsOptOut = { how, own: [], foreign: [] };
  for (const { field, host } of named) {
    const fqdn = resolveShortName(host.toLowerCase(), ns, clusterDomain);
    const owner = ownerNamespace(fqdn, clusterDomain);
    if (owner === ns) out.own.push(fqdn);
    else if (owner !== undefined && !out.foreign.some((f) => f.fqdn === fqdn)) out.foreign.push({ field, fqdn, owner });
  }
  return out;
}

/** OptOutNotOwned for every other namespace's Service a VirtualService's opt-out names. */
export function foreignOptOutProblems(vss: readonly VirtualService[], clusterDomain: string, sink: ProblemSink): void {
  for (const vs of vss) {
    const o = vsOptOut(vs, clusterDomain);
    if (o === undefined) continue;
    const where = mapKey(o.how === "annotation" ? "metadata.annotations" : "metadata.labels", OPT_OUT_KEY);
    for (const f of o.foreign) {
      sink.add(vs, f.field, "OptOutNotOwned", `${f.field}: the DNS opt-out ${where}=false does not apply to ${f.fqdn}: a VirtualService's opt-out acts only on Services of its own namespace "${vs.metadata.namespace}" (ADR 0003), and ${f.fqdn} belongs to "${f.owner}". Its owner can opt it out on the Service or on a VirtualService in "${f.owner}".`);
    }
  }
}
