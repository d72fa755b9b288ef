// What a PromQL expression refers to, and what a Prometheus text scrape offers, so the chart's
// dashboard and alerts can be checked against the metrics the code really exports. Expressions
// are parsed with Prometheus's own PromQL grammar (@prometheus-io/lezer-promql, the one its UI
// uses), so a syntax error or an unknown function fails too.
import { parser } from "@prometheus-io/lezer-promql";

/**
 * Grafana's built-in interval variables, replaced by a duration as Grafana does before a query
 * reaches Prometheus.
 */
const GRAFANA_INTERVALS = /\$__(rate_interval|interval|range)\b/g;

export interface Selector {
  metric: string;
  /** Label names of the selector's matchers. */
  labels: string[];
}

export interface ExpressionRefs {
  selectors: Selector[];
  /** Label names of by / without / on / ignoring / group_* lists. */
  groupLabels: string[];
  /** Where the grammar failed, as "at <offset>: <text>" (empty: the expression parses). */
  syntaxErrors: string[];
}

/** The metrics, matcher labels and grouping labels `expr` refers to. */
export function expressionRefs(expr: string): ExpressionRefs {
  const text = expr.replace(GRAFANA_INTERVALS, "5m");
  const selectors: Selector[] = [];
  const groupLabels: string[] = [];
  const syntaxErrors: string[] = [];
  // Depth first: a selector's matchers come right after the selector itself.
  let current: Selector | undefined;
  parser.parse(text).iterate({
    enter: (n) => {
      const slice = text.slice(n.from, n.to);
      if (n.type.isError) {
        syntaxErrors.push(`at ${n.from}: ${JSON.stringify(text.slice(n.from, n.from + 20))}`);
      } else if (n.name === "VectorSelector") {
        const id = n.node.getChild("Identifier");
        current = { metric: id === null ? "" : text.slice(id.from, id.to), labels: [] };
        selectors.push(current);
      } else if (n.name === "LabelName") {
        const parent = n.node.parent?.name ?? "";
        if (parent === "GroupingLabels") groupLabels.push(slice);
        else if (parent.endsWith("LabelMatcher") && current !== undefined) current.labels.push(slice);
      }
    },
  });
  return { selectors, groupLabels, syntaxErrors };
}

/** Metric name → the label names seen on its samples, from a Prometheus text exposition. */
export function scrapedSeries(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][\w:]*)(\{([^}]*)\})?\s/.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels = out.get(m[1]!) ?? new Set<string>();
    out.set(m[1]!, labels);
    for (const l of (m[3] ?? "").matchAll(/([A-Za-z_]\w*)="/g)) labels.add(l[1]!);
  }
  return out;
}

/**
 * Everything in `expr` the scrape does not back: metric names that are not exported, matcher
 * labels the metric does not carry, grouping labels none of the expression's metrics carries,
 * syntax errors. `targetLabels` are the labels Prometheus adds when scraping (pod, ...).
 */
export function unbackedRefs(expr: string, series: Map<string, Set<string>>, targetLabels: ReadonlySet<string>): string[] {
  const refs = expressionRefs(expr);
  const errors = refs.syntaxErrors.map((e) => `PromQL syntax error ${e}`);
  const has = (metric: string, label: string): boolean => targetLabels.has(label) || (series.get(metric)?.has(label) ?? false);
  for (const s of refs.selectors) {
    if (s.metric === "") {
      errors.push("a selector without a metric name cannot be checked");
      continue;
    }
    if (!series.has(s.metric)) {
      errors.push(`metric ${s.metric} is not exported`);
      continue;
    }
    for (const l of s.labels) if (!has(s.metric, l)) errors.push(`metric ${s.metric} has no label ${l}`);
  }
  for (const l of refs.groupLabels) {
    if (!refs.selectors.some((s) => has(s.metric, l))) errors.push(`no metric of the expression has label ${l} (by/on list)`);
  }
  if (refs.selectors.length === 0) errors.push("refers to no metric");
  return errors;
}
