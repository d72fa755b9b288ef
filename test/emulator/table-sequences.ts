// Route tables and probes shared by the suites that hold a configure path to the whole compile
// (incremental.test.ts: one VM across a sequence; shared-entry.test.ts: a fresh VM per update
// reading the previous table's shared entry): corpus and generated controller-shaped tables,
// seeded edits (changes, additions, removals, duplicate domains, broken fields, invalid JSON, ...),
// probe requests and what a request's routing looks like from outside.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { LogLevel, type ProxyWasmHost } from "./host.js";
import { send } from "./canal.js";
import { lastLoadReport } from "../support/load-report.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = any;
export interface Table {
  format: number;
  version: string;
  virtualHosts: Json[];
  ambiguousHosts?: Json[];
}

export const clone = <T>(x: T): T => structuredClone(x);

// ---------------------------------------------------------------------------------------------
// Tables

export const corpusDir = join(import.meta.dirname, "..", "tables", "valid");
export const corpus: Table[] = readdirSync(corpusDir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(corpusDir, f), "utf8")) as Table);

/**
 * Makes routing independent of the filter's random draws (the two VMs draw differently): weighted
 * routes send everything to their first destination and have no unrouted share, fault
 * percentages are 0 or 100.
 */
export function deterministic(t: Table): Table {
  const out = clone(t);
  for (const vh of out.virtualHosts) {
    for (const r of vh.routes ?? []) {
      if (Array.isArray(r.route) && r.route.length > 1) r.route.forEach((d: Json, i: number) => (d.weight = i === 0 ? 1 : 0));
      delete r.unroutedWeight;
      for (const kind of ["delay", "abort"]) {
        const f = r.fault?.[kind];
        if (f && typeof f.percentage === "number") f.percentage = f.percentage >= 50 ? 100 : 0;
      }
    }
  }
  return out;
}

let uniq = 0;

/** One virtual host of a controller-shaped table, with some of the table features mixed in. */
export function genVhost(r: () => number, tag = `g${uniq++}`): Json {
  const ns = `ns${Math.floor(r() * 4)}`;
  const fqdn = `${tag}.${ns}.svc.cluster.local`;
  const cluster = `outbound|8080||${fqdn}`;
  const routes: Json[] = [{ name: `${tag}.api`, match: [{ uri: { prefix: "/api/" } }], route: [{ cluster, weight: 100 }], timeoutMs: 5000 }];
  const x = r();
  if (x < 0.15) routes.push({ match: [{ uri: { regex: "/v[0-9]+/.*" }, headers: { "x-user": { exact: "alice" } } }], route: [{ cluster: `${cluster}-v2` }], rewrite: { uri: "/" }, headers: { request: { set: { "x-from": tag } }, response: { add: { "x-served": tag } } } });
  else if (x < 0.25) routes.push({ match: [{ uri: { exact: "/old" } }], redirect: { uri: "/new", redirectCode: 302 } });
  else if (x < 0.32) routes.push({ match: [{ uri: { prefix: "/direct" } }], directResponse: { status: 418, body: `teapot ${tag}` } });
  else if (x < 0.38) routes.push({ match: [{ uri: { prefix: "/slow" } }], route: [{ cluster }], fault: { delay: { fixedDelayMs: 100, percentage: 100 } } });
  else if (x < 0.44) routes.push({ match: [{ uri: { prefix: "/boom" } }], route: [{ cluster }], fault: { abort: { httpStatus: 503, percentage: 100 } } });
  else if (x < 0.5) routes.push({ match: [{ uri: { prefix: "/retry" } }], route: [{ cluster }], retries: { attempts: 3, perTryTimeoutMs: 100, retryOn: "5xx,503" } });
  routes.push({ name: `${tag}.default`, route: [{ cluster, weight: 100 }] });
  const domains = [fqdn, `${tag}.${ns}.svc`, `${tag}.${ns}`, tag];
  if (r() < 0.05) domains.push(`*.${tag}.wild.example`);
  return { name: `${ns}/${tag}`, domains, routes };
}

export function genTable(r: () => number, n: number): Table {
  const vhs: Json[] = [];
  for (let i = 0; i < n; i++) vhs.push(genVhost(r));
  const t: Table = { format: 1, version: "gen", virtualHosts: vhs };
  if (r() < 0.5) t.ambiguousHosts = [{ host: `amb${uniq++}`, candidates: ["a/amb", "b/amb"] }];
  return t;
}

export function allDomains(t: Table): string[] {
  return t.virtualHosts.flatMap((v: Json) => (Array.isArray(v?.domains) ? v.domains : []));
}

// ---------------------------------------------------------------------------------------------
// Edits. Each returns the next candidate: an object (serialized compactly) or raw text.

export type Candidate = { table?: Table; raw?: string; what: string };

/** Step `step` of a sequence: the first table, else an edit of `cur`; its text with version `version`. */
export function nextCandidate(r: () => number, step: number, cur: Table, bases: () => Table, version: string): { raw: string; what: string } {
  const c = step === 0 ? { table: cur, what: "first table" } : edit(r, cur, bases);
  if (c.raw !== undefined) return { raw: c.raw.replace(/"version":\s*"[^"]*"/, `"version":"${version}"`), what: c.what };
  c.table!.version = version;
  return { raw: JSON.stringify(c.table), what: c.what };
}

export function pick<T>(r: () => number, xs: T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

export function idx(r: () => number, t: Table): number {
  return Math.floor(r() * t.virtualHosts.length);
}

export function edit(r: () => number, cur: Table, bases: () => Table): Candidate {
  const t = clone(cur);
  const n = t.virtualHosts.length;
  const x = r();
  const ops: Array<[number, () => Candidate]> = [
    [14, () => {
      if (n === 0) return { table: t, what: "version only" };
      const k = idx(r, t);
      const vh = t.virtualHosts[k];
      const route = vh.routes?.[0];
      const y = r();
      if (y < 0.4 && Array.isArray(route?.route)) route.route[0].cluster = `outbound|80||changed-${uniq++}.svc`;
      else if (y < 0.6 && route?.match?.[0]?.uri?.prefix) route.match[0].uri.prefix = `/p${uniq++}/`;
      else if (y < 0.8 && Array.isArray(vh.domains)) vh.domains.push(`added-${uniq++}.example`);
      else if (route) route.headers = { request: { set: { "x-edit": `e${uniq++}` } } };
      return { table: t, what: `change vhost ${k}` };
    }],
    [6, () => {
      t.virtualHosts.splice(Math.floor(r() * (n + 1)), 0, genVhost(r));
      return { table: t, what: "add a vhost" };
    }],
    [5, () => {
      if (n > 0) t.virtualHosts.splice(idx(r, t), 1);
      return { table: t, what: "remove a vhost" };
    }],
    [5, () => {
      if (n > 1) {
        const a = idx(r, t);
        const b = idx(r, t);
        [t.virtualHosts[a], t.virtualHosts[b]] = [t.virtualHosts[b], t.virtualHosts[a]];
        if (r() < 0.3) t.virtualHosts.reverse();
      }
      return { table: t, what: "reorder vhosts" };
    }],
    [5, () => {
      if (n > 1) {
        const a = idx(r, t);
        let b = idx(r, t);
        if (b === a) b = (a + 1) % n;
        const d = pick(r, t.virtualHosts[a].domains as string[]);
        t.virtualHosts[b].domains.push(d);
      }
      return { table: t, what: "duplicate a domain across vhosts" };
    }],
    [3, () => {
      if (n > 0) t.virtualHosts.splice(idx(r, t), 0, clone(t.virtualHosts[idx(r, t)]));
      return { table: t, what: "duplicate a whole vhost" };
    }],
    [8, () => {
      if (n === 0) return { raw: "{", what: "invalid JSON" };
      const vh = t.virtualHosts[idx(r, t)];
      const route = vh.routes?.[0] ?? {};
      const breaks: Array<() => void> = [
        () => (route.match = [{ uri: { regex: "(unclosed" } }]),
        () => (route.match = [{ uri: { prefix: "/a" }, bogus: true }]),
        () => (route.route = [{ cluster: "has space", weight: 1 }]),
        () => (route.route = [{ cluster: "c", weight: 0 }]),
        () => (route.headers = { request: { set: { "X-Upper": "v" } } }),
        () => (route.timeoutMs = "5000"),
        () => (vh.domains = [...(vh.domains ?? []), "Upper.Example"]),
        () => (vh.domains = []),
        () => delete vh.name,
        () => (route.fault = { abort: { httpStatus: 503, percentage: 101 } }),
        () => (route.redirect = { uri: "/x" }),
        () => (vh.name = "bad name!"),
      ];
      pick(r, breaks)();
      return { table: t, what: "break a field deep inside one vhost" };
    }],
    [6, () => {
      const y = r();
      const domains = allDomains(t).filter((d) => !d.startsWith("*"));
      if (y < 0.4) t.ambiguousHosts = [...(t.ambiguousHosts ?? []), { host: `amb${uniq++}`, candidates: ["a/x", "b/x"] }];
      else if (y < 0.6 && domains.length) t.ambiguousHosts = [...(t.ambiguousHosts ?? []), { host: pick(r, domains), candidates: ["a/x", "b/x"] }];
      else if (y < 0.8) delete t.ambiguousHosts;
      else t.ambiguousHosts = [{ host: `amb${uniq++}`, candidates: ["only-one"] }];
      return { table: t, what: "change ambiguousHosts" };
    }],
    [6, () => {
      const y = r();
      if (y < 0.3) return { table: t, raw: JSON.stringify(t, null, pick(r, [1, 2, "\t"])), what: "indented" };
      if (y < 0.55) {
        const { format, version, virtualHosts, ambiguousHosts } = t;
        const reordered = ambiguousHosts ? { ambiguousHosts, virtualHosts, version, format } : { virtualHosts, format, version };
        return { table: t, raw: JSON.stringify(reordered), what: "top-level key order" };
      }
      if (y < 0.8 && n > 0) {
        const k = idx(r, t);
        const { name, domains, routes } = t.virtualHosts[k];
        t.virtualHosts[k] = { routes, domains, name };
        return { table: t, what: "key order inside one vhost" };
      }
      // Whitespace between the elements only: every element keeps its bytes.
      return { table: t, raw: ` \n${JSON.stringify(t).replace(/\},\{"name"/g, '} ,\n\t{"name"')}\n`, what: "whitespace between elements" };
    }],
    [8, () => {
      const raw = JSON.stringify(t);
      const p = Math.floor(r() * raw.length);
      const y = r();
      if (y < 0.35) return { raw: raw.slice(0, p), what: `truncated at ${p}` };
      if (y < 0.7) return { raw: raw.slice(0, p) + pick(r, ["{", "}", "[", "]", ",", ":", '"', "\\", "x", "1", " ", "\u00e9"]) + raw.slice(p), what: `byte inserted at ${p}` };
      return { raw: raw.slice(0, p) + raw.slice(p + 1), what: `byte deleted at ${p}` };
    }],
    [2, () => ({ table: t, raw: JSON.stringify(t).replace('"virtualHosts"', '"virtual\\u0048osts"'), what: "escaped key" })],
    [2, () => ({ raw: JSON.stringify(t).replace('"virtualHosts":[', '"virtualHosts":[1,'), what: "non-object element" })],
    [2, () => ({ raw: `{"virtualHosts":[],${JSON.stringify(t).slice(1)}`, what: "duplicate top-level key" })],
    [2, () => {
      // Nesting around load/json.ts's limit of 64 inside one element (level 3 of the document).
      const depth = 58 + Math.floor(r() * 6);
      const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      const raw = JSON.stringify(t).replace('"virtualHosts":[{', `"virtualHosts":[{"deep":${deep},`);
      return { raw, what: `nested ${depth} deep in an element` };
    }],
    [2, () => {
      if (n > 0) {
        const others = allDomains(t).includes("*");
        t.virtualHosts[idx(r, t)].domains.push("*");
        return { table: t, what: others ? "a second catch-all" : "a catch-all" };
      }
      return { table: t, what: "version only" };
    }],
    [3, () => ({ table: clone(bases()), what: "another table" })],
    [1, () => ({ raw: "", what: "the empty table" })],
    [3, () => ({ table: t, what: "version only" })],
  ];
  const total = ops.reduce((s, [w]) => s + w, 0);
  let y = x * total;
  for (const [w, f] of ops) {
    if (y < w) return f();
    y -= w;
  }
  return ops[0][1]();
}

// ---------------------------------------------------------------------------------------------
// Probes and outcomes

export function probeHosts(r: () => number, t: Table | null): string[] {
  const hosts = new Set<string>(["unknown.invalid", "a.example.com", "x.example.com", "a", "helloworld"]);
  if (t) {
    const vhs = t.virtualHosts;
    const chosen = new Set<number>();
    for (let i = 0; i < Math.min(3, vhs.length); i++) chosen.add(i).add(vhs.length - 1 - i);
    for (let i = 0; i < 6 && vhs.length; i++) chosen.add(Math.floor(r() * vhs.length));
    for (const i of chosen) {
      for (const d of (vhs[i]?.domains ?? []).slice(0, 3) as string[]) {
        if (d === "*") hosts.add("catch.all.test");
        else if (d.startsWith("*.")) hosts.add(`sub.${d.slice(2)}`);
        else hosts.add(d);
      }
    }
    for (const a of t.ambiguousHosts ?? []) if (typeof a?.host === "string") hosts.add(a.host);
  }
  return [...hosts];
}

export const PATHS: Array<[string, Record<string, string>]> = [
  ["/", {}],
  ["/api/users?x=1", {}],
  ["/v2/thing", { "x-user": "alice" }],
  ["/old?q=1", {}],
  ["/direct", {}],
  ["/slow", {}],
  ["/boom", {}],
  ["/retry/x", { "x-canal-authority": "spoofed" }],
  ["/API/V1?debug=1", { "x-user": "alice", "x-any": "", "x-re": "v3", ":method": "GET" }],
];

export function metricValues(host: ProxyWasmHost): Map<string, bigint> {
  return new Map(host.metrics.map((m) => [m.name, m.value]));
}

/** What a request's routing looks like from outside: replies, headers, cluster, metrics counted. */
export function outcome(host: ProxyWasmHost, authority: string, path: string, headers: Record<string, string>): Json {
  const before = metricValues(host);
  const o = send(host, path, { ...headers, ":authority": authority }, [[":status", "200"], ["x-up", "1"]]);
  const counted = [...metricValues(host)].filter(([k, v]) => v !== (before.get(k) ?? 0n)).map(([k]) => k).sort();
  return {
    action: o.action,
    status: o.local?.status,
    body: o.local?.bodyText,
    localHeaders: o.local?.headers,
    cluster: o.cluster,
    requestHeaders: [...o.requestHeaders].sort(),
    responseHeaders: [...o.responseHeaders].sort(),
    counted,
  };
}

export function routing(host: ProxyWasmHost, hosts: string[]): Json[] {
  const out: Json[] = [];
  for (const h of hosts) for (const [p, hd] of PATHS) out.push({ h, p, ...outcome(host, h, p, hd) });
  return out;
}

export function rejection(host: ProxyWasmHost): string {
  const errors = host.logMessages(LogLevel.error);
  expect(errors).toHaveLength(1);
  return errors[0];
}

/** The last load's report; these VMs have no shared entry, so it is incremental or whole. */
export function howCompiled(host: ProxyWasmHost): { incremental: boolean; reused: number; compiled: number; collisions: number } {
  const r = lastLoadReport(host.logMessages(LogLevel.debug));
  if (r.how === "shared") throw new Error("a load on the shared entry's fast path where none was expected");
  return { incremental: r.how === "incremental", reused: r.reused, compiled: r.compiled, collisions: r.collisions };
}


export function controllerTable(n: number, version: string, changed: Record<number, string> = {}): Table {
  const vhs: Json[] = [];
  for (let i = 0; i < n; i++) {
    const fqdn = `svc-${i}.ns-${i % 4}.svc.cluster.local`;
    const cluster = `outbound|8080||${fqdn}`;
    vhs.push({
      name: `ns-${i % 4}/svc-${i}`,
      domains: [fqdn, `svc-${i}.ns-${i % 4}.svc`, `svc-${i}.ns-${i % 4}`, `svc-${i}`],
      routes: [
        { match: [{ uri: { prefix: "/api/" } }], route: [{ cluster: changed[i] ?? cluster, weight: 100 }], timeoutMs: 5000 },
        { route: [{ cluster, weight: 100 }] },
      ],
    });
  }
  return { format: 1, version, virtualHosts: vhs };
}
