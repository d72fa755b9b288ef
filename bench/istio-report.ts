// bench:istio's results and how they are written: the per-world result types, the statistics, and
// the "istiod delivery" section of docs/benchmarks.md (tables, the WasmPlugin wall, findings).
// Pure: a saved run (--save-json) renders the same section again (--render-json).

import { ENVOY_VERSION } from "../test/support/envoy.ts";
import { ISTIO_RELEASE, ISTIO_VERSION } from "../test/support/istiod.ts";
import { K8S_VERSION } from "../test/support/k8s.ts";
import { PILOT_AGENT_LOGGING, type DeliveryMode } from "../test/istio/world.ts";
import { fmt, median, percentile } from "./controller-support.ts";
import type { Machine, WallResult } from "./istio-support.ts";

/** bench:istio's options (parsed in bench/istio.ts; kept with a saved run). */
export interface Options {
  sizes: number[];
  modes: DeliveryMode[];
  changes: number;
  namespaces: number;
  applyConcurrency: number;
  /** Poll interval per gateway while waiting for a change (ms). */
  intervalMs: number;
  createTimeoutS: number;
  syncTimeoutS: number;
  changeTimeoutS: number;
  /** istiod counts as settled once every proxy ACKed everything for this long (ms). */
  quietMs: number;
  /** Search the WasmPlugin wall (WasmPlugin mode, at the largest size). */
  wall: boolean;
  write: boolean;
  saveJson: string | undefined;
  renderJson: string | undefined;
}


export interface ChangeSample {
  index: number;
  vs: string;
  target: string;
  applyMs: number;
  /** Apply start → served through the Canal gateway; undefined: not within the deadline (or Canal cannot serve). */
  canalMs: number | undefined;
  /** The same through the native gateway. */
  nativeMs: number | undefined;
  /** WasmPlugin mode: apply start → the controller's WasmPlugin write reached a watch. */
  pluginMs: number | undefined;
  /** istiod had ACKs for everything again (ms after apply start), or undefined when it did not settle. */
  settledMs: number | undefined;
}

export interface Memory {
  rss: number;
  hwm: number;
}

export interface WorldResult {
  mode: DeliveryMode;
  n: number;
  etcdVersion: string;
  objects: number;
  createS: number;
  /** Controller spawn → its status named the table (or why it cannot deliver it). */
  controllerReadyS: number;
  programmed: { status: string; reason: string; message: string };
  tableVersion: string | undefined;
  /** The controller's table bytes (canal_table_bytes); the in-process translate of the same objects gave the same size. */
  tableBytes: number;
  inProcessBytes: number;
  /** WasmPlugin mode, when the table fits: one write of it as the controller does it (GET, server-side apply), ms. */
  pluginWrite: { getMs: number[]; applyMs: number[] } | undefined;
  /** Envoy's cluster_manager.active_clusters of each gateway after the initial sync (what istiod's CDS gave it). */
  clusters: { canal: number; native: number };
  /** Updates each gateway accepted per change, by xDS type (Envoy's update_success counters over all changes ÷ changes). */
  xdsPerChange: { canal: XdsCounts; native: XdsCounts };
  /** What bin/canal.mjs ran (its "starting" log line): "bundle", or "sources (why)". */
  code: string;
  /** False when the controller could not deliver (e.g. TableTooLarge). */
  canalServes: boolean;
  /** What the Canal gateway answered the probe once the native one served (when Canal cannot serve). */
  canalAnswer: string | undefined;
  /** Both gateway pods started at once: their listeners up, then the probe served (s from the start). */
  listenerS: { canal: number; native: number };
  syncS: { canal: number | undefined; native: number };
  /** Spread over the table: hosts routed (own Service, no endpoints: 503 "no healthy upstream") / asked. */
  routedSample: { canal: number; native: number; asked: number };
  changes: ChangeSample[];
  memory: { istiod?: Memory; controller?: Memory; canalEnvoy?: Memory; nativeEnvoy?: Memory; istiodAfterSync?: Memory };
  wall: WallResult | undefined;
  totalS: number;
}

export interface XdsCounts {
  cds: number;
  lds: number;
  rds: number;
  ecds: number;
}

export function xdsText(x: XdsCounts): string {
  return [x.cds, x.lds, x.rds, x.ecds].map((v) => fmt(v, 1)).join("/");
}

// ---------------------------------------------------------------------------------------------
// Report

export const MiB = 2 ** 20;

export interface Stats {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export function stats(values: readonly (number | undefined)[]): Stats | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { p50: percentile(v, 0.5), p99: percentile(v, 0.99), max: Math.max(...v), count: v.length };
}

export function statText(s: Stats | undefined, of: number, unit = ""): string {
  if (s === undefined) return "—";
  return `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)}${unit}${s.count < of ? ` (${of - s.count} of ${of} not served in time)` : ""}`;
}

/** Median of Canal ÷ native over the changes served on both sides (paired: the same change). */
export function pairedRatio(ch: readonly ChangeSample[]): number | undefined {
  const r = ch.filter((c) => c.canalMs !== undefined && c.nativeMs !== undefined && c.nativeMs > 0).map((c) => (c.canalMs as number) / (c.nativeMs as number));
  return r.length === 0 ? undefined : median(r);
}

/** One world's change figures: Canal, native, their paired ratio, WasmPlugin written, istiod all ACKed. */
export function summarize(r: WorldResult): { c?: Stats; nt?: Stats; ratio?: number; pw?: Stats; settled?: Stats } {
  const of = (pick: (x: ChangeSample) => number | undefined): Stats | undefined => stats(r.changes.map(pick));
  return { c: of((x) => x.canalMs), nt: of((x) => x.nativeMs), ratio: pairedRatio(r.changes), pw: of((x) => x.pluginMs), settled: of((x) => x.settledMs) };
}

export function mem(m: Memory | undefined, which: "rss" | "hwm"): string {
  return m === undefined ? "—" : fmt(m[which] / MiB);
}

export interface RunMeta {
  command: string;
  date: string;
  load: string;
  mach: Machine;
  node: string;
  totalS: number;
  /** The commit measured (treeState). */
  tree: string;
}

export interface SavedRun {
  format: "canal-bench-istio/1";
  opts: Options;
  meta: RunMeta;
  results: WorldResult[];
}

export const MODE_NAME: Record<DeliveryMode, string> = { wasmplugin: "WasmPlugin", envoyfilter: "ECDS (EnvoyFilter)" };
export const SHORT: Record<DeliveryMode, string> = { wasmplugin: "WasmPlugin", envoyfilter: "ECDS" };

export function report(run: SavedRun): { section: string; figures: string[] } {
  const { meta, opts, results } = run;
  const L: string[] = [];
  const etcd = results[0]?.etcdVersion ?? "?";
  L.push("## istiod delivery");
  L.push("");
  L.push(
    `Generated by \`${meta.command}\` (bench/istio.ts) on ${meta.date} at ${meta.tree}; the whole run took ${fmt(meta.totalS / 60, 1)} min. Rerun it to refresh this section.`,
  );
  L.push("");
  L.push(
    `- istiod: pilot-discovery built from istio.io/istio ${ISTIO_VERSION} (Istio ${ISTIO_RELEASE}; test/support/istiod.ts, \`PILOT_DEBOUNCE_AFTER=10ms\`, ` +
      `\`PILOT_DEBOUNCE_MAX=1s\`); kube-apiserver ${K8S_VERSION} + etcd ${etcd} (test/support/k8s.ts, etcd's default request limit); ` +
      `Envoy ${ENVOY_VERSION} (upstream, one worker per gateway pod); Node.js ${meta.node} for the bench and the controller (bin/canal.mjs ran: ` +
      `${[...new Set(results.map((r) => r.code))].join("; ")}); the filter: build/canal.wasm copied once at the start of the run`,
  );
  L.push(
    `- machine: ${meta.mach.nproc} CPUs, ${meta.mach.cpu}, ${fmt(meta.mach.memBytes / 2 ** 30, 1)} GiB, Linux ${meta.mach.kernel}; ` +
      `load average (1/5/15 min) ${meta.load}. Shared and noisy: etcd, kube-apiserver, istiod, the controller, two Envoys, ` +
      "the echo backends and the bench share the CPUs, unpinned. Compare Canal with native by the ratio of the same changes, not across runs.",
  );
  L.push(
    `- a fresh world per delivery mode and size (test/istio/world.ts): both charts applied as \`helm template\` renders them (\`delivery.mode\` wasmplugin or envoyfilter), ` +
      "the controller as a process with the chart's Deployment args and ServiceAccount, the Canal gateway pod (upstream Envoy bootstrapped to istiod as pilot-agent would, " +
      "from the chart's Deployment) and a native gateway pod (`startNativeGateway`: the Gateway `istio-system/native`, istiod's own routes, no Canal); in ECDS mode a CoreDNS answers the chart's ECDS Service name. " +
      `Both gateway Envoys log as pilot-agent starts them with Istio's default values (\`-l ${PILOT_AGENT_LOGGING.logLevel} --component-log-level ${PILOT_AGENT_LOGGING.componentLogLevel}\`): ` +
      "at the harness's default (info) the native one logs Envoy's deprecation warning for every route on every RDS update (istiod sets the deprecated `max_grpc_timeout` on each route: " +
      "2 × N lines of ~670 bytes per update), which slows its updates down and is not what a real gateway pod does",
  );
  L.push(
    `- objects: N Services (no endpoints) and N VirtualServices in ${opts.namespaces} namespaces, each VirtualService with its own FQDN host, ` +
      "`gateways: [istio-system/canal, istio-system/native]` and two routes (`/api/` prefix with a 5 s timeout, catch-all) to its own Service; " +
      `two echo backends \`blue\` and \`green\` (Services with WorkloadEntries on 127.0.0.1). Created by server-side applies (${opts.applyConcurrency} in flight) ` +
      "before the controller and the gateway pods start, with istiod running",
  );
  L.push("");
  L.push("How each figure is measured:");
  L.push("");
  L.push(
    "- **controller ready**: spawning the controller → its InternalGateway status names the table (`tableVersion`) with Programmed " +
      "`WasmPluginApplied` (WasmPlugin mode; the WasmPlugin is written) or `NoGateways` (ECDS mode: table built, no gateway yet), or says why it cannot deliver (`TableTooLarge`).",
  );
  L.push(
    "- **initial sync**: both gateway pods start at the same moment, with the controller ready and istiod holding all objects; the time until each serves the last " +
      "VirtualService (its `/api/` route goes to `blue` with a marker header: the echo must show both), polled every 10 ms. Every VirtualService arrives at once on both sides " +
      "(one table; one RDS route configuration), and 20 hosts spread over the table are then checked to be routed (a 503 `no healthy upstream` from the host's own Service, not a 404).",
  );
  L.push(
    `- **change → served**: ${opts.changes} changes per world, one at a time, on VirtualServices spread over the table: the \`/api/\` route goes to \`blue\` or \`green\` ` +
      "(alternately) and sets `x-bench-change: <k>`. Time zero is just before the server-side apply request; **served** = a request through that gateway for the host and `/api/bench` " +
      `is answered by that backend echoing that header (each gateway polled every ${opts.intervalMs} ms over a keep-alive connection; both at the same time). ` +
      "Before the next change istiod must have every proxy's ACK for everything it sent, unchanged for " +
      `${opts.quietMs} ms; **istiod all ACKed** = when that state began (polled every 50 ms on /debug/syncz): istiod's whole push for the change (both gateways, every type it re-sent) was done. ` +
      `"WasmPlugin written" = a watch on WasmPlugins saw the controller's write. Percentiles are nearest-rank (p99 of ${opts.changes} samples is the largest). ` +
      "**ratio** = median over the changes of Canal's time ÷ native's time for the same change.",
  );
  L.push(
    "- **xDS updates per change**: each gateway's Envoy `update_success` counters (CDS, LDS, RDS, ECDS) after the changes minus before, ÷ the number of changes: " +
      "what istiod (and, in ECDS mode, the controller) made each gateway accept for one VirtualService change.",
  );
  L.push(
    "- **memory**: VmRSS and VmHWM (peak) from /proc of istiod and the controller at the end of the changes; the gateway Envoys' VmRSS at the same moment.",
  );
  L.push("");
  L.push("### Change → served (ms), Canal and native side by side");
  L.push("");
  L.push("| VS | Canal delivery | changes | Canal p50 / p99 / max | native p50 / p99 / max | ratio Canal ÷ native (median of pairs) | WasmPlugin written p50 / max | apply p50 | istiod all ACKed p50 / max | xDS updates per change Canal · native (CDS/LDS/RDS/ECDS) |");
  L.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const r of results) {
    const { c, nt, ratio, pw, settled } = summarize(r);
    L.push(
      `| ${fmt(r.n)} | ${MODE_NAME[r.mode]} | ${r.changes.length} | ${r.canalServes ? statText(c, r.changes.length) : `not served: ${r.programmed.reason}`} | ${statText(nt, r.changes.length)} | ` +
        `${ratio === undefined ? "—" : `${fmt(ratio, 2)}×`} | ${r.mode === "wasmplugin" && pw !== undefined ? `${fmt(pw.p50)} / ${fmt(pw.max)}` : "—"} | ${fmt(median(r.changes.map((x) => x.applyMs)))} | ` +
        `${settled === undefined ? "—" : `${fmt(settled.p50)} / ${fmt(settled.max)}`} | ${xdsText(r.xdsPerChange.canal)} · ${xdsText(r.xdsPerChange.native)} |`,
    );
  }
  L.push("");
  L.push("### Initial sync and memory");
  L.push("");
  L.push("| VS | Canal delivery | objects created | controller ready | table | gateway pods' listeners Canal / native | served: Canal / native | routed sample Canal / native | istiod RSS after sync / end / peak | controller RSS / peak | Envoy RSS Canal / native |");
  L.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const m = r.memory;
    L.push(
      `| ${fmt(r.n)} | ${MODE_NAME[r.mode]} | ${fmt(r.objects)} in ${fmt(r.createS)} s | ${fmt(r.controllerReadyS, 2)} s (${r.programmed.reason}) | ${fmt(r.tableBytes / 1024)} KiB | ` +
        `${fmt(r.listenerS.canal, 2)} / ${fmt(r.listenerS.native, 2)} s | ${r.syncS.canal === undefined ? "never" : `${fmt(r.syncS.canal, 2)} s`} / ${fmt(r.syncS.native, 2)} s | ` +
        `${r.canalServes ? r.routedSample.canal : "—"} / ${r.routedSample.native} of ${r.routedSample.asked} | ` +
        `${mem(m.istiodAfterSync, "rss")} / ${mem(m.istiod, "rss")} / ${mem(m.istiod, "hwm")} MiB | ${mem(m.controller, "rss")} / ${mem(m.controller, "hwm")} MiB | ${mem(m.canalEnvoy, "rss")} / ${mem(m.nativeEnvoy, "rss")} MiB |`,
    );
  }
  L.push("");
  L.push("### The WasmPlugin wall");
  L.push("");
  L.push(...wallLines(results));
  L.push("");
  L.push("### Findings");
  L.push("");
  L.push(...findings(results));
  const figures = figureLines(results);
  L.push("");
  L.push("```");
  L.push(...figures);
  L.push("```");
  return { section: `${L.join("\n")}\n`, figures };
}

export function wallLines(results: readonly WorldResult[]): string[] {
  const out: string[] = [];
  for (const r of results.filter((x) => x.mode === "wasmplugin" && !x.canalServes)) {
    out.push(
      `- **What happens at ${fmt(r.n)} VirtualServices in WasmPlugin mode.** The controller's table is ${fmt(r.tableBytes)} bytes; its status says ` +
        `Programmed=${r.programmed.status} \`${r.programmed.reason}\`: "${r.programmed.message}". No WasmPlugin is written, so the Canal gateway has no filter config: ` +
        `it answered the probe with ${r.canalAnswer ?? "?"} (native served the same VirtualService after ${fmt(r.syncS.native, 2)} s).`,
    );
  }
  const w = results.find((x) => x.wall !== undefined)?.wall;
  if (w === undefined) {
    out.push("- The wall search did not run (`--no-wall`, or no WasmPlugin-mode world).");
    return out;
  }
  const same = results.every((r) => r.inProcessBytes === r.tableBytes);
  out.push(
    `- The search translates the bench's objects for each N in the bench process (the controller's \`translate\`); at the sizes measured it gave ${same ? "exactly" : "NOT"} the controller's table bytes (` +
      results.map((r) => `${fmt(r.n)} ${r.mode}: ${fmt(r.inProcessBytes)} vs \`canal_table_bytes\` ${fmt(r.tableBytes)}`).join("; ") +
      ").",
  );
  const ans = (a: { status: number; message: string; bodyBytes: number }): string => `HTTP ${a.status}${a.message === "" ? "" : ` "${a.message}"`} (request ${fmt(a.bodyBytes)} bytes)`;
  out.push(
    `- **The API server's real limit.** The bench applied, as the controller would (\`WasmPluginWriter.render\`, server-side apply with its field manager), WasmPlugins carrying the ` +
      `table of N of these VirtualServices (${fmt(w.bytesPerVs)} bytes per VirtualService), binary search over N (${fmt(w.searchS)} s). The largest the API server stored: ` +
      `**N = ${fmt(w.apiMaxN)}**, a ${fmt(w.apiMaxTableBytes)}-byte table (${fmt(w.apiMaxTableBytes / MiB, 2)} MiB), stored as ${fmt(w.apiMaxAnswer.storedBytes ?? 0)} bytes of JSON ` +
      `of which ${fmt(w.apiMaxAnswer.managedFieldsBytes ?? 0)} are managedFields. N = ${fmt(w.refusedN)} (${fmt(w.refusedTableBytes)} bytes): ${ans(w.refusedAnswer)}. ` +
      `At ${fmt(w.atSize.n)} (${fmt(w.atSize.tableBytes)} bytes): ${ans(w.atSize.answer)}.`,
  );
  out.push(
    "- Every write of the search, by N (table bytes): " +
      w.tried.map((t) => `${fmt(t.n)} (${fmt(t.tableBytes)}): ${t.status}${t.message === "" ? "" : ` ${t.message}`}`).join("; ") +
      `. The refusals: ${refusalKinds(w).join("; ")}. The first is the wall.`,
  );
  out.push(
    `- **The controller's guard** (\`MAX_PLUGIN_CONFIG_BYTES\` = ${fmt(w.guardBytes)} bytes, controller/src/sinks/wasmplugin.ts) lets tables through up to ` +
      `**N = ${fmt(w.guardMaxN)}** (${fmt(w.guardMaxTableBytes)} bytes): ${w.guardMaxN <= w.apiMaxN ? `${fmt(w.apiMaxN - w.guardMaxN)} VirtualServices (${fmt(w.apiMaxTableBytes - w.guardMaxTableBytes)} bytes) below what the API server really takes, so it refuses before etcd would` : "above what the API server really takes: it would let a write fail"}. ` +
      "The wall scales with bytes, not VirtualServices: longer hosts, more routes or header operations per VirtualService lower N. Beyond it, ECDS mode (no etcd in the path) is the way.",
  );
  return out;
}

/** Which limit each distinct refusal of the wall search is (read from the answers, not assumed), in order of N. */
export function refusalKinds(w: WallResult): string[] {
  const kindOf = (status: number, message: string): string =>
    /request is too large/.test(message)
      ? "etcd's request size limit (etcd's default `--max-request-bytes`, 1.5 MiB = 1,572,864 bytes; test/support/k8s.ts sets none)"
      : /ResourceExhausted/.test(message)
        ? "the size limit of kube-apiserver's gRPC client to etcd (the 2 MiB in the message)"
        : status === 413
          ? "kube-apiserver's request body limit (the 3 MiB in the message)"
          : `HTTP ${status} ${message}`;
  const seen = new Map<string, number>();
  const all = [...w.tried, { n: w.atSize.n, tableBytes: w.atSize.tableBytes, status: w.atSize.answer.status, message: w.atSize.answer.message }];
  for (const t of all.sort((a, b) => a.n - b.n)) {
    if (t.status >= 200 && t.status < 300) continue;
    const k = kindOf(t.status, t.message);
    if (!seen.has(k)) seen.set(k, t.n);
  }
  return [...seen.entries()].map(([k, n]) => `${k} (smallest N tried with this answer: ${fmt(n)})`);
}

export function findings(results: readonly WorldResult[]): string[] {
  const out: string[] = [];
  const verdicts = results.map((r) => {
    const ratio = summarize(r).ratio;
    return r.canalServes ? `${MODE_NAME[r.mode]} at ${fmt(r.n)}: ${ratio === undefined ? "?" : `${fmt(ratio, 2)}×`} native's time` : `${MODE_NAME[r.mode]} at ${fmt(r.n)}: not served (${r.programmed.reason})`;
  });
  out.push(`- **In short** (Canal's change → served time ÷ istiod's native routes', the same changes): ${verdicts.join("; ")}.`);
  for (const r of results) {
    const { c, nt, ratio, pw } = summarize(r);
    const head = `- **${fmt(r.n)} VS, ${MODE_NAME[r.mode]}.**`;
    if (!r.canalServes) {
      out.push(`${head} Canal cannot serve this size in this mode (${r.programmed.reason}); native served changes in p50 ${nt === undefined ? "—" : fmt(nt.p50)} ms.`);
      continue;
    }
    if (c === undefined || nt === undefined) continue;
    const sync = r.syncS.canal === undefined ? "" : ` Initial sync: Canal ${fmt(r.syncS.canal, 2)} s, native ${fmt(r.syncS.native, 2)} s after both pods started.`;
    out.push(
      `${head} A change was served by Canal in p50 ${fmt(c.p50)} ms and by istiod's native routes in p50 ${fmt(nt.p50)} ms; Canal took ${ratio === undefined ? "?" : `${fmt(ratio, 2)}×`} native's time ` +
        `(median of the same changes).` +
        (r.mode === "wasmplugin" && pw !== undefined
          ? ` The controller's WasmPlugin write was seen after p50 ${fmt(pw.p50)} ms; the rest (${fmt(Math.max(0, c.p50 - pw.p50))} ms at the medians) is istiod turning it into ECDS and Envoy loading the ${fmt(r.tableBytes / 1024)} KiB table.` +
            (r.xdsPerChange.native.lds > 1.5
              ? ` The WasmPlugin write is a second config event for istiod: both gateways, the native one included, accepted ${fmt(r.xdsPerChange.native.lds, 1)} LDS updates per change instead of 1.`
              : "") +
            (r.pluginWrite === undefined
              ? ""
              : ` One write of this WasmPlugin as the controller does it costs the API server ${fmt(median(r.pluginWrite.getMs))} ms (GET) + ${fmt(median(r.pluginWrite.applyMs))} ms (server-side apply), medians of ${r.pluginWrite.applyMs.length} writes timed separately with the controller stopped.`)
          : r.mode === "envoyfilter"
            ? ` The table goes from the controller to the gateway over its own ECDS stream; istiod is not in that path, yet it still made the Canal gateway accept ` +
              `${fmt(r.xdsPerChange.canal.cds, 1)} CDS and ${fmt(r.xdsPerChange.canal.lds, 1)} LDS updates per change (the native one: ${fmt(r.xdsPerChange.native.cds, 1)} CDS, ` +
              `${fmt(r.xdsPerChange.native.lds, 1)} LDS, ${fmt(r.xdsPerChange.native.rds, 1)} RDS), work on the same main thread that loads the table.`
            : "") +
        sync,
    );
  }
  for (const n of [...new Set(results.map((r) => r.n))]) {
    const at = results.filter((r) => r.n === n);
    const envoy = (r: WorldResult): string => `Canal ${mem(r.memory.canalEnvoy, "rss")} MiB, native ${mem(r.memory.nativeEnvoy, "rss")} MiB`;
    out.push(
      `- **${fmt(n)} VS, memory.** istiod peaked at ${at.map((r) => `${mem(r.memory.istiod, "hwm")} MiB (${SHORT[r.mode]} world)`).join(", ")}; the controller at ` +
        `${at.map((r) => `${mem(r.memory.controller, "hwm")} MiB (${SHORT[r.mode]})`).join(", ")}. Envoy RSS: ${at.map((r) => `${envoy(r)} (${SHORT[r.mode]} world)`).join("; ")}. ` +
        `Active clusters istiod's CDS gave the gateways for the ${fmt(n)} bench Services: ${at.map((r) => `Canal ${fmt(r.clusters?.canal ?? Number.NaN)}, native ${fmt(r.clusters?.native ?? Number.NaN)} (${SHORT[r.mode]} world)`).join("; ")} ` +
        "(Canal's routes name istiod's clusters, so its gateway gets them too).",
    );
  }
  return out;
}

export function figureLines(results: readonly WorldResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const { c, nt, ratio } = summarize(r);
    out.push(
      `istiod ${r.mode} ${fmt(r.n)} VS: change → served Canal ${r.canalServes ? statText(c, r.changes.length, " ms") : `not served (${r.programmed.reason})`}, native ${statText(nt, r.changes.length, " ms")} (p50/p99/max)` +
        `${ratio === undefined ? "" : `, Canal ÷ native ${fmt(ratio, 2)}×`}; sync Canal ${r.syncS.canal === undefined ? "never" : `${fmt(r.syncS.canal, 2)} s`}, native ${fmt(r.syncS.native, 2)} s; ` +
        `istiod peak ${mem(r.memory.istiod, "hwm")} MiB, controller peak ${mem(r.memory.controller, "hwm")} MiB; world ${fmt(r.totalS / 60, 1)} min`,
    );
  }
  const w = results.find((x) => x.wall !== undefined)?.wall;
  if (w !== undefined) {
    out.push(
      `istiod wall: API server stores a WasmPlugin up to N = ${fmt(w.apiMaxN)} (${fmt(w.apiMaxTableBytes)} bytes table), refuses N = ${fmt(w.refusedN)}: HTTP ${w.refusedAnswer.status} ${w.refusedAnswer.message}; ` +
        `controller guard up to N = ${fmt(w.guardMaxN)}`,
    );
  }
  return out;
}
