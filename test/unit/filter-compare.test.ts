// bench:filter --compare-wasm judges after − before per round (paired), so load that shifts between
// rounds cancels; a difference counts as measured only when every round moved the same way.
import { describe, expect, it } from "vitest";
import { roundDifferences } from "../../bench/filter-compare.ts";

describe("roundDifferences", () => {
  it("pairs rounds and takes the median of the differences", () => {
    const d = roundDifferences([70, 90, 71, 72], [68, 80, 70, 73]);
    expect(d.diffs).toEqual([2, 10, 1, -1]);
    expect(d.median).toBe(1.5);
    expect([d.min, d.max]).toEqual([-1, 10]);
    expect([d.q1, d.q3]).toEqual([-1, 2]);
    expect(d.sameSign).toBe(false);
  });
  it("a shift present in every round is the same sign", () => {
    const d = roundDifferences([75, 95, 76], [70, 90, 71]);
    expect(d.median).toBe(5);
    expect(d.sameSign).toBe(true);
  });
  it("refuses rounds that do not pair", () => {
    expect(() => roundDifferences([1, 2], [1])).toThrow(/same/);
    expect(() => roundDifferences([], [])).toThrow(/same/);
  });
});
