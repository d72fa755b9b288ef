// Durations as Istio accepts them ("1.5s", "250ms", "1m30s", "0s"): Go time.ParseDuration
// syntax without a sign. Converted to whole milliseconds, rounding up, so a short non-zero
// timeout never turns into 0 ("no timeout").

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const PART = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;

export type DurationResult = { ok: true; ms: number } | { ok: false; error: string };

/** Parses a duration into milliseconds (ceiling). `maxMs` bounds the result. */
export function parseDurationMs(input: string, maxMs: number = 2_147_483_647): DurationResult {
  const bad = (why: string): DurationResult => ({ ok: false, error: `invalid duration ${JSON.stringify(input)}: ${why}` });
  if (input === "0") return { ok: true, ms: 0 };
  if (input === "") return bad("empty");
  if (input.startsWith("-")) return bad("must not be negative");
  let rest = input;
  let ns = 0n;
  while (rest.length > 0) {
    const m = PART.exec(rest);
    if (m === null) return bad("expected a number followed by a unit (h, m, s, ms, us, ns), e.g. \"1.5s\" or \"250ms\"");
    const whole = m[1] ?? "";
    const frac = m[2] ?? "";
    if (whole === "" && frac === "") return bad("a unit must follow a number");
    const unit = UNIT_NS[m[3] as string] as bigint;
    ns += BigInt(whole || "0") * unit;
    if (frac !== "") ns += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    rest = rest.slice(m[0].length);
  }
  const ms = (ns + 999_999n) / 1_000_000n;
  if (ms > BigInt(maxMs)) return bad(`longer than the maximum of ${formatMs(maxMs)}`);
  return { ok: true, ms: Number(ms) };
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
