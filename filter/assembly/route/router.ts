// Route selection: host → virtual host → first matching route. Lookups and in-place byte
// comparisons only; everything was compiled when the table loaded.
import { M_PRESENT, StringMatcher, bytesEqual, resetRegexBudget } from "../matcher";
import { HEADER_MATCH, RequestView } from "./request";
import { RouteTable, VirtualHost, Route, MatchBlock, HeaderCondition } from "../table";

/** The virtual host for a normalized host; null when none serves it (or it is ambiguous). */
export function findVirtualHost(table: RouteTable, host: string): VirtualHost | null {
  if (host.length == 0) return null;
  if (table.exact.has(host)) {
    let vh = table.exact.get(host);
    return vh;
  }
  if (table.ambiguous.has(host)) return null;
  // Longest wildcard suffix first: a.b.example.com tries b.example.com, example.com, com.
  for (let i = 0; i < host.length; i++) {
    if (host.charCodeAt(i) != 0x2e) continue;
    let suffix = host.substring(i + 1);
    if (table.wildcard.has(suffix)) {
      let vh = table.wildcard.get(suffix);
      return vh;
    }
  }
  let any = table.catchAll;
  return any;
}

function matchOptional(m: StringMatcher | null, value: ArrayBuffer): bool {
  if (m === null) return true;
  return m.matchesBuffer(value);
}

/**
 * A header condition, read from the request's header pairs (no host call): a value condition
 * matches when any value of a repeated header does, as Envoy's header matchers (route/request.ts
 * headerMatch).
 */
function headerMatches(req: RequestView, c: HeaderCondition): bool {
  if (c.matcher.kind == M_PRESENT) return req.hasHeader(c.name);
  return req.headerMatch(c.name, c.matcher) == HEADER_MATCH;
}

function headersMatch(req: RequestView, conditions: Array<HeaderCondition>): bool {
  for (let i = 0; i < conditions.length; i++) {
    if (!headerMatches(req, conditions[i])) return false;
  }
  return true;
}

function anyHeaderMatches(req: RequestView, conditions: Array<HeaderCondition>): bool {
  for (let i = 0; i < conditions.length; i++) {
    if (headerMatches(req, conditions[i])) return true;
  }
  return false;
}

/** First occurrence of a query parameter: matches its raw value ("" without '='). */
function queryParamMatches(req: RequestView, c: HeaderCondition): bool {
  if (req.queryStart < 0) return false;
  let base = changetype<usize>(req.path);
  let end = req.queryEnd();
  let name = c.name;
  let nameLen = name.byteLength;
  let i = req.queryStart + 1;
  while (i <= end) {
    let segEnd = i;
    while (segEnd < end && load<u8>(base + <usize>segEnd) != 0x26) segEnd++;
    let eq = i;
    while (eq < segEnd && load<u8>(base + <usize>eq) != 0x3d) eq++;
    if (eq - i == nameLen && bytesEqual(base + <usize>i, changetype<usize>(name), nameLen, false)) {
      let vstart = eq < segEnd ? eq + 1 : segEnd;
      return c.matcher.matches(base + <usize>vstart, segEnd - vstart);
    }
    i = segEnd + 1;
  }
  return false;
}

function blockMatches(b: MatchBlock, req: RequestView): bool {
  let uri = b.uri;
  if (uri !== null && !uri.matches(changetype<usize>(req.path), req.pathLength)) return false;
  if (!matchOptional(b.authority, req.authority)) return false;
  if (b.method !== null && !matchOptional(b.method, req.getMethod())) return false;
  if (b.scheme !== null && !matchOptional(b.scheme, req.getScheme())) return false;
  let query = b.queryParams;
  for (let i = 0; i < query.length; i++) {
    if (!queryParamMatches(req, query[i])) return false;
  }
  if (!headersMatch(req, b.headers)) return false;
  if (anyHeaderMatches(req, b.withoutHeaders)) return false;
  return true;
}

/** The result of route selection: the route, and the block that matched (null = match-all). */
export class Selection {
  route: Route | null = null;
  block: MatchBlock | null = null;
}

export function selectRoute(vh: VirtualHost, req: RequestView, out: Selection): bool {
  resetRegexBudget();
  let routes = vh.routes;
  for (let i = 0; i < routes.length; i++) {
    let r = routes[i];
    let blocks = r.blocks;
    if (blocks.length == 0) {
      out.route = r;
      out.block = null;
      return true;
    }
    for (let j = 0; j < blocks.length; j++) {
      let b = blocks[j];
      if (blockMatches(b, req)) {
        out.route = r;
        out.block = b;
        return true;
      }
    }
  }
  return false;
}
