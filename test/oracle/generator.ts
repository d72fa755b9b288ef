// Configurations and requests for the oracle: seeded random VirtualService sets over a fixed pool
// of Services (with DestinationRule subsets), plus the request matrix each one implies: for every
// match condition its positive and negative edges, in the host forms a client sends. Pure: no
// I/O; the same seed gives the same configurations.

/** A Service of the pool: echo backends per version, a DestinationRule with one subset each. */
export interface PoolService {
  name: string;
  namespace: string;
  port: number;
  versions: string[];
}

/**
 * The pool. `ratings` exists in two namespaces on purpose: its short name is ambiguous for a
 * gateway that does not know the caller's namespace (Canal answers 404, ADR 0002), while a
 * sidecar resolves it in its own namespace.
 */
export const POOL: PoolService[] = [
  { name: "ratings", namespace: "default", port: 9080, versions: ["v1", "v2"] },
  { name: "reviews", namespace: "default", port: 9080, versions: ["v1", "v2", "v3"] },
  { name: "details", namespace: "default", port: 9080, versions: ["v1"] },
  { name: "cart", namespace: "shop", port: 8080, versions: ["v1", "v2"] },
  { name: "ratings", namespace: "shop", port: 9080, versions: ["v1"] },
  { name: "httpbin", namespace: "shop", port: 8000, versions: ["v1", "v2"] },
];

/** Namespaces with a client sidecar (the semantics users have before they migrate). */
export const CLIENT_NAMESPACES = ["default", "shop"];

export const fqdn = (s: PoolService): string => `${s.name}.${s.namespace}.svc.cluster.local`;
/** The upstream name an echo backend reports (test/istio/world.ts addBackend). */
export const upstreamName = (s: PoolService, version: string): string => `${s.name}.${s.namespace}/${version}`;

/** A deterministic PRNG (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

type Yaml = { [key: string]: unknown };

/** One HTTP request of the matrix, before a host form is chosen. */
export interface RequestShape {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  /** What the generator meant to hit, for messages ("route 2 block 0 positive", ...). */
  intent: string;
  /** The route that should answer is weighted: the backend is drawn, compare the distribution. */
  weights?: { upstream: string; weight: number }[];
}

/** A VirtualService of a configuration and the requests that exercise it. */
export interface GeneratedVs {
  service: PoolService;
  object: Yaml;
  requests: RequestShape[];
  /** The value of `x-oracle-probe` its first route answers (directResponse): convergence check. */
  probe: string;
  /** The upstreams of each weighted route: two sides that drew different members of one agree. */
  splits: string[][];
}

export interface OracleConfig {
  name: string;
  virtualServices: GeneratedVs[];
}

export const PROBE_HEADER = "x-oracle-probe";
/** Every VirtualService binds the mesh (sidecars), Canal's gateway and istiod's native gateway. */
export const GATEWAYS = ["mesh", "istio-system/canal", "istio-system/native"];

interface Block {
  yaml: Yaml;
  /** Requests that match the block, and requests that differ from it in one way. */
  positive: RequestShape[];
  negative: RequestShape[];
}

function req(path: string, intent: string, headers: Record<string, string | string[]> = {}, method = "GET"): RequestShape {
  return { method, path, headers, intent };
}

/** A match block with one to three conditions; each condition contributes its edges. */
function genBlock(rng: Rng, tag: string): Block {
  const seg = `${tag}${rng.int(90) + 10}`;
  const yaml: Yaml = {};
  let path = `/${seg}`;
  const negPaths: string[] = [];
  const headers: Record<string, string> = {};
  const negHeaders: Record<string, string | string[]>[] = [];
  let method = "GET";
  let negMethod: string | undefined;
  const uriKind = rng.pick(["exact", "prefix", "regex", "none"] as const);
  const ignoreCase = uriKind !== "none" && uriKind !== "regex" && rng.chance(0.25);
  if (uriKind === "exact") {
    yaml.uri = { exact: path };
    negPaths.push(`${path}/`, `${path}x`);
    if (!ignoreCase) negPaths.push(path.toUpperCase());
  } else if (uriKind === "prefix") {
    yaml.uri = { prefix: path };
    negPaths.push(`/${tag}`, "/");
    if (!ignoreCase) negPaths.push(path.toUpperCase());
    path = rng.pick([path, `${path}/deeper/x`, `${path}x`]);
  } else if (uriKind === "regex") {
    yaml.uri = { regex: `/${tag}[0-9]+(/[a-z]+)?` };
    path = `/${tag}${rng.int(900) + 1}/abc`;
    negPaths.push(`/${tag}x/abc`, `${path}/more`, `/${tag}12/ABC`);
  }
  if (ignoreCase) yaml.ignoreUriCase = true;
  if (uriKind === "none" || rng.chance(0.4)) {
    const name = rng.pick(["x-user", "x-tier", "end-user"]);
    const value = rng.pick(["jason", "gold", "alpha-7"]);
    const kind = rng.pick(["exact", "prefix", "regex"] as const);
    yaml.headers = { [name]: kind === "exact" ? { exact: value } : kind === "prefix" ? { prefix: value.slice(0, 3) } : { regex: `${value.slice(0, 2)}.*` } };
    headers[name] = value;
    negHeaders.push({}, { [name]: `zz${value}` });
    if (kind === "exact") negHeaders.push({ [name]: value.toUpperCase() });
  }
  if (rng.chance(0.2)) {
    yaml.queryParams = { q: rng.chance(0.5) ? { exact: "on" } : { regex: "o[nf]+" } };
    path = `${path}?q=on`;
    negPaths.push(path.replace("?q=on", "?q=no"), path.replace("?q=on", ""));
  }
  if (rng.chance(0.15)) {
    yaml.method = { exact: "POST" };
    method = "POST";
    negMethod = "GET";
  }
  if (rng.chance(0.15)) {
    yaml.withoutHeaders = { "x-block": { exact: "yes" } };
    negHeaders.push({ ...headers, "x-block": "yes" });
  }
  const positive = [req(path, `${tag} positive`, headers, method)];
  if (ignoreCase) positive.push(req(path.toUpperCase(), `${tag} positive (ignoreUriCase)`, headers, method));
  const negative = [
    ...negPaths.map((p) => req(p, `${tag} negative path`, headers, method)),
    ...negHeaders.map((h, i) => req(path, `${tag} negative header ${i}`, { ...headers, ...h }, method)),
    ...(negMethod === undefined ? [] : [req(path, `${tag} negative method`, headers, negMethod)]),
  ];
  return { yaml, positive, negative };
}

function destination(s: PoolService, subset: string | undefined): Yaml {
  const d: Yaml = { host: fqdn(s) };
  if (subset !== undefined) d.subset = subset;
  return { destination: d };
}

/** One HTTP route: matches, an action, and the modifiers both Istio and Canal support. */
function genRoute(rng: Rng, s: PoolService, tag: string, last: boolean): { yaml: Yaml; blocks: Block[]; weights?: { upstream: string; weight: number }[]; balanced?: string[] } {
  const yaml: Yaml = { name: tag };
  const blocks: Block[] = [];
  if (!last || rng.chance(0.3)) {
    const n = 1 + rng.int(2);
    for (let i = 0; i < n; i++) blocks.push(genBlock(rng, `${tag}b${i}`));
    yaml.match = blocks.map((b) => b.yaml);
  }
  let weights: { upstream: string; weight: number }[] | undefined;
  let balanced: string[] | undefined;
  const action = rng.pick(["route", "route", "route", "route", "split", "redirect", "direct"] as const);
  if (action === "redirect") {
    yaml.redirect = rng.chance(0.5) ? { uri: "/moved", redirectCode: rng.pick([301, 302, 308]) } : { authority: "elsewhere.example", uri: "/there" };
  } else if (action === "direct") {
    yaml.directResponse = { status: rng.pick([200, 418, 503]), body: { string: `direct ${tag}` } };
  } else if (action === "split" && s.versions.length > 1) {
    const w = 10 * (1 + rng.int(9));
    yaml.route = [
      { ...destination(s, s.versions[0]), weight: w },
      { ...destination(s, s.versions[1]), weight: 100 - w },
    ];
    weights = [
      { upstream: upstreamName(s, s.versions[0]), weight: w },
      { upstream: upstreamName(s, s.versions[1]), weight: 100 - w },
    ];
  } else {
    const subset = rng.chance(0.7) ? rng.pick(s.versions) : undefined;
    yaml.route = [destination(s, subset)];
    // No subset: the Service's cluster balances over every version's endpoint, on both sides.
    if (subset === undefined && s.versions.length > 1) balanced = s.versions.map((v) => upstreamName(s, v));
  }
  if (yaml.route !== undefined) {
    if (rng.chance(0.3)) {
      const m = blocks[0]?.yaml.uri as { prefix?: string } | undefined;
      yaml.rewrite = m?.prefix !== undefined ? { uri: "/rewritten" } : rng.chance(0.5) ? { uri: "/whole" } : { authority: "upstream.example" };
    }
    if (rng.chance(0.35)) {
      yaml.headers = {
        request: { set: { "x-set": tag }, add: { "x-added": "one" }, remove: ["x-remove-me"] },
        response: { set: { "x-resp": tag }, remove: ["x-upstream-secret"] },
      };
    }
    if (rng.chance(0.12)) yaml.fault = { abort: { httpStatus: rng.pick([400, 503]), percentage: { value: 100 } } };
    else if (rng.chance(0.08)) yaml.fault = { delay: { fixedDelay: "30ms", percentage: { value: 100 } } };
    if (rng.chance(0.15)) yaml.timeout = "200ms";
    if (rng.chance(0.15)) yaml.retries = { attempts: 1 + rng.int(2), retryOn: rng.pick(["5xx", "gateway-error", "503", "connect-failure"]) };
  }
  return { yaml, blocks, weights, balanced };
}

/** A VirtualService for `s` in its own namespace, and its request matrix. */
function genVirtualService(rng: Rng, s: PoolService, config: number, index: number): GeneratedVs {
  const probe = `${config}-${index}`;
  const http: Yaml[] = [{ name: "probe", match: [{ headers: { [PROBE_HEADER]: { exact: probe } } }], directResponse: { status: 200, body: { string: probe } } }];
  const requests: RequestShape[] = [];
  const splits: string[][] = [];
  const routes = 1 + rng.int(4);
  for (let i = 0; i < routes; i++) {
    const r = genRoute(rng, s, `r${i}`, i === routes - 1);
    http.push(r.yaml);
    if (r.weights !== undefined) splits.push(r.weights.map((w) => w.upstream));
    if (r.balanced !== undefined) splits.push(r.balanced);
    for (const b of r.blocks) {
      for (const p of b.positive) requests.push({ ...p, weights: r.weights });
      requests.push(...b.negative);
    }
    if (r.blocks.length === 0) requests.push({ ...req(`/any/${i}`, `r${i} catch-all`), weights: r.weights });
  }
  // Modifier probes ride on every request: a header the route may remove, one the upstream
  // answers that a response operation may remove, and a slow/failing upstream for timeouts and
  // retries (per-request keys keep the two sides' counters apart).
  for (const r of requests) {
    r.headers["x-remove-me"] = "present";
    r.headers["x-test-response-header"] = "x-upstream-secret=s3cr3t, x-upstream-other=kept";
  }
  // Only where every route has one endpoint: the echo backends count failures per endpoint, so
  // a retry that may land on another version's endpoint has no single right answer.
  const timed = splits.length === 0 ? requests.find((r) => r.intent.endsWith("positive")) : undefined;
  if (timed !== undefined) requests.push({ ...timed, headers: { ...timed.headers, "x-test-delay-ms": "600", "x-test-delay-times": "1" }, intent: `${timed.intent} (slow upstream)` });
  if (timed !== undefined) requests.push({ ...timed, headers: { ...timed.headers, "x-test-fail-times": "1", "x-test-fail-status": "503" }, intent: `${timed.intent} (upstream 503 once)` });
  const host = rng.chance(0.5) ? s.name : fqdn(s);
  const object: Yaml = {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: `oracle-${s.name}`, namespace: s.namespace },
    spec: { hosts: [host], gateways: GATEWAYS, http },
  };
  return { service: s, object, requests, probe, splits };
}

/** Configuration `n` of seed `seed`: one to three VirtualServices for distinct pool Services. */
export function generateConfig(seed: number, n: number): OracleConfig {
  const rng = new Rng(seed * 100_003 + n);
  const count = 1 + rng.int(3);
  const chosen: PoolService[] = [];
  while (chosen.length < count) {
    const s = rng.pick(POOL);
    if (!chosen.includes(s)) chosen.push(s);
  }
  return { name: `random-${seed}-${n}`, virtualServices: chosen.map((s, i) => genVirtualService(rng, s, n, i)) };
}

/** The DestinationRules of the pool: one subset per version label. */
export function poolDestinationRules(): Yaml[] {
  return POOL.map((s) => ({
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: s.name, namespace: s.namespace },
    spec: { host: fqdn(s), subsets: s.versions.map((v) => ({ name: v, labels: { version: v } })) },
  }));
}

/**
 * The host forms a client uses for `s`: through a gateway only full names (istiod's gateway
 * virtual hosts have no others), from a sidecar in `ns` also the short forms that resolve there.
 */
export function hostForms(s: PoolService, via: "gateway" | { sidecar: string }): string[] {
  const full = fqdn(s);
  if (via === "gateway") return [full, `${full}:${s.port}`, full.toUpperCase()];
  const forms = [full, `${full}:${s.port}`, `${s.name}.${s.namespace}`, `${s.name}.${s.namespace}.svc:${s.port}`];
  if (via.sidecar === s.namespace) forms.push(s.name, `${s.name}:${s.port}`, s.name.toUpperCase());
  return forms;
}
