// A problem found in the input: what is wrong, on which object and field, and how to fix it.
// Parsing and translation collect problems instead of stopping at the first one.

/** CamelCase reasons. docs/translate.md lists when each is raised and what Canal does about it. */
export const PROBLEM_REASONS = [
  // parsing
  "InvalidField",
  // binding of VirtualServices and InternalGateways
  "UnknownGateway",
  "GatewayNotFound",
  "GatewayConflict",
  "GatewayServiceNotFound",
  "SelectorMismatch",
  "NotExported",
  // hosts
  "InvalidHost",
  "HostNotExposed",
  "HostConflict",
  "AmbiguousHost",
  // host ownership (ADR 0003)
  "HostNotOwned",
  "HostNotGranted",
  "AliasReserved",
  "SystemNamespace",
  "OptOutNotOwned",
  // routes and matches
  "UnsupportedField",
  "InvalidMatch",
  "InvalidRegex",
  "InvalidHeaderName",
  "InvalidHeaderValue",
  "RouteDropped",
  "InvalidRoute",
  // destinations
  "DestinationNotFound",
  "PortRequired",
  "PortNotFound",
  "SubsetNotFound",
  "InvalidWeight",
  "GatewayLoop",
  // actions and modifiers
  "InvalidRedirect",
  "InvalidStatus",
  "InvalidBody",
  "InvalidRewrite",
  "InvalidDuration",
  "InvalidPercentage",
  "InvalidRetries",
] as const;

/**
 * Reasons of Gateway API routes: the spec's own condition reasons where one fits, so that status
 * (status/httproute-status.ts) can use them as they are. Raised by translate/httproute/; docs/gateway-api.md.
 */
export const GATEWAY_API_REASONS = ["NoMatchingParent", "BackendNotFound", "RefNotPermitted", "InvalidKind", "UnsupportedValue", "NotAllowedByListeners", "NoMatchingListenerHostname"] as const;

export type ProblemReason = (typeof PROBLEM_REASONS)[number] | (typeof GATEWAY_API_REASONS)[number];

/** The refusals of host ownership (ADR 0003), which `canal plan` lists with the DNS changes. */
const OWNERSHIP_REASONS: ReadonlySet<ProblemReason> = new Set(["HostNotOwned", "HostNotGranted", "AliasReserved", "SystemNamespace", "OptOutNotOwned"]);

export function isOwnershipReason(reason: ProblemReason): boolean {
  return OWNERSHIP_REASONS.has(reason);
}

/** The kinds a problem can be about (also the labels of canal_problems). */
export const PROBLEM_KINDS = ["InternalGateway", "Gateway", "VirtualService", "DestinationRule", "Service", "HTTPRoute", "ReferenceGrant"] as const;

export type ProblemKind = (typeof PROBLEM_KINDS)[number];
/** The kinds parseObject reads with its own spec parsers (Gateway API kinds go to api/parse-httproute.ts). */
export type IstioProblemKind = Exclude<ProblemKind, "HTTPRoute" | "ReferenceGrant">;

export interface Problem {
  kind: ProblemKind;
  namespace: string;
  name: string;
  /** Field path from the object root, e.g. "spec.http[2].match[0].uri.regex"; "" for the whole object. */
  field: string;
  reason: ProblemReason;
  /** What is wrong, where, and how to fix it. */
  message: string;
}

function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) - Number(y) || (x < y ? -1 : 1);
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

function plain(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order: kind, namespace, name, field (numbers in paths compare as numbers), reason, message. */
export function compareProblems(a: Problem, b: Problem): number {
  return (
    plain(a.kind, b.kind) ||
    plain(a.namespace, b.namespace) ||
    plain(a.name, b.name) ||
    naturalCompare(a.field, b.field) ||
    plain(a.reason, b.reason) ||
    plain(a.message, b.message)
  );
}

/** Sorted copy without exact duplicates. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  const sorted = [...problems].sort(compareProblems);
  return sorted.filter((p, i) => i === 0 || compareProblems(p, sorted[i - 1] as Problem) !== 0);
}
