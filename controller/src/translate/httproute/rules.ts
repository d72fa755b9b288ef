// One HTTPRoute rule → its translated parts (computed once per rule), and one (rule, match) →
// route-table routes. A rule that cannot route as written keeps its matches and answers 500 with
// the reason, so its requests never fall through to a rule that was not meant for them.
import type { Service } from "../../api/core.ts";
import type { HTTPRoute, HTTPRouteMatch, HTTPRouteRule } from "../../api/gateway-api.ts";
import type { Route, StringMatch } from "../../../../schema/route-table.ts";
import type { ClusterRef } from "../destinations.ts";
import { translateBackends, type BackendsOutcome } from "./backends.ts";
import { INVALID_RULE_STATUS, type HTTPRouteContext } from "./context.ts";
import { ruleFilters, ruleTiming, type RuleFilters, type Timing } from "./filters.ts";
import { matchVariants, type Variant } from "./matches.ts";

export interface TranslatedRule {
  index: number;
  name: string;
  filters: RuleFilters;
  backends: BackendsOutcome | undefined;
  timing: Timing;
}

export function ruleName(route: HTTPRoute, rule: HTTPRouteRule, index: number): string {
  return `${route.metadata.namespace}/${route.metadata.name}.${rule.name ?? `rules[${index}]`}`;
}

export function translateRule(rule: HTTPRouteRule, index: number, ctx: HTTPRouteContext): TranslatedRule {
  const path = `spec.rules[${index}]`;
  const filters = ruleFilters(rule, path, ctx);
  const backends = filters.redirect === undefined && filters.unsupported === undefined ? translateBackends(rule.backendRefs, `${path}.backendRefs`, ctx) : undefined;
  return { index, name: ruleName(ctx.route, rule, index), filters, backends, timing: ruleTiming(rule, path, ctx) };
}

export interface EntryRoutes {
  routes: Route[];
  services: Service[];
  clusters: ClusterRef[];
}

/**
 * The routes of one match of a translated rule. `authority`: the parentRef port's condition
 * (undefined when the route applies to every port). Undefined when the match is dropped.
 */
export function matchRoutes(rule: HTTPRouteRule, t: TranslatedRule, match: HTTPRouteMatch, matchIndex: number, authority: StringMatch | undefined, ctx: HTTPRouteContext): EntryRoutes | undefined {
  const matchPath = `spec.rules[${t.index}].matches[${matchIndex}]`;
  // Matches of one rule are ordered apart by precedence, so each route names its match.
  const name = rule.matches.length > 1 ? `${t.name}.matches[${matchIndex}]` : t.name;
  const rewritePath = t.filters.rewrite?.path;
  const redirectPath = t.filters.redirect?.path;
  const fullRewrite = rewritePath?.type === "ReplaceFullPath" || redirectPath?.type === "ReplaceFullPath";
  const variants = matchVariants(match, matchPath, fullRewrite, ctx);
  if (variants === undefined) return undefined;
  const blocks = (vs: readonly Variant[]): Route["match"] => {
    const list = vs.map((v) => (authority === undefined ? v.block : { ...v.block, authority }));
    // A block without conditions matches everything: the route needs no match at all.
    return list.some((b) => Object.keys(b).length === 0) ? undefined : list;
  };
  const base = (vs: readonly Variant[]): Route => {
    const m = blocks(vs);
    return m === undefined ? { name } : { name, match: m };
  };
  const fail = (why: string): EntryRoutes => ({ routes: [{ ...base(variants), directResponse: { status: INVALID_RULE_STATUS, body: `canal: rule ${name} cannot route: ${why}\n` } }], services: [], clusters: [] });
  if (t.filters.unsupported !== undefined) return fail(t.filters.unsupported);
  if (t.filters.redirect !== undefined) {
    const redirect = t.filters.redirect.redirect;
    if (redirectPath?.type !== "ReplacePrefixMatch") {
      const full = redirectPath === undefined ? {} : { uri: redirectPath.replaceFullPath === "" ? "/" : redirectPath.replaceFullPath };
      return { routes: [{ ...base(variants), redirect: { ...redirect, ...full } }], services: [], clusters: [] };
    }
    // As for a prefix rewrite: an exact path is replaced whole, the rest of a prefix is kept.
    const r = redirectPath.replacePrefixMatch;
    const routes: Route[] = [];
    for (const v of variants) {
      if (v.shape === "regex") return fail("ReplacePrefixMatch needs a PathPrefix match (UnsupportedValue)");
      routes.push({ ...base([v]), redirect: v.shape === "exact" ? { ...redirect, uri: r || "/" } : { ...redirect, prefixRewrite: `${r.replace(/\/+$/, "")}/` } });
    }
    return { routes, services: [], clusters: [] };
  }
  const b = t.backends;
  if (b === undefined || !b.ok) return fail(b?.why ?? "no backends");
  const routed = (vs: readonly Variant[], uri: string | undefined): Route => {
    const r: Route = { ...base(vs), route: b.clusters };
    if (b.unrouted > 0) r.unroutedWeight = b.unrouted;
    const authorityRewrite = t.filters.rewrite?.authority;
    if (uri !== undefined || authorityRewrite !== undefined) r.rewrite = { ...(uri === undefined ? {} : { uri }), ...(authorityRewrite === undefined ? {} : { authority: authorityRewrite }) };
    if (t.filters.headers !== undefined) r.headers = t.filters.headers;
    if (t.timing.timeoutMs !== undefined) r.timeoutMs = t.timing.timeoutMs;
    if (t.timing.retries !== undefined) r.retries = t.timing.retries;
    return r;
  };
  const out: EntryRoutes = { routes: [], services: b.services, clusters: b.refs };
  if (rewritePath === undefined) out.routes.push(routed(variants, undefined));
  else if (rewritePath.type === "ReplaceFullPath") out.routes.push(routed(variants, rewritePath.replaceFullPath === "" ? "/" : rewritePath.replaceFullPath));
  else {
    // The table rewrites per route, so each variant is its own route: an exact path is replaced
    // whole, the rest of a prefix keeps its segments ("/p/x" with "/p" → "/r" is "/r/x").
    const r = rewritePath.replacePrefixMatch;
    for (const v of variants) {
      if (v.shape === "regex") return fail("ReplacePrefixMatch needs a PathPrefix match (UnsupportedValue)");
      out.routes.push(routed([v], v.shape === "exact" ? r || "/" : `${r.replace(/\/+$/, "")}/`));
    }
  }
  return out;
}
