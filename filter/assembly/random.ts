// xorshift64* for weighted picks and fault percentages. AS's Math.random would import env.seed,
// which Envoy does not provide (the module would fail to load), so the filter seeds its own
// generator from the host clock when a table loads.
let state: u64 = 0x9e3779b97f4a7c15;

export function seedRandom(seed: u64): void {
  state ^= seed | 1;
  if (state == 0) state = 0x9e3779b97f4a7c15;
}

export function nextRandom(): u32 {
  let x = state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  state = x;
  return <u32>((x * 0x2545f4914f6cdd1d) >> 32);
}

/** True with probability ppm / 1,000,000. */
export function chance(ppm: u32): bool {
  if (ppm == 0) return false;
  if (ppm >= 1000000) return true;
  return nextRandom() % 1000000 < ppm;
}
