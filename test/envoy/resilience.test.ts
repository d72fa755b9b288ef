// Canal's filter in real Envoy: fault injection, upstream timeouts and retries, which the filter
// hands to Envoy's router through x-envoy-* request headers (docs/route-table.md, "Modifiers").

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterName, startGateway, type Gateway } from "../support/gateway.ts";
import { jsonBody } from "../support/http.ts";
import { freePort } from "../support/ports.ts";
import { table, to, vhost } from "../support/tables.ts";
import type { Echo } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";

const VERSION = "sha256:resilience-1";
/** A cluster whose one endpoint refuses connections (a port nothing listens on). */
const DEAD_CLUSTER = clusterName("dead");

const RESILIENCE = table(VERSION, [
  vhost("fault/abort", ["fault-abort.test"], [{ fault: { abort: { httpStatus: 503, percentage: 100 } }, route: to("alpha") }]),
  vhost("fault/never", ["fault-never.test"], [{ fault: { abort: { httpStatus: 500, percentage: 0 } }, route: to("alpha") }]),
  vhost("fault/half", ["fault-half.test"], [{ fault: { abort: { httpStatus: 429, percentage: 50 } }, route: to("alpha") }]),
  vhost("fault/delay", ["fault-delay.test"], [{ fault: { delay: { fixedDelayMs: 400, percentage: 100 } }, route: to("alpha") }]),
  vhost("fault/both", ["fault-both.test"], [
    { fault: { delay: { fixedDelayMs: 300, percentage: 100 }, abort: { httpStatus: 418, percentage: 100 } }, route: to("alpha") },
  ]),
  vhost("timeout", ["timeout.test"], [{ timeoutMs: 300, route: to("alpha") }]),
  vhost("retry/5xx", ["retry.test"], [{ retries: { attempts: 3, retryOn: "5xx" }, route: to("beta") }]),
  vhost("retry/codes", ["retry-codes.test"], [{ retries: { attempts: 2, retryOn: "418" }, route: to("beta") }]),
  vhost("retry/codes-not-listed", ["retry-unlisted.test"], [{ retries: { attempts: 3, retryOn: "5xx" }, route: to("beta") }]),
  vhost("retry/none", ["retry-none.test"], [{ retries: { attempts: 0 }, route: to("beta") }]),
  // What the controller writes for a VirtualService without retries: Istio's default policy.
  vhost("retry/default", ["retry-default.test"], [{ retries: { attempts: 2 }, route: to("beta") }]),
  vhost("retry/default-refused", ["retry-refused.test"], [{ retries: { attempts: 2 }, route: [{ cluster: DEAD_CLUSTER }] }]),
  vhost("retry/grpc", ["retry-grpc.test"], [{ retries: { attempts: 1, retryOn: "5xx,resource-exhausted" }, route: to("beta") }]),
  vhost("retry/per-try", ["retry-pertry.test"], [
    { timeoutMs: 5000, retries: { attempts: 2, perTryTimeoutMs: 250, retryOn: "5xx" }, route: to("gamma") },
  ]),
]);

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({
    name: "resilience",
    wasmPath: ensureCanalWasm(),
    services: ["alpha", "beta", "gamma"],
    extraClusters: [{ name: DEAD_CLUSTER, host: "127.0.0.1", port: await freePort(), connectTimeoutMs: 500 }],
    table: RESILIENCE,
  });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
});

describe("fault injection", () => {
  it("abort at 100% answers locally with the status and Envoy's body; the upstream never sees it", async () => {
    const res = await gw.send("fault-abort.test", "/", { headers: { "x-test-key": "abort100" } });
    expect(res.status).toBe(503);
    expect(res.body).toBe("fault filter abort");
    expect(res.headers["x-canal-table"]).toBe(VERSION);
    expect(gw.upstream("alpha").attempts("abort100")).toBe(0);
  });

  it("abort at 0% never fires", async () => {
    for (let i = 0; i < 50; i++) {
      const res = await gw.send("fault-never.test", "/");
      expect(res.status).toBe(200);
    }
  });

  it("abort at 50% fires about half the time (fixed sample, ±5 sd)", async () => {
    let aborted = 0;
    const n = 400;
    for (let i = 0; i < n; i++) {
      const res = await gw.send("fault-half.test", "/");
      if (res.status === 429) aborted += 1;
      else expect(res.status).toBe(200);
    }
    // Binomial(400, 0.5): mean 200, sd 10.
    expect(aborted).toBeGreaterThanOrEqual(150);
    expect(aborted).toBeLessThanOrEqual(250);
  }, 60_000);

  it("a delay holds the request at least fixedDelayMs before it goes upstream", async () => {
    const sent = Date.now();
    const res = await gw.send("fault-delay.test", "/", { headers: { "x-test-key": "delay" } });
    expect(res.status).toBe(200);
    expect(res.ms).toBeGreaterThanOrEqual(400);
    expect(res.ms).toBeLessThan(3000);
    const [rec] = gw.upstream("alpha").requestsFor("delay");
    expect(rec.receivedAt - sent).toBeGreaterThanOrEqual(390);
  });

  it("delays do not serialise: concurrent delayed requests overlap", async () => {
    const started = performance.now();
    const all = await Promise.all(Array.from({ length: 8 }, () => gw.send("fault-delay.test", "/")));
    const elapsed = performance.now() - started;
    for (const r of all) expect(r.status).toBe(200);
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(2000);
  });

  it("delay and abort together: the delay happens first, then the abort", async () => {
    const res = await gw.send("fault-both.test", "/", { headers: { "x-test-key": "both" } });
    expect(res.status).toBe(418);
    expect(res.body).toBe("fault filter abort");
    expect(res.ms).toBeGreaterThanOrEqual(300);
    expect(gw.upstream("alpha").attempts("both")).toBe(0);
  });
});

describe("timeouts", () => {
  it("a slow upstream gets Envoy's 504 after timeoutMs, not after the upstream answers", async () => {
    const res = await gw.send("timeout.test", "/", { headers: { "x-test-delay-ms": "3000", "x-test-key": "slow" } });
    expect(res.status).toBe(504);
    expect(res.body).toBe("upstream request timeout");
    expect(res.ms).toBeGreaterThanOrEqual(280);
    expect(res.ms).toBeLessThan(2000);
  });

  it("a fast upstream within the timeout is served", async () => {
    const res = await gw.send("timeout.test", "/", { headers: { "x-test-delay-ms": "50" } });
    expect(res.status).toBe(200);
  });

  it("a client-sent x-envoy-upstream-rq-timeout-ms does not override the table's timeout", async () => {
    const res = await gw.send("timeout.test", "/", {
      headers: { "x-test-delay-ms": "1500", "x-envoy-upstream-rq-timeout-ms": "10000" },
    });
    expect(res.status).toBe(504);
    expect(res.ms).toBeLessThan(1400);
  });
});

describe("retries", () => {
  it("an upstream failing twice with 503 then answering gives 200 after 2 retries", async () => {
    const retriesBefore = await gw.envoy.stat(`cluster.${clusterName("beta")}.upstream_rq_retry`);
    const res = await gw.send("retry.test", "/", { headers: { "x-test-key": "r5xx", "x-test-fail-times": "2" } });
    expect(res.status).toBe(200);
    expect(jsonBody<Echo>(res).attempt).toBe(3);
    expect(gw.upstream("beta").attempts("r5xx")).toBe(3);
    const retriesAfter = await gw.envoy.stat(`cluster.${clusterName("beta")}.upstream_rq_retry`);
    expect(retriesAfter - retriesBefore).toBe(2);
  });

  it("retries stop at `attempts`: the last failure is returned", async () => {
    const res = await gw.send("retry.test", "/", { headers: { "x-test-key": "r5xx-exhausted", "x-test-fail-times": "10" } });
    expect(res.status).toBe(503);
    expect(gw.upstream("beta").attempts("r5xx-exhausted")).toBe(4);
  });

  it("a bare status code in retryOn makes that code retriable", async () => {
    const res = await gw.send("retry-codes.test", "/", {
      headers: { "x-test-key": "r418", "x-test-fail-times": "2", "x-test-fail-status": "418" },
    });
    expect(res.status).toBe(200);
    expect(gw.upstream("beta").attempts("r418")).toBe(3);
  });

  it("a status not covered by retryOn is not retried", async () => {
    const res = await gw.send("retry-unlisted.test", "/", {
      headers: { "x-test-key": "r418-unlisted", "x-test-fail-times": "1", "x-test-fail-status": "418" },
    });
    expect(res.status).toBe(418);
    expect(gw.upstream("beta").attempts("r418-unlisted")).toBe(1);
  });

  it("attempts 0 disables retries, even if the client asks for them", async () => {
    const res = await gw.send("retry-none.test", "/", {
      headers: {
        "x-test-key": "rnone",
        "x-test-fail-times": "1",
        "x-envoy-max-retries": "5",
        "x-envoy-retry-on": "5xx",
        "x-envoy-retry-grpc-on": "unavailable",
        "x-envoy-retriable-status-codes": "503",
      },
    });
    expect(res.status).toBe(503);
    expect(gw.upstream("beta").attempts("rnone")).toBe(1);
  });

  it("perTryTimeoutMs cuts a slow attempt and the retry answers", async () => {
    const res = await gw.send("retry-pertry.test", "/", {
      headers: { "x-test-key": "pertry", "x-test-delay-ms": "2000", "x-test-delay-times": "1" },
    });
    expect(res.status).toBe(200);
    expect(jsonBody<Echo>(res).attempt).toBe(2);
    expect(res.ms).toBeGreaterThanOrEqual(240);
    expect(res.ms).toBeLessThan(1800);
  });

  // Istio 1.31's default policy: retry_on connect-failure,refused-stream,unavailable,cancelled,
  // retriable-status-codes with no status codes (pilot/pkg/networking/core/route/retry/retry.go).
  it("the default policy does not retry a 503: the backend is tried once (Istio dropped 503)", async () => {
    const stat = `cluster.${clusterName("beta")}.upstream_rq_retry`;
    const before = await gw.envoy.stat(stat);
    const res = await gw.send("retry-default.test", "/", { headers: { "x-test-key": "rdefault-503", "x-test-fail-times": "1" } });
    expect(res.status).toBe(503);
    expect(gw.upstream("beta").attempts("rdefault-503")).toBe(1);
    expect((await gw.envoy.stat(stat)) - before).toBe(0);
  });

  it("the default policy retries a connect failure twice", async () => {
    const stat = (name: string): Promise<number> => gw.envoy.stat(`cluster.${DEAD_CLUSTER}.${name}`);
    const [retries, fails] = [await stat("upstream_rq_retry"), await stat("upstream_cx_connect_fail")];
    const res = await gw.send("retry-refused.test", "/");
    expect(res.status).toBe(503);
    expect((await stat("upstream_rq_retry")) - retries).toBe(2);
    expect((await stat("upstream_cx_connect_fail")) - fails).toBe(3);
  });

  it("the default policy's gRPC conditions take effect: grpc-status 14 (unavailable) is retried, 13 is not", async () => {
    const grpc = (key: string, status: number): Promise<unknown> =>
      gw.send("retry-default.test", "/", { headers: { "x-test-key": key, "x-test-response-header": `grpc-status=${status}` } });
    await grpc("rdefault-grpc14", 14);
    expect(gw.upstream("beta").attempts("rdefault-grpc14")).toBe(3);
    await grpc("rdefault-grpc13", 13);
    expect(gw.upstream("beta").attempts("rdefault-grpc13")).toBe(1);
  });

  it("a gRPC condition in retryOn takes effect next to the HTTP ones", async () => {
    const send = (key: string, extra: Record<string, string>): Promise<unknown> =>
      gw.send("retry-grpc.test", "/", { headers: { "x-test-key": key, ...extra } });
    await send("rgrpc-8", { "x-test-response-header": "grpc-status=8" });
    expect(gw.upstream("beta").attempts("rgrpc-8")).toBe(2);
    await send("rgrpc-5xx", { "x-test-fail-times": "1" });
    expect(gw.upstream("beta").attempts("rgrpc-5xx")).toBe(2);
    await send("rgrpc-14", { "x-test-response-header": "grpc-status=14" });
    expect(gw.upstream("beta").attempts("rgrpc-14")).toBe(1);
  });
});
