// Istio VirtualService spec. Supported fields are typed; the other Istio fields are recorded as
// known ignored fields so the translator can report them (and, inside a match block, refuse to
// widen the match).
import type {
  Destination, FaultAbort, FaultDelay, HeaderOpsInput, HeadersInput, HTTPDirectResponse, HTTPFaultInjection,
  HTTPMatchRequest, HTTPRedirect, HTTPRetry, HTTPRewrite, HTTPRoute, HTTPRouteDestination, Percent,
  StringMatchInput, VirtualServiceSpec,
} from "./istio.ts";
import { mapKey, opt, type Reader } from "./reader.ts";

type Read<T> = (v: unknown, path: string) => T | undefined;

export function parseVirtualServiceSpec(r: Reader, v: unknown): VirtualServiceSpec | undefined {
  const o = r.object(v, "spec", ["hosts", "gateways", "http", "exportTo"], ["tls", "tcp"]);
  if (o === undefined) return undefined;
  return {
    hosts: opt(o, "hosts", "spec", (x, p) => r.stringList(x, p)) ?? [],
    gateways: opt(o, "gateways", "spec", (x, p) => r.stringList(x, p)) ?? [],
    http: opt(o, "http", "spec", (x, p) => r.array(x, p, (h, hp) => httpRoute(r, h, hp))) ?? [],
    exportTo: opt(o, "exportTo", "spec", (x, p) => r.stringList(x, p)) ?? [],
  };
}

const ROUTE_FIELDS = ["name", "match", "route", "redirect", "directResponse", "rewrite", "timeout", "retries", "fault", "headers"];
const ROUTE_KNOWN = ["delegate", "mirror", "mirrors", "mirrorPercent", "mirrorPercentage", "mirror_percent", "corsPolicy"];

function httpRoute(r: Reader, v: unknown, path: string): HTTPRoute | undefined {
  const o = r.object(v, path, ROUTE_FIELDS, ROUTE_KNOWN);
  if (o === undefined) return undefined;
  const route: HTTPRoute = {};
  set(route, "name", opt(o, "name", path, (x, p) => r.string(x, p)));
  set(route, "match", opt(o, "match", path, (x, p) => r.array(x, p, (m, mp) => matchRequest(r, m, mp))));
  set(route, "route", opt(o, "route", path, (x, p) => r.array(x, p, (d, dp) => routeDestination(r, d, dp))));
  set(route, "redirect", opt(o, "redirect", path, (x, p) => redirect(r, x, p)));
  set(route, "directResponse", opt(o, "directResponse", path, (x, p) => directResponse(r, x, p)));
  set(route, "rewrite", opt(o, "rewrite", path, (x, p) => rewrite(r, x, p)));
  set(route, "timeout", opt(o, "timeout", path, (x, p) => r.string(x, p)));
  set(route, "retries", opt(o, "retries", path, (x, p) => retries(r, x, p)));
  set(route, "fault", opt(o, "fault", path, (x, p) => fault(r, x, p)));
  set(route, "headers", opt(o, "headers", path, (x, p) => headers(r, x, p)));
  return route;
}

const MATCH_FIELDS = ["name", "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "ignoreUriCase", "gateways"];
const MATCH_KNOWN = ["port", "sourceLabels", "sourceNamespace", "statPrefix"];

function matchRequest(r: Reader, v: unknown, path: string): HTTPMatchRequest | undefined {
  const o = r.object(v, path, MATCH_FIELDS, MATCH_KNOWN);
  if (o === undefined) return undefined;
  const m: HTTPMatchRequest = {};
  const sm: Read<StringMatchInput> = (x, p) => stringMatch(r, x, p);
  const smMap: Read<Record<string, StringMatchInput>> = (x, p) => matchMap(r, x, p);
  set(m, "name", opt(o, "name", path, (x, p) => r.string(x, p)));
  set(m, "uri", opt(o, "uri", path, sm));
  set(m, "scheme", opt(o, "scheme", path, sm));
  set(m, "method", opt(o, "method", path, sm));
  set(m, "authority", opt(o, "authority", path, sm));
  set(m, "headers", opt(o, "headers", path, smMap));
  set(m, "withoutHeaders", opt(o, "withoutHeaders", path, smMap));
  set(m, "queryParams", opt(o, "queryParams", path, smMap));
  set(m, "ignoreUriCase", opt(o, "ignoreUriCase", path, (x, p) => r.boolean(x, p)));
  set(m, "gateways", opt(o, "gateways", path, (x, p) => r.stringList(x, p)));
  return m;
}

function stringMatch(r: Reader, v: unknown, path: string): StringMatchInput | undefined {
  const o = r.object(v, path, ["exact", "prefix", "regex"]);
  if (o === undefined) return undefined;
  const m: StringMatchInput = {};
  set(m, "exact", opt(o, "exact", path, (x, p) => r.string(x, p)));
  set(m, "prefix", opt(o, "prefix", path, (x, p) => r.string(x, p)));
  set(m, "regex", opt(o, "regex", path, (x, p) => r.string(x, p)));
  return m;
}

function matchMap(r: Reader, v: unknown, path: string): Record<string, StringMatchInput> | undefined {
  const o = r.map(v, path);
  if (o === undefined) return undefined;
  const out: Record<string, StringMatchInput> = {};
  for (const [k, x] of Object.entries(o)) {
    // `name: {}` and `name:` (null) both mean "present".
    const m = x === null ? {} : stringMatch(r, x, mapKey(path, k));
    if (m !== undefined) out[k] = m;
  }
  return out;
}

function routeDestination(r: Reader, v: unknown, path: string): HTTPRouteDestination | undefined {
  const o = r.object(v, path, ["destination", "weight", "headers"]);
  if (o === undefined) return undefined;
  const destination = opt(o, "destination", path, (x, p) => dest(r, x, p));
  if (destination === undefined) return r.fail(`${path}.destination`, "required");
  const out: HTTPRouteDestination = { destination };
  set(out, "weight", opt(o, "weight", path, (x, p) => r.integer(x, p)));
  set(out, "headers", opt(o, "headers", path, (x, p) => headers(r, x, p)));
  return out;
}

function dest(r: Reader, v: unknown, path: string): Destination | undefined {
  const o = r.object(v, path, ["host", "subset", "port"]);
  if (o === undefined) return undefined;
  const host = opt(o, "host", path, (x, p) => r.string(x, p));
  if (host === undefined) return r.fail(`${path}.host`, "required");
  const out: Destination = { host };
  set(out, "subset", opt(o, "subset", path, (x, p) => r.string(x, p)));
  set(out, "port", opt(o, "port", path, (x, p) => {
    const po = r.object(x, p, ["number"]);
    if (po === undefined) return undefined;
    const n = opt(po, "number", p, (y, yp) => r.integer(y, yp));
    return n === undefined ? {} : { number: n };
  }));
  return out;
}

function headers(r: Reader, v: unknown, path: string): HeadersInput | undefined {
  const o = r.object(v, path, ["request", "response"]);
  if (o === undefined) return undefined;
  const out: HeadersInput = {};
  set(out, "request", opt(o, "request", path, (x, p) => headerOps(r, x, p)));
  set(out, "response", opt(o, "response", path, (x, p) => headerOps(r, x, p)));
  return out;
}

function headerOps(r: Reader, v: unknown, path: string): HeaderOpsInput | undefined {
  const o = r.object(v, path, ["set", "add", "remove"]);
  if (o === undefined) return undefined;
  const out: HeaderOpsInput = {};
  set(out, "set", opt(o, "set", path, (x, p) => r.stringMap(x, p)));
  set(out, "add", opt(o, "add", path, (x, p) => r.stringMap(x, p)));
  set(out, "remove", opt(o, "remove", path, (x, p) => r.stringList(x, p)));
  return out;
}

function redirect(r: Reader, v: unknown, path: string): HTTPRedirect | undefined {
  const o = r.object(v, path, ["uri", "authority", "port", "scheme", "redirectCode"], ["derivePort"]);
  if (o === undefined) return undefined;
  const out: HTTPRedirect = {};
  set(out, "uri", opt(o, "uri", path, (x, p) => r.string(x, p)));
  set(out, "authority", opt(o, "authority", path, (x, p) => r.string(x, p)));
  set(out, "port", opt(o, "port", path, (x, p) => r.integer(x, p)));
  set(out, "scheme", opt(o, "scheme", path, (x, p) => r.string(x, p)));
  set(out, "redirectCode", opt(o, "redirectCode", path, (x, p) => r.integer(x, p)));
  return out;
}

function directResponse(r: Reader, v: unknown, path: string): HTTPDirectResponse | undefined {
  const o = r.object(v, path, ["status", "body"]);
  if (o === undefined) return undefined;
  const status = opt(o, "status", path, (x, p) => r.integer(x, p));
  if (status === undefined) return r.fail(`${path}.status`, "required");
  const out: HTTPDirectResponse = { status };
  set(out, "body", opt(o, "body", path, (x, p) => {
    const bo = r.object(x, p, ["string", "bytes"]);
    if (bo === undefined) return undefined;
    const body: { string?: string; bytes?: string } = {};
    set(body, "string", opt(bo, "string", p, (y, yp) => r.string(y, yp)));
    set(body, "bytes", opt(bo, "bytes", p, (y, yp) => r.string(y, yp)));
    return body;
  }));
  return out;
}

function rewrite(r: Reader, v: unknown, path: string): HTTPRewrite | undefined {
  const o = r.object(v, path, ["uri", "authority"], ["uriRegexRewrite"]);
  if (o === undefined) return undefined;
  const out: HTTPRewrite = {};
  set(out, "uri", opt(o, "uri", path, (x, p) => r.string(x, p)));
  set(out, "authority", opt(o, "authority", path, (x, p) => r.string(x, p)));
  return out;
}

function retries(r: Reader, v: unknown, path: string): HTTPRetry | undefined {
  const o = r.object(v, path, ["attempts", "perTryTimeout", "retryOn"], ["retryRemoteLocalities", "retryIgnorePreviousHosts", "backoff"]);
  if (o === undefined) return undefined;
  const out: HTTPRetry = {};
  set(out, "attempts", opt(o, "attempts", path, (x, p) => r.integer(x, p)));
  set(out, "perTryTimeout", opt(o, "perTryTimeout", path, (x, p) => r.string(x, p)));
  set(out, "retryOn", opt(o, "retryOn", path, (x, p) => r.string(x, p)));
  return out;
}

function percent(r: Reader, v: unknown, path: string): Percent | undefined {
  const o = r.object(v, path, ["value"]);
  if (o === undefined) return undefined;
  const value = opt(o, "value", path, (x, p) => r.number(x, p));
  return value === undefined ? {} : { value };
}

function fault(r: Reader, v: unknown, path: string): HTTPFaultInjection | undefined {
  const o = r.object(v, path, ["delay", "abort"]);
  if (o === undefined) return undefined;
  const out: HTTPFaultInjection = {};
  set(out, "delay", opt(o, "delay", path, (x, p) => {
    const d = r.object(x, p, ["fixedDelay", "percentage", "percent"], ["exponentialDelay"]);
    if (d === undefined) return undefined;
    const delay: FaultDelay = {};
    set(delay, "fixedDelay", opt(d, "fixedDelay", p, (y, yp) => r.string(y, yp)));
    set(delay, "percentage", opt(d, "percentage", p, (y, yp) => percent(r, y, yp)));
    set(delay, "percent", opt(d, "percent", p, (y, yp) => r.integer(y, yp)));
    return delay;
  }));
  set(out, "abort", opt(o, "abort", path, (x, p) => {
    const a = r.object(x, p, ["httpStatus", "percentage"], ["grpcStatus", "http2Error"]);
    if (a === undefined) return undefined;
    const abort: FaultAbort = {};
    set(abort, "httpStatus", opt(a, "httpStatus", p, (y, yp) => r.integer(y, yp)));
    set(abort, "percentage", opt(a, "percentage", p, (y, yp) => percent(r, y, yp)));
    return abort;
  }));
  return out;
}

/** Assigns only defined values, so parsed objects never carry `key: undefined`. */
function set<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
