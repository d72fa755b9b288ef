// Validation of objects no table uses, for `canal compile` (and `canal dev`): a VirtualService
// that names no Gateway served by an InternalGateway in the files — a lone Istio file, the
// normal input of a linter such as `istioctl analyze` — is otherwise never translated, so its
// errors were never shown. Each such VirtualService is translated on its own behind a synthetic
// catch-all Gateway (port 80, hosts "*/*") and InternalGateway; only its own problems are kept,
// minus those about spec.gateways (which the synthetic binding rewrote). The translator skips the
// routes of a VirtualService without one valid host, so when only its hosts were reported, its
// routes are checked again under a placeholder host. A Gateway no InternalGateway serves (there
// are several and no InternalGateway) is translated alone behind a synthetic InternalGateway.
import type { Problem } from "../api/problem.ts";
import type { Snapshot } from "../api/snapshot.ts";
import type { Gateway, VirtualService } from "../api/istio.ts";
import type { InternalGateway } from "../api/internalgateway.ts";
import { namesGateway } from "../translate/binding.ts";
import { translate, type RegexValidator, type TranslateResult } from "../translate/index.ts";

/** Name of the synthetic Gateway and InternalGateway (a VirtualService field can only mention it in spec.gateways). */
export const LINT_GATEWAY_NAME = "canal-lint-standalone";

export interface LintOptions {
  validateRegex: RegexValidator;
  clusterDomain?: string;
}

/** The VirtualServices that no accepted InternalGateway's Gateway binds. */
export function unboundVirtualServices(snapshot: Snapshot, result: TranslateResult): VirtualService[] {
  const keys = result.gateways.filter((g) => g.accepted).map((g) => `${g.gatewayRef.namespace}/${g.gatewayRef.name}`);
  return snapshot.virtualServices.filter((vs) => !keys.some((k) => namesGateway(vs, k)));
}

/** Problems of each VirtualService and Gateway no table uses, found by translating it on its own. */
export function standaloneProblems(snapshot: Snapshot, result: TranslateResult, options: LintOptions): Problem[] {
  const out: Problem[] = [];
  const served = new Set(result.gateways.filter((g) => g.accepted).map((g) => `${g.gatewayRef.namespace}/${g.gatewayRef.name}`));
  for (const gw of snapshot.gateways) {
    const { namespace, name } = gw.metadata;
    if (served.has(`${namespace}/${name}`)) continue;
    // Workload labels = the Gateway's selector, as for an implied InternalGateway: which pods
    // it selects is only a problem relative to a real InternalGateway.
    const ig = lintInternalGateway(namespace, name);
    if (Object.keys(gw.spec.selector).length > 0) ig.spec.workloadSelector = { matchLabels: { ...gw.spec.selector } };
    const lone: Snapshot = { internalGateways: [ig], gateways: [gw], virtualServices: [], destinationRules: [], services: snapshot.services, httpRoutes: [], referenceGrants: [], gatewayApiGateways: [], gatewayClasses: [], namespaces: [] };
    out.push(...translateWith(lone, options).problems.filter((p) => p.kind === "Gateway" && p.namespace === namespace && p.name === name));
  }
  for (const vs of unboundVirtualServices(snapshot, result)) {
    const own = alone(vs, snapshot, options);
    out.push(...own);
    const hostsOnly = own.length > 0 && own.every((p) => isField(p, "spec.hosts"));
    if (hostsOnly) out.push(...alone({ ...vs, spec: { ...vs.spec, hosts: [PLACEHOLDER_HOST] } }, snapshot, options).filter((p) => !isField(p, "spec.hosts")));
  }
  return out;
}

/** A valid host that names nothing: stands in for a VirtualService's invalid ones. */
const PLACEHOLDER_HOST = "canal-lint-placeholder.invalid";

function isField(p: Problem, prefix: string): boolean {
  return p.field === prefix || p.field.startsWith(`${prefix}[`) || p.field.startsWith(`${prefix}.`);
}

/** `vs`'s own problems when it is the only VirtualService, bound to the synthetic gateway. */
function alone(vs: VirtualService, snapshot: Snapshot, options: LintOptions): Problem[] {
  const ns = vs.metadata.namespace;
  const lone: Snapshot = {
    internalGateways: [lintInternalGateway(ns)],
    gateways: [lintGateway(ns)],
    virtualServices: [{ ...vs, spec: { ...vs.spec, gateways: [`${ns}/${LINT_GATEWAY_NAME}`] } }],
    destinationRules: snapshot.destinationRules,
    services: snapshot.services,
    httpRoutes: [],
    referenceGrants: [],
    gatewayApiGateways: [],
    gatewayClasses: [],
    namespaces: [],
  };
  return translateWith(lone, options).problems.filter((p) => p.kind === "VirtualService" && p.namespace === ns && p.name === vs.metadata.name && !isField(p, "spec.gateways"));
}

function lintGateway(namespace: string): Gateway {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: LINT_GATEWAY_NAME, namespace },
    spec: { selector: {}, servers: [{ port: { number: 80, protocol: "HTTP", name: "http" }, hosts: ["*/*"] }] },
  };
}

function lintInternalGateway(namespace: string, gateway = LINT_GATEWAY_NAME): InternalGateway {
  return {
    apiVersion: "canal.io/v1alpha1",
    kind: "InternalGateway",
    metadata: { name: LINT_GATEWAY_NAME, namespace },
    // Every host granted to every namespace: who may route a host is decided by the real
    // InternalGateway's grants (ADR 0003), which a lone file does not have; `canal compile` with
    // the InternalGateway, and `canal plan`, report ownership.
    spec: { gatewayRef: { name: gateway }, serviceRef: { name: LINT_GATEWAY_NAME }, hostGrants: [{ namespaces: ["*"], hosts: ["*"] }] },
  };
}

function translateWith(snapshot: Snapshot, options: LintOptions): TranslateResult {
  return translate(snapshot, options.clusterDomain === undefined ? { validateRegex: options.validateRegex } : { validateRegex: options.validateRegex, clusterDomain: options.clusterDomain });
}
