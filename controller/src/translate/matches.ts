// HTTPMatchRequest → MatchBlock. Rule: a block is never made wider than written. A block with a
// condition Canal cannot express exactly (an invalid regex or header name, an unsupported field
// such as sourceLabels or port) is dropped whole; the route keeps its other blocks.
import type { HTTPMatchRequest, StringMatchInput } from "../api/istio.ts";
import { mapKey } from "../api/reader.ts";
import type { HeaderMatch, MatchBlock, StringMatch } from "../../../schema/route-table.ts";
import { ignoredAt, type RouteContext } from "./context.ts";
import { isHeaderName } from "./headers.ts";
import { resolveGatewayRef } from "./names.ts";

/** Match fields that only label or count: ignoring them does not change what matches. */
const HARMLESS_MATCH_FIELDS = ["statPrefix"];

export type MatchOutcome =
  /** Use these blocks; undefined: the route has no match and matches everything. */
  | { kind: "blocks"; blocks: MatchBlock[] | undefined }
  /** Every block is for other gateways (match.gateways): the route is not for this gateway. */
  | { kind: "notApplicable" }
  /** Every applicable block was dropped for a problem: the route must go. */
  | { kind: "dropped" };

export function translateMatches(matches: readonly HTTPMatchRequest[] | undefined, path: string, ctx: RouteContext): MatchOutcome {
  if (matches === undefined || matches.length === 0) return { kind: "blocks", blocks: undefined };
  const blocks: MatchBlock[] = [];
  let applicable = 0;
  matches.forEach((m, j) => {
    const mp = `${path}.match[${j}]`;
    if (!appliesToGateway(m, ctx)) return;
    applicable++;
    const block = translateBlock(m, mp, ctx);
    if (block !== undefined) blocks.push(block);
  });
  if (blocks.length > 0) return { kind: "blocks", blocks };
  return applicable === 0 ? { kind: "notApplicable" } : { kind: "dropped" };
}

/** A block with `gateways` applies only to the gateways it names (Istio: they override the VirtualService's). */
function appliesToGateway(m: HTTPMatchRequest, ctx: RouteContext): boolean {
  if (m.gateways === undefined || m.gateways.length === 0) return true;
  return m.gateways.some((g) => resolveGatewayRef(g, ctx.vs.metadata.namespace) === ctx.gatewayKey);
}

function translateBlock(m: HTTPMatchRequest, path: string, ctx: RouteContext): MatchBlock | undefined {
  // Unsupported conditions were reported with the other ignored fields; here they only decide.
  const blocking = ignoredAt(ctx.vs, path).filter((f) => !HARMLESS_MATCH_FIELDS.includes(lastSegment(f.path)));
  let ok = blocking.length === 0;
  const block: MatchBlock = {};
  if (m.name !== undefined) block.name = m.name;
  for (const key of ["uri", "scheme", "method", "authority"] as const) {
    const input = m[key];
    if (input === undefined) continue;
    const sm = stringMatch(input, `${path}.${key}`, ctx);
    if (sm === undefined) ok = false;
    else block[key] = sm;
  }
  for (const key of ["headers", "withoutHeaders"] as const) {
    const input = m[key];
    if (input === undefined) continue;
    const hm = headerMatches(input, `${path}.${key}`, ctx);
    if (hm === undefined) ok = false;
    else if (Object.keys(hm).length > 0) block[key] = hm;
  }
  if (m.queryParams !== undefined) {
    const qm = queryMatches(m.queryParams, `${path}.queryParams`, ctx);
    if (qm === undefined) ok = false;
    else if (Object.keys(qm).length > 0) block.queryParams = qm;
  }
  if (m.ignoreUriCase === true) block.ignoreUriCase = true;
  return ok ? block : undefined;
}

function lastSegment(path: string): string {
  const m = /([A-Za-z0-9_$]+)$/.exec(path);
  return m?.[1] ?? "";
}

/** exact | prefix | regex, exactly one. The problem says the block is dropped. */
export function stringMatch(input: StringMatchInput, path: string, ctx: RouteContext): StringMatch | undefined {
  const kinds = (["exact", "prefix", "regex"] as const).filter((k) => input[k] !== undefined);
  if (kinds.length !== 1) {
    const what = kinds.length === 0 ? "is empty" : `sets ${kinds.join(" and ")}`;
    ctx.sink.add(ctx.vs, path, "InvalidMatch", `${path} ${what}; a string match needs exactly one of exact, prefix or regex. This match block is dropped (never matched more widely than written).`);
    return undefined;
  }
  const kind = kinds[0] as "exact" | "prefix" | "regex";
  const value = input[kind] as string;
  if (kind === "exact") return { exact: value };
  if (kind === "prefix") return { prefix: value };
  return checkedRegex(value, `${path}.regex`, ctx);
}

function checkedRegex(pattern: string, path: string, ctx: RouteContext): StringMatch | undefined {
  const error = pattern === "" ? "empty pattern" : ctx.validateRegex(pattern);
  if (error === null) return { regex: pattern };
  if (error.includes("regex budget")) {
    ctx.sink.add(ctx.vs, path, "InvalidRegex", `${path}: regex ${JSON.stringify(pattern)} is too costly for the shared gateway (${error}). This match block is dropped; make the pattern smaller (fewer or shorter counted repeats) or match by prefix or exact value.`);
    return undefined;
  }
  ctx.sink.add(ctx.vs, path, "InvalidRegex", `${path}: regex ${JSON.stringify(pattern)} does not compile in the gateway's RE2-syntax engine (${error}). This match block is dropped; fix the pattern (RE2 syntax, no backreferences or lookaround).`);
  return undefined;
}

function headerMatches(input: Record<string, StringMatchInput>, path: string, ctx: RouteContext): Record<string, HeaderMatch> | undefined {
  const out: Record<string, HeaderMatch> = {};
  let ok = true;
  for (const [raw, value] of Object.entries(input)) {
    const field = mapKey(path, raw);
    const name = raw.toLowerCase();
    if (!isHeaderName(name)) {
      ctx.sink.add(ctx.vs, field, "InvalidHeaderName", `${field}: ${JSON.stringify(raw)} is not a valid header name (letters, digits and !#$%&'*+.^_\`|~-). This match block is dropped.`);
      ok = false;
      continue;
    }
    if (name in out) {
      ctx.sink.add(ctx.vs, field, "InvalidHeaderName", `${field}: header "${name}" is matched twice (header names are case-insensitive). This match block is dropped; merge the two conditions.`);
      ok = false;
      continue;
    }
    if (value.exact === undefined && value.prefix === undefined && value.regex === undefined) {
      out[name] = { present: true };
      continue;
    }
    const sm = stringMatch(value, field, ctx);
    if (sm === undefined) ok = false;
    else out[name] = sm;
  }
  return ok ? out : undefined;
}

function queryMatches(input: Record<string, StringMatchInput>, path: string, ctx: RouteContext): Record<string, StringMatch> | undefined {
  const out: Record<string, StringMatch> = {};
  let ok = true;
  for (const [name, value] of Object.entries(input)) {
    const field = mapKey(path, name);
    if (name === "") {
      ctx.sink.add(ctx.vs, field, "InvalidMatch", `${path} has an empty query parameter name. This match block is dropped.`);
      ok = false;
      continue;
    }
    if (value.exact === undefined && value.prefix === undefined && value.regex === undefined) {
      // Presence: any value, including none ("?flag").
      out[name] = { regex: ".*" };
      continue;
    }
    const sm = stringMatch(value, field, ctx);
    if (sm === undefined) ok = false;
    else out[name] = sm;
  }
  return ok ? out : undefined;
}
