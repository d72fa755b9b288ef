import { describe, expect, it } from "vitest";
import { LATENCY_BUCKETS, Metrics } from "./metrics.ts";

describe("Metrics histogram", () => {
  it("renders cumulative _bucket lines with le, +Inf, _sum and _count in the text format", () => {
    const m = new Metrics();
    for (const v of [0.005, 0.02, 0.02, 3, 100]) m.histogram("x_seconds", "Latency.", [0.01, 0.1, 1, 10], { sink: "ecds" }, v);
    expect(m.render()).toBe(
      [
        "# HELP x_seconds Latency.",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{le="0.01",sink="ecds"} 1',
        'x_seconds_bucket{le="0.1",sink="ecds"} 3',
        'x_seconds_bucket{le="1",sink="ecds"} 3',
        'x_seconds_bucket{le="10",sink="ecds"} 4',
        'x_seconds_bucket{le="+Inf",sink="ecds"} 5',
        'x_seconds_sum{sink="ecds"} 103.045',
        'x_seconds_count{sink="ecds"} 5',
        "",
      ].join("\n"),
    );
  });

  it("a series declared without a value renders with zero counts; label sets are separate series", () => {
    const m = new Metrics();
    m.histogram("y_seconds", "Y.", LATENCY_BUCKETS, { sink: "wasmplugin" });
    m.histogram("y_seconds", "Y.", LATENCY_BUCKETS, { sink: "ecds" }, 0.01);
    const text = m.render();
    expect(text).toContain('y_seconds_bucket{le="60",sink="wasmplugin"} 0');
    expect(text).toContain('y_seconds_count{sink="wasmplugin"} 0');
    // A value equal to a bound falls in that bucket (le: less or equal).
    expect(text).toContain('y_seconds_bucket{le="0.01",sink="ecds"} 1');
    expect(text.match(/^y_seconds_bucket\{/gm)?.length).toBe(2 * (LATENCY_BUCKETS.length + 1));
    expect(LATENCY_BUCKETS[0]).toBe(0.01);
    expect(LATENCY_BUCKETS.at(-1)).toBe(60);
  });

  it("removeGauge drops every series of a gauge", () => {
    const m = new Metrics();
    m.gauge("g", "G.", 3, { state: "a" });
    m.gauge("h", "H.", 1);
    m.removeGauge("g");
    expect(m.render()).toBe("# HELP h H.\n# TYPE h gauge\nh 1\n");
  });
});
