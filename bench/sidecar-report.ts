// bench:sidecar's results and how they are written: section "(b) Centralized gateway vs
// sidecar-style path" of docs/benchmarks.md (the istiod-configured sidecar pair against Canal's
// gateway, CPU and memory per 1,000 requests/s beside Istio's published figure, the saving for N
// pods). Pure: a saved run (--save-json) renders the same section again (--render-json). The
// section's earlier plain-router table (bench:filter) is kept below the new one, labelled.

import { fmt } from "./controller-support.ts";
import type { Machine } from "./istio-support.ts";
import type { ProxyConfigFacts } from "./sidecar-world.ts";
import { cpuUsPerRequest, pairedRatio, spread, summarise, vcpuPer1000Rps, type CellSummary, type RunSample, type Spread } from "./sidecar-measure.ts";

export const SECTION_HEADING = "## (b) Centralized gateway vs sidecar-style path";
const HISTORY_HEADING = "### Plain routers (bench:filter, before bench:sidecar; history)";

/** Istio's published sidecar cost (istio.io, "Performance and Scalability", Istio 1.24 figures). */
export const ISTIO_PUBLISHED = {
  vcpuPer1000Rps: 0.2,
  memoryMb: 60,
  source: "https://istio.io/latest/docs/ops/deployment/performance-and-scalability/",
  conditions: "Istio 1.24, 1,000 HTTP requests/s with 1 KB payloads through one sidecar with 2 worker threads",
};

export interface SidecarOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number[];
  rate: number;
  rateConnections: number;
  rateSeconds: number;
  services: number;
  rpsPerPod: number;
  pods: number[];
  /** vCPU one gateway replica may use before the pool adds one (its worker count). */
  gatewayReplicaVcpu: number;
  minGatewayReplicas: number;
}

export interface SidecarRun {
  date: string;
  command: string;
  machine: Machine;
  loadBefore: string;
  loadAfter: string;
  /** The bench's scheduling priority (nice value; its children inherit it). */
  nice?: number;
  versions: { envoy: string; istio: string; istioRelease: string; k8s: string };
  plan: { proxies: string; load: string };
  opts: SidecarOptions;
  roles: { sidecar: string[]; canal: string[] };
  /** What istiod programmed into each proxy (absent in runs saved before it was recorded). */
  config?: { role: string; facts: ProxyConfigFacts }[];
  closed: { connections: number; sidecar: RunSample[]; canal: RunSample[] }[];
  paced: { delayMs: number[]; sidecar: RunSample[]; canal: RunSample[] };
}

const ms = (s: Spread): string => `${s.median.toFixed(3)} (${s.lo.toFixed(3)}–${s.hi.toFixed(3)})`;
const us = (s: Spread): string => `${s.median.toFixed(1)} (${s.lo.toFixed(1)}–${s.hi.toFixed(1)})`;
const ratio = (s: Spread): string => `${s.median.toFixed(2)} (${s.lo.toFixed(2)}–${s.hi.toFixed(2)})`;
const mib = (bytes: number): number => bytes / 1024 / 1024;

/** Paced figures of one proxy: achieved rate, vCPU per 1,000 req/s, RSS (median over rounds). */
function pacedProxy(samples: RunSample[], k: number): { rps: Spread; vcpu: Spread; rssMiB: Spread; p50: Spread; p99: Spread } {
  return {
    rps: spread(samples.map((s) => s.wrk.rps)),
    vcpu: spread(samples.map((s) => vcpuPer1000Rps(s, k))),
    rssMiB: spread(samples.map((s) => mib(s.rss[k]))),
    p50: spread(samples.map((s) => s.wrk.p50)),
    p99: spread(samples.map((s) => s.wrk.p99)),
  };
}

/** Whole-path vCPU per 1,000 req/s of a paced sample. */
function pathVcpu(s: RunSample): number {
  return s.cpuS.reduce((a, _, k) => a + vcpuPer1000Rps(s, k), 0);
}

export interface PodsRow {
  pods: number;
  rps: number;
  sidecarVcpu: number;
  sidecarMemMiB: number;
  publishedVcpu: number;
  publishedMemMb: number;
  gatewayReplicas: number;
  gatewayVcpu: number;
  gatewayMemMiB: number;
}

/**
 * The cost of N pods each receiving `rpsPerPod` requests/s from another pod: with sidecars every
 * call crosses two (the caller's and the callee's) and every pod carries one; with Canal every
 * call crosses one gateway and the pool has max(min, ⌈vCPU ÷ per-replica vCPU⌉) replicas.
 */
export function podsRows(run: SidecarRun, measured: { sidecarPairVcpu: number; sidecarRssMiB: number; gatewayVcpu: number; gatewayRssMiB: number }): PodsRow[] {
  const o = run.opts;
  return o.pods.map((pods) => {
    const rps = pods * o.rpsPerPod;
    const gatewayVcpu = (rps / 1000) * measured.gatewayVcpu;
    const gatewayReplicas = Math.max(o.minGatewayReplicas, Math.ceil(gatewayVcpu / o.gatewayReplicaVcpu));
    return {
      pods,
      rps,
      sidecarVcpu: (rps / 1000) * measured.sidecarPairVcpu,
      sidecarMemMiB: pods * measured.sidecarRssMiB,
      publishedVcpu: (rps / 1000) * ISTIO_PUBLISHED.vcpuPer1000Rps * 2,
      publishedMemMb: pods * ISTIO_PUBLISHED.memoryMb,
      gatewayReplicas,
      gatewayVcpu,
      gatewayMemMiB: gatewayReplicas * measured.gatewayRssMiB,
    };
  });
}

function closedRows(run: SidecarRun): { lines: string[]; summary: string[] } {
  const lines = [
    "| path | connections | req/s | p50 ms | p99 ms | proxy CPU µs/req (whole path) | pooled µs/req |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  const summary: string[] = [];
  for (const cell of run.closed) {
    const s: CellSummary = summarise(cell.sidecar);
    const c: CellSummary = summarise(cell.canal);
    const row = (name: string, x: CellSummary): string =>
      `| ${name} | ${cell.connections} | ${fmt(x.rps.median)} | ${ms(x.p50)} | ${ms(x.p99)} | ${us(x.cpuUs)} | ${x.cpuUsPooled.toFixed(1)} |`;
    lines.push(row("sidecar pair (client → sidecar → sidecar → app)", s), row("Canal (client → gateway + filter → app)", c));
    const p50 = pairedRatio(cell.canal, cell.sidecar, (x) => x.wrk.p50);
    const p99 = pairedRatio(cell.canal, cell.sidecar, (x) => x.wrk.p99);
    const cpu = pairedRatio(cell.canal, cell.sidecar, (x) => cpuUsPerRequest(x));
    summary.push(`c=${cell.connections}: Canal ÷ sidecar pair, per round: p50 ${ratio(p50)}, p99 ${ratio(p99)}, proxy CPU per request ${ratio(cpu)}`);
  }
  return { lines, summary };
}

/** What istiod programmed into each proxy, as a table (nothing for runs saved without it). */
function configLines(run: SidecarRun): string[] {
  if (run.config === undefined) return [];
  return [
    "What istiod programmed into each proxy at the start of the run (admin /config_dump; route virtual hosts counts RDS only: the chart's EnvoyFilter replaces the Canal gateway's RDS with one inline catch-all route, and its table, 1 + the filler VirtualServices, is in the filter's config delivered over ECDS):",
    "",
    "| proxy | listeners | clusters | route virtual hosts | HTTP filters |",
    "|---|---:|---:|---:|---|",
    ...run.config.map(({ role, facts: f }) => `| ${role} | ${f.listeners} | ${f.clusters} | ${f.virtualHosts} | ${f.httpFilters.map((x) => `\`${x}\``).join(", ")} |`),
    "",
  ];
}

/** The section, and the one-line summaries printed at the end of the run. */
export function renderSection(run: SidecarRun, history: string): { section: string; summary: string[] } {
  const o = run.opts;
  const closed = closedRows(run);
  const sideRoles = run.roles.sidecar;
  const perProxy = [
    ...run.roles.canal.map((role, k) => ({ role, p: pacedProxy(run.paced.canal, k) })),
    ...sideRoles.map((role, k) => ({ role, p: pacedProxy(run.paced.sidecar, k) })),
  ];
  const pairVcpu = spread(run.paced.sidecar.map(pathVcpu));
  const gatewayVcpu = spread(run.paced.canal.map(pathVcpu));
  const sidecarRss = spread(run.paced.sidecar.flatMap((s) => s.rss.map(mib)));
  const gatewayRss = spread(run.paced.canal.map((s) => mib(s.rss[0])));
  const pods = podsRows(run, { sidecarPairVcpu: pairVcpu.median, sidecarRssMiB: sidecarRss.median, gatewayVcpu: gatewayVcpu.median, gatewayRssMiB: gatewayRss.median });
  const m = run.machine;
  const out: string[] = [
    SECTION_HEADING,
    "",
    `Generated by \`${run.command}\` (bench/sidecar.ts) on ${run.date}. Rerun it to refresh this section; its earlier plain-router table is kept below. (\`bench:filter\` still writes this heading with its own plain-router comparison: run bench:sidecar after it.)`,
    "",
    "Both paths run side by side in one world, every proxy configured by a real istiod over xDS (test/istio/world.ts: kube-apiserver + etcd, istiod, both charts as helm renders them, the controller as a process):",
    "",
    "- **sidecar pair**: wrk → the client pod's sidecar (istiod's outbound listener for its namespace) → the server pod's sidecar (istiod's inbound listener) → the app. Both are upstream Envoy bootstrapped as pilot-agent would (`sidecar~<ip>~<pod>.<ns>~…`, ISTIO_META_*). There is no iptables here, so each sidecar's listener is bound on its pod's own loopback address by a Sidecar resource with `captureMode: NONE` (the client's egress port; the server's ingress port with `defaultEndpoint` = the app), and wrk connects to the client sidecar's outbound listener explicitly; istiod's routes, clusters and endpoints are its own (the Service `app`'s endpoint is a WorkloadEntry at the server sidecar's address). Plain HTTP: PeerAuthentication DISABLE, no auto mTLS.",
    "- **Canal**: wrk → the Canal gateway pod (the gateway chart's Deployment played by upstream Envoy as pilot-agent would; WasmPlugin mode: the controller writes the WasmPlugin, istiod delivers the filter and table over ECDS and applies the chart's EnvoyFilter) → the app, registered as Service `app-direct` (a pod without a sidecar).",
    `- the same routes on both: the app's VirtualService (an \`/api/\` prefix with a timeout and a catch-all) on the mesh and on the Canal gateway, plus ${fmt(o.services)} filler Services with VirtualServices on both, so both proxies carry a small mesh's configuration; requests cycle \`/api/items/42\`, \`/v1/status\`, \`/index.html\`.`,
    "- the app is an Envoy `direct_response` listener (the fastest fixed responder; a 3-byte body, where Istio's figure uses 1 KB); its CPU is not counted.",
    `- Envoy ${run.versions.envoy}, one worker each, all three proxies pinned to CPU ${run.plan.proxies}; wrk (1 thread), the app, istiod, the API server, etcd and the controller pinned to CPU ${run.plan.load}. Log levels as pilot-agent's defaults for the gateway and the server sidecar (\`warning\`; the client sidecar, started by the world's \`startSidecar\`, at \`info\`: none of them logs per request, and no access log is configured); istio ${run.versions.istioRelease} (istio.io/istio ${run.versions.istio}); Kubernetes ${run.versions.k8s}.`,
    `- machine: ${m.nproc} CPUs, ${m.cpu}, Linux ${m.kernel}; load average (1/5/15 min) ${run.loadBefore} before, ${run.loadAfter} after.`,
    `- closed loop: ${o.warmupS} s warm-up per path, then ${o.rounds} rounds of ${o.durationS} s per path, the order reversed every other round; figures are the median over the rounds (lowest–highest round in brackets); proxy CPU = utime+stime of every Envoy of the path (/proc) ÷ requests; every response 2xx.`,
    "",
    ...configLines(run),
    ...closed.lines,
    "",
    ...closed.summary.map((l) => `- ${l}`),
    "",
    "### Gateway and sidecar cost per 1,000 requests/s",
    "",
    `Paced load near ${fmt(o.rate)} req/s: wrk with ${o.rateConnections} connections, each waiting ${run.paced.delayMs.join(" ms (sidecar pair) / ")} ms (Canal) before its next request (wrk's Lua \`delay()\`; no wrk2 here; each path's delay calibrated by two short paced runs so it lands near the rate on this machine's load), ${o.rounds} alternating rounds of ${o.rateSeconds} s per path. vCPU = the Envoy's CPU seconds ÷ wall seconds, normalised to 1,000 req/s by the rate reached in that round; RSS at the end of the round.`,
    "",
    "| proxy | req/s reached | vCPU per 1,000 req/s | RSS MiB | p50 / p99 ms (path) |",
    "|---|---:|---:|---:|---:|",
    ...perProxy.map(({ role, p }) => `| ${role} | ${fmt(p.rps.median)} | ${p.vcpu.median.toFixed(3)} (${p.vcpu.lo.toFixed(3)}–${p.vcpu.hi.toFixed(3)}) | ${p.rssMiB.median.toFixed(0)} | ${p.p50.median.toFixed(3)} / ${p.p99.median.toFixed(3)} |`),
    `| **sidecar pair (both, per call)** | | **${pairVcpu.median.toFixed(3)}** (${pairVcpu.lo.toFixed(3)}–${pairVcpu.hi.toFixed(3)}) | ${(2 * sidecarRss.median).toFixed(0)} | |`,
    `| **Canal gateway (per call)** | | **${gatewayVcpu.median.toFixed(3)}** (${gatewayVcpu.lo.toFixed(3)}–${gatewayVcpu.hi.toFixed(3)}) | ${gatewayRss.median.toFixed(0)} | |`,
    `| Istio's published sidecar ([Performance and Scalability](${ISTIO_PUBLISHED.source})) | 1,000 | ${ISTIO_PUBLISHED.vcpuPer1000Rps.toFixed(2)} per sidecar, ${(2 * ISTIO_PUBLISHED.vcpuPer1000Rps).toFixed(2)} per call | ${ISTIO_PUBLISHED.memoryMb} MB per sidecar | |`,
    "",
    `Istio's figure is for ${ISTIO_PUBLISHED.conditions}, with Istio's telemetry filters and mTLS; the sidecars here have neither (upstream Envoy lacks istio.stats and metadata exchange, and mTLS is off), so the measured sidecar pair is the *cheapest* a sidecar pair can be and the saving below is a lower bound on that side.`,
    "",
    `### What a gateway pool saves for N pods (${fmt(o.rpsPerPod)} req/s received per pod)`,
    "",
    `Every call crosses two sidecars (the caller's and the callee's) and every pod carries one; with Canal every call crosses one gateway, and the pool runs max(${o.minGatewayReplicas}, ⌈vCPU ÷ ${o.gatewayReplicaVcpu}⌉) replicas, each with the gateway's RSS measured above. Measured figures from the paced rounds (medians); "published" uses Istio's 0.20 vCPU and 60 MB per sidecar. Memory is each proxy's RSS with this bench's ${fmt(o.services)}-service configuration: both grow with the mesh (a sidecar holds every service it may call unless a Sidecar resource narrows it; the gateway's table, section (a): 88 MiB at 10 and 316 MiB at 10,000 virtual hosts), but the pool holds the configuration a few times where the sidecars hold it once per pod.`,
    "",
    "| pods | calls/s | sidecars vCPU (measured) | sidecars memory (measured) | sidecars vCPU / memory (published) | gateway pool | gateway vCPU | gateway memory | vCPU saved (measured) | memory saved (measured) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...pods.map(
      (r) =>
        `| ${fmt(r.pods)} | ${fmt(r.rps)} | ${r.sidecarVcpu.toFixed(1)} | ${fmt(r.sidecarMemMiB / 1024, 1)} GiB | ${r.publishedVcpu.toFixed(1)} / ${fmt(r.publishedMemMb / 1000, 1)} GB | ${r.gatewayReplicas} replicas | ${r.gatewayVcpu.toFixed(1)} | ${fmt(r.gatewayMemMiB / 1024, 2)} GiB | ${(r.sidecarVcpu - r.gatewayVcpu).toFixed(1)} (${fmt((1 - r.gatewayVcpu / r.sidecarVcpu) * 100)}%) | ${fmt((r.sidecarMemMiB - r.gatewayMemMiB) / 1024, 1)} GiB (${fmt((1 - r.gatewayMemMiB / r.sidecarMemMiB) * 100)}%) |`,
    ),
    "",
    "### Noise",
    "",
    `Taken on a shared machine (other sessions' builds and tests running; load average ${run.loadBefore} before, ${run.loadAfter} after, on ${m.nproc} CPUs)${run.nice !== undefined && run.nice !== 0 ? `, the bench and everything it started at nice ${run.nice} (so other work preempts wrk and the proxies: latencies, above all p99, carry that; CPU per request much less)` : ""}. The brackets give each figure's spread over the rounds; the Canal ÷ sidecar ratios above are taken within a round (the two paths measured back to back), which is what to read.`,
    "",
    history.trim(),
    "",
  ];
  const summary = [
    ...closed.summary,
    `paced ~${fmt(o.rate)} req/s: vCPU per 1,000 req/s: Canal gateway ${gatewayVcpu.median.toFixed(3)}, sidecar pair ${pairVcpu.median.toFixed(3)} (Istio published: 0.20 per sidecar); RSS: gateway ${gatewayRss.median.toFixed(0)} MiB, sidecar ${sidecarRss.median.toFixed(0)} MiB each`,
  ];
  return { section: out.join("\n"), summary };
}

/**
 * What to keep below the new table: the section's existing "Plain routers" subsection when it has
 * one, else (the first run) the whole old body of the section, labelled as bench:filter's history.
 */
export function historyOf(existingSection: string | undefined): string {
  if (existingSection === undefined) return "";
  const at = existingSection.indexOf(HISTORY_HEADING);
  if (at >= 0) return existingSection.slice(at);
  const body = existingSection.split("\n").slice(1).join("\n").trim();
  if (body === "") return "";
  const demoted = body.replace(/^### /gm, "#### ");
  return `${HISTORY_HEADING}\n\nWhat this section held before bench:sidecar (bench:filter's two plain routers, no Istio config), kept for comparison:\n\n${demoted}`;
}

/** The `## (b) …` section of a page (up to the next `## `), or undefined. */
export function sectionOf(doc: string): string | undefined {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trim() === SECTION_HEADING);
  if (start < 0) return undefined;
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  return lines.slice(start, end).join("\n");
}
