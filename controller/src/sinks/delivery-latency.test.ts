import { expect, it } from "vitest";
import { Metrics } from "../common/metrics.ts";
import { DeliveryLatency } from "./delivery-latency.ts";

function sink(): { latency: DeliveryLatency; metrics: Metrics; clock: { now: number } } {
  const metrics = new Metrics();
  const clock = { now: 0 };
  return { latency: new DeliveryLatency(metrics, "wasmplugin", () => clock.now), metrics, clock };
}

function samples(metrics: Metrics): { count: number; sum: number } {
  const text = metrics.render();
  const read = (s: string): number => Number(new RegExp(`^canal_change_delivered_seconds_${s}\\{sink="wasmplugin"\\} (\\S+)$`, "m").exec(text)?.[1]);
  return { count: read("count"), sum: read("sum") };
}

it("records once per delivered table, from its change; a delivery of another version records nothing", () => {
  const { latency, metrics, clock } = sink();
  expect(samples(metrics)).toEqual({ count: 0, sum: 0 });
  latency.changed("ns/gw", "v1", 1000);
  clock.now = 1500;
  latency.delivered("ns/gw", "v0");
  expect(samples(metrics).count).toBe(0);
  latency.delivered("ns/gw", "v1");
  latency.delivered("ns/gw", "v1");
  expect(samples(metrics)).toEqual({ count: 1, sum: 0.5 });
});

it("coalesced changes: a table replaced before delivery keeps the oldest change's time; the same version again changes nothing", () => {
  const { latency, metrics, clock } = sink();
  latency.changed("ns/gw", "v1", 1000);
  latency.changed("ns/gw", "v2", 3000);
  latency.changed("ns/gw", "v2", 4000);
  clock.now = 5000;
  latency.delivered("ns/gw", "v2");
  expect(samples(metrics)).toEqual({ count: 1, sum: 4 });
  // Delivered: the next change starts over.
  latency.changed("ns/gw", "v3", 6000);
  clock.now = 6100;
  latency.delivered("ns/gw", "v3");
  expect(samples(metrics)).toEqual({ count: 2, sum: 4.1 });
});

it("forget and retain drop waiting tables without a sample", () => {
  const { latency, metrics, clock } = sink();
  latency.changed("ns/a", "v1", 0);
  latency.changed("ns/b", "v1", 0);
  latency.forget("ns/a", "v1");
  latency.retain(new Set(["ns/a"]));
  clock.now = 1000;
  for (const g of ["ns/a", "ns/b"]) latency.delivered(g, "v1");
  expect(samples(metrics).count).toBe(0);
});

it("without coalescing (a replica that does not lead), a table is timed from its own change", () => {
  const { latency, metrics, clock } = sink();
  latency.changed("ns/gw", "v1", 1000, false);
  latency.changed("ns/gw", "v2", 9000, false);
  clock.now = 9250;
  latency.delivered("ns/gw", "v2");
  expect(samples(metrics)).toEqual({ count: 1, sum: 0.25 });
});
