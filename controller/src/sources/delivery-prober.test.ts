// The delivery prober against real HTTP peers on loopback: what counts as a version, and the
// limits (timeout, concurrency, rate). The filter's side is proven in real Envoy
// (test/security/delivery-*.test.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { probe, TableProber, type ProbeTarget } from "./delivery-prober.ts";

const servers: Server[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return (s.address() as { port: number }).port;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe("probe", () => {
  it.each([
    ["the filter's 200", 200, { "x-canal-table": "sha256:ab" }, "sha256:ab\n", { version: "sha256:ab" }],
    ["the filter's 503 (no table)", 503, { "x-canal-table": "empty" }, "canal: no route table yet\n", { error: "has no route table yet (the probe answered 503)" }],
    ["a 200 without x-canal-table (not the filter)", 200, {}, "ok", { error: "answered 200 without a valid table version: the filter is not answering the probe" }],
    ["a 200 whose body is not the header's version", 200, { "x-canal-table": "sha256:ab" }, "sha256:cd\n", { error: "answered 200 without a valid table version: the filter is not answering the probe" }],
    ["Envoy's 503 without the filter", 503, {}, "no healthy upstream", { error: "answered 503 to the probe: the filter is not loaded or not answering it" }],
  ] as const)("%s", async (_what, status, headers, body, want) => {
    let host = "";
    const port = await serve((req, res) => {
      host = req.headers.host ?? "";
      res.writeHead(status, headers);
      res.end(body);
    });
    expect(await probe("127.0.0.1", port, 1000)).toEqual(want);
    expect(host).toBe("canal-probe.invalid");
  });

  it("no answer within the timeout, and a refused connection, are errors, never versions", async () => {
    const port = await serve(() => undefined);
    const t0 = Date.now();
    expect(await probe("127.0.0.1", port, 200)).toEqual({ error: "did not answer the probe within 200 ms" });
    expect(Date.now() - t0).toBeLessThan(1000);
    const closed = await serve(() => undefined);
    servers.pop()!.close();
    expect((await probe("127.0.0.1", closed, 500)).error).toMatch(/^did not answer the probe/);
  });
});

describe("TableProber", () => {
  it("keeps at most `concurrency` probes in flight and starts at most about `ratePerSecond` per second", async () => {
    let inFlight = 0;
    let peak = 0;
    let started = 0;
    const port = await serve((_req, res) => {
      inFlight++;
      started++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { "x-canal-table": "v1" });
        res.end("v1\n");
      }, 50);
    });
    let changes = 0;
    const p = new TableProber({ timeoutMs: 1000, concurrency: 4, ratePerSecond: 20, intervalMs: 60_000, fastMs: 60_000, dial: () => ({ host: "127.0.0.1", port }), onChange: () => changes++ });
    const targets: ProbeTarget[] = Array.from({ length: 60 }, (_, i) => ({ pod: `ns/p${i}`, address: `10.0.0.${i}`, port: 80, wanted: "v1" }));
    p.setTargets(targets);
    await new Promise((r) => setTimeout(r, 1000));
    p.stop();
    expect(peak).toBeLessThanOrEqual(4);
    // A full bucket (20) plus one second of refill (20).
    expect(started).toBeLessThanOrEqual(41);
    expect(started).toBeGreaterThan(10);
    // Every answered probe is one change, except answers still on the wire when stop() ran (at
    // most `concurrency` of them): on a loaded machine the last ones may not have arrived.
    expect(changes).toBeLessThanOrEqual(started - inFlight);
    expect(changes).toBeGreaterThanOrEqual(started - inFlight - 4);
    expect(p.result({ address: "10.0.0.0", port: 80 })).toMatchObject({ pod: "ns/p0", version: "v1" });
  });

  it("asks a pod behind the wanted version again soon, reports the change, and forgets pods that left", async () => {
    let version = "v1";
    const port = await serve((_req, res) => {
      res.writeHead(200, { "x-canal-table": version });
      res.end(`${version}\n`);
    });
    let changes = 0;
    const p = new TableProber({ timeoutMs: 1000, concurrency: 2, ratePerSecond: 100, intervalMs: 60_000, fastMs: 50, dial: () => ({ host: "127.0.0.1", port }), onChange: () => changes++ });
    const t: ProbeTarget = { pod: "ns/a", address: "10.0.0.1", port: 80, wanted: "v2" };
    p.setTargets([t]);
    for (let i = 0; i < 100 && p.result(t)?.version !== "v1"; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.result(t)?.version).toBe("v1");
    version = "v2";
    for (let i = 0; i < 100 && p.result(t)?.version !== "v2"; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.result(t)?.version).toBe("v2");
    expect(changes).toBe(2);
    p.setTargets([]);
    expect(p.result(t)).toBeUndefined();
    p.stop();
  });
});
