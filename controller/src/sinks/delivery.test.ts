// How the runner combines the WasmPlugin and ECDS sinks' states for one gateway (wiring order:
// WasmPlugin, then ECDS): the precedence the runner had before both became TableSinks.
import { describe, expect, it } from "vitest";
import { combineDeliveries, type DeliveryState } from "./delivery.ts";

const state = (programmed: boolean, reason: string): DeliveryState => ({ programmed, reason, message: reason, gateways: [] });
const applied = state(true, "WasmPluginApplied");
const tooLarge = state(false, "TableTooLarge");
const acked = state(true, "Acknowledged");
const pending = state(false, "Pending");
const noGateways = state(false, "NoGateways");

describe("combineDeliveries", () => {
  it.each([
    ["no sink", [], undefined],
    ["WasmPlugin only, written", [applied], "WasmPluginApplied"],
    ["WasmPlugin only, too large", [tooLarge], "TableTooLarge"],
    ["ECDS only", [undefined, pending], "Pending"],
    ["both, ECDS ACKed: ECDS says more", [applied, acked], "Acknowledged"],
    ["both, ECDS pending", [applied, pending], "Pending"],
    ["both, no gateway connected", [applied, noGateways], "NoGateways"],
    ["both, table too large for a WasmPlugin: that wins over ECDS", [tooLarge, pending], "TableTooLarge"],
    ["both, too large even when ECDS ACKed", [tooLarge, acked], "TableTooLarge"],
  ] as const)("%s", (_name, states, reason) => {
    expect(combineDeliveries(states)?.reason).toBe(reason);
  });
});
