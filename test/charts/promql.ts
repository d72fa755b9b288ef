// What a PromQL expression refers to, and what a Prometheus text scrape offers, so the chart's
// dashboard and alerts can be checked against the metrics the code really exports. A small
// tokenizer, not a PromQL parser: it knows the syntax the dashboard and the alerts use (selectors
// with matchers, ranges, offsets, aggregations with by/without, binary operators, on/ignoring).

/** Functions and aggregation operators an expression may call (a name followed by "("). */
const FUNCTIONS = new Set([
  "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
  "count", "count_over_time", "count_values", "delta", "deriv", "floor", "group", "histogram_quantile", "idelta", "increase",
  "irate", "label_replace", "last_over_time", "max", "max_over_time", "min", "min_over_time", "quantile", "quantile_over_time",
  "rate", "resets", "round", "scalar", "sort", "sort_desc", "stddev", "sum", "sum_over_time", "time", "timestamp", "topk", "vector",
]);
/** Keywords that are never metric names. */
const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan"]);
/** Clauses whose parenthesized list names labels. */
const LABEL_LISTS = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

export interface Selector {
  metric: string;
  /** Label names of the selector's matchers. */
  labels: string[];
}

export interface ExpressionRefs {
  selectors: Selector[];
  /** Label names of by / without / on / ignoring / group_* lists. */
  groupLabels: string[];
  /** Names followed by "(" that are no known function (a typo such as `rat(`). */
  unknownFunctions: string[];
}

/** The metrics, matcher labels and grouping labels `expr` refers to. */
export function expressionRefs(expr: string): ExpressionRefs {
  // Strings first: they may hold anything, including braces (count_values' label, regex matchers).
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const groupLabels: string[] = [];
  const rest = noStrings.replace(LABEL_LISTS, (_m, _kw: string, list: string) => {
    groupLabels.push(...list.split(",").map((l) => l.trim()).filter((l) => l !== ""));
    return " ";
  });
  const selectors: Selector[] = [];
  const unknownFunctions: string[] = [];
  // Ranges and subqueries ([5m], [$__rate_interval], [1h:5m]) carry no names.
  const noRanges = rest.replace(/\[[^\]]*\]/g, " ");
  const token = /([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?|(\{[^}]*\})|\d[\w.]*/g;
  for (let m = token.exec(noRanges); m !== null; m = token.exec(noRanges)) {
    const [, name, braces, call, bareBraces] = m;
    if (bareBraces !== undefined) throw new Error(`${JSON.stringify(expr)}: a selector without a metric name (${bareBraces}) cannot be checked`);
    if (name === undefined) continue; // a number or a duration
    if (call !== undefined && braces === undefined) {
      if (!FUNCTIONS.has(name) && !KEYWORDS.has(name)) unknownFunctions.push(name);
      continue;
    }
    if (KEYWORDS.has(name)) continue;
    const labels = braces === undefined ? [] : [...braces.slice(1, -1).matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]!);
    selectors.push({ metric: name, labels });
  }
  return { selectors, groupLabels, unknownFunctions };
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
 * unknown functions. `targetLabels` are the labels Prometheus adds when scraping (pod, ...).
 */
export function unbackedRefs(expr: string, series: Map<string, Set<string>>, targetLabels: ReadonlySet<string>): string[] {
  const refs = expressionRefs(expr);
  const errors = refs.unknownFunctions.map((f) => `unknown function ${f}()`);
  const has = (metric: string, label: string): boolean => targetLabels.has(label) || (series.get(metric)?.has(label) ?? false);
  for (const s of refs.selectors) {
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
