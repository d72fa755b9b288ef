// Host ownership (ADR 0003): which namespace may route a host through a shared gateway. A
// Service's names belong to the Service's namespace; every other host (another namespace's
// Service, a non-Service name, a wildcard, "*") needs an explicit grant in the InternalGateway's
// spec.hostGrants, so that one tenant cannot take over another tenant's traffic.
import type { HostGrant } from "../api/internalgateway.ts";
import { hostCovers } from "./hosts.ts";
import { isDnsLabel } from "./names.ts";

/** Namespaces that Canal never redirects in DNS unless configured otherwise. */
export const DEFAULT_SYSTEM_NAMESPACES: readonly string[] = Object.freeze(["kube-system"]);

/**
 * The namespace that owns `host` by its form alone: "name.ns.svc.<clusterDomain>" and
 * "name.ns.svc" belong to ns. Anything else (including the two-label "name.ns", which cannot be
 * told apart from "example.com") has no owner and needs a grant.
 */
export function ownerNamespace(host: string, clusterDomain: string): string | undefined {
  const full = `.svc.${clusterDomain}`;
  const bare = host.endsWith(full) ? host.slice(0, -full.length) : host.endsWith(".svc") ? host.slice(0, -".svc".length) : undefined;
  if (bare === undefined) return undefined;
  const parts = bare.split(".");
  if (parts.length !== 2 || !parts.every(isDnsLabel)) return undefined;
  return parts[1];
}

export type Ownership =
  | { ok: true }
  | { ok: false; reason: "HostNotOwned"; owner: string }
  | { ok: false; reason: "HostNotGranted" };

/** Is some grant for `namespace` covering `host`? */
export function isGranted(host: string, namespace: string, grants: readonly HostGrant[]): boolean {
  return grants.some((g) => (g.namespaces.includes("*") || g.namespaces.includes(namespace)) && g.hosts.some((p) => hostCovers(p, host)));
}

/** May a VirtualService in `namespace` route `host` (a domain after server-host intersection)? */
export function mayRoute(host: string, namespace: string, grants: readonly HostGrant[], clusterDomain: string): Ownership {
  const owner = ownerNamespace(host, clusterDomain);
  if (owner === namespace || isGranted(host, namespace, grants)) return { ok: true };
  return owner === undefined ? { ok: false, reason: "HostNotGranted" } : { ok: false, reason: "HostNotOwned", owner };
}

/** The grant a gateway owner would add, as YAML flow text for messages. */
export function grantHint(namespace: string, host: string): string {
  return `{namespaces: [${namespace}], hosts: ["${host}"]}`;
}
