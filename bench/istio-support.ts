// Helpers for bench/istio.ts: the benchmark's objects (N Services + N VirtualServices bound to
// both the Canal gateway and istiod's native one), probing a gateway until a change is served,
// istiod's push state, process memory from /proc, and the WasmPlugin size wall (what the
// controller's guard and the real API server + etcd accept).

import { readFileSync } from "node:fs";
import { Agent } from "node:http";
import { cpus } from "node:os";
import { execFileSync } from "node:child_process";
import { parseObjects } from "../controller/src/api/index.ts";
import { MAX_PLUGIN_CONFIG_BYTES, WasmPluginWriter, FIELD_MANAGER, type WasmPluginTarget } from "../controller/src/sinks/wasmplugin.ts";
import { translate, type RegexValidator } from "../controller/src/translate/index.ts";
import type { RouteTable } from "../schema/route-table.ts";
import { request, type HttpResponse } from "../test/support/http.ts";
import type { Istiod } from "../test/support/istiod.ts";
import type { KubeApi, KubeObject } from "../test/support/k8s.ts";
import { echoOf, SYSTEM_NS } from "../test/istio/world.ts";
import { fmt, sleep } from "./controller-support.ts";
import { nsOf, service, SVC_PORT } from "./controller/scenario.ts";

// Services svc-i have no endpoints (nothing selects them); only blue and green have backends.
export { nsOf, service, SVC_PORT };

/** Progress for long steps: stderr, so stdout carries only the results. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Objects

/** The two backends (echo servers) the measured changes route between. */
export const TARGETS = ["blue", "green"] as const;
export const TARGET_NS = "bench-0";
export const CHANGE_HEADER = "x-bench-change";
/** The header value of the probe VirtualService's initial route (the sync probe). */
export const INITIAL_MARK = "initial";
/** Spreads the changed VirtualServices over the table (coprime with the sizes used). */
const STRIDE = 7919;
/** Every VirtualService is bound to both gateways, so each change reaches both. */
export const BOTH_GATEWAYS = [`${SYSTEM_NS}/canal`, `${SYSTEM_NS}/native`];

export const fqdn = (name: string, ns: string): string => `${name}.${ns}.svc.cluster.local`;
export const hostOf = (i: number, namespaces: number): string => fqdn(`svc-${i}`, nsOf(i, namespaces));

/** The VirtualService the k-th change edits (spread over the table). */
export function changedIndex(k: number, n: number): number {
  return (k * STRIDE + 1) % n;
}

export function namespaceObjects(namespaces: number): KubeObject[] {
  return Array.from({ length: namespaces }, (_, k) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name: `bench-${k}` } }));
}

/**
 * VirtualService svc-i on both gateways: an `/api/` prefix route with a timeout and a catch-all,
 * both to its own Service. With `mark` (a change number, or INITIAL_MARK for the sync probe)
 * `/api/` goes to blue or green instead and sets a request header carrying the mark, so the echo
 * shows which version of the object routed the request.
 */
export function virtualService(i: number, namespaces: number, mark?: string): KubeObject {
  const own = { destination: { host: `svc-${i}`, port: { number: SVC_PORT } } };
  const api =
    mark === undefined
      ? { name: "api", match: [{ uri: { prefix: "/api/" } }], route: [own], timeout: "5s" }
      : {
          name: "api",
          match: [{ uri: { prefix: "/api/" } }],
          route: [{ destination: { host: fqdn(targetOf(mark), TARGET_NS), port: { number: SVC_PORT } } }],
          timeout: "5s",
          headers: { request: { set: { [CHANGE_HEADER]: mark } } },
        };
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: `svc-${i}`, namespace: nsOf(i, namespaces) },
    spec: { hosts: [hostOf(i, namespaces)], gateways: BOTH_GATEWAYS, http: [api, { name: "default", route: [own] }] },
  };
}

/** Where a mark routes `/api/`: change numbers alternate blue ↔ green; the initial mark is blue. */
export function targetOf(mark: string): (typeof TARGETS)[number] {
  return mark === INITIAL_MARK ? TARGETS[0] : TARGETS[Number(mark) % 2];
}

/** The probe VirtualService carries INITIAL_MARK from the start: the last one. */
export function benchObjects(n: number, namespaces: number): KubeObject[] {
  const objects: KubeObject[] = [];
  for (let i = 0; i < n; i++) objects.push(service(i, namespaces));
  for (let i = 0; i < n; i++) objects.push(virtualService(i, namespaces, i === n - 1 ? INITIAL_MARK : undefined));
  return objects;
}

// ---------------------------------------------------------------------------------------------
// Probing a gateway

/** One side of the comparison: where requests go. */
export interface Side {
  label: string;
  port: number;
  /** One keep-alive connection, so polling every few ms does not use up ephemeral ports. */
  agent: Agent;
}

export function side(label: string, port: number): Side {
  return { label, port, agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
}

export async function probe(s: Side, host: string): Promise<HttpResponse | undefined> {
  return request({ port: s.port, host, path: "/api/bench", agent: s.agent, timeoutMs: 10_000 }).catch(() => undefined);
}

/** True when the echo came from the mark's backend with the mark's header: that version of the VirtualService routed it. */
export function servedBy(res: HttpResponse | undefined, mark: string): boolean {
  if (res === undefined || res.status !== 200) return false;
  const e = echoOf(res);
  return e !== undefined && e.upstream === `${targetOf(mark)}.${TARGET_NS}` && e.headers[CHANGE_HEADER] === mark;
}

/**
 * Polls `s` every `intervalMs` until `host` is served by `mark`; resolves with performance.now()
 * of the answer that showed it, or undefined at `deadline` (performance.now() time) or when
 * `cancelled()` says so.
 */
export async function untilServed(s: Side, host: string, mark: string, deadline: number, intervalMs: number, cancelled: () => boolean = () => false): Promise<number | undefined> {
  while (performance.now() < deadline && !cancelled()) {
    const res = await probe(s, host);
    if (servedBy(res, mark)) return performance.now();
    await sleep(intervalMs);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// istiod

/** What /debug/syncz reports per proxy: the nonce sent and the nonce acked, per resource type. */
interface SynczEntry {
  proxy?: string;
  resources?: Record<string, { sent?: string; acked?: string }>;
}

/**
 * istiod has nothing in flight: every connected proxy ACKed the last nonce of every type, and
 * that state held for `quietMs`. Bounded by `timeoutMs`. Resolves with when that state was
 * first seen (performance.now()), or undefined when it never settled.
 */
export async function untilIstiodQuiet(istiod: Istiod, quietMs: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  let since = performance.now();
  while (performance.now() < deadline) {
    let key = "busy";
    try {
      const entries = JSON.parse(await istiod.debug("/debug/syncz")) as SynczEntry[];
      const pending = entries.some((e) => Object.values(e.resources ?? {}).some((r) => r.sent !== r.acked));
      if (!pending) key = JSON.stringify(entries.map((e) => [e.proxy, e.resources]));
    } catch {
      key = "busy";
    }
    if (key !== last) {
      last = key;
      since = performance.now();
    } else if (key !== "busy" && performance.now() - since >= quietMs) return since;
    await sleep(50);
  }
  return undefined;
}

function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}

/**
 * istiod's own view holds the bench's objects: /debug/configz lists at least `n` VirtualServices
 * and /debug/registryz at least `n` svc-* Services. Polled every second, bounded by `timeoutMs`.
 */
export async function untilIstiodHolds(istiod: Istiod, n: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let seen = { vs: 0, svc: 0 };
  while (performance.now() < deadline) {
    try {
      seen = {
        vs: occurrences(await istiod.debug("/debug/configz"), '"kind":"VirtualService"'),
        svc: occurrences(await istiod.debug("/debug/registryz"), '"hostname":"svc-'),
      };
      if (seen.vs >= n && seen.svc >= n) return;
    } catch {
      // busy; try again
    }
    await sleep(1000);
  }
  throw new Error(`istiod did not hold ${n} VirtualServices and Services within ${fmt(timeoutMs / 1000)} s (configz: ${seen.vs} VirtualServices, registryz: ${seen.svc} Services)`);
}

// ---------------------------------------------------------------------------------------------
// Processes and the machine

/** VmRSS and VmHWM (bytes) of a process, or undefined when it is gone. */
export function procMemory(pid: number | undefined): { rss: number; hwm: number } | undefined {
  if (pid === undefined) return undefined;
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

export interface Machine {
  nproc: number;
  cpu: string;
  memBytes: number;
  kernel: string;
}

export function machine(): Machine {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown";
  const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? Number.NaN);
  return { nproc: cpus().length, cpu, memBytes: memKb * 1024, kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim() };
}

export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

// ---------------------------------------------------------------------------------------------
// The WasmPlugin size wall

/** The table the controller builds for the bench's objects at size n (same translate, in this process). */
export class TableSizer {
  private readonly cache = new Map<number, RouteTable>();

  constructor(
    /** The objects besides the bench's: the charts' Gateway, Service and InternalGateway, the native Gateway, blue and green. */
    private readonly base: readonly KubeObject[],
    private readonly namespaces: number,
    private readonly validateRegex: RegexValidator,
  ) {}

  table(n: number): RouteTable {
    const hit = this.cache.get(n);
    if (hit !== undefined) return hit;
    const parsed = parseObjects([...this.base, ...benchObjects(n, this.namespaces)]);
    const result = translate(parsed.snapshot, { validateRegex: this.validateRegex });
    const g = result.gateways.find((x) => x.ref.namespace === SYSTEM_NS && x.ref.name === "canal");
    if (g === undefined || !g.accepted) throw new Error(`in-process translate of ${n} VirtualServices: no accepted gateway ${SYSTEM_NS}/canal (${JSON.stringify(result.problems.slice(0, 3))})`);
    if (result.problems.length > 0) throw new Error(`in-process translate of ${n} VirtualServices has problems: ${JSON.stringify(result.problems.slice(0, 3))}`);
    this.cache.clear(); // one table at a time: a 10,000-host table is tens of MB as objects
    this.cache.set(n, g.table);
    return g.table;
  }

  bytes(n: number): number {
    return Buffer.byteLength(JSON.stringify(this.table(n)));
  }
}

/** Largest n in [lo, hi] with ok(n), given ok is monotone (true, then false); lo - 1 when none. */
export async function largest(lo: number, hi: number, ok: (n: number) => Promise<boolean> | boolean): Promise<number> {
  let good = lo - 1;
  let bad = hi + 1;
  while (bad - good > 1) {
    const mid = Math.floor((good + bad) / 2);
    if (await ok(mid)) good = mid;
    else bad = mid;
  }
  return good;
}

/** The WasmPlugin the wall search and the apply timing write: not the controller's, and selecting no pod, so istiod delivers it nowhere. */
export function probeTarget(url: string): WasmPluginTarget {
  return { namespace: SYSTEM_NS, name: "canal-wall-probe", selector: { app: "canal-wall-probe" }, url };
}

/**
 * What one WasmPlugin write of `table` costs in the API server, as the controller does it: a GET
 * of the current object, then a server-side apply. `times` writes, each a real update (the table's
 * version is suffixed per write, as a new table would change it); the plugin is deleted after.
 */
export async function timePluginWrites(api: KubeApi, url: string, table: RouteTable, times: number): Promise<{ getMs: number[]; applyMs: number[] }> {
  const target = probeTarget(url);
  const path = await api.resourcePath("extensions.istio.io/v1alpha1", "WasmPlugin", target.namespace, target.name);
  const getMs: number[] = [];
  const applyMs: number[] = [];
  try {
    for (let k = 0; k <= times; k++) {
      const g0 = performance.now();
      await api.request("GET", path);
      const a0 = performance.now();
      const a = await applyPlugin(api, target, { ...table, version: `${table.version}-bench-${k}` }, false);
      const a1 = performance.now();
      if (a.status < 200 || a.status >= 300) throw new Error(`timing WasmPlugin writes: HTTP ${a.status} ${a.message}`);
      if (k === 0) continue; // the first one creates it
      getMs.push(a0 - g0);
      applyMs.push(a1 - a0);
    }
  } finally {
    await api.delete(path).catch(() => undefined);
  }
  return { getMs, applyMs };
}

export interface ApplyAnswer {
  status: number;
  /** The Status message of a refusal (or "" on success). */
  message: string;
  /** Request body bytes. */
  bodyBytes: number;
  /** JSON bytes of the object as stored (GET, managedFields included) when accepted. */
  storedBytes?: number;
  managedFieldsBytes?: number;
}

export interface WallResult {
  /** The controller's guard (controller/src/sinks/wasmplugin.ts). */
  guardBytes: number;
  /** Largest N whose table is within the guard. */
  guardMaxN: number;
  guardMaxTableBytes: number;
  /** Largest N whose WasmPlugin the API server stored, and what it answered just above it. */
  apiMaxN: number;
  apiMaxTableBytes: number;
  apiMaxAnswer: ApplyAnswer;
  refusedN: number;
  refusedTableBytes: number;
  refusedAnswer: ApplyAnswer;
  /** What the API server answered for the WasmPlugin of the largest size measured. */
  atSize: { n: number; tableBytes: number; answer: ApplyAnswer };
  /** Every write of the search, by N: what the API server answered. */
  tried: { n: number; tableBytes: number; status: number; message: string }[];
  /** Average table bytes per VirtualService at the largest size. */
  bytesPerVs: number;
  searchS: number;
}

/**
 * Applies, as the controller would (WasmPluginWriter.render, server-side apply with its field
 * manager), a WasmPlugin carrying `table` under another name and a selector no pod has, so
 * istiod delivers it nowhere; returns the API server's answer.
 */
export async function applyPlugin(api: KubeApi, target: WasmPluginTarget, table: RouteTable, readBack = true): Promise<ApplyAnswer> {
  const obj = WasmPluginWriter.render(target, table);
  const body = JSON.stringify(obj);
  const path = await api.resourcePath("extensions.istio.io/v1alpha1", "WasmPlugin", target.namespace, target.name);
  const r = await api.request("PATCH", path, {
    body,
    contentType: "application/apply-patch+yaml",
    query: { fieldManager: FIELD_MANAGER, force: true },
    timeoutMs: 120_000,
  });
  const bodyBytes = Buffer.byteLength(body);
  if (r.status < 200 || r.status >= 300) {
    const message = (r.json as { message?: string } | undefined)?.message ?? r.text.slice(0, 300);
    return { status: r.status, message, bodyBytes };
  }
  if (!readBack) return { status: r.status, message: "", bodyBytes };
  const stored = await api.request("GET", path);
  const managed = (stored.json as { metadata?: { managedFields?: unknown } } | undefined)?.metadata?.managedFields;
  return { status: r.status, message: "", bodyBytes, storedBytes: Buffer.byteLength(stored.text), managedFieldsBytes: Buffer.byteLength(JSON.stringify(managed ?? [])) };
}

/**
 * The wall: the largest N whose table the controller's guard lets through (translate only), the
 * largest N whose WasmPlugin the API server really stores (binary search, each step a real
 * server-side apply), what it answers above that, and what it answers at `maxN`.
 */
export async function measureWall(api: KubeApi, sizer: TableSizer, url: string, maxN: number): Promise<WallResult> {
  const t0 = performance.now();
  const target = probeTarget(url);
  const pluginPath = await api.resourcePath("extensions.istio.io/v1alpha1", "WasmPlugin", SYSTEM_NS, target.name);
  try {
    const guardMaxN = await largest(1, maxN, (n) => sizer.bytes(n) <= MAX_PLUGIN_CONFIG_BYTES);
    note(`  wall: the controller's guard (${fmt(MAX_PLUGIN_CONFIG_BYTES)} bytes) lets tables through up to ${fmt(guardMaxN)} VirtualServices`);
    const atSize = { n: maxN, tableBytes: sizer.bytes(maxN), answer: await applyPlugin(api, target, sizer.table(maxN)) };
    note(`  wall: ${fmt(maxN)} VirtualServices (${fmt(atSize.tableBytes)} bytes): API server answered ${atSize.answer.status} ${atSize.answer.message}`);
    const answers = new Map<number, ApplyAnswer>();
    const apiMaxN = await largest(1, maxN, async (n) => {
      const a = await applyPlugin(api, target, sizer.table(n));
      answers.set(n, a);
      note(`  wall: ${fmt(n)} VirtualServices (${fmt(sizer.bytes(n))} bytes table, ${fmt(a.bodyBytes)} bytes request): ${a.status}${a.message === "" ? "" : ` ${a.message}`}`);
      return a.status >= 200 && a.status < 300;
    });
    const refusedN = apiMaxN + 1;
    const need = async (n: number): Promise<ApplyAnswer> => answers.get(n) ?? applyPlugin(api, target, sizer.table(n));
    const refusedAnswer = refusedN <= maxN ? await need(refusedN) : atSize.answer;
    // The stored size of the largest accepted one (re-applied if a larger attempt came after it).
    const apiMaxAnswer = apiMaxN >= 1 ? await applyPlugin(api, target, sizer.table(apiMaxN)) : refusedAnswer;
    const maxBytes = sizer.bytes(maxN);
    return {
      guardBytes: MAX_PLUGIN_CONFIG_BYTES,
      guardMaxN,
      guardMaxTableBytes: sizer.bytes(guardMaxN),
      apiMaxN,
      apiMaxTableBytes: apiMaxN >= 1 ? sizer.bytes(apiMaxN) : 0,
      apiMaxAnswer,
      refusedN,
      refusedTableBytes: refusedN <= maxN ? sizer.bytes(refusedN) : maxBytes,
      refusedAnswer,
      atSize,
      tried: [...answers.entries()].sort((a, b) => a[0] - b[0]).map(([n, a]) => ({ n, tableBytes: sizer.bytes(n), status: a.status, message: a.message })),
      bytesPerVs: maxBytes / maxN,
      searchS: (performance.now() - t0) / 1000,
    };
  } finally {
    await api.delete(pluginPath).catch(() => undefined);
  }
}

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** utime+stime of a process in seconds (/proc/<pid>/stat), or NaN when it is gone. */
export function procCpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return Number.NaN;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
