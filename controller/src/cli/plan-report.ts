// `canal plan`'s report: what the DNS step would change now and why. Pure: the same decision the
// controller makes (sinks/dns/gating.ts), described as added / removed / unchanged names.
import type { Problem } from "../api/problem.ts";
import type { Decision } from "../sinks/dns/gating.ts";
import type { DnsState } from "../sinks/dns/state.ts";

export interface PlanLine {
  change: "add" | "remove" | "keep" | "wait";
  name: string;
  gateway: string;
  /** Addresses (add, keep), or the reason (remove, wait). */
  detail: string;
}

export function planLines(current: DnsState, decision: Decision): PlanLine[] {
  const lines: PlanLine[] = [];
  const next = new Map(decision.state.entries.map((e) => [e.fqdn, e]));
  const statusOf = (fqdn: string): { gateway: string; reason: string; message: string } | undefined => {
    for (const [gateway, list] of decision.statuses) {
      const s = list.find((x) => x.name === fqdn);
      if (s !== undefined) return { gateway, reason: s.reason, message: s.message };
    }
    return undefined;
  };
  for (const e of decision.state.entries) {
    const was = current.entries.find((c) => c.fqdn === e.fqdn);
    const same = was !== undefined && was.gateway === e.gateway && was.addresses.join() === e.addresses.join();
    lines.push({ change: same ? "keep" : "add", name: e.fqdn, gateway: e.gateway, detail: e.addresses.join(", ") });
  }
  for (const c of current.entries) {
    if (next.get(c.fqdn)?.gateway === c.gateway) continue;
    const s = statusOf(c.fqdn);
    const why = s === undefined ? "no InternalGateway routes it any more" : `${s.reason}: ${s.message}`;
    lines.push({ change: "remove", name: c.fqdn, gateway: c.gateway, detail: why });
  }
  for (const [gateway, list] of decision.statuses) {
    for (const s of list) {
      if (s.state === "Pending" || s.state === "OptedOut") {
        if (!lines.some((l) => l.name === s.name)) lines.push({ change: "wait", name: s.name, gateway, detail: `${s.reason}: ${s.message}` });
      }
    }
  }
  const order = { add: 0, remove: 1, wait: 2, keep: 3 } as const;
  return lines.sort((a, b) => order[a.change] - order[b.change] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function formatPlan(lines: readonly PlanLine[], configMap: string): string {
  const sign = { add: "+", remove: "-", wait: "~", keep: "=" } as const;
  const out = lines.map((l) => `${sign[l.change]} ${l.name} (${l.gateway}): ${l.change === "add" || l.change === "keep" ? `→ ${l.detail}` : l.detail}`);
  const n = (c: PlanLine["change"]): number => lines.filter((l) => l.change === c).length;
  out.push(`${n("add")} to add, ${n("remove")} to remove, ${n("wait")} waiting, ${n("keep")} unchanged in ${configMap} (nothing was changed)`);
  return `${out.join("\n")}\n`;
}

/** Refused hosts and opt-outs (ADR 0003), one "!" line each, before the DNS changes. */
export function formatRefused(problems: readonly Problem[]): string {
  return problems.map((p) => `! ${p.kind} ${p.namespace}/${p.name} ${p.field}: ${p.reason}: ${p.message}\n`).join("");
}
