// Prometheus text exposition for the controller's own metrics. Small on purpose: counters,
// gauges and histograms, no client library.

/** Upper bounds (seconds) of the latency histograms: 10 ms to 60 s, about ×2.5 apart. */
export const LATENCY_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Family<V> {
  help: string;
  values: Map<string, V>;
}

interface HistogramValue {
  labels: Record<string, string>;
  /** Observations ≤ each bound (not cumulative; summed when rendered). */
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly counters = new Map<string, Family<number>>();
  private readonly gauges = new Map<string, Family<number>>();
  private readonly histograms = new Map<string, Family<HistogramValue> & { buckets: readonly number[] }>();
  private readonly collectors: Array<() => void> = [];

  /** Runs `collect` before every render: for gauges cheaper to compute when scraped than on every change. */
  onRender(collect: () => void): void {
    this.collectors.push(collect);
  }

  counter(name: string, help: string, labels: Record<string, string> = {}, by = 1): void {
    const m = family(this.counters, name, help);
    const key = labelText(labels);
    m.values.set(key, (m.values.get(key) ?? 0) + by);
  }

  gauge(name: string, help: string, value: number, labels: Record<string, string> = {}): void {
    family(this.gauges, name, help).values.set(labelText(labels), value);
  }

  /**
   * Records `value` in histogram `name` (`buckets`: ascending upper bounds, fixed by the first
   * call). Without `value`, only makes the series exist with zero counts, so queries and alerts
   * see it before the first observation.
   */
  histogram(name: string, help: string, buckets: readonly number[], labels: Record<string, string> = {}, value?: number): void {
    let m = this.histograms.get(name);
    if (m === undefined) {
      m = { help, values: new Map(), buckets: [...buckets] };
      this.histograms.set(name, m);
    }
    const key = labelText(labels);
    let h = m.values.get(key);
    if (h === undefined) {
      h = { labels: { ...labels }, counts: m.buckets.map(() => 0), sum: 0, count: 0 };
      m.values.set(key, h);
    }
    if (value === undefined) return;
    const i = m.buckets.findIndex((le) => value <= le);
    if (i >= 0) h.counts[i] = (h.counts[i] ?? 0) + 1;
    h.sum += value;
    h.count += 1;
  }

  /** Drops every series of gauge `name` (a value that no longer holds must not linger as the last one). */
  removeGauge(name: string): void {
    this.gauges.delete(name);
  }

  render(): string {
    for (const collect of this.collectors) collect();
    const out: string[] = [];
    for (const [type, families] of [["counter", this.counters], ["gauge", this.gauges]] as const) {
      for (const [name, m] of families) {
        out.push(`# HELP ${name} ${m.help}`, `# TYPE ${name} ${type}`);
        for (const [labels, v] of m.values) out.push(`${name}${labels} ${v}`);
      }
    }
    for (const [name, m] of this.histograms) {
      out.push(`# HELP ${name} ${m.help}`, `# TYPE ${name} histogram`);
      for (const [labels, h] of m.values) {
        let cumulative = 0;
        m.buckets.forEach((le, i) => {
          cumulative += h.counts[i] ?? 0;
          out.push(`${name}_bucket${labelText({ ...h.labels, le: String(le) })} ${cumulative}`);
        });
        out.push(`${name}_bucket${labelText({ ...h.labels, le: "+Inf" })} ${h.count}`, `${name}_sum${labels} ${h.sum}`, `${name}_count${labels} ${h.count}`);
      }
    }
    return out.join("\n") + "\n";
  }
}

function family<V>(families: Map<string, Family<V>>, name: string, help: string): Family<V> {
  let m = families.get(name);
  if (m === undefined) {
    m = { help, values: new Map() };
    families.set(name, m);
  }
  return m;
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
