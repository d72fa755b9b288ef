// HTTPRouteMatch → route-table match blocks. PathPrefix is segment-wise in the Gateway API
// ("/abc" matches "/abc", "/abc/" and "/abc/def", never "/abcd") while the table's prefix is a
// plain string prefix, so a prefix P becomes two blocks: exact P and prefix "P/". When the rule
// replaces the full path, the prefix is written as one regex instead, because the table replaces
// only the matched prefix of a prefix block (docs/route-table.md, rewrite.uri).
import type { HTTPRouteMatch, HTTPValueMatch } from "../../api/gateway-api.ts";
import type { MatchBlock, StringMatch } from "../../../../schema/route-table.ts";
import type { HTTPRouteContext } from "./context.ts";

/** How a block matched the path, which decides how a ReplacePrefixMatch rewrite is written. */
export type PathShape = "exact" | "prefixRest" | "root" | "regex";

export interface Variant {
  block: MatchBlock;
  shape: PathShape;
  /** The PathPrefix without its trailing slash ("" for "/"); for the rewrite of a prefix. */
  prefix: string;
}

const RE2_META = /[\\.+*?()|[\]{}^$]/g;

export function escapeRegex(s: string): string {
  return s.replace(RE2_META, (c) => `\\${c}`);
}

/**
 * The blocks of one match; undefined when a condition cannot be expressed exactly (an invalid
 * regex): the match is then dropped, never widened. `fullRewrite`: the rule replaces the whole
 * path, so a prefix must be one regex block.
 */
export function matchVariants(m: HTTPRouteMatch, path: string, fullRewrite: boolean, ctx: HTTPRouteContext): Variant[] | undefined {
  const common: MatchBlock = {};
  if (m.method !== undefined) common.method = { exact: m.method };
  const headers = valueMatches(m.headers, `${path}.headers`, true, ctx);
  const query = valueMatches(m.queryParams, `${path}.queryParams`, false, ctx);
  if (headers === undefined || query === undefined) return undefined;
  if (Object.keys(headers).length > 0) common.headers = headers;
  if (Object.keys(query).length > 0) common.queryParams = query;
  const with_ = (uri: StringMatch | undefined, shape: PathShape, prefix: string): Variant => ({ block: uri === undefined ? { ...common } : { uri, ...common }, shape, prefix });
  const { type, value } = m.path;
  if (type === "Exact") return [with_({ exact: value }, "exact", value)];
  if (type === "RegularExpression") {
    const re = checkedRegex(value, `${path}.path.value`, ctx);
    return re === undefined ? undefined : [with_(re, "regex", "")];
  }
  const prefix = value.endsWith("/") ? value.replace(/\/+$/, "") : value;
  if (fullRewrite) return [with_({ regex: prefix === "" ? "/.*" : `${escapeRegex(prefix)}(/.*)?` }, "regex", prefix)];
  if (prefix === "") return [with_(undefined, "root", "")];
  return [with_({ exact: prefix }, "exact", prefix), with_({ prefix: `${prefix}/` }, "prefixRest", prefix)];
}

/**
 * Header (case-insensitive names) or query parameter (exact names) conditions. As the spec says,
 * only the first entry of a name counts.
 */
function valueMatches(list: readonly HTTPValueMatch[], path: string, header: boolean, ctx: HTTPRouteContext): Record<string, StringMatch> | undefined {
  const out: Record<string, StringMatch> = {};
  let ok = true;
  list.forEach((v, i) => {
    const name = header ? v.name.toLowerCase() : v.name;
    if (name in out) return;
    if (v.type === "Exact") out[name] = { exact: v.value };
    else {
      const re = checkedRegex(v.value, `${path}[${i}].value`, ctx);
      if (re === undefined) ok = false;
      else out[name] = re;
    }
  });
  return ok ? out : undefined;
}

function checkedRegex(pattern: string, field: string, ctx: HTTPRouteContext): StringMatch | undefined {
  const error = pattern === "" ? "empty pattern" : ctx.validateRegex(pattern);
  if (error === null) return { regex: pattern };
  ctx.sink.add(ctx.route, field, "InvalidRegex", `${field}: regex ${JSON.stringify(pattern)} cannot be used by the gateway's RE2-syntax engine (${error}). This match is dropped (never matched more widely than written); fix the pattern.`);
  return undefined;
}

/** The precedence key of a match (spec order; see precedence.ts). */
export function matchRank(m: HTTPRouteMatch): { pathRank: number; prefixLength: number; method: number; headers: number; query: number } {
  const pathRank = m.path.type === "Exact" ? 0 : m.path.type === "PathPrefix" ? 1 : 2;
  // Longer first within a kind, as Istio's conversion sorts (regexes by their length too).
  const prefixLength = m.path.type === "PathPrefix" ? m.path.value.replace(/\/+$/, "").length : m.path.type === "RegularExpression" ? m.path.value.length : 0;
  return { pathRank, prefixLength, method: m.method === undefined ? 0 : 1, headers: new Set(m.headers.map((h) => h.name.toLowerCase())).size, query: new Set(m.queryParams.map((q) => q.name)).size };
}
