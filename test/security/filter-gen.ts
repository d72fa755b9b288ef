// Random route tables within the schema and its limits, and random requests against them, for
// the filter's property test (filter-property.test.ts). Seeded: the same seed gives the same
// tables and requests.
import { MAX_DESTINATIONS, MAX_TOTAL_WEIGHT } from "../../schema/route-table.ts";
import type { HeaderList } from "../emulator/host.ts";
import { rng } from "../unit/regex/harness.ts";

export type Rng = () => number;

export { rng };

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const chance = (r: Rng, p: number): boolean => r() < p;

const LABELS = ["a", "b", "api", "reviews", "x-1", "default", "svc", "cluster", "local", "z9"];
const HEADER_NAMES = ["x-user", "x-env", "x-canary", "user-agent", "x-a", "cookie", "x-long"];
const QUERY_NAMES = ["v", "q", "flag", "id", "a"];
/** Edge regexes within the regex budget: empty-able, nested stars, alternations, classes, anchors, flags, counted repeats. */
const REGEXES = [
  ".*", "a", "/api/v[0-9]+/users/[^/]+", "(a*)*b", "(a|aa)*c", ".*(foo|bar|baz).*", "[^/]*", "\\b\\w+\\b",
  "(?i)admin", "(?s).+", "^/$", "(?m)^a$", "[[:alpha:]]+", "\\d{1,3}(\\.\\d{1,3}){3}", "x{0,40}", "(?:ab){2,20}",
  "[\\x{100}-\\x{10FFFF}]+", "\\Q.*\\E", "(?U)a+?", ".{0,40}z", "[a-c-e]+", "\\x{FFFD}", "(?P<n>a|b)+",
  // Near the regex budget's 100 instructions, and DFA-hostile.
  ".*(?:a.{9}|b.{9}|c.{9}|d.{9}|e.{9}|f.{9}|g.{9})",
];
const LITERALS = ["/", "/api/", "/api", "/a/b", "", "/é/ü", "/%2F", "/api/v1/users", "x", "GET", "POST", "http", "https", "admin", "bob"];

function name(r: Rng): string {
  return Array.from({ length: int(r, 1, 4) }, () => pick(r, LABELS)).join(".");
}

function stringMatch(r: Rng, regexOk = true): Record<string, string> {
  const k = r();
  if (k < 0.35) return { exact: pick(r, LITERALS) };
  if (k < 0.7 || !regexOk) return { prefix: pick(r, LITERALS) };
  return { regex: pick(r, REGEXES) };
}

function headerMatches(r: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = int(r, 1, 3); i > 0; i--) out[pick(r, HEADER_NAMES)] = chance(r, 0.2) ? { present: true } : stringMatch(r);
  return out;
}

function matchBlock(r: Rng): Record<string, unknown> {
  const b: Record<string, unknown> = {};
  if (chance(r, 0.7)) b["uri"] = stringMatch(r);
  if (chance(r, 0.1)) b["scheme"] = stringMatch(r);
  if (chance(r, 0.15)) b["method"] = stringMatch(r);
  if (chance(r, 0.1)) b["authority"] = stringMatch(r);
  if (chance(r, 0.35)) b["headers"] = headerMatches(r);
  if (chance(r, 0.15)) b["withoutHeaders"] = headerMatches(r);
  if (chance(r, 0.2)) {
    const q: Record<string, unknown> = {};
    for (let i = int(r, 1, 2); i > 0; i--) q[pick(r, QUERY_NAMES)] = stringMatch(r);
    b["queryParams"] = q;
  }
  if (chance(r, 0.15)) b["ignoreUriCase"] = chance(r, 0.5);
  return b;
}

function headerOps(r: Rng): Record<string, unknown> {
  const ops: Record<string, unknown> = {};
  if (chance(r, 0.5)) ops["set"] = { [pick(r, HEADER_NAMES)]: pick(r, LITERALS) };
  if (chance(r, 0.5)) ops["add"] = { [`x-add-${int(r, 0, 9)}`]: pick(r, LITERALS) };
  if (chance(r, 0.3)) ops["remove"] = [pick(r, HEADER_NAMES)];
  return ops;
}

/** Weights at the edges: zeros (one positive at least), the maximum, a sum at the limit. */
function destinations(r: Rng): Array<Record<string, unknown>> {
  const k = r();
  const n = k < 0.5 ? 1 : k < 0.8 ? int(r, 2, 5) : k < 0.95 ? int(r, 6, 40) : MAX_DESTINATIONS;
  const style = r();
  const maxEach = Math.min(1_000_000, Math.floor(MAX_TOTAL_WEIGHT / n));
  const out = Array.from({ length: n }, (_, i) => {
    const d: Record<string, unknown> = { cluster: `outbound|80||c${i}.svc` };
    if (style < 0.3) d["weight"] = int(r, 0, 100);
    else if (style < 0.5) d["weight"] = maxEach; // the largest sum the limits allow
    else if (style < 0.7) d["weight"] = chance(r, 0.7) ? 0 : int(r, 1, maxEach);
    else if (style < 0.8) d["weight"] = 1;
    if (chance(r, 0.05)) d["headers"] = { request: headerOps(r), response: headerOps(r) };
    return d;
  });
  // A sum of 0 is rejected; keep most tables valid by giving the last one a weight.
  if (out.every((d) => d["weight"] === 0 || (n > 1 && d["weight"] === undefined)) && chance(r, 0.98)) (out[n - 1] as Record<string, unknown>)["weight"] = 1;
  return out;
}

/** Past the limits: 4,295 destinations summing to 2^32 (issue 12's trap). The filter must reject it. */
function overflowDestinations(): Array<Record<string, unknown>> {
  return Array.from({ length: 4295 }, (_, i) => ({ cluster: `outbound|80||c${i % 3}.svc`, weight: i < 4294 ? 1_000_000 : 967_296 }));
}

function route(r: Rng, i: number): Record<string, unknown> {
  const rt: Record<string, unknown> = { name: `r${i}` };
  if (chance(r, 0.002)) return { ...rt, route: overflowDestinations() };
  if (chance(r, 0.75)) rt["match"] = Array.from({ length: int(r, 0, 3) }, () => matchBlock(r));
  const action = r();
  if (action < 0.75) {
    rt["route"] = destinations(r);
    if (chance(r, 0.2)) {
      const rw: Record<string, unknown> = {};
      if (chance(r, 0.7)) rw["uri"] = pick(r, ["/", "/new/", "/x", "/é"]);
      if (chance(r, 0.5)) rw["authority"] = `${name(r)}`;
      rt["rewrite"] = rw;
    }
    if (chance(r, 0.2)) rt["headers"] = { request: headerOps(r), response: headerOps(r) };
    if (chance(r, 0.15)) {
      const f: Record<string, unknown> = {};
      const pct = (): number => pick(r, [0, 0.0001, 1, 50, 99.9999, 100]);
      if (chance(r, 0.6)) f["delay"] = { fixedDelayMs: pick(r, [0, 1, 5, 1000, 3_600_000]), percentage: pct() };
      if (chance(r, 0.6) || f["delay"] === undefined) f["abort"] = { httpStatus: pick(r, [200, 400, 503, 599]), percentage: pct() };
      rt["fault"] = f;
    }
    if (chance(r, 0.2)) rt["timeoutMs"] = pick(r, [0, 1, 15000, 2147483647]);
    if (chance(r, 0.15)) rt["retries"] = { attempts: int(r, 0, 10), perTryTimeoutMs: pick(r, [1, 100, 2147483647]), retryOn: pick(r, ["5xx", "503,gateway-error", "unavailable,5xx", "connect-failure"]) };
  } else if (action < 0.88) {
    const rd: Record<string, unknown> = {};
    if (chance(r, 0.5)) rd["uri"] = pick(r, ["/", "/moved?x=1", "/a"]);
    if (chance(r, 0.4)) rd["authority"] = name(r);
    if (chance(r, 0.3)) rd["scheme"] = pick(r, ["http", "https"]);
    if (chance(r, 0.3)) rd["port"] = pick(r, [1, 80, 8443, 65535]);
    if (Object.keys(rd).length === 0) rd["uri"] = "/elsewhere";
    if (chance(r, 0.5)) rd["redirectCode"] = pick(r, [301, 302, 303, 307, 308]);
    rt["redirect"] = rd;
  } else {
    const dr: Record<string, unknown> = { status: pick(r, [200, 204, 404, 418, 503, 599]) };
    if (chance(r, 0.6)) dr["body"] = pick(r, ["", "ok", "é😀", "x".repeat(int(r, 0, 5000))]);
    rt["directResponse"] = dr;
  }
  return rt;
}

/** One random table; `seq` makes its domains and version unique. */
export function randomTable(r: Rng, seq: number): Record<string, unknown> {
  const used = new Set<string>();
  const vhosts = Array.from({ length: int(r, 1, 5) }, (_, v) => {
    const domains: string[] = [];
    for (let i = int(r, 1, 3); i > 0; i--) {
      const k = r();
      const d = k < 0.1 && !used.has("*") ? "*" : k < 0.3 ? `*.${name(r)}` : name(r);
      if (!used.has(d)) {
        used.add(d);
        domains.push(d);
      }
    }
    if (domains.length === 0) domains.push(`vh${v}-${seq}.example`);
    return { name: `ns/vh${v}`, domains, routes: Array.from({ length: int(r, 1, 6) }, (_, i) => route(r, i)) };
  });
  return { format: 1, version: `sha256:prop-${seq}`, virtualHosts: vhosts };
}

const PATH_PARTS = ["/", "/api/", "/api/v1/users/", "a", "b", "é", "%2F", "..", "//", "?", "&", "=", "#", "v=1", "flag", "q=", "x".repeat(100), "\u0000", "\u00ff"];

function randomText(r: Rng, max: number): string {
  const k = r();
  if (k < 0.05) return "";
  if (k < 0.1) return "a".repeat(int(r, 0, max));
  let s = "";
  for (let i = int(r, 0, 8); i > 0; i--) s += pick(r, [...LITERALS, ...PATH_PARTS]);
  return s.slice(0, max);
}

/** The domains of a table, as requests would name them (ports, case, trailing dots, junk). */
export function randomRequest(r: Rng, domains: readonly string[]): HeaderList {
  let host = domains.length > 0 && chance(r, 0.8) ? pick(r, domains) : name(r);
  host = host.replace("*.", `${pick(r, LABELS)}.`).replace(/^\*$/, name(r));
  if (chance(r, 0.1)) host = host.toUpperCase();
  if (chance(r, 0.1)) host += ".";
  if (chance(r, 0.15)) host += `:${pick(r, ["80", "8080", "", "99999", "x"])}`;
  if (chance(r, 0.03)) host = pick(r, ["", "[::1]:80", "[::1", ":80", "é.example", "a b", "x".repeat(300)]);
  const headers: HeaderList = [
    [":method", pick(r, ["GET", "POST", "HEAD", "PATCH", ""])],
    [":scheme", pick(r, ["http", "https"])],
    [":path", chance(r, 0.02) ? "/" + "a".repeat(int(r, 1000, 20_000)) : "/" + randomText(r, 300)],
    [":authority", host],
  ];
  for (let i = int(r, 0, 4); i > 0; i--) headers.push([pick(r, HEADER_NAMES), chance(r, 0.5) ? pick(r, LITERALS) : randomText(r, 200)]);
  if (chance(r, 0.01)) headers.push(["x-long", "a".repeat(int(r, 1000, 65_536))]);
  return headers;
}

export function domainsOf(table: Record<string, unknown>): string[] {
  const vhs = table["virtualHosts"] as Array<{ domains: string[] }>;
  return vhs.flatMap((v) => v.domains);
}
