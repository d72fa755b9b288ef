// What a table may ask of the filter, checked at configure so that no accepted table can make a
// request trap or stall. The same numbers are in schema/route-table.ts (the controller's side);
// docs/route-table.md ("Limits") explains each.

/** Destinations of one route. Istio splits are a handful; 100 leaves room without cost. */
export const MAX_DESTINATIONS: i32 = 100;

/**
 * Sum of a route's destination weights. Far above any real split (Istio's sum to 100) and far
 * below 2^32, so the weighted pick's arithmetic (u32) can neither overflow nor divide by zero.
 */
export const MAX_TOTAL_WEIGHT: u32 = 10000000;

// Regex budget (docs/regex.md, "Budget"). Matching costs at most about (program size + a
// per-byte overhead) x input bytes: the Pike VM steps at most program-size threads per byte, and
// the lazy DFA hands over to it when it thrashes. Measured in the emulator (V8, like Envoy) on a
// loaded 2-core machine: <= 3.8 ns per unit, so a request's budget of 262,144 units is about 1 ms.

/** NFA instructions per regex; near Envoy's RE2 default max_program_size (100). */
export const MAX_REGEX_PROGRAM: i32 = 100;
/** The per-byte overhead of a match, in instructions (decoding, the loop): measured. */
export const REGEX_BYTE_COST: i64 = 32;
/** Regex work one request may do, in units of (instructions + REGEX_BYTE_COST) x bytes. */
export const REQUEST_REGEX_BUDGET: i64 = 262144;

/** The engine's "pattern too large" said in the terms of the budget; other errors as they are. */
export function explainRegexError(e: string): string {
  if (!e.startsWith("pattern too large")) return e;
  return "pattern too large: over the regex budget of " + MAX_REGEX_PROGRAM.toString() +
    " instructions (counted repeats such as .{999} or x{2,500} expand; see docs/regex.md)";
}
