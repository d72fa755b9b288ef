// The gateway chart's optional monitoring objects with real helm: the Grafana dashboard ConfigMap,
// the PrometheusRule and the gateway stats override render only when enabled, with the label,
// namespace and thresholds given, as valid JSON and YAML; every alert explains itself and links a
// runbook section that exists. (monitoring-metrics.test.ts checks the queries against what the
// code exports, through a real Envoy with the override.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CANAL_STATS_TAGS } from "../../envoy/bootstrap.ts";
import type { KubeObject } from "../support/k8s.ts";
import { find, GATEWAY_CHART, helm, REPO, template } from "./helm.ts";
import { MONITORING_ON, renderMonitoring, type Monitoring } from "./monitoring.ts";
import { expressionRefs } from "./promql.ts";

const NS = "istio-system";
const ALERTS = ["CanalGatewayRejectingTable", "CanalControllerSeesNack", "CanalChangeDeliverySlow", "CanalTableNotDelivered", "CanalSyncFailing", "CanalProblemsRising", "CanalDnsGateStuck", "CanalControllerDown"];

/** GitHub's anchors of the markdown headings in docs/observability.md. */
function docAnchors(): Set<string> {
  const md = readFileSync(join(REPO, "docs", "observability.md"), "utf8");
  return new Set([...md.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-")));
}

let defaults: Monitoring;

beforeAll(async () => {
  defaults = await renderMonitoring();
}, 60_000);

describe("off by default", () => {
  it("renders neither the dashboard ConfigMap nor a PrometheusRule (whose CRD may not exist)", async () => {
    const objects = await template(GATEWAY_CHART, "canal-gateway", NS);
    expect(objects.filter((o) => o.kind === "PrometheusRule" || o.apiVersion.startsWith("monitoring.coreos.com"))).toEqual([]);
    expect(objects.filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name)).toEqual([]);
  }, 30_000);

  it("each can be enabled alone", async () => {
    const dash = await template(GATEWAY_CHART, "canal-gateway", NS, ["--set", "monitoring.dashboards.enabled=true"]);
    expect(dash.filter((o) => o.metadata.name === "canal-gateway-bootstrap")).toEqual([]);
    expect(dash.filter((o) => o.kind === "PrometheusRule")).toEqual([]);
    expect(dash.filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name)).toEqual(["canal-gateway-dashboard"]);
    const rules = await template(GATEWAY_CHART, "canal-gateway", NS, ["--set", "monitoring.prometheusRule.enabled=true"]);
    expect(rules.filter((o) => o.kind === "ConfigMap")).toEqual([]);
    expect(rules.filter((o) => o.kind === "PrometheusRule").map((o) => o.metadata.name)).toEqual(["canal-gateway-alerts"]);
  }, 30_000);
});

describe("the dashboard ConfigMap", () => {
  it("carries the sidecar's default label in the release namespace and the dashboard file unchanged", () => {
    const cm = find(defaults.objects, "ConfigMap", "canal-gateway-dashboard") as KubeObject & { data: Record<string, string> };
    expect(cm.metadata.namespace).toBe(NS);
    expect(cm.metadata.labels?.grafana_dashboard).toBe("1");
    expect(cm.metadata.labels?.["app.kubernetes.io/part-of"]).toBe("canal");
    expect(Object.keys(cm.data)).toEqual(["canal.json"]);
    expect(JSON.parse(cm.data["canal.json"]!)).toEqual(JSON.parse(readFileSync(join(GATEWAY_CHART, "dashboards", "canal.json"), "utf8")));
  });

  it("takes the label, its value, the namespace and annotations from values", async () => {
    const objects = await template(GATEWAY_CHART, "canal-gateway", NS, [...MONITORING_ON,
      "--set", "monitoring.dashboards.label=my_dashboards", "--set", "monitoring.dashboards.labelValue=canal",
      "--set", "monitoring.dashboards.namespace=monitoring", "--set", "monitoring.dashboards.annotations.grafana_folder=Canal"]);
    const cm = find(objects, "ConfigMap", "canal-gateway-dashboard");
    expect(cm.metadata.namespace).toBe("monitoring");
    expect(cm.metadata.labels?.my_dashboards).toBe("canal");
    expect(cm.metadata.labels?.grafana_dashboard).toBeUndefined();
    expect(cm.metadata.annotations).toEqual({ grafana_folder: "Canal" });
  }, 30_000);

  it("is a dashboard Grafana can import: unique panel ids, a 24-column grid, every query on the datasource variable", () => {
    const d = defaults.dashboard as unknown as { uid: string; templating: { list: Array<{ name: string; type: string }> }; panels: Array<{ id: number; type: string; gridPos: { x: number; w: number; h: number }; datasource?: { uid: string }; targets?: Array<{ expr: string; datasource: { uid: string } }> }> };
    expect(d.uid).toBe("canal-overview");
    expect(d.templating.list).toContainEqual(expect.objectContaining({ name: "datasource", type: "datasource" }));
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      if (p.type === "row") continue;
      expect(p.targets?.length, `panel ${p.id}`).toBeGreaterThan(0);
      expect(p.datasource?.uid).toBe("${datasource}");
      for (const t of p.targets ?? []) expect(t.datasource.uid).toBe("${datasource}");
    }
  });

  it("has the panels the operator asked for", () => {
    const titles = defaults.dashboard.panels.map((p) => p.title);
    for (const t of ["Requests per virtual host and outcome", "Local replies and non-routed requests", "Table version per pod", "Filter configure time (ECDS update duration)",
      "Table updates: accepted, rejected (NACK), failed", "Change to delivered (p50, p99)", "Translate and sync time (last)", "Translations per second",
      "Problems in the input by reason", "Gateways by ECDS delivery state", "Names by DNS state", "Gateway pods by probe answer", "Delivery: WasmPlugin writes and gateway ACK/NACK"]) expect(titles).toContain(t);
  });
});

describe("the gateway stats override (monitoring.gatewayStats)", () => {
  type Container = { name: string; env?: Array<{ name: string; value?: string }>; volumeMounts?: Array<{ name: string; mountPath: string }> };
  type PodSpec = { containers: Container[]; volumes: Array<{ name: string; configMap?: { name: string } }> };
  const podSpec = (objects: KubeObject[]): PodSpec => (find(objects, "Deployment") as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
  const override = (objects: KubeObject[]): Record<string, unknown> =>
    parseYaml((find(objects, "ConfigMap", "canal-gateway-bootstrap") as KubeObject & { data: Record<string, string> }).data["custom_bootstrap.yaml"]!) as Record<string, unknown>;

  it("WasmPlugin mode: the pods get Canal's stats tags and the ECDS and Wasm stats through ISTIO_BOOTSTRAP_OVERRIDE", async () => {
    const objects = await template(GATEWAY_CHART, "canal-gateway", NS, ["--set", "monitoring.gatewayStats.enabled=true"]);
    const spec = podSpec(objects);
    const proxy = spec.containers.find((c) => c.name === "istio-proxy")!;
    expect(proxy.env?.find((e) => e.name === "ISTIO_BOOTSTRAP_OVERRIDE")?.value).toBe("/etc/canal/bootstrap/custom_bootstrap.yaml");
    expect(proxy.volumeMounts).toContainEqual(expect.objectContaining({ name: "canal-bootstrap", mountPath: "/etc/canal/bootstrap" }));
    expect(spec.volumes).toContainEqual({ name: "canal-bootstrap", configMap: { name: "canal-gateway-bootstrap" } });
    const b = override(objects) as { static_resources?: unknown; stats_config: { stats_tags: Array<{ tag_name: string; regex: string }>; stats_matcher: unknown } };
    expect(b.static_resources).toBeUndefined();
    // The same tags as Canal's own bootstrap (envoy/bootstrap.ts), then the name tags.
    expect(b.stats_config.stats_tags.slice(0, 2)).toEqual(CANAL_STATS_TAGS);
    expect(b.stats_config.stats_tags.map((t) => t.tag_name)).toEqual(["vhost", "outcome", "ecds_filter", "wasm_plugin"]);
  }, 30_000);

  it("EnvoyFilter mode: one override with both the canal-ecds cluster and the stats", async () => {
    const objects = await template(GATEWAY_CHART, "canal-gateway", NS, ["--set", "monitoring.gatewayStats.enabled=true", "--set", "ecds.enabled=true", "--set", "ecds.filterImage=registry.example/canal:0.1.0"]);
    const b = override(objects) as { static_resources: { clusters: Array<{ name: string }> }; stats_config: object };
    expect(b.static_resources.clusters.map((c) => c.name)).toEqual(["canal-ecds"]);
    expect(Object.keys(b.stats_config).sort()).toEqual(["stats_matcher", "stats_tags"]);
    expect(podSpec(objects).volumes.filter((v) => v.name === "canal-bootstrap")).toHaveLength(1);
  }, 30_000);

  it("off: WasmPlugin-mode pods have no override at all", async () => {
    const objects = await template(GATEWAY_CHART, "canal-gateway", NS);
    const proxy = podSpec(objects).containers.find((c) => c.name === "istio-proxy")!;
    expect(proxy.env?.map((e) => e.name)).not.toContain("ISTIO_BOOTSTRAP_OVERRIDE");
    expect(podSpec(objects).volumes.map((v) => v.name)).not.toContain("canal-bootstrap");
  }, 30_000);
});

describe("the PrometheusRule", () => {
  it("has every alert, each with a severity, summary, description and a runbook section in docs/observability.md", () => {
    expect(defaults.rules.map((r) => r.alert)).toEqual(ALERTS);
    const anchors = docAnchors();
    for (const r of defaults.rules) {
      expect(["warning", "critical"]).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toMatch(/\S/);
      expect(r.annotations?.description, r.alert).toMatch(/\S/);
      const url = r.annotations?.runbook_url ?? "";
      expect(url).toBe(`docs/observability.md#${r.alert.toLowerCase()}`);
      expect(anchors, `docs/observability.md has a heading for ${r.alert}`).toContain(r.alert.toLowerCase());
    }
  });

  it("takes namespace, labels, alert labels, runbook base and the minutes from values", async () => {
    const m = await renderMonitoring(["--set", "monitoring.prometheusRule.namespace=monitoring", "--set", "monitoring.prometheusRule.labels.release=kps",
      "--set", "monitoring.prometheusRule.ruleLabels.team=platform", "--set", "monitoring.prometheusRule.runbookBaseUrl=https://docs.example/canal",
      "--set", "monitoring.prometheusRule.tableNotDeliveredMinutes=7", "--set", "monitoring.prometheusRule.dnsPendingMinutes=9",
      "--set", "monitoring.prometheusRule.controllerDownMinutes=3", "--set", "monitoring.prometheusRule.problemsWindowMinutes=30",
      "--set-json", "monitoring.prometheusRule.changeDeliveredP99Seconds=12.5"]);
    const rule = m.objects.find((o) => o.kind === "PrometheusRule")!;
    expect(rule.metadata.namespace).toBe("monitoring");
    expect(rule.metadata.labels?.release).toBe("kps");
    const by = new Map(m.rules.map((r) => [r.alert, r]));
    for (const r of m.rules) {
      expect(r.labels?.team).toBe("platform");
      expect(r.annotations?.runbook_url).toBe(`https://docs.example/canal#${r.alert.toLowerCase()}`);
    }
    expect(by.get("CanalTableNotDelivered")?.for).toBe("7m");
    expect(by.get("CanalSyncFailing")?.expr).toContain("[7m]");
    expect(by.get("CanalDnsGateStuck")?.for).toBe("9m");
    expect(by.get("CanalControllerDown")?.for).toBe("3m");
    expect(by.get("CanalProblemsRising")?.expr).toContain("[30m]");
    expect(by.get("CanalChangeDeliverySlow")?.expr).toMatch(/> 12\.5$/);
  }, 30_000);

  it("the gateway alerts look only at this release's pods (other gateway releases run other tables)", async () => {
    const objects = await template(GATEWAY_CHART, "east-west", "gateways", ["--set", "monitoring.prometheusRule.enabled=true", "--set", "name=east-west"]);
    const rule = find(objects, "PrometheusRule") as KubeObject & { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> } };
    const exprs = new Map(rule.spec.groups.flatMap((g) => g.rules).map((r) => [r.alert, r.expr]));
    for (const alert of ["CanalGatewayRejectingTable", "CanalTableNotDelivered"]) {
      const selectors = expressionRefs(exprs.get(alert)!).selectors;
      expect(selectors.length).toBeGreaterThan(0);
      for (const s of selectors) expect(s.labels.sort(), alert).toEqual(["ecds_filter", "namespace", "pod"]);
      expect(exprs.get(alert)).toContain('namespace="gateways", pod=~"east-west-.*"');
    }
  }, 30_000);

  it("values.schema.json refuses a zero or non-integer threshold and an unknown key", async () => {
    for (const [args, message] of [
      [["--set", "monitoring.prometheusRule.tableNotDeliveredMinutes=0"], "minimum"],
      [["--set", "monitoring.prometheusRule.dnsPendingMinutes=soon"], "dnsPendingMinutes"],
      [["--set", "monitoring.prometheusRule.changeDeliveredP99Seconds=0"], "changeDeliveredP99Seconds"],
      [["--set", "monitoring.dashboard.enabled=true"], "additional properties 'dashboard' not allowed"],
    ] as const) {
      const r = await helm(["template", "canal-gateway", GATEWAY_CHART, "--namespace", NS, ...args]);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
  }, 30_000);
});

it("helm lint --strict passes with monitoring on", async () => {
  const r = await helm(["lint", "--strict", GATEWAY_CHART, "--namespace", NS, ...MONITORING_ON]);
  expect(r.stdout + r.stderr).toContain("0 chart(s) failed");
  expect(r.code).toBe(0);
}, 30_000);

describe("the PromQL reader the metric check relies on (Prometheus's grammar)", () => {
  it("finds metrics, matcher labels and grouping labels; strings, ranges, functions and Grafana's intervals are no metrics", () => {
    expect(expressionRefs('sum by (vhost, outcome) (rate(canal_requests_total{outcome!="routed", vhost=~"a.{1}"}[$__rate_interval]))')).toEqual({
      selectors: [{ metric: "canal_requests_total", labels: ["outcome", "vhost"] }], groupLabels: ["vhost", "outcome"], syntaxErrors: [],
    });
    expect(expressionRefs('count(count_values("table", envoy_x_version)) > 1 or on() (sum(canal_leader) or vector(0)) < 1')).toEqual({
      selectors: [{ metric: "envoy_x_version", labels: [] }, { metric: "canal_leader", labels: [] }], groupLabels: [], syntaxErrors: [],
    });
    expect(expressionRefs("a / ignoring(le) group_left(pod) b").groupLabels).toEqual(["le", "pod"]);
  });

  it("reports syntax errors: an unknown function, a missing parenthesis, an aggregation without its argument in parentheses", () => {
    for (const bad of ["rat(x[5m])", "sum(rate(x[5m])", "sum by (x) rate(y[5m])"]) expect(expressionRefs(bad).syntaxErrors, bad).not.toEqual([]);
  });
});

it("every expression in the chart is valid PromQL and refers to at least one metric", () => {
  expect(defaults.expressions.length).toBeGreaterThan(30);
  for (const e of defaults.expressions) {
    const refs = expressionRefs(e.expr);
    expect(refs.syntaxErrors, `${e.where}: ${e.expr}`).toEqual([]);
    expect(refs.selectors.length, e.where).toBeGreaterThan(0);
  }
});
