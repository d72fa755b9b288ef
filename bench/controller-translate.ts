// The controller's per-change work at N VirtualServices, in this process, without an API server:
// bench:controller's objects (scenario.ts) parsed, one full translation with a memo, then C
// changes (one VirtualService replaced by an edited copy, as an informer event does) each
// translated with the memo, its table's JSON parts taken and encoded as the ECDS resource. Prints
// wall and CPU time per step; with --profile PATH, a V8 CPU profile of the changes alone (open it
// in Chrome DevTools or speedscope). A quick way to see where a change's time goes at 50,000.
//
//   node --import tsx bench/controller-translate.ts [--size 50000] [--changes 10] [--profile /tmp/changes.cpuprofile]

import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { parseObjects, type VirtualService } from "../controller/src/api/index.ts";
import { encodeCanalResource } from "../controller/src/sinks/ecds/index.ts";
import { tableJsonParts } from "../controller/src/translate/assemble-table.ts";
import { translate, TranslateMemo } from "../controller/src/translate/index.ts";
import { loadRegexValidator } from "../controller/src/translate/regex-validator.ts";
import type { KubeObject } from "../test/support/k8s.ts";
import { ensureCanalWasm } from "../test/support/wasm.ts";
import { fmt, median, progress } from "./controller-support.ts";
import { baseObjects, service, STRIDE, virtualService } from "./controller/scenario.ts";

function parseArgs(argv: string[]): { size: number; changes: number; profile: string | undefined } {
  const out = { size: 50000, changes: 10, profile: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--size") out.size = Number(argv[++i]);
    else if (a === "--changes") out.changes = Number(argv[++i]);
    else if (a === "--profile") out.profile = argv[++i];
    else throw new Error(`unknown option ${a}; options: --size N --changes C --profile PATH`);
  }
  if (!Number.isInteger(out.size) || out.size < 1 || !Number.isInteger(out.changes) || out.changes < 1) throw new Error("--size and --changes need positive whole numbers");
  return out;
}

/** What the API server would return: the objects with uid, resourceVersion and creation times (the age order needs them). */
function listed(n: number): unknown[] {
  let rv = 1;
  const stamp = (o: KubeObject): unknown => ({
    ...o,
    metadata: { ...o.metadata, uid: `uid-${rv}`, resourceVersion: String(rv), generation: 1, creationTimestamp: new Date(Date.UTC(2026, 0, 1) + rv++ * 1000).toISOString() },
  });
  const raws: unknown[] = baseObjects(4).map(stamp);
  for (let i = 0; i < n; i++) raws.push(stamp(service(i, 4, true)));
  for (let i = 0; i < n; i++) raws.push(stamp(virtualService(i, 4)));
  return raws;
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

async function main(): Promise<void> {
  const { size, changes, profile } = parseArgs(process.argv.slice(2));
  const wasm = { code: { local: ensureCanalWasm() } };
  const validateRegex = loadRegexValidator();
  const raws = listed(size);
  let t = performance.now();
  const parsed = parseObjects(raws);
  progress(`${fmt(size)} VS: parse ${fmt(performance.now() - t)} ms`);
  const memo = new TranslateMemo();
  t = performance.now();
  const first = translate(parsed.snapshot, { validateRegex, memo });
  const table = first.gateways.find((g) => g.accepted)?.table;
  if (table === undefined) throw new Error(`no accepted gateway: ${JSON.stringify(first.problems.slice(0, 3))}`);
  progress(`${fmt(size)} VS: full translate ${fmt(performance.now() - t)} ms, table ${fmt(tableJsonParts(table).byteLength / 1024)} KiB, ${fmt(table.virtualHosts.length)} virtual hosts`);
  const session = profile === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  let s = parsed.snapshot;
  const rows: { translate: number; encode: number }[] = [];
  for (let k = 0; k < changes; k++) {
    const vss = [...s.virtualServices];
    const at = (k * STRIDE) % vss.length;
    const old = vss[at] as VirtualService;
    vss[at] = { ...old, spec: { ...old.spec, http: old.spec.http.map((h) => ({ ...h, timeout: `${k + 1}s` })) } };
    s = { ...s, virtualServices: vss };
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    const result = translate(s, { validateRegex, memo });
    const translateCpu = cpuMs(c0);
    const w1 = performance.now();
    const c1 = process.cpuUsage();
    let bytes = 0;
    for (const g of result.gateways) if (g.accepted) bytes += encodeCanalResource(wasm, tableJsonParts(g.table)).length;
    const encodeCpu = cpuMs(c1);
    rows.push({ translate: translateCpu, encode: encodeCpu });
    progress(`  change ${k}: translate ${fmt(w1 - w0)} ms wall, ${fmt(translateCpu)} ms CPU; JSON parts + encode ${fmt(performance.now() - w1)} ms wall, ${fmt(encodeCpu)} ms CPU (${fmt(bytes / 1024)} KiB)`);
  }
  if (session !== undefined && profile !== undefined) {
    const { profile: p } = await session.post("Profiler.stop");
    writeFileSync(profile, JSON.stringify(p));
    progress(`CPU profile of the changes: ${profile}`);
  }
  progress(
    `${fmt(size)} VS, ${changes} changes: translate CPU median ${fmt(median(rows.map((r) => r.translate)))} ms (max ${fmt(Math.max(...rows.map((r) => r.translate)))}), ` +
      `encode CPU median ${fmt(median(rows.map((r) => r.encode)))} ms; RSS ${fmt(process.memoryUsage().rss / 2 ** 20)} MiB`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
