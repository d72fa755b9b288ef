// Issue 12, finding 8: weights summing to 2^32 passed the controller and the filter, then trapped
// the VM on the first request ("remainder by zero"). Both sides now bound the destination count
// and the total weight (schema/route-table.ts, filter/assembly/limits.ts), and every Wasm filter
// config Canal renders or writes asks Envoy to reload a failed VM (FAIL_RELOAD).
import { describe, expect, it, vi } from "vitest";
import { MAX_DESTINATIONS, MAX_TOTAL_WEIGHT } from "../../schema/route-table.ts";
import { ProxyWasmHost } from "../emulator/host.ts";
import { send, startCanal } from "../emulator/canal.ts";
import { tableOf, translateHttp } from "./filter-support.ts";
import { readFileSync } from "node:fs";
import { ensureCanalWasm } from "../support/wasm.ts";

// The security suite runs beside the 1,000,000-request property test on a shared machine.
vi.setConfig({ testTimeout: 60_000 });

/** The table: 4,294 destinations of 1,000,000 and one of 967,296, summing to 2^32. */
function overflowRoute(): unknown {
  const route = Array.from({ length: 4294 }, (_, i) => ({ cluster: `c${i % 7}`, weight: 1_000_000 }));
  route.push({ cluster: "c7", weight: 967_296 });
  return { route };
}

async function configure(table: unknown): Promise<{ ok: boolean; host: ProxyWasmHost }> {
  const wasm = new Uint8Array(readFileSync(ensureCanalWasm()));
  const host = await ProxyWasmHost.load(wasm, { rootId: "canal", pluginConfig: JSON.stringify(table) });
  expect(host.startVm()).toBe(true);
  return { ok: host.configure(), host };
}

function rejection(host: ProxyWasmHost): string {
  return host.logMessages().find((m) => m.includes("rejected route table")) ?? "";
}

describe("filter: destination count and total weight are bounded at configure", () => {
  it("rejects the 2^32 table with its field path (it used to trap every request)", async () => {
    const { ok, host } = await configure(tableOf([overflowRoute()]));
    expect(ok).toBe(false);
    expect(rejection(host)).toContain(`virtualHosts[0].routes[0].route: 4295 destinations: at most ${MAX_DESTINATIONS} are allowed`);
  });

  it("rejects a total weight over the limit, even with few destinations", async () => {
    const route = Array.from({ length: 11 }, (_, i) => ({ cluster: `c${i}`, weight: 1_000_000 }));
    const { ok, host } = await configure(tableOf([{ route }]));
    expect(ok).toBe(false);
    expect(rejection(host)).toContain(`virtualHosts[0].routes[0].route: destination weights sum to 11000000: at most ${MAX_TOTAL_WEIGHT} is allowed`);
  });

  it("accepts the limits exactly and routes through them without a trap", async () => {
    const many = Array.from({ length: MAX_DESTINATIONS }, (_, i) => ({ cluster: `m${i}`, weight: i === 0 ? 0 : 100_000 }));
    const heavy = Array.from({ length: 10 }, (_, i) => ({ cluster: `h${i}`, weight: MAX_TOTAL_WEIGHT / 10 }));
    const host = await startCanal({
      format: 1,
      version: "v1",
      virtualHosts: [
        { name: "many", domains: ["many"], routes: [{ route: many }] },
        { name: "heavy", domains: ["heavy"], routes: [{ route: heavy }] },
      ],
    });
    const seen = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const a = send(host, "/", { ":authority": "many" }).cluster;
      const b = send(host, "/", { ":authority": "heavy" }).cluster;
      expect(a).toMatch(/^m([1-9][0-9]?)$/); // m0 has weight 0
      expect(b).toMatch(/^h[0-9]$/);
      seen.add(a as string);
    }
    expect(seen.size).toBeGreaterThan(90);
    expect(host.vmError).toBeNull();
  });
});

describe("controller: the same limits as a Problem with the field path", () => {
  it("refuses a route with more destinations than the filter accepts (InvalidRoute)", () => {
    const route = Array.from({ length: MAX_DESTINATIONS + 1 }, () => ({ destination: { host: "reviews" }, weight: 1 }));
    const { table, problems } = translateHttp([{ route }]);
    const p = problems.find((x) => x.field === "spec.http[0].route");
    expect(p?.reason).toBe("InvalidRoute");
    expect(p?.message).toContain(`101 destinations, over the limit of ${MAX_DESTINATIONS}`);
    // The route answers 503 instead of routing, and the table stays loadable.
    expect(JSON.stringify(table)).not.toContain('"weight":1,');
  });

  it("refuses the 2^32 split (InvalidRoute) and a sum over the limit (InvalidWeight)", () => {
    const overflow = Array.from({ length: 4295 }, (_, i) => ({ destination: { host: "reviews" }, weight: i < 4294 ? 1_000_000 : 967_296 }));
    const a = translateHttp([{ route: overflow }]);
    expect(a.problems.find((x) => x.field === "spec.http[0].route")?.reason).toBe("InvalidRoute");

    const heavy = Array.from({ length: 11 }, () => ({ destination: { host: "reviews" }, weight: 1_000_000 }));
    const b = translateHttp([{ route: heavy }]);
    const p = b.problems.find((x) => x.field === "spec.http[0].route" && x.reason === "InvalidWeight");
    expect(p?.message).toContain(`sum to 11000000, over the limit of ${MAX_TOTAL_WEIGHT}`);
  });

  it("every table it writes for those loads in the filter", async () => {
    const overflow = Array.from({ length: 4295 }, () => ({ destination: { host: "reviews" }, weight: 1_000_000 }));
    const host = await startCanal(translateHttp([{ route: overflow }]).table);
    expect(send(host, "/", { ":authority": "reviews" }).local?.status).toBe(503);
  });
});
