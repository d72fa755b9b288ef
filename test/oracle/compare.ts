// What a client and a backend observe of one request, normalised so that Istio's native routing
// and Canal's can be compared field by field, and the rules that explain the differences Canal
// has on purpose (docs/istio-compat.md). Everything else that differs is a divergence.

import type { HttpResponse } from "../support/http.ts";
import type { Echo } from "../support/upstream.ts";

/** What one side did with one request. */
export interface Observation {
  status: number;
  /** The echo backend that answered (`name.namespace/version`), when one did. */
  upstream?: string;
  /** How many requests of this key the backend saw (retries). */
  attempt?: number;
  /** What the backend received. */
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  location?: string;
  /** Response headers the client got (volatile ones left out). */
  responseHeaders: Record<string, string>;
  /** The body of a response no backend sent (direct responses, aborts), else undefined. */
  localBody?: string;
}

/**
 * Request headers the backend sees that say nothing about routing, each with its reason:
 * - x-request-id: random per request;
 * - x-test-*: the harness's own (per-request keys, upstream behaviour);
 * - x-forwarded-for, x-forwarded-proto, x-envoy-external-address: set by the connection manager
 *   from the client connection; a sidecar's and a gateway's differ by Istio's own settings
 *   (use_remote_address), and both Canal gateways get istiod's;
 * - x-envoy-decorator-operation: the tracing span name istiod puts on each route (decorator);
 *   Canal has one route (docs/istio-compat.md, "Tracing decorator").
 */
const VOLATILE_REQUEST_HEADERS = new Set([
  "x-request-id",
  "x-test-key",
  "x-test-response-header",
  "x-test-delay-ms",
  "x-test-delay-times",
  "x-test-fail-times",
  "x-test-fail-status",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-envoy-external-address",
  "x-envoy-decorator-operation",
  "content-length",
]);

/**
 * Response headers left out: date (clock), x-envoy-upstream-service-time (timing),
 * content-length (the echo body carries random request ids), x-canal-table (Canal's table
 * version on its local replies), server (both are Envoy), x-upstream (covered by `upstream`).
 */
const VOLATILE_RESPONSE_HEADERS = new Set(["date", "x-envoy-upstream-service-time", "content-length", "x-canal-table", "server", "x-upstream"]);

function echoOf(res: HttpResponse): Echo | undefined {
  if (!(res.headers["content-type"] ?? "").toString().startsWith("application/json")) return undefined;
  try {
    const e = JSON.parse(res.body) as Echo;
    return typeof e.upstream === "string" ? e : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Headers whose presence is compared but not their value: x-envoy-expected-rq-timeout-ms is the
 * time left for the request when the router sends it (on a retry, after the first try's time).
 */
const TIMING_HEADERS = new Set(["x-envoy-expected-rq-timeout-ms"]);

function joined(rawHeaders: string[], skip: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const k = rawHeaders[i].toLowerCase();
    if (skip.has(k)) continue;
    if (TIMING_HEADERS.has(k)) {
      out[k] = "<time>";
      continue;
    }
    out[k] = out[k] === undefined ? rawHeaders[i + 1] : `${out[k]}, ${rawHeaders[i + 1]}`;
  }
  return out;
}

export function observe(res: HttpResponse): Observation {
  const e = echoOf(res);
  const o: Observation = { status: res.status, responseHeaders: joined(res.rawHeaders, VOLATILE_RESPONSE_HEADERS) };
  const location = res.headers.location;
  if (typeof location === "string") o.location = location;
  if (e !== undefined) {
    o.upstream = e.upstream;
    o.attempt = e.attempt;
    o.method = e.method;
    o.path = e.path;
    o.host = typeof e.headers.host === "string" ? e.headers.host : undefined;
    o.headers = joined(e.rawHeaders, new Set([...VOLATILE_REQUEST_HEADERS, "host"]));
  } else if (res.status !== 404) {
    o.localBody = res.body;
  }
  return o;
}

/** A request both sides answered differently, with where they differ. */
export interface Divergence {
  config: string;
  intent: string;
  via: string;
  host: string;
  method: string;
  path: string;
  fields: string[];
  native: Observation;
  canal: Observation;
}

/** The fields in which two observations differ ("" when none). */
export function differences(native: Observation, canal: Observation, splits: string[][]): string[] {
  const out: string[] = [];
  if (native.status !== canal.status) out.push("status");
  const drawn = native.upstream !== undefined && canal.upstream !== undefined && splits.some((s) => s.includes(native.upstream ?? "") && s.includes(canal.upstream ?? ""));
  if (native.upstream !== canal.upstream && !drawn) out.push("upstream");
  for (const k of ["attempt", "method", "path", "host", "location", "localBody"] as const) {
    if (native[k] !== canal[k]) out.push(k);
  }
  const nh = native.headers ?? {};
  const ch = canal.headers ?? {};
  for (const k of new Set([...Object.keys(nh), ...Object.keys(ch)])) if (nh[k] !== ch[k]) out.push(`request header ${k}`);
  // Local 404s: Canal explains its 404 (content-type, body); Envoy's NR 404 is empty.
  const bothLocal404 = native.status === 404 && canal.status === 404 && native.upstream === undefined && canal.upstream === undefined;
  if (!bothLocal404) {
    const nr = native.responseHeaders;
    const cr = canal.responseHeaders;
    for (const k of new Set([...Object.keys(nr), ...Object.keys(cr)])) if (nr[k] !== cr[k]) out.push(`response header ${k}`);
  }
  return out;
}

/** Facts about the request that the explanations need. */
export interface RequestFacts {
  host: string;
  /** Short names (no namespace) that exist in more than one namespace of the pool. */
  ambiguousNames: Set<string>;
}

/**
 * Why a divergence is on purpose, or undefined when it is not explained. Each reason names the
 * section of docs/istio-compat.md that describes it and what a migrating user does about it.
 */
export function explain(d: Omit<Divergence, "config" | "intent">, facts: RequestFacts): string | undefined {
  const bare = facts.host.toLowerCase().replace(/:\d+$/, "");
  if (!bare.includes(".") && facts.ambiguousNames.has(bare) && d.canal.status === 404 && d.canal.upstream === undefined) {
    return "ambiguous short name: Canal does not know the caller's namespace (istio-compat.md, 'Short names')";
  }
  return undefined;
}
