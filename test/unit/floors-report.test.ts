// bench:filter --floors splits Canal's per-request cost into layers by per-round differences of
// the sides measured in the same round; "Canal's logic" subtracts two floors at once, and the
// targets are judged at the largest table.
import { describe, expect, it } from "vitest";
import { floorsReport, layerDifference, type FloorRow, type SideName } from "../../bench/floors/report.ts";
import type { Measured } from "../../bench/filter-measure.ts";

function side(perRound: number[]): Measured {
  const n = perRound.length;
  return {
    requests: 1000 * n, durationS: n, rps: 1000, p50: 1, p75: 1, p90: 1, p99: 1, non2xx: 0, socketErrors: 0, raw: "",
    cpuUsPerRequest: perRound.reduce((a, b) => a + b, 0) / n,
    cpuUsPerRound: perRound,
  };
}

function row(vhosts: number, sides: Partial<Record<SideName, number[]>>): FloorRow {
  return { vhosts, sides: new Map(Object.entries(sides).map(([k, v]) => [k as SideName, side(v)])) };
}

const LOGIC = { name: "logic", plus: ["canal", "platform"] as SideName[], minus: ["sdk", "hostcalls"] as SideName[] };

describe("floors layers", () => {
  const r = row(10000, { native: [50, 60, 52], platform: [53, 64, 55], sdk: [54, 65, 57], hostcalls: [60, 70, 61], canal: [62, 74, 64] });
  it("takes each layer per round, the two-floor subtraction included", () => {
    // canal − sdk − (hostcalls − platform) per round: 62−54−7 = 1, 74−65−6 = 3, 64−57−6 = 1
    expect(layerDifference(r, LOGIC)?.diffs).toEqual([1, 3, 1]);
    expect(layerDifference(r, LOGIC)?.median).toBe(1);
  });
  it("a layer over a side that was not measured is absent", () => {
    expect(layerDifference(r, { name: "x", plus: ["canal"], minus: ["before"] })).toBeNull();
  });
  it("judges the targets at the largest size with the pooled ratio", () => {
    const { section, summary } = floorsReport({ rows: [row(10, { native: [40, 40], platform: [41, 41], sdk: [42, 42], hostcalls: [44, 44], canal: [60, 60] }), r], header: ["h"], rounds: 3 });
    // canal − sdk median = 8 (62−54, 74−65 = 9, 64−57 = 7); native/canal = 54/66.67
    expect(summary.at(-1)).toMatch(/above the SDK floor: \+8\.0 µs \(NOT MET\); Canal ≥ 0\.85× native by proxy CPU: 0\.810 \(NOT MET\)/);
    expect(section).toMatch(/^## Cost floors\n/);
    expect(section).not.toMatch(/Canal before/);
  });
});
