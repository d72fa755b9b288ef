// Istio's own HTTPRoute → VirtualService conversion as a cross-check of Canal's HTTPRoute path.
// For every mesh (GAMMA) file of Istio's gateway testdata: the HTTPRoutes (+ Services, +
// ReferenceGrants) go through Canal's HTTPRoute translation, Istio's golden mesh VirtualServices
// for the same inputs go through Canal's VirtualService translation, and both tables route the
// same derived requests in the real filter (build/canal.wasm in the in-process emulator). The
// ROUTING is compared (cluster, local replies, redirects, rewrites, header changes), not bytes.
// Every disagreement is listed in EXPLAINED with its reason (docs/gateway-api.md); an unlisted
// one fails, and so does a listed one that no longer happens.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseObjects } from "../../controller/src/api/parse.ts";
import { translate } from "../../controller/src/translate/index.ts";
import { buildRegexCheck } from "../../controller/src/translate/regex-check/build.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { readYamlObjects } from "../../controller/src/translate/testing/cases.ts";
import type { RegexValidator } from "../../controller/src/translate/context.ts";
import { send, startCanal } from "../emulator/canal.ts";
import type { HeaderList } from "../emulator/host.ts";
import { sampleRegex } from "../oracle/regex-sample.ts";
import { canalGatewayObjects } from "../support/gateway-objects.ts";
import { istiodGatewayTestdataPath } from "../support/istiod.ts";

/** Istio's testdata uses this cluster domain (its golden hosts end in .svc.domain.suffix). */
const DOMAIN = "domain.suffix";

/** Mesh files (an HTTPRoute with a Service or ServiceEntry parentRef) left out, with the reason. */
const EXCLUDED: Record<string, string> = {
  "foreign-waypoint.yaml": "the only HTTPRoute's parent is a ServiceEntry: Canal reads no ServiceEntries",
  "serviceentry.yaml": "the only HTTPRoute's parent is a ServiceEntry: Canal reads no ServiceEntries",
  "valid-invalid-parent-ref.yaml": "the route's parents are a ServiceEntry and a Service in a namespace that does not exist; Istio's golden output has no mesh VirtualService to compare",
};

interface Explained {
  /** A testdata file, or "*": every compared file. */
  file: string;
  /** A Host as sent, or "*": every host of the file. */
  host: string;
  /** The request key (see requestKey), or "*": every request. */
  request: string;
  /** What differs, or "*": all of it (a different route changes every aspect). */
  aspect: "route" | "request" | "retry" | "response" | "*";
  why: string;
}

/** Disagreements between Canal's HTTPRoute table and Canal's table of Istio's VirtualServices. */
const EXPLAINED: Explained[] = [
  {
    file: "*", host: "*", request: "*", aspect: "retry",
    why: "Istio's generated VirtualServices have no retries field, so Istio's default policy applies (2 retries on connect-failure, refused-stream, 503; Canal's VirtualService path does the same); Canal gives an HTTPRoute without `retry` none, as the Gateway API defines no default",
  },
  {
    file: "mesh.yaml", host: "echo.default.svc.domain.suffix", request: "GET /pathx", aspect: "request",
    why: "segment-wise PathPrefix: Istio marks its VirtualServices internal.istio.io/route-semantics: gateway so Envoy matches uri.prefix /path by segment; Canal's VirtualService path reads uri.prefix as the plain prefix a hand-written VirtualService means; Canal's HTTPRoute path matches by segment, as the spec and Istio's Envoy config do",
  },
  ...["a-example.allowed-1", "b-example.allowed-1"].map((svc): Explained => ({
    file: "route-precedence.yaml", host: `${svc}.svc.domain.suffix`, request: "GET /foox [my-header=some-value]", aspect: "*",
    why: "segment-wise PathPrefix /foo (as for mesh.yaml /pathx): /foox is no match of the HTTPRoute, so the regex rule /foo((\\/).*)? decides (no match: 404)",
  })),
  ...["GET /foo/barx", "GET /barx"].map((request): Explained => ({
    file: "route-precedence.yaml", host: "a-example.allowed-2.svc.domain.suffix", request, aspect: "*",
    why: "segment-wise PathPrefix /foo/bar and /bar (as for mesh.yaml /pathx): the HTTPRoute falls through to PathPrefix / (svc3)",
  })),
  ...["echo-port.default.svc.domain.suffix:80", "echo-1.default.svc.domain.suffix:80", "echo-1.default.svc.domain.suffix:8080"].map((host): Explained => ({
    file: "mesh.yaml", host, request: "*", aspect: "*",
    why: "a parentRef port becomes Istio's match.port (the connection's destination port); Canal's VirtualService path drops a match block with port (UnsupportedField: it sees the gateway's port), while its HTTPRoute path matches the :authority port",
  })),
  {
    file: "invalid.yaml", host: "httpbin.default.svc.domain.suffix", request: "*", aspect: "route",
    why: "the first rule's backendRef is kind Hostname (networking.istio.io), an Istio extension: Canal's HTTPRoute path refuses the kind (InvalidKind, 500 as the spec says); Istio routes to unknown.example.com, for which Canal's VirtualService path has no Service (503)",
  },
];

interface Req {
  host: string;
  method: string;
  path: string;
  headers: Record<string, string>;
}

function requestKey(r: Req): string {
  const hs = Object.entries(r.headers).map(([k, v]) => `${k}=${v}`).sort().join(",");
  return `${r.method} ${r.path}${hs === "" ? "" : ` [${hs}]`}`;
}

type Raw = Record<string, unknown>;

function isRecord(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function rec(v: unknown): Raw {
  return isRecord(v) ? v : {};
}

function list(v: unknown): Raw[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function ns(o: Raw): string {
  return str(rec(o.metadata).namespace) ?? "default";
}

function isServiceRef(ref: Raw): boolean {
  return (str(ref.kind) ?? "Service") === "Service" && (str(ref.group) ?? "") === "";
}

function isMeshRoute(o: Raw): boolean {
  return o.kind === "HTTPRoute" && list(rec(o.spec).parentRefs).some((p) => p.kind === "Service" || p.kind === "ServiceEntry");
}

/** Canal's own objects: an InternalGateway serving the Istio Gateway istio-system/canal. */
const HARNESS: Raw[] = canalGatewayObjects(80);

interface Prepared {
  routes: Raw[];
  grants: Raw[];
  services: Raw[];
  virtualServices: Raw[];
  requests: Req[];
}

/**
 * Istio's testdata has (mostly) no Service objects: Istio routes by hostname alone, Canal needs
 * the Service a route attaches to and each backend. They are made from the references (the
 * ports the refs name, else 80), unless the file defines them.
 */
function synthesizeServices(routes: Raw[], defined: Raw[]): Raw[] {
  const ports = new Map<string, Set<number>>();
  const want = (namespace: string, name: string, port: unknown): void => {
    const key = `${namespace}/${name}`;
    const set = ports.get(key) ?? new Set<number>();
    if (typeof port === "number") set.add(port);
    ports.set(key, set);
  };
  for (const r of routes) {
    for (const p of list(rec(r.spec).parentRefs)) if (p.kind === "Service") want(str(p.namespace) ?? ns(r), str(p.name) ?? "", p.port);
    for (const rule of list(rec(r.spec).rules)) {
      for (const b of list(rule.backendRefs)) if (isServiceRef(b)) want(str(b.namespace) ?? ns(r), str(b.name) ?? "", b.port);
    }
  }
  const have = new Set(defined.map((s) => `${ns(s)}/${str(rec(s.metadata).name) ?? ""}`));
  const out: Raw[] = [...defined];
  let ip = 1;
  for (const [key, set] of [...ports].sort(([a], [b]) => a.localeCompare(b))) {
    if (have.has(key)) continue;
    const [namespace, name] = key.split("/");
    const numbers = set.size === 0 ? [80] : [...set].sort((a, b) => a - b);
    out.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace },
      spec: { clusterIP: `10.96.1.${ip++}`, ports: numbers.map((port) => ({ port, name: `http-${port}` })) },
    });
  }
  return out;
}

/** Requests a match selects, plus near misses: each path type's boundary, absent headers/params. */
function requestsFor(routes: Raw[]): Req[] {
  const out = new Map<string, Req>();
  const add = (r: Req): void => {
    out.set(`${r.host} ${requestKey(r)}`, r);
  };
  for (const r of routes) {
    const hosts: string[] = [];
    for (const p of list(rec(r.spec).parentRefs)) {
      if (p.kind !== "Service") continue;
      const fqdn = `${str(p.name) ?? ""}.${str(p.namespace) ?? ns(r)}.svc.${DOMAIN}`;
      hosts.push(typeof p.port === "number" ? `${fqdn}:${p.port}` : fqdn);
    }
    for (const host of hosts) {
      add({ host, method: "GET", path: "/", headers: {} });
      add({ host, method: "GET", path: "/zz-unmatched", headers: {} });
      for (const rule of list(rec(r.spec).rules)) {
        for (const m of list(rule.matches)) {
          const path = rec(m.path);
          const value = str(path.value) ?? "/";
          const paths: string[] = [];
          switch (str(path.type) ?? "PathPrefix") {
            case "Exact":
              paths.push(value, `${value}/x`, `${value}x`);
              break;
            case "PathPrefix":
              paths.push(value, `${value.replace(/\/$/, "")}/sub`, `${value}x`, `${value}/`);
              break;
            case "RegularExpression": {
              const sample = sampleRegex(value);
              if (sample !== undefined) paths.push(sample);
              break;
            }
          }
          const headers: Record<string, string> = {};
          for (const h of list(m.headers)) {
            const v = h.type === "RegularExpression" ? sampleRegex(str(h.value) ?? "") : str(h.value);
            if (v !== undefined) headers[(str(h.name) ?? "").toLowerCase()] = v;
          }
          const query = list(m.queryParams)
            .map((q) => [str(q.name) ?? "", q.type === "RegularExpression" ? sampleRegex(str(q.value) ?? "") : str(q.value)] as const)
            .filter((q): q is readonly [string, string] => q[1] !== undefined)
            .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
            .join("&");
          const method = str(m.method) ?? "GET";
          for (const p of paths) {
            const full = query === "" ? p : `${p}?${query}`;
            add({ host, method, path: full, headers });
            // Near misses: each condition beyond the path left out in turn.
            if (Object.keys(headers).length > 0) add({ host, method, path: full, headers: {} });
            if (query !== "") add({ host, method, path: p, headers });
            if (method !== "GET") add({ host, method: "GET", path: full, headers });
          }
        }
      }
    }
  }
  return [...out.values()];
}

function prepare(dir: string, file: string): Prepared {
  const inputs = readYamlObjects(readFileSync(join(dir, file), "utf8"), file).filter(isRecord);
  const routes = inputs.filter(isMeshRoute).map((r) => {
    // Only the Service parents: Gateway parents are Istio's gateway here, not Canal's.
    const spec = rec(r.spec);
    return { ...r, spec: { ...spec, parentRefs: list(spec.parentRefs).filter((p) => p.kind === "Service") } };
  });
  const grants = inputs.filter((o) => o.kind === "ReferenceGrant");
  const services = synthesizeServices(routes, inputs.filter((o) => o.kind === "Service" && o.apiVersion === "v1"));
  const golden = readYamlObjects(readFileSync(join(dir, `${file}.golden`), "utf8"), `${file}.golden`).filter(isRecord);
  const virtualServices = golden
    .filter((o) => o.kind === "VirtualService")
    .filter((o) => (rec(o.spec).gateways as unknown[] | undefined)?.includes("mesh") === true && Array.isArray(rec(o.spec).http))
    .map((o) => {
      // Bound to Canal's gateway instead of the mesh; TCP/TLS routes are not HTTP routing.
      const { tcp: _tcp, tls: _tls, ...spec } = rec(o.spec);
      const meta = rec(o.metadata);
      // Istio's generated names hold "~", which no Kubernetes object name can: made DNS names.
      const name = (str(meta.name) ?? "").replaceAll("~", "-");
      return { ...o, metadata: { name, namespace: meta.namespace, creationTimestamp: "2024-01-01T00:00:00Z" }, spec: { ...spec, gateways: ["istio-system/canal"] } };
    });
  return { routes, grants, services, virtualServices, requests: requestsFor(routes) };
}

function table(objects: Raw[], validateRegex: RegexValidator, what: string): unknown {
  const parsed = parseObjects(objects);
  const result = translate(parsed.snapshot, { validateRegex, clusterDomain: DOMAIN });
  const gw = result.gateways[0];
  if (gw === undefined) throw new Error(`${what}: no gateway: ${JSON.stringify(result.problems)}`);
  return gw.table;
}

/** Headers that name the table, the route or the request rather than the routing. */
const VOLATILE = /^(x-canal-table|x-canal-route|x-request-id)$/;
/** The retry policy the route gave the request (Envoy's x-envoy-retry-* headers). */
const RETRY = /^x-envoy-(max-retries|retry-on|retry-grpc-on|retriable-status-codes|upstream-rq-per-try-timeout-ms)$/;

/** What one table did with a request, per aspect, so a disagreement says where it is. */
type Aspect = "route" | "request" | "retry" | "response";
const ASPECTS: readonly Aspect[] = ["route", "request", "retry", "response"];

function headerSet(list: HeaderList, keep: (name: string) => boolean): string {
  return list.filter(([k]) => !VOLATILE.test(k) && keep(k)).map(([k, v]) => `${k}: ${v}`).sort().join("; ");
}

function outcome(host: Awaited<ReturnType<typeof startCanal>>, r: Req): Record<Aspect, string> {
  const out = send(host, r.path, { ":authority": r.host, ":method": r.method, ...r.headers });
  if (out.local !== undefined) {
    return { route: `local ${out.local.status} ${headerSet(out.local.headers, () => true)}`, request: "", retry: "", response: "" };
  }
  return {
    route: `cluster ${out.cluster ?? "?"}`,
    request: headerSet(out.requestHeaders, (k) => !RETRY.test(k)),
    retry: headerSet(out.requestHeaders, (k) => RETRY.test(k)),
    response: headerSet(out.responseHeaders, () => true),
  };
}

interface Disagreement {
  file: string;
  host: string;
  request: string;
  aspect: Aspect;
  httpRoute: string;
  virtualService: string;
}

function explains(e: Explained, d: Disagreement): boolean {
  const fits = (want: string, got: string): boolean => want === "*" || want === got;
  return fits(e.file, d.file) && fits(e.aspect, d.aspect) && fits(e.host, d.host) && fits(e.request, d.request);
}

let validateRegex: RegexValidator;
let dir: string;

beforeAll(() => {
  dir = istiodGatewayTestdataPath();
  buildRegexCheck();
  validateRegex = loadRegexValidator();
}, 600_000);

function meshFiles(): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .filter((f) => readYamlObjects(readFileSync(join(dir, f), "utf8"), f).filter(isRecord).some(isMeshRoute))
    .sort();
}

async function compare(file: string): Promise<{ disagreements: Disagreement[]; requests: number; routed: number }> {
  const p = prepare(dir, file);
  const fromRoutes = await startCanal(table([...HARNESS, ...p.services, ...p.routes, ...p.grants], validateRegex, `${file} (HTTPRoute)`));
  const fromVs = await startCanal(table([...HARNESS, ...p.services, ...p.virtualServices], validateRegex, `${file} (VirtualService)`));
  const disagreements: Disagreement[] = [];
  let routed = 0;
  for (const r of p.requests) {
    const a = outcome(fromRoutes, r);
    const b = outcome(fromVs, r);
    if (a.route.startsWith("cluster ") && a.route === b.route) routed++;
    for (const aspect of ASPECTS) {
      if (a[aspect] !== b[aspect]) disagreements.push({ file, host: r.host, request: requestKey(r), aspect, httpRoute: a[aspect], virtualService: b[aspect] });
    }
  }
  return { disagreements, requests: p.requests.length, routed };
}

describe("Canal's HTTPRoute translation against Istio's golden VirtualServices", () => {
  it("compares or excludes (with a reason) every mesh file of Istio's testdata", () => {
    const compared = meshFiles().filter((f) => EXCLUDED[f] === undefined);
    expect(compared.length).toBeGreaterThanOrEqual(3);
    for (const f of Object.keys(EXCLUDED)) expect(meshFiles(), `EXCLUDED names ${f}, which is no mesh file`).toContain(f);
  });

  it("route every derived request alike, but for the EXPLAINED disagreements", async () => {
    const all: Disagreement[] = [];
    let requests = 0;
    let routed = 0;
    for (const file of meshFiles().filter((f) => EXCLUDED[f] === undefined)) {
      const out = await compare(file);
      expect(out.requests, `${file}: no requests derived`).toBeGreaterThan(0);
      requests += out.requests;
      routed += out.routed;
      if (process.env.ISTIODIFF_DUMP === "1") console.log(`${file}: ${out.requests} requests, ${out.routed} routed alike, ${out.disagreements.length} aspect disagreements`);
      all.push(...out.disagreements);
    }
    if (process.env.ISTIODIFF_DUMP === "1") console.log(`${requests} requests, ${routed} routed alike to a cluster`);
    // Not a comparison of two empty tables: most requests reach the same backend on both sides.
    expect(requests).toBeGreaterThanOrEqual(50);
    expect(routed).toBeGreaterThanOrEqual(30);
    if (process.env.ISTIODIFF_DUMP === "1") console.log(JSON.stringify(all, null, 1));
    expect(all.filter((d) => !EXPLAINED.some((e) => explains(e, d))), "unexplained disagreements").toEqual([]);
    const stale = EXPLAINED.filter((e) => !all.some((d) => explains(e, d)));
    expect(stale, "EXPLAINED entries that no longer happen").toEqual([]);
  }, 120_000);
});
