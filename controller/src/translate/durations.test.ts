import { describe, expect, it } from "vitest";
import { parseDurationMs } from "./durations.ts";

describe("parseDurationMs", () => {
  it.each([
    ["0", 0],
    ["0s", 0],
    ["1s", 1000],
    ["1.5s", 1500],
    ["0.25s", 250],
    [".5s", 500],
    ["250ms", 250],
    ["1m", 60_000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["2h45m", 9_900_000],
    ["1500us", 2],
    ["1µs", 1],
    ["1ns", 1],
    ["999999ns", 1],
    ["1000000ns", 1],
    ["1000001ns", 2],
    ["1.000s", 1000],
    ["10.0001s", 10_001],
  ])("%s → %d ms", (input, ms) => {
    expect(parseDurationMs(input)).toEqual({ ok: true, ms });
  });

  it.each([
    ["", "empty"],
    ["10", "a unit"],
    ["-1s", "negative"],
    ["1 s", "unit"],
    ["s", "unit"],
    ["1.5.5s", "unit"],
    ["1d", "unit"],
    ["1S", "unit"],
    ["5 seconds", "unit"],
    ["1sx", "unit"],
    ["25h", "maximum"],
  ])("rejects %j (%s)", (input, why) => {
    const r = parseDurationMs(input, 24 * 3_600_000);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(why);
  });

  it("bounds the result by maxMs", () => {
    expect(parseDurationMs("1h", 3_600_000)).toEqual({ ok: true, ms: 3_600_000 });
    expect(parseDurationMs("1h1ms", 3_600_000).ok).toBe(false);
    expect(parseDurationMs("597h").ok).toBe(false);
    expect(parseDurationMs("596h").ok).toBe(true);
  });
});
