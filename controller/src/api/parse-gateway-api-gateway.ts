// Gateway API Gateways (gateway.networking.k8s.io/v1), GatewayClasses, and Namespaces (their
// labels only, for listeners' allowedRoutes selectors) → typed objects, strictly, with the CRD's
// defaults (allowedRoutes from Same) and limits (64 listeners). Fields Canal does not translate
// (tls, addresses, infrastructure, ...) are recorded as known ignored fields.
import {
  GATEWAY_API_GROUP, GATEWAY_API_VERSIONS, GATEWAY_LIMITS as L,
  type AllowedRoutes, type GatewayApiGateway, type GatewayApiGatewaySpec, type GatewayClass, type GatewayListener,
  type LabelSelector, type LabelSelectorRequirement, type Namespace, type RouteGroupKind,
} from "./gateway-api.ts";
import type { IgnoredField, ObjectMeta } from "./meta.ts";
import { parseMeta } from "./parse-meta.ts";
import { capped, DNS_SUBDOMAIN, GROUP, intIn, KIND, oneOf, required, ROUTE_HOSTNAME, str } from "./parse-httproute.ts";
import type { ParseOptions } from "./parse.ts";
import type { Problem } from "./problem.ts";
import { opt, Reader } from "./reader.ts";

export type GatewaySupportObject = GatewayApiGateway | GatewayClass | Namespace;

export type GatewaySupportOutcome =
  | { status: "ok"; object: GatewaySupportObject }
  | { status: "ignored"; apiVersion: string; kind: string }
  | { status: "invalid"; problems: Problem[] };

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Is this apiVersion/kind one of the objects parsed here? */
export function isGatewaySupportKind(apiVersion: string, kind: string): boolean {
  if (kind === "Namespace") return apiVersion === "v1";
  return (kind === "Gateway" || kind === "GatewayClass") && GATEWAY_API_VERSIONS.includes(apiVersion);
}

/** Parses one Gateway, GatewayClass or Namespace. Never throws; never mutates `raw`. */
export function parseGatewaySupportObject(raw: unknown, options: ParseOptions = {}): GatewaySupportOutcome {
  const head = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const apiVersion = typeof head["apiVersion"] === "string" ? head["apiVersion"] : "";
  const kind = typeof head["kind"] === "string" ? head["kind"] : "";
  if (!isGatewaySupportKind(apiVersion, kind)) return { status: "ignored", apiVersion, kind };
  const r = new Reader();
  const top = r.object(raw, "", ["apiVersion", "kind", "metadata", "spec", "status"]);
  // GatewayClasses and Namespaces are cluster-scoped: their namespace is "".
  const clusterScoped = kind !== "Gateway";
  const meta = top && parseMeta(r, top["metadata"], clusterScoped ? "" : (options.defaultNamespace ?? "default"));
  const spec = top && (kind === "Gateway" ? gatewaySpec(r, top["spec"] ?? {}) : kind === "GatewayClass" ? gatewayClassSpec(r, top["spec"] ?? {}) : {});
  if (r.errors.length > 0 || meta === undefined || spec === undefined) {
    const m = (head["metadata"] ?? {}) as { name?: unknown; namespace?: unknown };
    const name = typeof m.name === "string" ? m.name : "";
    const namespace = typeof m.namespace === "string" ? m.namespace : clusterScoped ? "" : (options.defaultNamespace ?? "default");
    const errors = r.errors.length > 0 ? r.errors : [{ field: "", message: "malformed object" }];
    // ProblemKind names Istio's kinds and the routes' only; a malformed Gateway, GatewayClass or
    // Namespace can only come from a file (the API server validates them), where no Event is
    // written, so the problem is filed under "Gateway" with the API group in the message.
    return {
      status: "invalid",
      problems: errors.map((e) => ({ kind: "Gateway" as const, namespace, name, field: e.field, reason: "InvalidField" as const, message: `${apiVersion} ${kind} ${namespace === "" ? "" : `${namespace}/`}${name}: ${e.field || "object"}: ${e.message}; the ${kind} is ignored until this is fixed` })),
    };
  }
  if (clusterScoped) meta.namespace = "";
  return { status: "ok", object: build(kind as GatewaySupportObject["kind"], apiVersion, meta, spec, r.ignored) };
}

function build(kind: GatewaySupportObject["kind"], apiVersion: string, metadata: ObjectMeta, spec: object, ignored: IgnoredField[]): GatewaySupportObject {
  // The spec parser for `kind` produced the matching spec type.
  const object = { apiVersion, kind, metadata, spec } as GatewaySupportObject;
  if (ignored.length > 0 && kind === "Gateway") object.ignoredFields = ignored;
  return object;
}

function gatewayClassSpec(r: Reader, v: unknown): { controllerName: string } | undefined {
  const o = r.object(v, "spec", ["controllerName"], ["parametersRef", "description"]);
  if (o === undefined) return undefined;
  const controllerName = required(r, opt(o, "controllerName", "spec", (x, p) => str(r, x, p, 253)), o["controllerName"] !== undefined, "spec.controllerName");
  return controllerName === undefined ? undefined : { controllerName };
}

export function gatewaySpec(r: Reader, v: unknown): GatewayApiGatewaySpec | undefined {
  const o = r.object(v, "spec", ["gatewayClassName", "listeners"], ["addresses", "infrastructure", "backendTLS", "allowedListeners", "tls", "defaultScope"]);
  if (o === undefined) return undefined;
  const gatewayClassName = required(r, opt(o, "gatewayClassName", "spec", (x, p) => str(r, x, p, 253)), o["gatewayClassName"] !== undefined, "spec.gatewayClassName");
  const listeners = opt(o, "listeners", "spec", (x, p) => capped(r, x, p, L.listeners, (e, ep) => listener(r, e, ep)));
  if (gatewayClassName === undefined) return undefined;
  if (listeners === undefined || listeners.length === 0) return r.fail("spec.listeners", "required: at least one listener");
  const names = new Set<string>();
  listeners.forEach((l, i) => {
    if (names.has(l.name)) r.fail(`spec.listeners[${i}].name`, `listener name ${JSON.stringify(l.name)} is used twice`);
    names.add(l.name);
  });
  return { gatewayClassName, listeners };
}

function listener(r: Reader, v: unknown, path: string): GatewayListener | undefined {
  const o = r.object(v, path, ["name", "hostname", "port", "protocol", "allowedRoutes"], ["tls"]);
  if (o === undefined) return undefined;
  const name = required(r, opt(o, "name", path, (x, p) => str(r, x, p, 253, DNS_SUBDOMAIN)), o["name"] !== undefined, `${path}.name`);
  const port = required(r, opt(o, "port", path, (x, p) => intIn(r, x, p, 1, 65535)), o["port"] !== undefined, `${path}.port`);
  const protocol = required(r, opt(o, "protocol", path, (x, p) => str(r, x, p, 255)), o["protocol"] !== undefined, `${path}.protocol`);
  const hostname = opt(o, "hostname", path, (x, p) => str(r, x, p, 253, ROUTE_HOSTNAME));
  const allowedRoutes = opt(o, "allowedRoutes", path, (x, p) => allowed(r, x, p)) ?? { from: "Same" };
  if (name === undefined || port === undefined || protocol === undefined) return undefined;
  return hostname === undefined ? { name, port, protocol, allowedRoutes } : { name, hostname, port, protocol, allowedRoutes };
}

function allowed(r: Reader, v: unknown, path: string): AllowedRoutes | undefined {
  const o = r.object(v, path, ["namespaces", "kinds"]);
  if (o === undefined) return undefined;
  const ns = opt(o, "namespaces", path, (x, p) => r.object(x, p, ["from", "selector"]));
  const from = (ns && opt(ns, "from", `${path}.namespaces`, (x, p) => oneOf(r, x, p, ["Same", "All", "Selector", "None"] as const))) ?? "Same";
  const selector = ns && opt(ns, "selector", `${path}.namespaces`, (x, p) => labelSelector(r, x, p));
  const kinds = opt(o, "kinds", path, (x, p) => capped(r, x, p, L.kinds, (e, ep): RouteGroupKind | undefined => {
    const k = r.object(e, ep, ["group", "kind"]);
    if (k === undefined) return undefined;
    const kind = required(r, opt(k, "kind", ep, (y, yp) => str(r, y, yp, 63, KIND)), k["kind"] !== undefined, `${ep}.kind`);
    const group = opt(k, "group", ep, (y, yp) => str(r, y, yp, 253, GROUP, 0)) ?? GATEWAY_API_GROUP;
    return kind === undefined ? undefined : { group, kind };
  }));
  if (from === "Selector" && selector === undefined) return r.fail(`${path}.namespaces.selector`, "required when from is Selector");
  const out: AllowedRoutes = { from };
  if (selector !== undefined && from === "Selector") out.selector = selector;
  if (kinds !== undefined) out.kinds = kinds;
  return out;
}

function labelSelector(r: Reader, v: unknown, path: string): LabelSelector | undefined {
  const o = r.object(v, path, ["matchLabels", "matchExpressions"]);
  if (o === undefined) return undefined;
  const matchLabels = opt(o, "matchLabels", path, (x, p) => r.stringMap(x, p)) ?? {};
  if (Object.keys(matchLabels).length > L.selectorTerms) return r.fail(`${path}.matchLabels`, `at most ${L.selectorTerms} labels`);
  for (const k of Object.keys(matchLabels)) if (!LABEL_KEY.test(k) || k.length > 317) r.fail(`${path}.matchLabels`, `${JSON.stringify(k.slice(0, 60))} is not a label key`);
  const matchExpressions = opt(o, "matchExpressions", path, (x, p) => capped(r, x, p, L.selectorTerms, (e, ep): LabelSelectorRequirement | undefined => {
    const m = r.object(e, ep, ["key", "operator", "values"]);
    if (m === undefined) return undefined;
    const key = required(r, opt(m, "key", ep, (y, yp) => str(r, y, yp, 317, LABEL_KEY)), m["key"] !== undefined, `${ep}.key`);
    const operator = required(r, opt(m, "operator", ep, (y, yp) => oneOf(r, y, yp, ["In", "NotIn", "Exists", "DoesNotExist"] as const)), m["operator"] !== undefined, `${ep}.operator`);
    const values = opt(m, "values", ep, (y, yp) => capped(r, y, yp, L.selectorValues, (z, zp) => str(r, z, zp, 63, undefined, 0))) ?? [];
    if (key === undefined || operator === undefined) return undefined;
    if ((operator === "In" || operator === "NotIn") && values.length === 0) return r.fail(`${ep}.values`, `required for operator ${operator}`);
    if ((operator === "Exists" || operator === "DoesNotExist") && values.length > 0) return r.fail(`${ep}.values`, `must be empty for operator ${operator}`);
    return { key, operator, values };
  })) ?? [];
  return { matchLabels, matchExpressions };
}

/** Does `selector` select an object with `labels`? (Kubernetes' rules: every term must hold.) */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels)) if (labels[k] !== v) return false;
  return selector.matchExpressions.every((e) => {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "Exists") return has;
    if (e.operator === "DoesNotExist") return !has;
    const isIn = has && e.values.includes(labels[e.key] as string);
    return e.operator === "In" ? isIn : !isIn;
  });
}
