// The Gateway API's match precedence, across every rule of every route attached to one parent
// (spec: HTTPRouteRule.matches): an Exact path first, then the longest PathPrefix (characters,
// trailing slash ignored), then a method match, then more header matches, then more query
// parameter matches; ties go to the oldest route, then "namespace/name" alphabetically, then the
// first rule and match in list order. RegularExpression paths, which the spec leaves to the
// implementation, rank after every prefix, longer patterns first: the order of Istio's own
// conversion (pilot/pkg/config/kube/gateway/conversion.go, sortHTTPRoutes: Exact > Prefix > Regex).
import type { HTTPRoute, HTTPRouteMatch, HTTPRouteRule } from "../../api/gateway-api.ts";
import { compareAge } from "../order.ts";
import { matchRank } from "./matches.ts";

export interface Entry {
  route: HTTPRoute;
  rule: HTTPRouteRule;
  ruleIndex: number;
  match: HTTPRouteMatch;
  matchIndex: number;
  rank: ReturnType<typeof matchRank>;
}

export function entriesOf(route: HTTPRoute): Entry[] {
  return route.spec.rules.flatMap((rule, ruleIndex) => rule.matches.map((match, matchIndex) => ({ route, rule, ruleIndex, match, matchIndex, rank: matchRank(match) })));
}

export function compareEntries(a: Entry, b: Entry): number {
  const x = a.rank;
  const y = b.rank;
  return (
    x.pathRank - y.pathRank ||
    y.prefixLength - x.prefixLength ||
    y.method - x.method ||
    y.headers - x.headers ||
    y.query - x.query ||
    compareAge(a.route, b.route) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex
  );
}
