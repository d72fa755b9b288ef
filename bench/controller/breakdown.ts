// Measurement in the bench's own process: one full pass and one per-change pass over what the
// API server stores, and the RSS of processes that only load code.

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseObjects, type VirtualService } from "../../controller/src/api/index.ts";
import { encodeCanalResource } from "../../controller/src/sinks/ecds/index.ts";
import { tableJson, translate, TranslateMemo } from "../../controller/src/translate/index.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import type { KubeApi } from "../../test/support/k8s.ts";
import { REPO_ROOT } from "../../test/support/wasm.ts";
import { CANAL_INPUT_KINDS, fmt, median, progress } from "../controller-support.ts";
import { STRIDE } from "./scenario.ts";
import type { Breakdown } from "./results.ts";

/** Lists what the controller watches and times each step of one full pass (one warm-up, then the median of 3). */
export async function inProcessBreakdown(api: KubeApi, wasmPath: string, label: string): Promise<Breakdown> {
  const kinds = CANAL_INPUT_KINDS;
  const l0 = performance.now();
  const raws: unknown[] = [];
  for (const [apiVersion, kind, path] of kinds) {
    const list = await api.list(path);
    for (const o of list.items) raws.push({ ...o, apiVersion, kind });
  }
  const listMs = performance.now() - l0;
  progress(`[${label}]   listed ${fmt(raws.length)} objects in ${fmt(listMs)} ms; 4 full passes (the first warms up)`);
  const validateRegex = loadRegexValidator();
  type FullPass = Omit<Breakdown, "listMs" | "incrementalMs" | "incrementalVs">;
  const runs: FullPass[] = [];
  for (let r = 0; r < 4; r++) {
    const a = performance.now();
    const parsed = parseObjects(raws);
    const b = performance.now();
    const result = translate(parsed.snapshot, { validateRegex });
    const c = performance.now();
    const g = result.gateways.find((x) => x.accepted);
    if (g === undefined) throw new Error(`in-process translation: no accepted gateway (${JSON.stringify(result.problems.slice(0, 3))})`);
    const json = JSON.stringify(g.table);
    const d = performance.now();
    const resource = encodeCanalResource({ code: { local: wasmPath } }, json);
    const e = performance.now();
    if (r > 0) runs.push({ parseMs: b - a, translateMs: c - b, stringifyMs: d - c, encodeMs: e - d, resourceBytes: resource.length }); // run 0 warms up
    progress(`[${label}]   full pass ${r}: parse ${fmt(b - a)} ms, translate ${fmt(c - b)} ms, JSON ${fmt(d - c)} ms, encode ${fmt(e - d)} ms`);
  }
  const med = (f: (x: FullPass) => number): number => median(runs.map(f));
  const incremental = incrementalPasses(parseObjects(raws).snapshot, validateRegex);
  return {
    listMs,
    parseMs: med((x) => x.parseMs),
    translateMs: med((x) => x.translateMs),
    stringifyMs: med((x) => x.stringifyMs),
    encodeMs: med((x) => x.encodeMs),
    resourceBytes: runs[0].resourceBytes,
    ...incremental,
  };
}

/**
 * What the controller does per change: translate() with its memo after one VirtualService was
 * replaced by an edited copy (as an informer event does), then tableJson. CPU time, median of 10.
 */
function incrementalPasses(snapshot: ReturnType<typeof parseObjects>["snapshot"], validateRegex: ReturnType<typeof loadRegexValidator>): { incrementalMs: number; incrementalVs: number } {
  const memo = new TranslateMemo();
  translate(snapshot, { validateRegex, memo });
  let s = snapshot;
  const cpu: number[] = [];
  const fresh: number[] = [];
  for (let k = 0; k < 11; k++) {
    const vss = [...s.virtualServices];
    const at = (k * STRIDE) % vss.length;
    const old = vss[at] as VirtualService;
    vss[at] = { ...old, spec: { ...old.spec, http: old.spec.http.map((h) => ({ ...h, timeout: `${k + 1}s` })) } };
    s = { ...s, virtualServices: vss };
    const before = memo.stats.translated;
    const c0 = process.cpuUsage();
    const result = translate(s, { validateRegex, memo });
    for (const g of result.gateways) tableJson(g.table);
    const c1 = process.cpuUsage(c0);
    if (k === 0) continue; // warm-up
    cpu.push((c1.user + c1.system) / 1000);
    fresh.push(memo.stats.translated - before);
  }
  return { incrementalMs: median(cpu), incrementalVs: median(fresh) };
}

/** RSS (bytes) of a short Node.js process that runs `code` (an ES module) in the repository, then prints its RSS. */
function rssOfModule(code: string, nodeArgs: string[] = []): number {
  const out = execFileSync(process.execPath, [...nodeArgs, "--input-type=module", "-e", `${code}\nprocess.stdout.write(String(process.memoryUsage().rss));`], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  return Number(out.trim().split("\n").pop());
}

export interface ModuleBaseline {
  bareNode: number;
  k8sClientPlain: number;
  controllerUnderTsx: number;
  /** build/controller/canal.mjs (make build), as bin/canal.mjs runs it when it is up to date. */
  controllerBundle: number;
}

/** What loading code costs before any object is listed (median of 3 processes each). */
export function moduleBaseline(): ModuleBaseline {
  const med = (f: () => number): number => median([f(), f(), f()]);
  return {
    bareNode: med(() => rssOfModule("")),
    k8sClientPlain: med(() => rssOfModule('await import("@kubernetes/client-node");')),
    // What bin/canal.mjs does: tsx's loader, then the CLI module and everything it imports.
    controllerUnderTsx: med(() => rssOfModule('const { register } = await import("tsx/esm/api"); register(); await import("./controller/src/cli.ts");')),
    controllerBundle: med(() => {
      execFileSync(process.execPath, [join(REPO_ROOT, "scripts/bundle-controller.mjs")], { cwd: REPO_ROOT, stdio: "ignore" });
      return rssOfModule('await import("./build/controller/canal.mjs");');
    }),
  };
}
