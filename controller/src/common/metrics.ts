// Prometheus text exposition for the controller's own metrics. Small on purpose: counters,
// gauges and a latency summary, no client library.
export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; values: Map<string, number> }>();

  counter(name: string, help: string, labels: Record<string, string> = {}, by = 1): void {
    const m = this.counters.get(name) ?? { help, values: new Map() };
    this.counters.set(name, m);
    const key = labelText(labels);
    m.values.set(key, (m.values.get(key) ?? 0) + by);
  }

  gauge(name: string, help: string, value: number, labels: Record<string, string> = {}): void {
    const m = this.gauges.get(name) ?? { help, values: new Map() };
    this.gauges.set(name, m);
    m.values.set(labelText(labels), value);
  }

  render(): string {
    const out: string[] = [];
    for (const [type, family] of [["counter", this.counters], ["gauge", this.gauges]] as const) {
      for (const [name, m] of family) {
        out.push(`# HELP ${name} ${m.help}`, `# TYPE ${name} ${type}`);
        for (const [labels, v] of m.values) out.push(`${name}${labels} ${v}`);
      }
    }
    return out.join("\n") + "\n";
  }
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
