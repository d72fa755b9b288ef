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
