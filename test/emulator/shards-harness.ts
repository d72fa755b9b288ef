// Carriers and routers of Canal's filter in sharded mode (ADR 0005) in the emulator: every host
// gets the same SharedData store, as every plugin with an empty vm_id shares Envoy's, and each is
// its own VM (istiod gives every WasmPlugin its own). Tables come from the controller's planner.
import { expect } from "vitest";
import type { RouteTable, VirtualHost } from "../../schema/route-table.ts";
import { manifestDataKey, shardDataKey, type RouteTableManifest, type RouteTableShard } from "../../schema/route-table-shards.ts";
import { planShards, type ShardPlan } from "../../controller/src/translate/shards.ts";
import { LogLevel, SharedData, type ProxyWasmHost } from "./host.js";
import { send, startCanal } from "./canal.js";
import { table } from "../support/tables.ts";
import { services } from "./shards-tables.ts";

export const KEY = "canal.io/istio-system/canal";

export function tableOf(version: string, vhosts: VirtualHost[], extra: Partial<RouteTable> = {}): RouteTable {
  return table(version, vhosts, extra);
}

/** The planner's shards for `t` at exactly `count` shards (a target nothing meets, so it takes the most it may). */
export function plan(t: RouteTable, count: number, key = KEY): ShardPlan {
  const p = planShards(t, key, { maxShards: count, boundBytes: 100_000_000, targetBytes: 1 });
  expect(p.shards).toHaveLength(count);
  return p;
}

export function json(doc: RouteTableShard | RouteTableManifest | object): string {
  return JSON.stringify(doc);
}

/** A carrier VM configured with `doc`: must accept (carriers never NACK). */
export async function carry(store: SharedData, doc: string | object): Promise<ProxyWasmHost> {
  const host = await startCanal(typeof doc === "string" ? doc : JSON.stringify(doc), { sharedData: store });
  return host;
}

/** Carries every shard of `p` and then its manifest (the sink's write order). */
export async function carryPlan(store: SharedData, p: ShardPlan, only?: number[]): Promise<void> {
  for (const s of p.shards) if (only === undefined || only.includes(s.index)) (await carry(store, s)).shutdown();
  (await carry(store, p.manifest)).shutdown();
}

export function routerConfig(key = KEY): string {
  return JSON.stringify({ format: 1, shardedTable: { key } });
}

export async function router(store: SharedData, key = KEY): Promise<ProxyWasmHost> {
  return startCanal(routerConfig(key), { sharedData: store, logLevel: LogLevel.debug });
}

/** One router tick after 100 ms (its poll period). */
export function tick(host: ProxyWasmHost): void {
  expect(host.tickPeriodMs).toBeGreaterThan(0);
  host.advanceTime(100);
  host.tick();
}

export function probe(host: ProxyWasmHost): { status: number; body: string; version?: string } {
  const o = send(host, "/", { ":authority": "canal-probe.invalid" });
  const l = o.local;
  if (!l) throw new Error("the probe was not answered locally");
  return { status: l.status, body: l.bodyText, version: l.headers.find(([k]) => k === "x-canal-table")?.[1] };
}

/** What a request for `host` gets: the cluster, or "<status> <body>". */
export function routeOf(router: ProxyWasmHost, host: string, path = "/api/x"): string {
  const o = send(router, path, { ":authority": host });
  if (o.cluster !== undefined) return o.cluster;
  return `${o.local?.status} ${o.local?.bodyText.trim()}`;
}

export function logsAt(host: ProxyWasmHost, level: LogLevel, prefix: string): string[] {
  return host.logMessages(level).filter((l) => l.startsWith(prefix));
}

/** "canal: loaded route table V from K shards (C compiled)" lines: [version, K, C]. */
export function loads(host: ProxyWasmHost): [string, number, number][] {
  return logsAt(host, LogLevel.info, "canal: loaded route table ").map((l) => {
    const m = /^canal: loaded route table (\S+) from (\d+) shards \((\d+) compiled\)/.exec(l);
    if (m === null) throw new Error(`unexpected line ${l}`);
    return [m[1] ?? "", Number(m[2]), Number(m[3])];
  });
}

export { manifestDataKey, shardDataKey, services, SharedData };
