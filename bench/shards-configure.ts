// What a table change costs the filter in sharded WasmPlugin mode (ADR 0005) against table mode,
// in the emulator (build/canal.wasm in Node's V8, like test/emulator), CPU time per step, for
// controller-shaped tables (test/emulator/shards-tables.ts), each round alternating the two modes:
//
//   table mode:  a fresh VM's whole compile of the table; a one-vhost change in the kept VM
//                (the incremental configure, docs/filter.md);
//   sharded:     a carrier's configure of the largest shard (head check + copy into shared data);
//                a fresh router's first configure (every shard compiled + the union); a one-vhost
//                change: its shard and the manifest rewritten, the router's next tick (one shard
//                compiled + the union); a manifest whose version alone changed (the union alone).
//
//   node --import tsx bench/shards-configure.ts [--sizes 1000,10000] [--rounds 5]
//
// Prints a Markdown table (medians over the rounds) for docs/filter.md; writes no file.
import { cpuUsage } from "node:process";
import { loadavg } from "node:os";
import type { RouteTable } from "../schema/route-table.ts";
import { planShards } from "../controller/src/translate/shards.ts";
import { manifestDataKey, shardDataKey } from "../schema/route-table-shards.ts";
import { startCanal } from "../test/emulator/canal.ts";
import { SharedData, type ProxyWasmHost } from "../test/emulator/host.ts";
import { services } from "../test/emulator/shards-tables.ts";
import { runBench } from "./run-main.ts";

const KEY = "canal.io/istio-system/canal";

function args(): { sizes: number[]; rounds: number } {
  const out = { sizes: [1000, 10000], rounds: 5 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--sizes") out.sizes = (a[++i] ?? "").split(",").map(Number);
    else if (a[i] === "--rounds") out.rounds = Number(a[++i]);
    else throw new Error(`unknown option ${a[i]}; options: --sizes 1000,10000 --rounds N`);
  }
  return out;
}

/** CPU milliseconds of `f` (user + system of this process: the emulator runs the VM in it). */
function cpuMs(f: () => unknown): number {
  const t0 = cpuUsage();
  f();
  const d = cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? NaN;
}

function table(n: number, version: string, changed = -1): RouteTable {
  const vhosts = services(n);
  if (changed >= 0) vhosts[changed] = services(changed + 1, "v2")[changed]!;
  return { format: 1, version, virtualHosts: vhosts };
}

const enc = new TextEncoder();

function put(store: SharedData, key: string, doc: unknown): void {
  store.set("", key, enc.encode(JSON.stringify(doc)));
}

function expectProbe(host: ProxyWasmHost, version: string): void {
  const id = host.newHttpContext();
  host.requestHeaders(id, [[":method", "GET"], [":path", "/"], [":authority", "canal-probe.invalid"]], true);
  const l = host.getLocalResponse(id);
  host.completeRequest(id);
  if (l?.status !== 200 || l.bodyText.trim() !== version) throw new Error(`the router serves ${l?.status} ${l?.bodyText}, not ${version}`);
}

interface Round {
  tableWhole: number;
  tableIncremental: number;
  carrier: number;
  routerFirst: number;
  routerOneShard: number;
  routerUnionOnly: number;
  k: number;
  mib: number;
}

async function round(n: number, r: number): Promise<Round> {
  const t1 = table(n, `sha256:r${r}-a`);
  const t2 = table(n, `sha256:r${r}-b`, (r * 7919) % n);
  // Table mode.
  const tableHost = await startCanal("", {});
  const tableWhole = cpuMs(() => tableHost.configure(JSON.stringify(t1)));
  for (let i = 0; i < 5 && tableHost.tickPeriodMs === 1; i++) tableHost.tick();
  const tableIncremental = cpuMs(() => tableHost.configure(JSON.stringify(t2)));
  expectProbe(tableHost, t2.version);
  // Sharded mode.
  const p1 = planShards(t1, KEY);
  const p2 = planShards(t2, KEY, { previousCount: p1.shards.length });
  const changed = p2.shards.filter((s, i) => s.version !== p1.shards[i]?.version);
  if (changed.length !== 1) throw new Error(`${changed.length} shards changed, not 1`);
  const store = new SharedData();
  const largest = p1.shards.reduce((a, b) => (JSON.stringify(a).length >= JSON.stringify(b).length ? a : b));
  const carrierHost = await startCanal("", { sharedData: new SharedData() });
  const carrier = cpuMs(() => carrierHost.configure(JSON.stringify(largest)));
  for (const s of p1.shards) put(store, shardDataKey(KEY, s.index), s);
  put(store, manifestDataKey(KEY), p1.manifest);
  const router = await startCanal("", { sharedData: store });
  const routerFirst = cpuMs(() => router.configure(JSON.stringify({ format: 1, shardedTable: { key: KEY } })));
  expectProbe(router, t1.version);
  put(store, shardDataKey(KEY, changed[0]!.index), changed[0]);
  put(store, manifestDataKey(KEY), p2.manifest);
  router.advanceTime(100);
  const routerOneShard = cpuMs(() => router.tick());
  expectProbe(router, t2.version);
  put(store, manifestDataKey(KEY), { ...p2.manifest, version: `${p2.manifest.version}-again` });
  router.advanceTime(100);
  const routerUnionOnly = cpuMs(() => router.tick());
  expectProbe(router, `${p2.manifest.version}-again`);
  return { tableWhole, tableIncremental, carrier, routerFirst, routerOneShard, routerUnionOnly, k: p1.shards.length, mib: JSON.stringify(t1).length / 1048576 };
}

async function main(): Promise<void> {
  const o = args();
  const rows: string[] = [];
  for (const n of o.sizes) {
    const rounds: Round[] = [];
    await round(n, 0); // warm-up (V8 compiles the module's functions)
    for (let r = 1; r <= o.rounds; r++) {
      rounds.push(await round(n, r));
      process.stdout.write(`shards-configure: ${n} vhosts round ${r}: ${JSON.stringify(rounds.at(-1))}\n`);
    }
    const m = (k: keyof Round): string => median(rounds.map((x) => x[k])).toFixed(1);
    rows.push(
      `| ${n.toLocaleString("en-US")} vhosts, ${m("mib")} MiB, K = ${rounds[0]!.k} | ${m("tableWhole")} | ${m("tableIncremental")} | ${m("routerFirst")} | **${m("routerOneShard")}** | ${m("routerUnionOnly")} | ${m("carrier")} |`,
    );
  }
  process.stdout.write(`\nload average ${loadavg().map((x) => x.toFixed(1)).join(" ")}, node ${process.version}, ${o.rounds} rounds (medians, CPU ms)\n\n`);
  process.stdout.write("| table | table mode: whole compile | table mode: one vhost changed | sharded: router's first configure (all shards) | sharded: one shard changed (tick) | sharded: union only | carrier: largest shard |\n");
  process.stdout.write("|---|---:|---:|---:|---:|---:|---:|\n");
  for (const r of rows) process.stdout.write(`${r}\n`);
}

runBench(main);
