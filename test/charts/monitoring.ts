// The chart's monitoring objects as helm renders them, and the PromQL they carry: every target of
// the dashboard in the ConfigMap and every alert of the PrometheusRule.
import type { KubeObject } from "../support/k8s.ts";
import { find, GATEWAY_CHART, template } from "./helm.ts";

export const MONITORING_ON = ["--set", "monitoring.dashboards.enabled=true", "--set", "monitoring.prometheusRule.enabled=true", "--set", "monitoring.gatewayStats.enabled=true"];

export interface Dashboard {
  title: string;
  uid: string;
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
  panels: Array<{ type: string; title: string; description?: string; targets?: Array<{ expr: string; refId: string }> }>;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Monitoring {
  objects: KubeObject[];
  dashboard: Dashboard;
  /** The gateway pods' bootstrap override (custom_bootstrap.yaml), as pilot-agent passes it to Envoy. */
  bootstrapOverride: string;
  rules: AlertRule[];
  /** "<where>": expr, for every query of the dashboard and every alert. */
  expressions: Array<{ where: string; expr: string }>;
}

export async function renderMonitoring(args: string[] = []): Promise<Monitoring> {
  const objects = await template(GATEWAY_CHART, "canal-gateway", "istio-system", [...MONITORING_ON, ...args]);
  const cm = find(objects, "ConfigMap", "canal-gateway-dashboard") as KubeObject & { data: Record<string, string> };
  const dashboard = JSON.parse(cm.data["canal.json"]!) as Dashboard;
  const rule = find(objects, "PrometheusRule") as KubeObject & { spec: { groups: Array<{ name: string; rules: AlertRule[] }> } };
  const rules = rule.spec.groups.flatMap((g) => g.rules);
  const override = find(objects, "ConfigMap", "canal-gateway-bootstrap") as KubeObject & { data: Record<string, string> };
  const expressions = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
    ...rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
    // A variable's label_values(metric, label) needs the metric with that label.
    ...dashboard.templating.list.flatMap((v) => {
      const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.definition ?? "");
      return v.type !== "query" ? [] : [{ where: `variable ${v.name}`, expr: m === null ? `unparsed ${v.definition}` : `group by (${m[2]}) (${m[1]})` }];
    }),
  ];
  return { objects, dashboard, rules, expressions, bootstrapOverride: override.data["custom_bootstrap.yaml"]! };
}
