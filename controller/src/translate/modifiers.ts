// Modifiers of a routed request: rewrite, fault, timeout, retries. Bad values are reported and
// the modifier is left out, except rewrite: sending the request upstream with the path or host
// it was meant to lose could reach the wrong endpoint, so a bad rewrite makes the route 503.
import type { HTTPFaultInjection, HTTPRetry, HTTPRewrite, Percent } from "../api/istio.ts";
import type { Fault, Retries, Rewrite } from "../../../schema/route-table.ts";
import type { ActionOutcome } from "./actions.ts";
import { ignoredAt, type RouteContext } from "./context.ts";
import { parseDurationMs } from "./durations.ts";
import { isHeaderValue } from "./headers.ts";

const MAX_DELAY_MS = 3_600_000;
const MAX_ATTEMPTS = 100;

export function translateRewrite(r: HTTPRewrite, path: string, ctx: RouteContext): ActionOutcome<Rewrite | undefined> {
  const unsupported = ignoredAt(ctx.vs, path);
  if (unsupported.length > 0) {
    const names = unsupported.map((f) => f.path.slice(path.length + 1)).join(", ");
    return { ok: false, why: `rewrite ${names} is not supported (UnsupportedField)` };
  }
  const out: Rewrite = {};
  if (r.uri !== undefined) {
    if (r.uri === "" || !isHeaderValue(r.uri)) {
      ctx.sink.add(ctx.vs, `${path}.uri`, "InvalidRewrite", `${path}.uri: ${JSON.stringify(r.uri)} must be a non-empty path without control characters. The route answers 503 until this is fixed.`);
      return { ok: false, why: "invalid rewrite.uri (InvalidRewrite)" };
    }
    out.uri = r.uri;
  }
  if (r.authority !== undefined) {
    if (r.authority === "" || !isHeaderValue(r.authority) || /\s/.test(r.authority)) {
      ctx.sink.add(ctx.vs, `${path}.authority`, "InvalidRewrite", `${path}.authority: ${JSON.stringify(r.authority)} must be a non-empty host[:port]. The route answers 503 until this is fixed.`);
      return { ok: false, why: "invalid rewrite.authority (InvalidRewrite)" };
    }
    out.authority = r.authority;
  }
  return { ok: true, value: Object.keys(out).length === 0 ? undefined : out };
}

export function translateTimeout(timeout: string, path: string, ctx: RouteContext): number | undefined {
  const d = parseDurationMs(timeout);
  if (d.ok) return d.ms;
  ctx.sink.add(ctx.vs, path, "InvalidDuration", `${path}: ${d.error}; the route has no timeout until this is fixed.`);
  return undefined;
}

/** Istio's default when a route sets no retries: 2 attempts on the filter's default conditions. */
export const DEFAULT_RETRIES: Readonly<Retries> = Object.freeze({ attempts: 2 });

const RETRY_ON = new Set([
  "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited", "retriable-4xx",
  "refused-stream", "retriable-status-codes", "retriable-headers", "http3-post-connect-failure",
  "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
]);

export function translateRetries(r: HTTPRetry | undefined, path: string, ctx: RouteContext): Retries {
  if (r === undefined) return { ...DEFAULT_RETRIES };
  let attempts = r.attempts ?? 0;
  if (attempts < 0 || attempts > MAX_ATTEMPTS) {
    const used = attempts < 0 ? 0 : MAX_ATTEMPTS;
    ctx.sink.add(ctx.vs, `${path}.attempts`, "InvalidRetries", `${path}.attempts: ${attempts} is out of range (0-${MAX_ATTEMPTS}); ${used} is used.`);
    attempts = used;
  }
  const out: Retries = { attempts };
  if (attempts === 0) return out;
  if (r.perTryTimeout !== undefined) {
    const d = parseDurationMs(r.perTryTimeout);
    if (!d.ok || d.ms === 0) {
      const error = d.ok ? "must be at least 1ms" : d.error;
      ctx.sink.add(ctx.vs, `${path}.perTryTimeout`, "InvalidDuration", `${path}.perTryTimeout: ${error}; retries run without a per-try timeout until this is fixed.`);
    } else out.perTryTimeoutMs = d.ms;
  }
  if (r.retryOn !== undefined) {
    const retryOn = checkRetryOn(r.retryOn, `${path}.retryOn`, ctx);
    if (retryOn !== undefined) out.retryOn = retryOn;
  }
  return out;
}

/** Known Envoy conditions and HTTP status codes, normalized to "a,b,c". Unknown ones are dropped. */
function checkRetryOn(raw: string, path: string, ctx: RouteContext): string | undefined {
  const kept: string[] = [];
  for (const part of raw.split(",").map((s) => s.trim())) {
    const ok = RETRY_ON.has(part) || (/^\d{3}$/.test(part) && Number(part) >= 100 && Number(part) <= 599);
    if (!ok) {
      ctx.sink.add(ctx.vs, path, "InvalidRetries", `${path}: ${JSON.stringify(part)} is not a retry condition (Envoy's retry_on names such as 5xx, connect-failure, gateway-error, or an HTTP status code); it is left out.`);
      continue;
    }
    if (!kept.includes(part)) kept.push(part);
  }
  return kept.length === 0 ? undefined : kept.join(",");
}

export function translateFault(f: HTTPFaultInjection, path: string, ctx: RouteContext): Fault | undefined {
  const out: Fault = {};
  if (f.delay !== undefined) {
    const dp = `${path}.delay`;
    const pct = percentage(f.delay.percentage, f.delay.percent, dp, ctx);
    if (f.delay.fixedDelay === undefined) {
      if (ignoredAt(ctx.vs, dp).length === 0) ctx.sink.add(ctx.vs, `${dp}.fixedDelay`, "InvalidDuration", `${dp}.fixedDelay is required; no delay is injected.`);
    } else {
      const d = parseDurationMs(f.delay.fixedDelay, MAX_DELAY_MS);
      if (!d.ok) ctx.sink.add(ctx.vs, `${dp}.fixedDelay`, "InvalidDuration", `${dp}.fixedDelay: ${d.error}; no delay is injected until this is fixed.`);
      else if (pct !== undefined && pct > 0) out.delay = { fixedDelayMs: d.ms, percentage: pct };
    }
  }
  if (f.abort !== undefined) {
    const ap = `${path}.abort`;
    const pct = percentage(f.abort.percentage, undefined, ap, ctx);
    const status = f.abort.httpStatus;
    if (status === undefined) {
      if (ignoredAt(ctx.vs, ap).length === 0) ctx.sink.add(ctx.vs, `${ap}.httpStatus`, "InvalidStatus", `${ap}.httpStatus is required; no abort is injected.`);
    } else if (status < 200 || status > 599) {
      ctx.sink.add(ctx.vs, `${ap}.httpStatus`, "InvalidStatus", `${ap}.httpStatus: ${status} is not an HTTP status the gateway can send (200-599); no abort is injected until this is fixed.`);
    } else if (pct !== undefined && pct > 0) out.abort = { httpStatus: status, percentage: pct };
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * percentage.value (0-100, fractional), or the deprecated integer `percent`. Unset: Istio
 * injects into no request. undefined: invalid (reported).
 */
function percentage(p: Percent | undefined, legacy: number | undefined, path: string, ctx: RouteContext): number | undefined {
  const [field, value] = p !== undefined ? [`${path}.percentage.value`, p.value ?? 0] : [`${path}.percent`, legacy ?? 0];
  if (value < 0 || value > 100) {
    ctx.sink.add(ctx.vs, field, "InvalidPercentage", `${field}: ${value} is not a percentage (0-100); this fault is not injected until this is fixed.`);
    return undefined;
  }
  return value;
}
