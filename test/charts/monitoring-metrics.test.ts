// The dashboard's queries and the alerts' expressions against the metrics the code really
// exports: a real `canal controller` process (WasmPlugin and ECDS delivery at once, DNS on) on a
// real kube-apiserver, and a real Envoy 1.40 gateway running the filter with its table from that
// controller over ECDS, after requests through it. The gateway has an Istio proxy's stats
// configuration (istio-stats.ts) plus the chart's bootstrap override (monitoring.gatewayStats),
// merged by Envoy's --config-yaml as pilot-agent does. Every metric name the chart's PromQL uses
// must appear in one of the two scrapes, with every label it matches or groups by; renaming a
// metric in the code (or misspelling it in the chart) fails here.
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AdsGateway, Upstreams } from "../ecds/harness.ts";
import { adminRequest } from "../support/envoy.ts";
import { startKubeApi, type KubeApi } from "../support/k8s.ts";
import { freePort, LOOPBACK } from "../support/ports.ts";
import { pollUntil, spawnTracked, stopTracked } from "../support/processes.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { CANAL, REPO } from "../cli/run.ts";
import { startIstioGateway } from "./istio-stats.ts";
import { renderMonitoring, type Monitoring } from "./monitoring.ts";
import { scrapedSeries, unbackedRefs } from "./promql.ts";

const EXAMPLE = join(REPO, "examples", "helloworld");
/**
 * Labels Prometheus adds to every series it scrapes from a pod (kubernetes_sd relabelling, as the
 * usual kubernetes-pods job and prometheus-operator's PodMonitor do); no exporter sets them.
 */
const TARGET_LABELS: ReadonlySet<string> = new Set(["pod", "namespace", "instance", "job"]);

let api: KubeApi;
let controller: ChildProcess | undefined;
let gw: AdsGateway | undefined;
/** The same gateway without the chart's override: what Istio's bootstrap alone exports. */
let plain: AdsGateway | undefined;
let upstreams: Upstreams | undefined;
const logs: string[] = [];
let monitoring: Monitoring;

beforeAll(async () => {
  monitoring = await renderMonitoring();
  const wasmPath = ensureCanalWasm();
  api = await startKubeApi({ name: "monitoring-metrics" });
  await api.prepareForCanal();
  const adsPort = await freePort();
  controller = spawnTracked(process.execPath, [CANAL, "controller", "--kubeconfig", api.kubeconfigPath, "--identity", "monitoring", "--lease-duration", "4",
    "--wasm-url", `file://${wasmPath}`, "--ecds-address", `${LOOPBACK}:${adsPort}`, "--wasm-path", wasmPath, "--metrics-address", `${LOOPBACK}:0`,
    "--dns", "--dns-ttl", "1", "--dns-drain", "2"], { stdio: ["ignore", "pipe", "pipe"] });
  controller.stdout?.on("data", (d: Buffer) => logs.push(d.toString()));
  controller.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
  for (const f of readdirSync(EXAMPLE).sort()) await api.applyYaml(readFileSync(join(EXAMPLE, f), "utf8"));
  // A rejected VirtualService: problems and Warning Events.
  await api.applyYaml(readFileSync(join(REPO, "test/cli/testdata/bad-regex.yaml"), "utf8"));
  upstreams = await Upstreams.start(["helloworld-v1"]);
  gw = await startIstioGateway({ nodeId: "gw-monitoring", nodeCluster: "istio-system/canal", wasmPath, adsPort, upstreams, override: monitoring.bootstrapOverride });
  plain = await startIstioGateway({ nodeId: "gw-plain", nodeCluster: "istio-system/canal", wasmPath, adsPort, upstreams });
  for (const g of [gw, plain]) {
    await pollUntil(`${g.nodeId} serves a table from the controller`, async () => ((await g.servingVersion())?.startsWith("sha256:") ? true : undefined), {
      timeoutMs: 90_000, intervalMs: 300, onTimeout: () => logs.slice(-15).join("") + g.envoy.logTail(),
    });
    // Routed, not routed (unknown host): the filter defines its counters on first use.
    for (const host of ["helloworld", "nowhere.example"]) for (let i = 0; i < 3; i++) await g.send(host, "/hello");
  }
}, 300_000);

afterAll(async () => {
  await gw?.stop();
  await plain?.stop();
  await upstreams?.close();
  if (controller) await stopTracked(controller);
  await api?.stop();
});

function controllerMetricsUrl(): string {
  const url = /"metrics":"(http:\/\/[^"]+)"/.exec(logs.join(""))?.[1];
  if (url === undefined) throw new Error(`the controller did not log its metrics URL:\n${logs.join("")}`);
  return url;
}

/** Both scrapes merged: metric name → label names. */
async function scrape(gateway = gw!): Promise<Map<string, Set<string>>> {
  const controllerText = await (await fetch(controllerMetricsUrl())).text();
  return new Map([...(await envoySeries(gateway)), ...scrapedSeries(controllerText)]);
}

async function envoySeries(gateway: AdsGateway): Promise<Map<string, Set<string>>> {
  const envoy = await adminRequest(gateway.envoy.adminPort, "/stats/prometheus");
  if (envoy.status !== 200) throw new Error(`Envoy /stats/prometheus answered ${envoy.status}`);
  return scrapedSeries(envoy.body);
}

function unbacked(series: Map<string, Set<string>>, expressions: Monitoring["expressions"]): string[] {
  return expressions.flatMap((e) => unbackedRefs(e.expr, series, TARGET_LABELS).map((err) => `${e.where}: ${err}\n    ${e.expr}`));
}

it("every metric and label of the dashboard and the alerts is exported by the controller or the gateway", async () => {
  // Some series appear only after their first event (a sync, a DNS write, an Event): poll the
  // scrapes, bounded, until nothing is missing, then report what still is.
  let missing: string[] = [];
  await pollUntil("every referenced metric is scraped", async () => {
    missing = unbacked(await scrape(), monitoring.expressions);
    return missing.length === 0 ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000 }).catch(() => undefined);
  expect(missing, `not backed by the scrapes:\n${missing.join("\n")}\ncontroller log:\n${logs.slice(-10).join("")}`).toEqual([]);
  expect(monitoring.expressions.length).toBeGreaterThan(30);
}, 120_000);

/** The value of one series (name and labels exactly as rendered) in the controller's scrape. */
let lastScrape = "";
async function controllerValue(series: string): Promise<number | undefined> {
  const text = (lastScrape = await (await fetch(controllerMetricsUrl())).text());
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

it("the controller's delivery series have values: change → delivered samples for both sinks, ACKs, gateways by state, problems by reason", async () => {
  // Both gateways ACKed the table (each serves it); the leader applied the WasmPlugin.
  await pollUntil("a change → delivered sample for each sink", async () => {
    const [ecds, wasm] = [await controllerValue('canal_change_delivered_seconds_count{sink="ecds"}'), await controllerValue('canal_change_delivered_seconds_count{sink="wasmplugin"}')];
    return (ecds ?? 0) >= 1 && (wasm ?? 0) >= 1 ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 500, onTimeout: () => lastScrape.split("\n").filter((l) => /^canal_(change_delivered_seconds_count|ecds|code)/.test(l)).join("\n") });
  const inf = await controllerValue('canal_change_delivered_seconds_bucket{le="+Inf",sink="ecds"}');
  expect(inf).toBe(await controllerValue('canal_change_delivered_seconds_count{sink="ecds"}'));
  expect(await controllerValue('canal_change_delivered_seconds_bucket{le="60",sink="ecds"}')).toBe(inf);
  expect(await controllerValue('canal_ecds_responses_total{outcome="ack"}')).toBeGreaterThanOrEqual(2);
  expect(await controllerValue('canal_ecds_responses_total{outcome="nack"}')).toBe(0);
  expect(await controllerValue('canal_ecds_gateways{state="current"}')).toBe(2);
  expect(await controllerValue('canal_ecds_gateways{state="rejected"}')).toBe(0);
  // bad-regex.yaml: one InvalidRegex problem on a VirtualService; a reason with none reads 0.
  expect(await controllerValue('canal_problems{kind="VirtualService",reason="InvalidRegex"}')).toBe(1);
  expect(await controllerValue('canal_problems{kind="VirtualService",reason="HostNotOwned"}')).toBe(0);
  // The leader (the only replica) exports its sync time and DNS gauges.
  expect(await controllerValue("canal_push_seconds")).toBeGreaterThanOrEqual(0);
  expect(await controllerValue('canal_dns_names{state="Pending"}')).toBeGreaterThanOrEqual(0);
}, 60_000);

it("the same check flags a misspelled metric, a label the metric does not carry and a wrong grouping label", async () => {
  const series = await scrape();
  const bad = [
    { where: "typo", expr: "sum(rate(canal_request_total[5m]))" },
    { where: "label", expr: 'max(canal_dns_names{status="Pending"})' },
    { where: "group", expr: "sum by (virtualhost) (rate(canal_requests_total[5m]))" },
  ];
  expect(unbacked(series, bad).map((e) => e.split("\n")[0])).toEqual([
    "typo: metric canal_request_total is not exported",
    "label: metric canal_dns_names has no label status",
    "group: no metric of the expression has label virtualhost (by/on list)",
  ]);
}, 30_000);

it("without the chart's override, an Istio gateway exports neither the labelled request counter nor the ECDS stats", async () => {
  const series = await envoySeries(plain!);
  const names = [...series.keys()];
  expect(series.has("canal_requests_total")).toBe(false);
  expect(names.filter((n) => n.includes("extension_config_discovery"))).toEqual([]);
  // The counter is there, its virtual host and outcome baked into the name.
  expect(names.some((n) => n.startsWith("canal_requests_total") && n.endsWith("routed"))).toBe(true);
  const withOverride = await envoySeries(gw!);
  expect([...(withOverride.get("canal_requests_total") ?? [])].sort()).toEqual(["outcome", "vhost"]);
  expect([...(withOverride.get("envoy_extension_config_discovery_http_filter_update_success") ?? [])]).toEqual(["ecds_filter"]);
}, 30_000);
