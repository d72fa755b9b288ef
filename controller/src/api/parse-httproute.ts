// Gateway API HTTPRoute (v1) and ReferenceGrant (v1beta1) → typed objects, strictly: the shapes,
// enums and list limits of the CRD (HTTPROUTE_LIMITS) are checked with field paths, and the API
// server's defaults are applied. Values that are valid but that Canal does not translate (filter
// types such as RequestMirror, fields such as sessionPersistence) are kept or recorded as known
// ignored fields; the translator reports them.
import {
  HTTP_METHODS, HTTPROUTE_API_VERSIONS, HTTPROUTE_LIMITS as L, REDIRECT_CODES, REFERENCE_GRANT_API_VERSIONS,
  type HTTPBackendRef, type HTTPHeader, type HTTPHeaderModifier, type HTTPMethod, type HTTPPathMatch, type HTTPPathModifier,
  type HTTPRequestRedirect, type HTTPRoute, type HTTPRouteFilter, type HTTPRouteMatch, type HTTPRouteRetry, type HTTPRouteRule,
  type HTTPRouteSpec, type HTTPRouteTimeouts, type HTTPURLRewrite, type HTTPValueMatch, type ParentReference,
  type ReferenceGrant, type ReferenceGrantSpec,
} from "./gateway-api.ts";
import type { IgnoredField, ObjectMeta } from "./meta.ts";
import { parseMeta } from "./parse-meta.ts";
import type { ParseOptions } from "./parse.ts";
import type { Problem } from "./problem.ts";
import { opt, Reader } from "./reader.ts";

export type GatewayApiObject = HTTPRoute | ReferenceGrant;

export type GatewayApiParseOutcome =
  | { status: "ok"; object: GatewayApiObject }
  /** Not an HTTPRoute or ReferenceGrant of a served version: skip it. */
  | { status: "ignored"; apiVersion: string; kind: string }
  | { status: "invalid"; problems: Problem[] };

/** Gateway API durations as the CRD writes them: 1 to 4 parts of up to 5 digits, e.g. "1m30s", "500ms". */
export const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const ROUTE_HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
export const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type Spec = HTTPRouteSpec | ReferenceGrantSpec;

const KINDS: Record<GatewayApiObject["kind"], { apiVersions: readonly string[]; spec: (r: Reader, v: unknown) => Spec | undefined }> = {
  HTTPRoute: { apiVersions: HTTPROUTE_API_VERSIONS, spec: parseHTTPRouteSpec },
  ReferenceGrant: { apiVersions: REFERENCE_GRANT_API_VERSIONS, spec: parseReferenceGrantSpec },
};

/** Parses one object. Never throws; never mutates `raw`. */
export function parseGatewayApiObject(raw: unknown, options: ParseOptions = {}): GatewayApiParseOutcome {
  const head = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const apiVersion = typeof head["apiVersion"] === "string" ? head["apiVersion"] : "";
  const kindName = typeof head["kind"] === "string" ? head["kind"] : "";
  const kind = kindName === "HTTPRoute" || kindName === "ReferenceGrant" ? kindName : undefined;
  if (kind === undefined || !KINDS[kind].apiVersions.includes(apiVersion)) return { status: "ignored", apiVersion, kind: kindName };
  const defaultNamespace = options.defaultNamespace ?? "default";
  const r = new Reader();
  const top = r.object(raw, "", ["apiVersion", "kind", "metadata", "spec", "status"]);
  const meta = top && parseMeta(r, top["metadata"], defaultNamespace);
  const spec = top && KINDS[kind].spec(r, top["spec"] ?? {});
  if (r.errors.length > 0 || meta === undefined || spec === undefined) {
    const m = (head["metadata"] ?? {}) as { name?: unknown; namespace?: unknown };
    const name = typeof m.name === "string" ? m.name : "";
    const namespace = typeof m.namespace === "string" ? m.namespace : defaultNamespace;
    const errors = r.errors.length > 0 ? r.errors : [{ field: "", message: "malformed object" }];
    return {
      status: "invalid",
      problems: errors.map((e) => ({ kind, namespace, name, field: e.field, reason: "InvalidField" as const, message: `${e.field || "object"}: ${e.message}; the ${kind} is ignored until this is fixed` })),
    };
  }
  return { status: "ok", object: build(kind, apiVersion, meta, spec, r.ignored) };
}

function build(kind: GatewayApiObject["kind"], apiVersion: string, metadata: ObjectMeta, spec: Spec, ignored: IgnoredField[]): GatewayApiObject {
  // The spec parser for `kind` produced the matching spec type.
  const object = { apiVersion, kind, metadata, spec } as GatewayApiObject;
  if (ignored.length > 0) object.ignoredFields = ignored;
  return object;
}

// ---------------------------------------------------------------------------------------------
// Small checked readers

export function capped<T>(r: Reader, v: unknown, path: string, max: number, item: (x: unknown, p: string) => T | undefined): T[] | undefined {
  if (Array.isArray(v) && v.length > max) return r.fail(path, `at most ${max} items, got ${v.length}`);
  return r.array(v, path, item);
}

/** A string of at most `max` characters (at least `min`) matching `pattern` when given. */
export function str(r: Reader, v: unknown, path: string, max: number, pattern?: RegExp, min = 1): string | undefined {
  const s = r.string(v, path);
  if (s === undefined) return undefined;
  if (s.length < min) return r.fail(path, min === 1 ? "must not be empty" : `at least ${min} characters`);
  if (s.length > max) return r.fail(path, `at most ${max} characters, got ${s.length}`);
  if (pattern !== undefined && !pattern.test(s)) return r.fail(path, `${JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)} does not match ${pattern.source}`);
  return s;
}

export function oneOf<T extends string>(r: Reader, v: unknown, path: string, values: readonly T[]): T | undefined {
  const s = r.string(v, path);
  if (s === undefined) return undefined;
  const found = values.find((x) => x === s);
  return found ?? r.fail(path, `expected one of ${values.join(", ")}, got ${JSON.stringify(s)}`);
}

export function intIn(r: Reader, v: unknown, path: string, min: number, max: number): number | undefined {
  const n = r.integer(v, path);
  if (n === undefined) return undefined;
  return n < min || n > max ? r.fail(path, `expected ${min} to ${max}, got ${n}`) : n;
}

export function required<T>(r: Reader, value: T | undefined, present: boolean, path: string): T | undefined {
  return value === undefined && !present ? r.fail(path, "required") : value;
}

/** Assigns only defined values, so parsed objects never carry `key: undefined`. */
function set<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

// ---------------------------------------------------------------------------------------------
// HTTPRoute

export function parseHTTPRouteSpec(r: Reader, v: unknown): HTTPRouteSpec | undefined {
  const o = r.object(v, "spec", ["parentRefs", "hostnames", "rules"], ["useDefaultGateways"]);
  if (o === undefined) return undefined;
  const rules = opt(o, "rules", "spec", (x, p) => capped(r, x, p, L.rules, (e, ep) => rule(r, e, ep)));
  return {
    parentRefs: opt(o, "parentRefs", "spec", (x, p) => capped(r, x, p, L.parentRefs, (e, ep) => parentRef(r, e, ep))) ?? [],
    hostnames: opt(o, "hostnames", "spec", (x, p) => capped(r, x, p, L.hostnames, (e, ep) => str(r, e, ep, L.hostnameLength, ROUTE_HOSTNAME))) ?? [],
    // The CRD's default: one rule matching every path, without backends.
    rules: rules === undefined || rules.length === 0 ? [{ matches: [defaultMatch()], filters: [], backendRefs: [] }] : rules,
  };
}

function defaultMatch(): HTTPRouteMatch {
  return { path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] };
}

function parentRef(r: Reader, v: unknown, path: string): ParentReference | undefined {
  const o = r.object(v, path, ["group", "kind", "namespace", "name", "sectionName", "port"]);
  if (o === undefined) return undefined;
  const name = required(r, opt(o, "name", path, (x, p) => str(r, x, p, 253)), o["name"] !== undefined, `${path}.name`);
  if (name === undefined) return undefined;
  const ref: ParentReference = {
    group: opt(o, "group", path, (x, p) => str(r, x, p, 253, GROUP, 0)) ?? "gateway.networking.k8s.io",
    kind: opt(o, "kind", path, (x, p) => str(r, x, p, 63, KIND)) ?? "Gateway",
    name,
  };
  set(ref, "namespace", opt(o, "namespace", path, (x, p) => str(r, x, p, 63, DNS_LABEL)));
  set(ref, "sectionName", opt(o, "sectionName", path, (x, p) => str(r, x, p, 253, DNS_SUBDOMAIN)));
  set(ref, "port", opt(o, "port", path, (x, p) => intIn(r, x, p, 1, 65535)));
  return ref;
}

function rule(r: Reader, v: unknown, path: string): HTTPRouteRule | undefined {
  const o = r.object(v, path, ["name", "matches", "filters", "backendRefs", "timeouts", "retry"], ["sessionPersistence"]);
  if (o === undefined) return undefined;
  const matches = opt(o, "matches", path, (x, p) => capped(r, x, p, L.matches, (e, ep) => match(r, e, ep)));
  const out: HTTPRouteRule = {
    matches: matches === undefined || matches.length === 0 ? [defaultMatch()] : matches,
    filters: opt(o, "filters", path, (x, p) => filters(r, x, p)) ?? [],
    backendRefs: opt(o, "backendRefs", path, (x, p) => capped(r, x, p, L.backendRefs, (e, ep) => backendRef(r, e, ep))) ?? [],
  };
  set(out, "name", opt(o, "name", path, (x, p) => str(r, x, p, 253, DNS_SUBDOMAIN)));
  set(out, "timeouts", opt(o, "timeouts", path, (x, p) => timeouts(r, x, p)));
  set(out, "retry", opt(o, "retry", path, (x, p) => retry(r, x, p)));
  return out;
}

function match(r: Reader, v: unknown, path: string): HTTPRouteMatch | undefined {
  const o = r.object(v, path, ["path", "headers", "queryParams", "method"]);
  if (o === undefined) return undefined;
  const m: HTTPRouteMatch = {
    path: opt(o, "path", path, (x, p) => pathMatch(r, x, p)) ?? { type: "PathPrefix", value: "/" },
    headers: opt(o, "headers", path, (x, p) => capped(r, x, p, L.headerMatches, (e, ep) => valueMatch(r, e, ep, L.headerValueLength))) ?? [],
    queryParams: opt(o, "queryParams", path, (x, p) => capped(r, x, p, L.queryMatches, (e, ep) => valueMatch(r, e, ep, L.queryValueLength))) ?? [],
  };
  set(m, "method", opt(o, "method", path, (x, p): HTTPMethod | undefined => oneOf(r, x, p, HTTP_METHODS)));
  return m;
}

function pathMatch(r: Reader, v: unknown, path: string): HTTPPathMatch | undefined {
  const o = r.object(v, path, ["type", "value"]);
  if (o === undefined) return undefined;
  const type = opt(o, "type", path, (x, p) => oneOf(r, x, p, ["Exact", "PathPrefix", "RegularExpression"] as const)) ?? "PathPrefix";
  const value = opt(o, "value", path, (x, p) => str(r, x, p, L.pathLength, undefined, 0)) ?? "/";
  // The CRD's CEL rules for Exact and PathPrefix: an absolute path without "//", "/./", "/../",
  // "%2f", "%2F" or "#" (so a segment-wise prefix means what it says).
  if (type !== "RegularExpression") {
    if (!value.startsWith("/")) return r.fail(`${path}.value`, `a ${type} path must start with "/", got ${JSON.stringify(value)}`);
    if (/\/\/|\/\.\/|\/\.\.\/|%2f|%2F|#/.test(value) || /\/\.\.?$/.test(value)) return r.fail(`${path}.value`, `${JSON.stringify(value)} must not contain "//", "/./", "/../", "%2f", "%2F" or "#", nor end in "/." or "/.."`);
  }
  return { type, value };
}

function valueMatch(r: Reader, v: unknown, path: string, maxValue: number): HTTPValueMatch | undefined {
  const o = r.object(v, path, ["type", "name", "value"]);
  if (o === undefined) return undefined;
  const type = opt(o, "type", path, (x, p) => oneOf(r, x, p, ["Exact", "RegularExpression"] as const)) ?? "Exact";
  const name = required(r, opt(o, "name", path, (x, p) => str(r, x, p, L.headerNameLength, HEADER_NAME)), o["name"] !== undefined, `${path}.name`);
  const value = required(r, opt(o, "value", path, (x, p) => str(r, x, p, maxValue)), o["value"] !== undefined, `${path}.value`);
  return name === undefined || value === undefined ? undefined : { type, name, value };
}

const FILTER_TYPES = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite", "RequestMirror", "ExtensionRef", "CORS", "ExternalAuth"] as const;
/** The member each filter type carries (exactly that one may be set, as the CRD's CEL rules say). */
const FILTER_FIELDS: Record<(typeof FILTER_TYPES)[number], string> = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestRedirect: "requestRedirect",
  URLRewrite: "urlRewrite",
  RequestMirror: "requestMirror",
  ExtensionRef: "extensionRef",
  CORS: "cors",
  ExternalAuth: "externalAuth",
};

function filters(r: Reader, v: unknown, path: string): HTTPRouteFilter[] | undefined {
  return capped(r, v, path, L.filters, (e, ep) => filter(r, e, ep));
}

function filter(r: Reader, v: unknown, path: string): HTTPRouteFilter | undefined {
  const members = Object.values(FILTER_FIELDS);
  const o = r.object(v, path, ["type", ...members.slice(0, 4)], members.slice(4));
  if (o === undefined) return undefined;
  const type = required(r, opt(o, "type", path, (x, p) => oneOf(r, x, p, FILTER_TYPES)), o["type"] !== undefined, `${path}.type`);
  if (type === undefined) return undefined;
  const member = FILTER_FIELDS[type];
  const others = members.filter((m) => m !== member && o[m] !== undefined && o[m] !== null);
  if (others.length > 0) return r.fail(`${path}.${others[0] as string}`, `a ${type} filter sets only ${member}`);
  const body = o[member];
  const at = `${path}.${member}`;
  if (body === undefined || body === null) return r.fail(at, `required for a ${type} filter`);
  if (type === "RequestHeaderModifier") return wrap(headerModifier(r, body, at), (m) => ({ type, requestHeaderModifier: m }));
  if (type === "ResponseHeaderModifier") return wrap(headerModifier(r, body, at), (m) => ({ type, responseHeaderModifier: m }));
  if (type === "RequestRedirect") return wrap(redirect(r, body, at), (m) => ({ type, requestRedirect: m }));
  if (type === "URLRewrite") return wrap(urlRewrite(r, body, at), (m) => ({ type, urlRewrite: m }));
  return { type };
}

function wrap<T>(value: T | undefined, f: (v: T) => HTTPRouteFilter): HTTPRouteFilter | undefined {
  return value === undefined ? undefined : f(value);
}

function headerModifier(r: Reader, v: unknown, path: string): HTTPHeaderModifier | undefined {
  const o = r.object(v, path, ["set", "add", "remove"]);
  if (o === undefined) return undefined;
  const header = (x: unknown, p: string): HTTPHeader | undefined => {
    const h = r.object(x, p, ["name", "value"]);
    if (h === undefined) return undefined;
    const name = required(r, opt(h, "name", p, (y, yp) => str(r, y, yp, L.headerNameLength, HEADER_NAME)), h["name"] !== undefined, `${p}.name`);
    const value = required(r, opt(h, "value", p, (y, yp) => str(r, y, yp, L.headerValueLength)), h["value"] !== undefined, `${p}.value`);
    return name === undefined || value === undefined ? undefined : { name, value };
  };
  return {
    set: opt(o, "set", path, (x, p) => capped(r, x, p, L.headerOps, header)) ?? [],
    add: opt(o, "add", path, (x, p) => capped(r, x, p, L.headerOps, header)) ?? [],
    remove: opt(o, "remove", path, (x, p) => capped(r, x, p, L.headerOps, (e, ep) => str(r, e, ep, L.headerNameLength, HEADER_NAME))) ?? [],
  };
}

function pathModifier(r: Reader, v: unknown, path: string): HTTPPathModifier | undefined {
  const o = r.object(v, path, ["type", "replaceFullPath", "replacePrefixMatch"]);
  if (o === undefined) return undefined;
  const type = required(r, opt(o, "type", path, (x, p) => oneOf(r, x, p, ["ReplaceFullPath", "ReplacePrefixMatch"] as const)), o["type"] !== undefined, `${path}.type`);
  if (type === undefined) return undefined;
  const key = type === "ReplaceFullPath" ? "replaceFullPath" : "replacePrefixMatch";
  const other = type === "ReplaceFullPath" ? "replacePrefixMatch" : "replaceFullPath";
  if (o[other] !== undefined && o[other] !== null) return r.fail(`${path}.${other}`, `not allowed with type ${type} (set ${key})`);
  const value = required(r, opt(o, key, path, (x, p) => str(r, x, p, L.pathLength, undefined, 0)), o[key] !== undefined, `${path}.${key}`);
  if (value === undefined) return undefined;
  if (value !== "" && !value.startsWith("/")) return r.fail(`${path}.${key}`, `must start with "/", got ${JSON.stringify(value)}`);
  return type === "ReplaceFullPath" ? { type, replaceFullPath: value } : { type, replacePrefixMatch: value };
}

function redirect(r: Reader, v: unknown, path: string): HTTPRequestRedirect | undefined {
  const o = r.object(v, path, ["scheme", "hostname", "path", "port", "statusCode"]);
  if (o === undefined) return undefined;
  const code = opt(o, "statusCode", path, (x, p) => {
    const n = r.integer(x, p);
    return n === undefined || REDIRECT_CODES.includes(n) ? n : r.fail(p, `expected one of ${REDIRECT_CODES.join(", ")}, got ${n}`);
  });
  const out: HTTPRequestRedirect = { statusCode: code ?? 302 };
  set(out, "scheme", opt(o, "scheme", path, (x, p) => oneOf(r, x, p, ["http", "https"] as const)));
  set(out, "hostname", opt(o, "hostname", path, (x, p) => str(r, x, p, L.hostnameLength, DNS_SUBDOMAIN)));
  set(out, "path", opt(o, "path", path, (x, p) => pathModifier(r, x, p)));
  set(out, "port", opt(o, "port", path, (x, p) => intIn(r, x, p, 1, 65535)));
  return out;
}

function urlRewrite(r: Reader, v: unknown, path: string): HTTPURLRewrite | undefined {
  const o = r.object(v, path, ["hostname", "path"]);
  if (o === undefined) return undefined;
  const out: HTTPURLRewrite = {};
  set(out, "hostname", opt(o, "hostname", path, (x, p) => str(r, x, p, L.hostnameLength, DNS_SUBDOMAIN)));
  set(out, "path", opt(o, "path", path, (x, p) => pathModifier(r, x, p)));
  return out;
}

function backendRef(r: Reader, v: unknown, path: string): HTTPBackendRef | undefined {
  const o = r.object(v, path, ["group", "kind", "name", "namespace", "port", "weight", "filters"]);
  if (o === undefined) return undefined;
  const name = required(r, opt(o, "name", path, (x, p) => str(r, x, p, 253)), o["name"] !== undefined, `${path}.name`);
  if (name === undefined) return undefined;
  const ref: HTTPBackendRef = {
    group: opt(o, "group", path, (x, p) => str(r, x, p, 253, GROUP, 0)) ?? "",
    kind: opt(o, "kind", path, (x, p) => str(r, x, p, 63, KIND)) ?? "Service",
    name,
    weight: opt(o, "weight", path, (x, p) => intIn(r, x, p, 0, L.maxWeight)) ?? 1,
    filters: opt(o, "filters", path, (x, p) => filters(r, x, p)) ?? [],
  };
  set(ref, "namespace", opt(o, "namespace", path, (x, p) => str(r, x, p, 63, DNS_LABEL)));
  set(ref, "port", opt(o, "port", path, (x, p) => intIn(r, x, p, 1, 65535)));
  return ref;
}

function duration(r: Reader, v: unknown, path: string): string | undefined {
  const s = r.string(v, path);
  if (s === undefined) return undefined;
  return GATEWAY_DURATION.test(s) ? s : r.fail(path, `expected a Gateway API duration such as "10s", "1m30s" or "500ms", got ${JSON.stringify(s.slice(0, 40))}`);
}

function timeouts(r: Reader, v: unknown, path: string): HTTPRouteTimeouts | undefined {
  const o = r.object(v, path, ["request", "backendRequest"]);
  if (o === undefined) return undefined;
  const out: HTTPRouteTimeouts = {};
  set(out, "request", opt(o, "request", path, (x, p) => duration(r, x, p)));
  set(out, "backendRequest", opt(o, "backendRequest", path, (x, p) => duration(r, x, p)));
  return out;
}

function retry(r: Reader, v: unknown, path: string): HTTPRouteRetry | undefined {
  const o = r.object(v, path, ["codes", "attempts", "backoff"]);
  if (o === undefined) return undefined;
  const out: HTTPRouteRetry = {};
  set(out, "codes", opt(o, "codes", path, (x, p) => capped(r, x, p, 32, (e, ep) => intIn(r, e, ep, 400, 599))));
  set(out, "attempts", opt(o, "attempts", path, (x, p) => intIn(r, x, p, 0, 1000)));
  set(out, "backoff", opt(o, "backoff", path, (x, p) => duration(r, x, p)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// ReferenceGrant

export function parseReferenceGrantSpec(r: Reader, v: unknown): ReferenceGrantSpec | undefined {
  const o = r.object(v, "spec", ["from", "to"]);
  if (o === undefined) return undefined;
  const from = opt(o, "from", "spec", (x, p) => capped(r, x, p, L.referenceGrantEntries, (e, ep) => {
    const f = r.object(e, ep, ["group", "kind", "namespace"]);
    if (f === undefined) return undefined;
    const group = required(r, opt(f, "group", ep, (y, yp) => str(r, y, yp, 253, GROUP, 0)), f["group"] !== undefined, `${ep}.group`);
    const kind = required(r, opt(f, "kind", ep, (y, yp) => str(r, y, yp, 63, KIND)), f["kind"] !== undefined, `${ep}.kind`);
    const namespace = required(r, opt(f, "namespace", ep, (y, yp) => str(r, y, yp, 63, DNS_LABEL)), f["namespace"] !== undefined, `${ep}.namespace`);
    return group === undefined || kind === undefined || namespace === undefined ? undefined : { group, kind, namespace };
  }));
  const to = opt(o, "to", "spec", (x, p) => capped(r, x, p, L.referenceGrantEntries, (e, ep) => {
    const t = r.object(e, ep, ["group", "kind", "name"]);
    if (t === undefined) return undefined;
    const group = required(r, opt(t, "group", ep, (y, yp) => str(r, y, yp, 253, GROUP, 0)), t["group"] !== undefined, `${ep}.group`);
    const kind = required(r, opt(t, "kind", ep, (y, yp) => str(r, y, yp, 63, KIND)), t["kind"] !== undefined, `${ep}.kind`);
    if (group === undefined || kind === undefined) return undefined;
    const name = opt(t, "name", ep, (y, yp) => str(r, y, yp, 253));
    return name === undefined ? { group, kind } : { group, kind, name };
  }));
  if (from === undefined || from.length === 0) return r.fail("spec.from", "required: at least one entry");
  if (to === undefined || to.length === 0) return r.fail("spec.to", "required: at least one entry");
  return { from, to };
}
