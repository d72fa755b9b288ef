// HTTPRoute filters, timeouts and retry → route-table modifiers and actions. Header modifiers
// become headers.request/response (names lower-cased; host, pseudo-headers, x-canal-* and values
// with CR/LF are left out and reported). RequestRedirect and URLRewrite are kept as intents: the
// path they write depends on how each match block matched (rules.ts). Filters Canal does not
// translate (RequestMirror, CORS, ExtensionRef, ExternalAuth) make the rule answer 500 rather
// than route differently from what was written.
import type { HTTPHeaderModifier, HTTPPathModifier, HTTPRouteFilter, HTTPRouteRule } from "../../api/gateway-api.ts";
import type { HeaderOperations, HeaderOps, Redirect, Retries } from "../../../../schema/route-table.ts";
import { parseDurationMs } from "../durations.ts";
import { isHeaderValue, reservedHeader } from "../headers.ts";
import type { HTTPRouteContext } from "./context.ts";

export interface RuleFilters {
  headers?: HeaderOperations;
  redirect?: { redirect: Redirect; path?: HTTPPathModifier };
  rewrite?: { authority?: string; path?: HTTPPathModifier };
  /** Set when the rule cannot be honoured: the 500 body's reason. */
  unsupported?: string;
}

/** Header modifiers only (backendRef filters); other filter types there are reported and ignored. */
export function headerFilters(filters: readonly HTTPRouteFilter[], path: string, ctx: HTTPRouteContext): HeaderOperations | undefined {
  const out: HeaderOperations = {};
  filters.forEach((f, i) => {
    const at = `${path}[${i}]`;
    if (f.type === "RequestHeaderModifier") out.request ??= headerOps(f.requestHeaderModifier, `${at}.requestHeaderModifier`, ctx);
    else if (f.type === "ResponseHeaderModifier") out.response ??= headerOps(f.responseHeaderModifier, `${at}.responseHeaderModifier`, ctx);
    else ctx.sink.add(ctx.route, `${at}.type`, "UnsupportedValue", `${at}: a ${f.type} filter on a backendRef is not supported; Canal applies header modifiers there only. It is ignored.`);
  });
  if (out.request === undefined) delete out.request;
  if (out.response === undefined) delete out.response;
  return out.request === undefined && out.response === undefined ? undefined : out;
}

export function ruleFilters(rule: HTTPRouteRule, path: string, ctx: HTTPRouteContext): RuleFilters {
  const out: RuleFilters = {};
  const seen = new Set<string>();
  const headers: HeaderOperations = {};
  rule.filters.forEach((f, i) => {
    const at = `${path}.filters[${i}]`;
    if (seen.has(f.type)) {
      ctx.sink.add(ctx.route, at, "UnsupportedValue", `${at}: a second ${f.type} filter in one rule is not allowed (the CRD refuses it); only the first is used.`);
      return;
    }
    seen.add(f.type);
    if (f.type === "RequestHeaderModifier") headers.request = headerOps(f.requestHeaderModifier, `${at}.requestHeaderModifier`, ctx);
    else if (f.type === "ResponseHeaderModifier") headers.response = headerOps(f.responseHeaderModifier, `${at}.responseHeaderModifier`, ctx);
    else if (f.type === "RequestRedirect") {
      const r = f.requestRedirect;
      const redirect: Redirect = { redirectCode: r.statusCode };
      if (r.scheme !== undefined) redirect.scheme = r.scheme;
      if (r.hostname !== undefined) redirect.authority = r.hostname;
      if (r.port !== undefined) redirect.port = r.port;
      out.redirect = r.path === undefined ? { redirect } : { redirect, path: r.path };
    } else if (f.type === "URLRewrite") {
      const rw: NonNullable<RuleFilters["rewrite"]> = {};
      if (f.urlRewrite.hostname !== undefined) rw.authority = f.urlRewrite.hostname;
      if (f.urlRewrite.path !== undefined) rw.path = f.urlRewrite.path;
      out.rewrite = rw;
    } else {
      out.unsupported ??= `the ${f.type} filter is not supported (UnsupportedValue)`;
      ctx.sink.add(ctx.route, `${at}.type`, "UnsupportedValue", `${at}: the ${f.type} filter is not supported by Canal; the rule answers 500 instead of routing without it. Remove the filter.`);
    }
  });
  if (out.redirect !== undefined && (rule.backendRefs.length > 0 || out.rewrite !== undefined)) {
    out.unsupported ??= "a RequestRedirect rule may have neither backendRefs nor URLRewrite (UnsupportedValue)";
    ctx.sink.add(ctx.route, `${path}.filters`, "UnsupportedValue", `${path}: a RequestRedirect cannot be combined with ${rule.backendRefs.length > 0 ? "backendRefs" : "a URLRewrite"} (the CRD refuses it); the rule answers 500.`);
  }
  if (headers.request !== undefined || headers.response !== undefined) {
    if (headers.request === undefined) delete headers.request;
    if (headers.response === undefined) delete headers.response;
    out.headers = headers;
  }
  return out;
}

function headerOps(m: HTTPHeaderModifier, path: string, ctx: HTTPRouteContext): HeaderOps | undefined {
  const ops: HeaderOps = {};
  const usable = (name: string, value: string | undefined, field: string): boolean => {
    const reserved = reservedHeader(name);
    if (reserved !== undefined) {
      ctx.sink.add(ctx.route, field, "InvalidHeaderName", `${field}: header "${name}" cannot be modified: ${reserved}. It is left out.`);
      return false;
    }
    if (value !== undefined && !isHeaderValue(value)) {
      ctx.sink.add(ctx.route, field, "InvalidHeaderValue", `${field}: the value of header "${name}" contains NUL, CR or LF. It is left out.`);
      return false;
    }
    return true;
  };
  for (const key of ["set", "add"] as const) {
    const list = m[key];
    const target: Record<string, string> = {};
    list.forEach((h, i) => {
      const name = h.name.toLowerCase();
      if (!(name in target) && usable(name, h.value, `${path}.${key}[${i}]`)) target[name] = h.value;
    });
    if (Object.keys(target).length > 0) ops[key] = target;
  }
  const remove = [...new Set(m.remove.map((n) => n.toLowerCase()))].filter((n, i) => usable(n, undefined, `${path}.remove[${i}]`));
  if (remove.length > 0) ops.remove = remove;
  return ops.set === undefined && ops.add === undefined && ops.remove === undefined ? undefined : ops;
}

export interface Timing {
  timeoutMs?: number;
  retries?: Retries;
}

/**
 * timeouts.request bounds the whole request (retries included): timeoutMs. backendRequest bounds
 * each try: the per-try timeout when the rule retries, else simply the request's timeout (the
 * smaller of the two). retry: attempts and status codes (bare codes are retriable status codes).
 */
export function ruleTiming(rule: HTTPRouteRule, path: string, ctx: HTTPRouteContext): Timing {
  const ms = (v: string | undefined, field: string): number | undefined => {
    if (v === undefined) return undefined;
    const d = parseDurationMs(v);
    if (d.ok) return d.ms;
    ctx.sink.add(ctx.route, field, "InvalidDuration", `${field}: ${d.error}; it is left out.`);
    return undefined;
  };
  const request = ms(rule.timeouts?.request, `${path}.timeouts.request`);
  const backend = ms(rule.timeouts?.backendRequest, `${path}.timeouts.backendRequest`);
  const out: Timing = {};
  const attempts = rule.retry?.attempts ?? 0;
  if (rule.retry !== undefined) {
    const retries: Retries = { attempts };
    if (rule.retry.codes !== undefined && rule.retry.codes.length > 0) retries.retryOn = rule.retry.codes.join(",");
    if (backend !== undefined && backend > 0) retries.perTryTimeoutMs = backend;
    out.retries = retries;
  }
  const whole = attempts > 0 ? request : [request, backend].filter((x): x is number => x !== undefined && x > 0).reduce<number | undefined>((a, b) => (a === undefined ? b : Math.min(a, b)), undefined);
  if (whole !== undefined && whole > 0) out.timeoutMs = whole;
  return out;
}
