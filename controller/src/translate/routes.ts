// One Istio HTTPRoute → one route-table Route (or none). The safety rules:
// - matches never get wider (matches.ts); a route left without any usable match block is dropped;
// - a route whose action cannot be expressed keeps its place and matches, but answers 503 with a
//   body that says why, so requests never fall through to a route that was not meant for them;
// - modifiers that cannot be expressed are left out and reported (rewrite excepted: 503).
import type { Service } from "../api/core.ts";
import type { HTTPRoute } from "../api/istio.ts";
import type { Route } from "../../../schema/route-table.ts";
import { translateDirectResponse, translateRedirect } from "./actions.ts";
import { ignoredAt, type RouteContext } from "./context.ts";
import { translateDestinations, type ClusterRef } from "./destinations.ts";
import { translateHeaders } from "./headers.ts";
import { translateMatches } from "./matches.ts";
import { translateFault, translateRetries, translateRewrite, translateTimeout } from "./modifiers.ts";

export type RouteOutcome =
  | { kind: "route"; route: Route; services: Service[]; clusters: ClusterRef[] }
  /** Not part of this gateway's table (dropped, or its match blocks target other gateways). */
  | { kind: "none" };

const ROUTE_ONLY = ["rewrite", "headers", "fault", "timeout", "retries"] as const;

export function routeName(ctx: RouteContext, http: HTTPRoute, index: number): string {
  return `${ctx.vs.metadata.namespace}/${ctx.vs.metadata.name}.${http.name ?? `http[${index}]`}`;
}

export function translateRoute(http: HTTPRoute, index: number, ctx: RouteContext): RouteOutcome {
  const path = `spec.http[${index}]`;
  const name = routeName(ctx, http, index);
  const m = translateMatches(http.match, path, ctx);
  if (m.kind === "notApplicable") return { kind: "none" };
  if (m.kind === "dropped") {
    ctx.sink.add(ctx.vs, `${path}.match`, "RouteDropped", `${path} (${name}): every match block was dropped for the problems reported on it, so the route is left out; requests it would have taken go to the next matching route. Fix those problems to restore it.`);
    return { kind: "none" };
  }
  const base: Route = { name };
  if (m.blocks !== undefined) base.match = m.blocks;
  const actions = (["route", "redirect", "directResponse"] as const).filter((a) => http[a] !== undefined);
  if (actions.length !== 1) return unavailable(base, noAction(actions, path, ctx));
  if (http.route !== undefined) return routed(http, http.route, base, path, ctx);
  ignoreModifiers(http, path, ctx, actions[0] as string);
  if (http.redirect !== undefined) {
    const r = translateRedirect(http.redirect, `${path}.redirect`, ctx);
    return r.ok ? done({ ...base, redirect: r.value }) : unavailable(base, r.why);
  }
  const d = translateDirectResponse(http.directResponse as NonNullable<HTTPRoute["directResponse"]>, `${path}.directResponse`, ctx);
  return d.ok ? done({ ...base, directResponse: d.value }) : unavailable(base, d.why);
}

function routed(http: HTTPRoute, dests: NonNullable<HTTPRoute["route"]>, base: Route, path: string, ctx: RouteContext): RouteOutcome {
  const d = translateDestinations(dests, `${path}.route`, ctx);
  const rw = http.rewrite === undefined ? undefined : translateRewrite(http.rewrite, `${path}.rewrite`, ctx);
  if (!d.ok) return unavailable(base, d.why);
  if (rw !== undefined && !rw.ok) return unavailable(base, rw.why);
  const route: Route = { ...base, route: d.clusters };
  if (rw?.value !== undefined) route.rewrite = rw.value;
  const headers = translateHeaders(http.headers, `${path}.headers`, ctx);
  if (headers !== undefined) route.headers = headers;
  const fault = http.fault === undefined ? undefined : translateFault(http.fault, `${path}.fault`, ctx);
  if (fault !== undefined) route.fault = fault;
  const timeout = http.timeout === undefined ? undefined : translateTimeout(http.timeout, `${path}.timeout`, ctx);
  if (timeout !== undefined) route.timeoutMs = timeout;
  route.retries = translateRetries(http.retries, `${path}.retries`, ctx);
  return { kind: "route", route, services: d.services, clusters: d.refs };
}

function done(route: Route): RouteOutcome {
  return { kind: "route", route, services: [], clusters: [] };
}

/** The route keeps its matches but answers 503 with the reason. */
function unavailable(base: Route, why: string): RouteOutcome {
  const route: Route = { ...base, directResponse: { status: 503, body: `canal: route ${base.name ?? ""} is disabled: ${why}\n` } };
  return { kind: "route", route, services: [], clusters: [] };
}

function noAction(actions: readonly string[], path: string, ctx: RouteContext): string {
  if (actions.length === 0 && ignoredAt(ctx.vs, `${path}.delegate`).length > 0) {
    // Already reported as UnsupportedField with the other ignored fields.
    return "delegate is not supported (UnsupportedField)";
  }
  const message =
    actions.length === 0
      ? `${path} has no action; set one of route, redirect or directResponse.`
      : `${path} sets ${actions.join(" and ")}; only one of route, redirect or directResponse may be set.`;
  ctx.sink.add(ctx.vs, path, "InvalidRoute", `${message} The route answers 503 until this is fixed.`);
  return actions.length === 0 ? "the route has no action (InvalidRoute)" : "the route has more than one action (InvalidRoute)";
}

/** rewrite, headers, fault, timeout and retries only apply to routed requests. */
function ignoreModifiers(http: HTTPRoute, path: string, ctx: RouteContext, action: string): void {
  for (const key of ROUTE_ONLY) {
    if (http[key] === undefined) continue;
    ctx.sink.add(ctx.vs, `${path}.${key}`, "UnsupportedField", `${path}.${key} is ignored: Canal applies it only to routes with destinations, and this route is a ${action}. Remove it.`);
  }
}
