// The golden translate cases (controller/src/translate/testdata) as oracle configurations: each
// case's Services, DestinationRules and VirtualServices applied to the oracle's world, every
// VirtualService bound to the native gateway beside Canal's, and requests derived from its match
// conditions (positive and negative edges). Pure: no I/O beyond reading the case files.
//
// A case is compared unless it cannot mean the same thing in the oracle's world (a cluster
// domain other than cluster.local, malformed objects, multi-port or ExternalName Services); the
// excluded ones are listed with their reason and a test proves every case is one or the other.
// Requests go through the gateways only: sidecar semantics (short names per client namespace)
// are the random corpus's job, and golden Services listen on ports the sidecars do not bind.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { caseNames, readYamlObjects, TESTDATA } from "../../controller/src/translate/testing/cases.ts";
import { GATEWAYS, type RequestShape } from "./generator.ts";
import { sampleRegex } from "./regex-sample.ts";

type Yaml = { [key: string]: unknown };

export interface GoldenBackend {
  name: string;
  namespace: string;
  port: number;
  /** `version` label values of the DestinationRule subsets for it ("" = no version label). */
  versions: string[];
}

export interface GoldenRequest {
  host: string;
  shape: RequestShape;
}

export interface GoldenVs {
  /** "namespace/name". */
  key: string;
  requests: GoldenRequest[];
  /** Upstream names of each weighted route: two sides that drew different members agree. */
  splits: string[][];
  /** Canal's problems that concern this VirtualService (its own, or the case's other objects'); [] when none. */
  refusals: string[];
}

export interface GoldenCase {
  name: string;
  /** The case's InternalGateway `spec.hostGrants`, added to the world's InternalGateway while it runs. */
  hostGrants: Yaml[];
  /**
   * Hosts (lower case, as requests send them) that a VirtualService of the case claims and Canal
   * refuses for host ownership (ADR 0003): Istio routes them by the claim, Canal by the owner.
   */
  contestedHosts: string[];
  backends: GoldenBackend[];
  /** DestinationRules and VirtualServices to apply (Services come with the backends). */
  objects: Yaml[];
  virtualServices: GoldenVs[];
  /** VirtualServices not compared, with why. */
  notCompared: string[];
}

export type GoldenPlan = { case: GoldenCase } | { excluded: string };

const CANAL_GATEWAY_REFS = new Set(["canal", "./canal", "istio-system/canal", "canal.istio-system.svc.cluster.local"]);
const CLUSTER_DOMAIN = "svc.cluster.local";

function obj(x: unknown): Yaml {
  return typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Yaml) : {};
}
function arr(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}
function str(x: unknown): string | undefined {
  return typeof x === "string" ? x : undefined;
}

interface CaseProblem {
  kind: string;
  namespace: string;
  name: string;
  reason: string;
}

/** Why a case cannot be compared in the oracle's world, or undefined when it can. */
function exclusion(text: string, objects: Yaml[], gatewayServices: Set<string>): string | undefined {
  const head = text.split("\n").filter((l) => l.startsWith("#"));
  if (head.some((l) => /clusterDomain:/.test(l))) return "translates with another cluster domain; the oracle's world is cluster.local";
  if (head.some((l) => /allow:\s*invalid-objects/.test(l))) return "malformed objects: the API server's CRD schema refuses some of them before istiod or Canal sees them";
  if (head.some((l) => /allow:\s*unknown-fields/.test(l))) return "fields Canal does not know: the case is about reporting them, not routing";
  for (const o of objects) {
    if (o.kind !== "Service") continue;
    const spec = obj(o.spec);
    const name = `${str(obj(o.metadata).namespace) ?? "default"}/${str(obj(o.metadata).name)}`;
    if (gatewayServices.has(name)) continue;
    if (spec.type === "ExternalName") return `Service ${name} is ExternalName: the oracle's backends are WorkloadEntries`;
    if (arr(spec.ports).length !== 1) return `Service ${name} has ${arr(spec.ports).length} ports: the oracle's backends serve one`;
  }
  return undefined;
}

/** `*.example.com` → `golden.example.com`, `*` → `golden.invalid`: a concrete host a wildcard covers. */
function concreteHost(h: string): string {
  if (h === "*") return "golden-any.example.org";
  return h.startsWith("*.") ? `golden${h.slice(1)}` : h;
}

/** The host forms a client sends through a gateway for a VirtualService host written in `ns`. */
function gatewayHosts(host: string, ns: string, services: Map<string, GoldenBackend>): string[] {
  const h = host.toLowerCase();
  if (h.includes("*")) return [concreteHost(h)];
  const parts = h.split(".");
  // A short name of a Service: istiod expands it within the VirtualService's namespace; clients
  // reach the gateway with the full name. A dotted host is a literal name to istiod.
  if (parts.length === 1 && services.has(`${ns}/${h}`)) {
    const s = services.get(`${ns}/${h}`)!;
    const full = `${s.name}.${s.namespace}.${CLUSTER_DOMAIN}`;
    return [full, `${full}:${s.port}`];
  }
  return [h];
}

/** A string a StringMatch (exact/prefix/regex) accepts, or undefined when none can be derived. */
function satisfying(m: Yaml): string | undefined {
  if (typeof m.exact === "string") return m.exact;
  if (typeof m.prefix === "string") return `${m.prefix}golden`;
  if (typeof m.regex === "string") return sampleRegex(m.regex);
  return undefined;
}

/** A string the StringMatch refuses. */
function violating(m: Yaml): string {
  if (typeof m.exact === "string") return `${m.exact}-not`;
  if (typeof m.prefix === "string") return `not-${m.prefix}`;
  return "~golden-no-match~";
}

function withQuery(path: string, q: Record<string, string>): string {
  const e = Object.entries(q);
  return e.length === 0 ? path : `${path}?${e.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}`;
}

interface Parts {
  path: string;
  method: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  hosts: string[];
}

/**
 * Requests for one match block: the positive (every condition met) and, for each condition, a
 * negative that breaks only it. Conditions no request can meet here (scheme https, a port, a
 * source label) make the block yield nothing.
 */
type HostedShape = RequestShape & { hosts: string[] };

function blockRequests(block: Yaml, hosts: string[], tag: string): HostedShape[] | undefined {
  const p: Parts = { path: "/", method: "GET", headers: {}, query: {}, hosts };
  const negatives: Array<{ what: string; change: (q: Parts) => void }> = [];
  for (const k of Object.keys(block)) {
    if (!["name", "uri", "method", "headers", "withoutHeaders", "queryParams", "ignoreUriCase", "authority", "scheme"].includes(k)) return undefined;
  }
  if (block.scheme !== undefined && satisfying(obj(block.scheme)) !== "http") return undefined;
  if (block.uri !== undefined) {
    const u = obj(block.uri);
    const v = satisfying(u);
    if (v === undefined) return undefined;
    p.path = v.startsWith("/") ? v : `/${v}`;
    negatives.push({ what: "uri", change: (q) => (q.path = `/golden-other${p.path}`) });
    if (block.ignoreUriCase === true && typeof u.regex !== "string") negatives.push({ what: "uri case (ignored)", change: (q) => (q.path = p.path.toUpperCase()) });
  }
  if (block.method !== undefined) {
    const m = obj(block.method);
    const v = satisfying(m);
    if (v === undefined || !/^[A-Z]+$/.test(v)) return undefined;
    p.method = v;
    const other = ["DELETE", "PUT", "PATCH", "OPTIONS"].find((x) => !new RegExp(`^(?:${str(m.regex) ?? ""})$`).test(x) && x !== m.exact && !x.startsWith(str(m.prefix) ?? "\u0000"));
    if (other !== undefined) negatives.push({ what: "method", change: (q) => (q.method = other) });
  }
  for (const [name, m] of Object.entries(obj(block.headers))) {
    const k = name.toLowerCase();
    const cond = obj(m);
    const v = Object.keys(cond).length === 0 ? "present" : satisfying(cond);
    if (v === undefined) return undefined;
    p.headers[k] = v;
    negatives.push({ what: `header ${k} absent`, change: (q) => delete q.headers[k] });
    if (Object.keys(cond).length > 0) negatives.push({ what: `header ${k} other`, change: (q) => (q.headers[k] = violating(cond)) });
  }
  for (const [name, m] of Object.entries(obj(block.withoutHeaders))) {
    const k = name.toLowerCase();
    const cond = obj(m);
    const v = Object.keys(cond).length === 0 ? "present" : satisfying(cond);
    if (v !== undefined) negatives.push({ what: `without-header ${k} sent`, change: (q) => (q.headers[k] = v) });
  }
  for (const [name, m] of Object.entries(obj(block.queryParams))) {
    const cond = obj(m);
    const v = Object.keys(cond).length === 0 ? "" : satisfying(cond);
    if (v === undefined) return undefined;
    p.query[name] = v;
    negatives.push({ what: `query ${name} absent`, change: (q) => delete q.query[name] });
  }
  if (block.authority !== undefined) {
    const a = obj(block.authority);
    const matches = (h: string): boolean =>
      typeof a.exact === "string" ? h === a.exact : typeof a.prefix === "string" ? h.startsWith(a.prefix) : typeof a.regex === "string" ? new RegExp(`^(?:${a.regex})$`).test(h) : false;
    const fits = hosts.filter(matches);
    if (fits.length === 0) return undefined;
    p.hosts = fits;
    const misses = hosts.filter((h) => !matches(h));
    if (misses.length > 0) negatives.push({ what: "authority", change: (q) => (q.hosts = misses) });
  }
  const shape = (q: Parts, intent: string): HostedShape => ({
    method: q.method,
    path: withQuery(q.path, q.query),
    headers: { ...q.headers },
    intent,
    hosts: q.hosts,
  });
  const out = [shape(p, `${tag} positive`)];
  for (const n of negatives) {
    const q: Parts = { ...p, headers: { ...p.headers }, query: { ...p.query }, hosts: [...p.hosts] };
    n.change(q);
    out.push(shape(q, `${tag} negative (${n.what})`));
  }
  return out;
}

function routeSplits(route: Yaml, vsNs: string, services: Map<string, GoldenBackend>, subsets: Map<string, Map<string, string>>): string[] {
  const out: string[] = [];
  for (const d of arr(route.route)) {
    const dest = obj(obj(d).destination);
    const host = str(dest.host) ?? "";
    const parts = host.split(".");
    const ns = parts.length === 1 ? vsNs : parts[1];
    const s = services.get(`${ns}/${parts[0]}`);
    if (s === undefined) continue;
    const version = subsets.get(`${s.namespace}/${s.name}`)?.get(str(dest.subset) ?? "") ?? "";
    out.push(version === "" ? `${s.name}.${s.namespace}` : `${s.name}.${s.namespace}/${version}`);
  }
  return out;
}

/** The oracle configuration of golden case `name`, or why it is excluded. */
export function planGoldenCase(name: string): GoldenPlan {
  const text = readFileSync(join(TESTDATA, `${name}.in.yaml`), "utf8");
  const objects = readYamlObjects(text, name).map(obj);
  const nsOf = (o: Yaml): string => str(obj(o.metadata).namespace) ?? "default";
  const nameOf = (o: Yaml): string => str(obj(o.metadata).name) ?? "";
  const gatewayServices = new Set(objects.filter((o) => o.kind === "InternalGateway").map((o) => `${nsOf(o)}/${str(obj(obj(o.spec).serviceRef).name)}`));
  const why = exclusion(text, objects, gatewayServices);
  if (why !== undefined) return { excluded: why };
  const out = JSON.parse(readFileSync(join(TESTDATA, `${name}.out.json`), "utf8")) as { problems: CaseProblem[] };

  // Subset name → version label, per Service (the DestinationRule's host in its namespace).
  const subsets = new Map<string, Map<string, string>>();
  for (const dr of objects.filter((o) => o.kind === "DestinationRule")) {
    const host = str(obj(dr.spec).host) ?? "";
    const parts = host.split(".");
    const key = `${parts.length === 1 ? nsOf(dr) : parts[1]}/${parts[0]}`;
    const m = subsets.get(key) ?? new Map<string, string>();
    for (const s of arr(obj(dr.spec).subsets)) m.set(str(obj(s).name) ?? "", str(obj(obj(s).labels).version) ?? "");
    subsets.set(key, m);
  }
  const services = new Map<string, GoldenBackend>();
  for (const s of objects.filter((o) => o.kind === "Service")) {
    const key = `${nsOf(s)}/${nameOf(s)}`;
    if (gatewayServices.has(key)) continue;
    const versions = [...new Set(subsets.get(key)?.values() ?? [])];
    services.set(key, { name: nameOf(s), namespace: nsOf(s), port: Number(obj(arr(obj(s.spec).ports)[0]).port), versions: versions.length === 0 ? [""] : versions });
  }

  // The case's Gateway and InternalGateway are not applied (the world has the charts'), so only
  // problems of the objects that are applied can explain a difference.
  const hostGrants = objects.filter((o) => o.kind === "InternalGateway").flatMap((o) => arr(obj(o.spec).hostGrants).map(obj));
  const ownershipReasons = new Set(["HostNotOwned", "HostNotGranted", "AliasReserved"]);
  const contestedHosts = new Set<string>();
  for (const p of out.problems.filter((x) => x.kind === "VirtualService" && ownershipReasons.has(x.reason))) {
    const vs = objects.find((o) => o.kind === "VirtualService" && nsOf(o) === p.namespace && nameOf(o) === p.name);
    for (const h of arr(obj(vs?.spec).hosts)) for (const f of gatewayHosts(str(h) ?? "", p.namespace, new Map())) contestedHosts.add(f);
  }
  const caseWide = out.problems.filter((p) => p.kind === "DestinationRule" || p.kind === "Service").map((p) => `${p.reason} (${p.kind} ${p.namespace}/${p.name})`);
  const apply: Yaml[] = objects.filter((o) => o.kind === "DestinationRule").map((o) => ({ ...o, metadata: { name: nameOf(o), namespace: nsOf(o) } }));
  const virtualServices: GoldenVs[] = [];
  const notCompared: string[] = [];
  for (const vs of objects.filter((o) => o.kind === "VirtualService")) {
    const ns = nsOf(vs);
    const key = `${ns}/${nameOf(vs)}`;
    const spec = obj(vs.spec);
    const refs = arr(spec.gateways).map((g) => str(g) ?? "");
    // Canal-gateway references resolve relative to the VirtualService's namespace.
    const boundToCanal = refs.some((g) => CANAL_GATEWAY_REFS.has(g) && (g.includes("istio-system") || ns === "istio-system"));
    if (!boundToCanal) {
      notCompared.push(`${key}: bound to ${refs.length === 0 ? "the mesh only" : refs.join(", ")}, not to a gateway the native gateway can stand for`);
      continue;
    }
    const hosts = arr(spec.hosts).map((h) => str(h) ?? "");
    const forms = hosts.flatMap((h) => gatewayHosts(h, ns, services));
    const http = arr(spec.http).map(obj);
    const requests: GoldenRequest[] = [];
    const splits: string[][] = [];
    const pick = (list: string[], n: number): string => list[n % list.length]!;
    let n = 0;
    for (const [r, route] of http.entries()) {
      const split = routeSplits(route, ns, services, subsets);
      if (split.length > 1) splits.push(split);
      const blocks = arr(route.match).map(obj);
      const shapes: HostedShape[] = blocks.length === 0 ? [{ method: "GET", path: `/golden/${r}`, headers: {}, intent: `r${r} catch-all`, hosts: forms }] : blocks.flatMap((b, j) => blockRequests(b, forms, `r${r} block ${j}`) ?? []);
      for (const s of shapes) {
        const { hosts: candidates, ...shape } = s;
        requests.push({ host: pick(candidates, n++), shape: { ...shape, headers: { "x-remove-me": "present", ...shape.headers } } });
      }
    }
    requests.push({ host: pick(forms, n++), shape: { method: "GET", path: "/golden-unmatched-path", headers: {}, intent: "no route's match" } });
    const own = out.problems.filter((p) => p.kind === "VirtualService" && p.namespace === ns && p.name === nameOf(vs)).map((p) => p.reason);
    virtualServices.push({ key, requests, splits, refusals: [...new Set([...own, ...caseWide])] });
    apply.push({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: nameOf(vs), namespace: ns },
      spec: {
        ...spec,
        gateways: [...new Set([...refs, ...GATEWAYS.filter((g) => g !== "mesh")])],
      },
    });
  }
  if (virtualServices.length === 0) {
    return { excluded: `no VirtualService bound to the Canal gateway, nothing a request through a gateway can reach${notCompared.length > 0 ? ` (${notCompared.join("; ")})` : ""}` };
  }
  return { case: { name, hostGrants, contestedHosts: [...contestedHosts], backends: [...services.values()], objects: apply, virtualServices, notCompared } };
}

/** Every golden case, planned. */
export function goldenPlans(): Map<string, GoldenPlan> {
  return new Map(caseNames().map((n) => [n, planGoldenCase(n)]));
}
