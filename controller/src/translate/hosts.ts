// Host matching with Istio's wildcard rules, and which of a VirtualService's hosts a Gateway
// exposes (the intersection of the VirtualService host with each server host).
import type { ServerHost } from "./names.ts";

/**
 * Does `pattern` cover `host`? "*" covers everything; "*.a.com" covers "b.a.com", "x.b.a.com",
 * "*.a.com" and "*.b.a.com" but not "a.com"; an exact name covers only itself. Both lower-case.
 */
export function hostCovers(pattern: string, host: string): boolean {
  if (pattern === "*") return true;
  if (pattern === host) return true;
  if (!pattern.startsWith("*.")) return false;
  const suffix = pattern.slice(1); // ".a.com"
  if (host === "*") return false;
  const bare = host.startsWith("*.") ? host.slice(1) : host;
  return bare.endsWith(suffix) && bare.length > suffix.length;
}

/**
 * The domain a VirtualService host gets through one server host (Istio's gateway host
 * intersection): the VirtualService host when the server host covers it, the narrower server
 * host when the VirtualService host covers that, otherwise none.
 */
export function intersectHost(vsHost: string, serverHost: string): string | undefined {
  if (hostCovers(serverHost, vsHost)) return vsHost;
  if (hostCovers(vsHost, serverHost)) return serverHost;
  return undefined;
}

/**
 * The domains `vsHost` of a VirtualService in `vsNamespace` is exposed as by the server hosts,
 * in server order, without duplicates. Empty: the Gateway does not expose it.
 */
export function exposedDomains(vsHost: string, vsNamespace: string, serverHosts: readonly ServerHost[]): string[] {
  const out: string[] = [];
  for (const sh of serverHosts) {
    if (sh.namespace !== "*" && sh.namespace !== vsNamespace) continue;
    const d = intersectHost(vsHost, sh.host);
    if (d !== undefined && !out.includes(d)) out.push(d);
  }
  return out;
}

/** Istio exportTo: empty or "*" → everyone; "." → own namespace; otherwise the listed namespaces. */
export function isExportedTo(exportTo: readonly string[], ownNamespace: string, target: string): boolean {
  if (exportTo.length === 0) return true;
  return exportTo.some((e) => e === "*" || (e === "." ? ownNamespace === target : e === target));
}

/** Every label of `selector` is in `labels` (an empty selector selects everything). */
export function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
