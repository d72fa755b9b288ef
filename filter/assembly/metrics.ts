// canal_requests_total per virtual host and outcome, counted in the VM and added to Envoy's counters
// on the root context's tick (flushCounts, at least every METRIC_FLUSH_MS) rather than with one
// proxy_increment_metric host call per request: Envoy's counters lag the VM's by up to one flush
// period (docs/filter.md, "What happens per request").
import { defineCounter, incrementCounter } from "./host";
import { VirtualHost } from "./table";

/** The longest a request waits in the VM before Envoy's counter shows it. */
export const METRIC_FLUSH_MS: u32 = 1000;

const OUTCOME_NAMES: Array<string> = ["routed", "no_route", "local_reply", "fault"];

// One slot per counter name, for the VM's life: a virtual host of a later table with the same name
// reuses its slot (and Envoy's metric id), so slots grow only with the names ever counted, as
// Envoy's own stats do.
const slotByName = new Map<string, i32>();
const envoyIds = new Array<u32>();
const pending = new Array<u64>();
/** Slots with a non-zero pending count, each once; `dirtyCount` of them are live. */
const dirty = new Array<i32>();
let dirtyCount: i32 = 0;

function slotFor(name: string): i32 {
  if (slotByName.has(name)) {
    let known = slotByName.get(name);
    return known;
  }
  let slot = envoyIds.length;
  envoyIds.push(defineCounter(name));
  pending.push(0);
  dirty.push(0);
  slotByName.set(name, slot);
  return slot;
}

export function countOutcome(vh: VirtualHost, outcome: i32): void {
  // The virtual host caches its slot + 1 (0 = not looked up yet), so a request neither builds the
  // name nor hashes it.
  let cached = vh.metricId(outcome);
  if (cached == 0) {
    cached = <u32>slotFor("canal_requests_total." + vh.name + "." + OUTCOME_NAMES[outcome]) + 1;
    vh.setMetricId(outcome, cached);
  }
  let slot = <i32>cached - 1;
  let n = unchecked(pending[slot]);
  if (n == 0) {
    unchecked((dirty[dirtyCount] = slot));
    dirtyCount++;
  }
  unchecked((pending[slot] = n + 1));
}

/** Adds every pending count to Envoy's counters (one host call per counter that moved). */
export function flushCounts(): void {
  for (let i = 0; i < dirtyCount; i++) {
    let slot = unchecked(dirty[i]);
    incrementCounter(unchecked(envoyIds[slot]), unchecked(pending[slot]));
    unchecked((pending[slot] = 0));
  }
  dirtyCount = 0;
}
