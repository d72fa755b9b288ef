// The DNS part of an InternalGateway's status: one entry per planned name (state, reason,
// message) and a summary condition. Pure.
import type { EntryStatus } from "./gating.ts";

export const MAX_DNS_ENTRIES = 256;

export interface DnsCondition {
  ok: boolean;
  reason: string;
  message: string;
}

export interface DnsGatewayStatus {
  configMap: string;
  dryRun: boolean;
  redirected: number;
  pending: number;
  draining: number;
  optedOut: number;
  /** At most MAX_DNS_ENTRIES, sorted by name. */
  entries: EntryStatus[];
  condition: DnsCondition;
}

export function summarize(entries: readonly EntryStatus[], configMap: string, dryRun: boolean, failure?: { reason: string; message: string }): DnsGatewayStatus {
  const count = (s: EntryStatus["state"]): number => entries.filter((e) => e.state === s).length;
  const redirected = count("Redirected");
  const pending = count("Pending");
  const draining = count("Draining");
  const optedOut = count("OptedOut");
  let condition: DnsCondition;
  if (failure !== undefined) condition = { ok: false, ...failure };
  else if (pending > 0) {
    const first = entries.find((e) => e.state === "Pending")!;
    condition = { ok: false, reason: first.reason, message: `${pending} of ${pending + redirected} names wait: ${first.name}: ${first.message}` };
  } else if (dryRun) condition = { ok: false, reason: "DryRun", message: `--dns-dry-run: ${redirected} names would point at the gateway; ${configMap} is not written` };
  else condition = { ok: true, reason: "AllRedirected", message: `${redirected} names point at the gateway (${configMap})${draining > 0 ? `; ${draining} draining` : ""}` };
  if (dryRun && failure === undefined && pending > 0) condition = { ...condition, message: `--dns-dry-run (nothing written): ${condition.message}` };
  return { configMap, dryRun, redirected, pending, draining, optedOut, entries: entries.slice(0, MAX_DNS_ENTRIES).map((e) => ({ ...e, name: e.name.slice(0, 253), message: e.message.slice(0, 4096) })), condition };
}
