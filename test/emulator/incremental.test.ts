// The incremental configure (filter/assembly/compile.ts "Incremental configure", reuse.ts): a VM
// that has loaded a table compiles only the virtual hosts whose bytes changed. These tests hold it
// to the whole-document compile: a long seeded sequence of tables configured one after another
// into ONE VM is compared, table by table, with a FRESH VM per table (which has no cache, so it
// compiles the whole document): the same verdict, the same error message, and the same routing
// of a set of probe requests. Other tests prove the fast path is really taken, that a rejected
// table leaves the cache alone, that a hash collision cannot swap a virtual host, and that
// memory stays flat.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LogLevel, type ProxyWasmHost } from "./host.js";
import { send, startCanal } from "./canal.js";
// mulberry32, so a failure reproduces from its seed.
import { rng } from "../unit/regex/harness.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;
interface Table {
  format: number;
  version: string;
  virtualHosts: Json[];
  ambiguousHosts?: Json[];
}

const clone = <T>(x: T): T => structuredClone(x);

// ---------------------------------------------------------------------------------------------
// Tables

const corpusDir = join(import.meta.dirname, "..", "tables", "valid");
const corpus: Table[] = readdirSync(corpusDir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(corpusDir, f), "utf8")) as Table);

/**
 * Makes routing independent of the filter's random draws (the two VMs draw differently): weighted
 * routes send everything to their first destination, fault percentages are 0 or 100.
 */
function deterministic(t: Table): Table {
  const out = clone(t);
  for (const vh of out.virtualHosts) {
    for (const r of vh.routes ?? []) {
      if (Array.isArray(r.route) && r.route.length > 1) r.route.forEach((d: Json, i: number) => (d.weight = i === 0 ? 1 : 0));
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
function genVhost(r: () => number, tag = `g${uniq++}`): Json {
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

function genTable(r: () => number, n: number): Table {
  const vhs: Json[] = [];
  for (let i = 0; i < n; i++) vhs.push(genVhost(r));
  const t: Table = { format: 1, version: "gen", virtualHosts: vhs };
  if (r() < 0.5) t.ambiguousHosts = [{ host: `amb${uniq++}`, candidates: ["a/amb", "b/amb"] }];
  return t;
}

function allDomains(t: Table): string[] {
  return t.virtualHosts.flatMap((v: Json) => (Array.isArray(v?.domains) ? v.domains : []));
}

// ---------------------------------------------------------------------------------------------
// Edits. Each returns the next candidate: an object (serialized compactly) or raw text.

type Candidate = { table?: Table; raw?: string; what: string };

function pick<T>(r: () => number, xs: T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function idx(r: () => number, t: Table): number {
  return Math.floor(r() * t.virtualHosts.length);
}

function edit(r: () => number, cur: Table, bases: () => Table): Candidate {
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
      // Nesting around json.ts's limit of 64 inside one element (level 3 of the document).
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

function probeHosts(r: () => number, t: Table | null): string[] {
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

const PATHS: Array<[string, Record<string, string>]> = [
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

function metricValues(host: ProxyWasmHost): Map<string, bigint> {
  return new Map(host.metrics.map((m) => [m.name, m.value]));
}

/** What a request's routing looks like from outside: replies, headers, cluster, metrics counted. */
function outcome(host: ProxyWasmHost, authority: string, path: string, headers: Record<string, string>): Json {
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

function routing(host: ProxyWasmHost, hosts: string[]): Json[] {
  const out: Json[] = [];
  for (const h of hosts) for (const [p, hd] of PATHS) out.push({ h, p, ...outcome(host, h, p, hd) });
  return out;
}

function rejection(host: ProxyWasmHost): string {
  const errors = host.logMessages(LogLevel.error);
  expect(errors).toHaveLength(1);
  return errors[0];
}

function howCompiled(host: ProxyWasmHost): { incremental: boolean; reused: number; compiled: number; collisions: number } {
  const line = host.logMessages(LogLevel.debug).filter((l) => l.startsWith("canal: configure ")).at(-1) ?? "";
  const m = /^canal: configure (incremental|whole document): (\d+) virtual hosts reused, (\d+) compiled, (\d+) hash collisions$/.exec(line);
  if (!m) throw new Error(`no configure line in the log: ${line}`);
  return { incremental: m[1] === "incremental", reused: Number(m[2]), compiled: Number(m[3]), collisions: Number(m[4]) };
}

// ---------------------------------------------------------------------------------------------

describe("one VM across a sequence of tables = a fresh VM per table", () => {
  const SEEDS = [1, 2, 3];
  const STEPS = 140;

  it.each(SEEDS)("seed %i", async (seed) => {
    const r = rng(seed);
    const bases = (): Table => {
      const y = r();
      if (y < 0.35) return deterministic(pick(r, corpus));
      return genTable(r, 5 + Math.floor(r() * (y < 0.8 ? 60 : 400)));
    };
    const seq = await startCanal("");
    let cur: Table = bases();
    let served = "empty";
    let servedFresh: ProxyWasmHost = await startCanal("");
    const stats = { accepted: 0, rejected: 0, incremental: 0, reused: 0, compiled: 0 };
    for (let step = 0; step < STEPS; step++) {
      const c = step === 0 ? { table: cur, what: "first table" } : edit(r, cur, bases);
      const version = `s${seed}-${step}`;
      let raw: string;
      if (c.raw !== undefined) {
        raw = c.raw.replace(/"version":\s*"[^"]*"/, `"version":"${version}"`);
      } else {
        c.table!.version = version;
        raw = JSON.stringify(c.table);
      }
      const ctx = `seed ${seed} step ${step} (${c.what})`;
      seq.clearLogs();
      const seqOk = seq.configure(raw);
      const fresh = await startCanal("");
      fresh.clearLogs();
      const freshOk = fresh.configure(raw);
      expect(seqOk, ctx).toBe(freshOk);
      if (seqOk) {
        stats.accepted++;
        const how = howCompiled(seq);
        if (how.incremental) stats.incremental++;
        stats.reused += how.reused;
        stats.compiled += how.compiled;
        expect(seq.logMessages(LogLevel.info).at(-1), ctx).toBe(fresh.logMessages(LogLevel.info).at(-1));
        served = raw === "" ? "empty" : version;
        servedFresh = fresh;
        if (raw === "") cur = bases();
        else cur = JSON.parse(raw) as Table;
        const hosts = probeHosts(r, raw === "" ? null : cur);
        expect(routing(seq, hosts), ctx).toEqual(routing(fresh, hosts));
      } else {
        stats.rejected++;
        const seqError = rejection(seq);
        const freshError = rejection(fresh);
        expect(seqError, ctx).toBe(freshError.replace("(still serving table empty)", `(still serving table ${served})`));
        // The sequence VM still serves its last accepted table, exactly as that table's own VM does.
        const hosts = probeHosts(r, raw === "" ? null : cur).slice(0, 8);
        expect(routing(seq, hosts), ctx).toEqual(routing(servedFresh, hosts));
      }
    }
    console.info(`seed ${seed}: ${JSON.stringify(stats)}`);
    // The comparison means something only if both paths ran a lot.
    expect(stats.accepted).toBeGreaterThan(STEPS / 4);
    expect(stats.rejected).toBeGreaterThan(STEPS / 5);
    expect(stats.incremental).toBeGreaterThan(stats.accepted / 3);
    expect(stats.reused).toBeGreaterThan(stats.compiled);
  }, 600_000);
});

/** A controller-shaped table of n virtual hosts; `changed` virtual hosts get another cluster. */
function controllerTable(n: number, version: string, changed: Record<number, string> = {}): Table {
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

describe("the fast path", () => {
  it("after a one-vhost change, N-1 virtual hosts are reused and 1 is compiled; a rejected table leaves the cache as it was", async () => {
    const N = 2000;
    const host = await startCanal(controllerTable(N, "v1"));
    expect(howCompiled(host)).toEqual({ incremental: false, reused: 0, compiled: N, collisions: 0 });

    expect(host.configure(JSON.stringify(controllerTable(N, "v2", { 17: "outbound|8080||new.svc" })))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: N - 1, compiled: 1, collisions: 0 });
    expect(send(host, "/api/x", { ":authority": "svc-17" }).cluster).toBe("outbound|8080||new.svc");
    expect(send(host, "/api/x", { ":authority": "svc-18.ns-2" }).cluster).toBe("outbound|8080||svc-18.ns-2.svc.cluster.local");

    // Rejected: vhost 900 broken (and 17 changed again). The cache still holds v2's elements.
    const bad = controllerTable(N, "v3", { 17: "outbound|8080||newer.svc" });
    bad.virtualHosts[900].routes[0].match[0].uri = { regex: "(" };
    host.clearLogs();
    expect(host.configure(JSON.stringify(bad))).toBe(false);
    expect(rejection(host)).toBe("canal: rejected route table: virtualHosts[900].routes[0].match[0].uri.regex: missing closing ): at offset 1 (still serving table v2)");
    expect(send(host, "/api/x", { ":authority": "svc-17" }).cluster).toBe("outbound|8080||new.svc");

    // v4 differs from v2 in vhost 5 only (from the rejected v3 in three): one compile.
    expect(host.configure(JSON.stringify(controllerTable(N, "v4", { 17: "outbound|8080||new.svc", 5: "outbound|8080||five.svc" })))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: N - 1, compiled: 1, collisions: 0 });
    expect(send(host, "/api/x", { ":authority": "svc-5.ns-1.svc.cluster.local" }).cluster).toBe("outbound|8080||five.svc");
    expect(send(host, "/api/x", { ":authority": "svc-17" }).cluster).toBe("outbound|8080||new.svc");
    expect(host.logMessages(LogLevel.info).at(-1)).toBe(`canal: loaded route table v4: ${N} virtual hosts, ${2 * N} routes`);

    // Added, removed and moved virtual hosts are found by their bytes wherever they are.
    const moved = controllerTable(N, "v5", { 17: "outbound|8080||new.svc", 5: "outbound|8080||five.svc" });
    const [first] = moved.virtualHosts.splice(0, 1);
    moved.virtualHosts.splice(1000, 1);
    moved.virtualHosts.push(first);
    moved.virtualHosts.splice(500, 0, { name: "ns/extra", domains: ["extra.test"], routes: [{ route: [{ cluster: "outbound|80||extra" }] }] });
    expect(host.configure(JSON.stringify(moved))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: N - 1, compiled: 1, collisions: 0 });
    expect(send(host, "/", { ":authority": "extra.test" }).cluster).toBe("outbound|80||extra");
    expect(send(host, "/", { ":authority": "svc-1001" }).local?.status).toBe(404);
    expect(send(host, "/", { ":authority": "svc-0" }).cluster).toBe("outbound|8080||svc-0.ns-0.svc.cluster.local");

    // The empty table drops the cache: the next table is compiled whole.
    expect(host.configure("")).toBe(true);
    expect(host.configure(JSON.stringify(controllerTable(N, "v6")))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: false, reused: 0, compiled: N, collisions: 0 });
  }, 120_000);

  it("a conflict between a new and a reused virtual host is the whole compile's error", async () => {
    const host = await startCanal(controllerTable(50, "v1"));
    const t = controllerTable(50, "v2");
    t.virtualHosts[10].domains.push("svc-40");
    host.clearLogs();
    expect(host.configure(JSON.stringify(t))).toBe(false);
    expect(rejection(host)).toBe('canal: rejected route table: virtualHosts[40].domains[3]: domain "svc-40" is already used by virtualHosts[10].domains[4] (still serving table v1)');
    const amb = { ...controllerTable(50, "v3"), ambiguousHosts: [{ host: "svc-3", candidates: ["a/svc-3", "b/svc-3"] }] };
    host.clearLogs();
    expect(host.configure(JSON.stringify(amb))).toBe(false);
    expect(rejection(host)).toBe('canal: rejected route table: ambiguousHosts: host "svc-3" is also a domain of virtualHosts[3].domains[3] (still serving table v1)');
  });

  it("repeated one-vhost changes keep memory flat (the cache holds the last table only)", async () => {
    const N = 500;
    const host = await startCanal(controllerTable(N, "m0"));
    let settled = 0;
    for (let i = 1; i <= 400; i++) {
      expect(host.configure(JSON.stringify(controllerTable(N, `m${i}`, { [(i * 37) % N]: `outbound|80||m${i}` })))).toBe(true);
      if (i % 5 === 0) expect(host.configure(`{"format":1,"version":"bad","virtualHosts":[{}]}`)).toBe(false);
      if (i === 100) settled = host.memoryBytes;
    }
    expect(howCompiled(host).incremental).toBe(true);
    expect(host.memoryBytes).toBeLessThanOrEqual(settled + 65536);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// Hash collisions

/** reuse.ts spanHash, in JavaScript. */
function spanHash(b: Uint8Array): number {
  let h = (0x811c9dc5 ^ b.length) >>> 0;
  let i = 0;
  for (; i + 4 <= b.length; i += 4) {
    const w = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
    h = Math.imul(h ^ w, 0x01000193) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  for (; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Two virtual hosts (same length, different clusters) whose elements hash the same. */
function collidingPair(): [Json, Json] {
  const enc = new TextEncoder();
  const seen = new Map<number, string>();
  const r = rng(42);
  const vh = (suffix: string): Json => ({ name: "ns/collide", domains: ["collide.test"], routes: [{ route: [{ cluster: `outbound|80||c-${suffix}` }] }] });
  for (;;) {
    const suffix = Math.floor(r() * 2 ** 32).toString(16).padStart(8, "0");
    const h = spanHash(enc.encode(JSON.stringify(vh(suffix))));
    const other = seen.get(h);
    if (other !== undefined && other !== suffix) return [vh(other), vh(suffix)];
    seen.set(h, suffix);
  }
}

describe("hash collisions", () => {
  it("an element whose hash (and length) equals a cached one's but whose bytes differ is compiled, not swapped", async () => {
    const [a, b] = collidingPair();
    const enc = new TextEncoder();
    expect(spanHash(enc.encode(JSON.stringify(a)))).toBe(spanHash(enc.encode(JSON.stringify(b))));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(b));
    expect(JSON.stringify(a).length).toBe(JSON.stringify(b).length);
    const withVh = (version: string, x: Json): Table => {
      const t = controllerTable(40, version);
      t.virtualHosts.splice(10, 0, x);
      return t;
    };
    const host = await startCanal(withVh("h1", a));
    expect(host.configure(JSON.stringify(withVh("h2", a)))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: 41, compiled: 0, collisions: 0 });
    expect(send(host, "/", { ":authority": "collide.test" }).cluster).toBe(a.routes[0].route[0].cluster);
    // b has a's hash and length: the filter finds a's entry by hash and must reject it on the bytes.
    // (Moved to the end, so it is not the element the scan expects next and goes through the hash.)
    const t3 = controllerTable(40, "h3");
    t3.virtualHosts.push(b);
    expect(host.configure(JSON.stringify(t3))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: 40, compiled: 1, collisions: 1 });
    expect(send(host, "/", { ":authority": "collide.test" }).cluster).toBe(b.routes[0].route[0].cluster);
    // And back: a, at the end again, is found by the hash, and b (cached now) is rejected on the bytes.
    const t4 = controllerTable(40, "h4");
    t4.virtualHosts.push(a);
    expect(host.configure(JSON.stringify(t4))).toBe(true);
    expect(howCompiled(host)).toEqual({ incremental: true, reused: 40, compiled: 1, collisions: 1 });
    expect(send(host, "/", { ":authority": "collide.test" }).cluster).toBe(a.routes[0].route[0].cluster);
  }, 60_000);
});
