// Every table the translator writes is loaded by the real filter (build/canal.wasm in the
// Proxy-Wasm emulator), and routes requests the way the golden cases intend.
import { beforeAll, describe, expect, it } from "vitest";
import { send, startCanal } from "../../../test/emulator/canal.ts";
import type { RouteTable } from "../../../schema/route-table.ts";
import { buildRegexCheck } from "./regex-check/build.ts";
import { loadRegexValidator } from "./regex-validator.ts";
import { caseNames, loadCase, runCase, type GoldenOutput } from "./testing/cases.ts";
import type { RegexValidator } from "./index.ts";

let validateRegex: RegexValidator;

beforeAll(() => {
  buildRegexCheck();
  validateRegex = loadRegexValidator();
}, 600_000);

function tables(name: string): RouteTable[] {
  const out: GoldenOutput = runCase(loadCase(name), validateRegex);
  return out.gateways.map((g) => g.table);
}

function table(name: string): RouteTable {
  const t = tables(name)[0];
  if (t === undefined) throw new Error(`${name}: no gateway`);
  return t;
}

describe("the filter loads every golden table", () => {
  it.each(caseNames())("%s", async (name) => {
    for (const t of tables(name)) {
      const host = await startCanal(t); // throws with the filter's log when the table is rejected
      const out = send(host, "/__canal_conformance__", { ":authority": "nothing.invalid" });
      if (out.local !== undefined) expect(out.local.headers).toContainEqual(["x-canal-table", t.version]);
    }
  }, 600_000);
});

describe("requests through translated tables", () => {
  it("seed: /hello on any host reaches helloworld; anything else is a 404", async () => {
    const host = await startCanal(table("seed-helloworld"));
    expect(send(host, "/hello", { ":authority": "helloworld.default.svc.cluster.local:5000" }).cluster).toBe("outbound|5000||helloworld.default.svc.cluster.local");
    expect(send(host, "/hello", { ":authority": "helloworld" }).cluster).toBe("outbound|5000||helloworld.default.svc.cluster.local");
    expect(send(host, "/bye", { ":authority": "helloworld" }).local?.status).toBe(404);
  });

  it("an ambiguous short name is a 404 naming the candidates; qualified names route", async () => {
    const host = await startCanal(table("short-name-ambiguous"));
    const out = send(host, "/", { ":authority": "reviews" });
    expect(out.local?.status).toBe(404);
    expect(out.local?.bodyText).toContain("default/reviews, prod/reviews");
    expect(send(host, "/", { ":authority": "reviews.prod" }).cluster).toBe("outbound|9080||reviews.prod.svc.cluster.local");
    expect(send(host, "/", { ":authority": "reviews.default.svc:9080" }).cluster).toBe("outbound|9080||reviews.default.svc.cluster.local");
  });

  it("a unique short name routes by its bare name", async () => {
    const host = await startCanal(table("short-name-unique"));
    expect(send(host, "/", { ":authority": "reviews" }).cluster).toBe("outbound|9080||reviews.default.svc.cluster.local");
  });

  it("a route whose destination is missing answers 503 in place; the catch-all after it still routes", async () => {
    const host = await startCanal(table("destination-not-found"));
    const out = send(host, "/v3/x", { ":authority": "reviews" });
    expect(out.local?.status).toBe(503);
    expect(out.local?.bodyText).toContain("reviews-v3.default.svc.cluster.local is not a Service");
    expect(send(host, "/v1", { ":authority": "reviews" }).cluster).toBe("outbound|9080||reviews.default.svc.cluster.local");
  });

  it("a block with a condition the gateway cannot evaluate is dropped, never widened", async () => {
    const host = await startCanal(table("match-unsupported-fields"));
    // "only-port" answered 403 for port 8080 only; without the port it would answer 403 to everything.
    expect(send(host, "/anything", { ":authority": "app" }).cluster).toBe("outbound|80||app.default.svc.cluster.local");
    // "only-namespace" answered 200 for /internal from namespace "trusted" only.
    expect(send(host, "/internal", { ":authority": "app" }).local).toBeUndefined();
  });

  it("match conditions translate to the filter's semantics", async () => {
    const host = await startCanal(table("match-conditions"));
    const ok = { ":authority": "app", ":method": "GET", "x-user": "jason", "x-trace": "" };
    expect(send(host, "/API/v?version=v2&flag", ok).cluster).toBe("outbound|80||app.default.svc.cluster.local");
    expect(send(host, "/api/v?version=v2", ok).local?.status).toBe(404); // flag missing
    expect(send(host, "/api/v?version=v2&flag", { ...ok, "x-debug": "1" }).local?.status).toBe(404);
    expect(send(host, "/api/v?version=v2&flag", { ...ok, ":method": "POST" }).local?.status).toBe(404);
    expect(send(host, "/items/42/x", { ":authority": "app" }).cluster).toBe("outbound|80||app.default.svc.cluster.local");
  });

  it("redirects and direct responses", async () => {
    const host = await startCanal(table("redirect"));
    const moved = send(host, "/old/x?y=1", { ":authority": "app" });
    expect(moved.local?.status).toBe(308);
    expect(moved.local?.headers).toContainEqual(["location", "https://app.default:8443/new?from=old"]);
    const direct = await startCanal(table("direct-response"));
    expect(send(direct, "/bytes", { ":authority": "static.internal" }).local?.bodyText).toBe("hello world\n");
  });
});
