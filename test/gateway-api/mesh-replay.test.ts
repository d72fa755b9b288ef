// Replay of the upstream mesh conformance cases (test/gateway-api/cases/conformance.json, from
// the pinned release's Go sources) against real components: each test's manifests are applied
// to the real kube-apiserver (the Gateway API CRDs validate and default them), read back, parsed
// and translated by Canal (translateMeshRoutes: the controller is not wired yet), and the table
// is delivered to a real Envoy running the filter, with echo upstreams that report which
// Service (namespace/name) got the request, its path and headers. Every extracted case of a
// supported test is sent and checked as the conformance suite checks it: status, backend,
// namespace, the request the backend saw, response headers, redirect location.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject, KubeApi } from "../support/k8s.ts";
import { startKubeApi } from "../support/k8s.ts";
import { gatewayApiCrdsPath } from "../support/gateway-api.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startUpstream, type Echo, type Upstream } from "../support/upstream.ts";
import { ensureCanalWasm } from "../support/wasm.ts";
import { headerValues, type HttpResponse } from "../support/http.ts";
import { parseObjects } from "../../controller/src/api/parse.ts";
import { parseGatewayApiObject } from "../../controller/src/api/parse-httproute.ts";
import type { HTTPRoute, ReferenceGrant } from "../../controller/src/api/gateway-api.ts";
import { translateMeshRoutes } from "../../controller/src/translate/httproute/mesh.ts";
import { ServiceIndex } from "../../controller/src/translate/services.ts";
import { assembleTable } from "../../controller/src/translate/assemble-table.ts";
import { loadRegexValidator } from "../../controller/src/translate/regex-validator.ts";
import { buildRegexCheck } from "../../controller/src/translate/regex-check/build.ts";
import { casesFile, type ConformanceCase, type ConformanceTest } from "./conformance-data.ts";

const MESH_NS = "gateway-conformance-mesh";
const DOMAIN = "cluster.local";

/** Mesh tests Canal does not replay, each with the reason (docs/gateway-api.md, support table). */
const NOT_REPLAYED: Record<string, string> = {
  MeshBasic: "no route: the Service is not redirected to the gateway at all, so there is nothing of Canal's to test",
  MeshConsumerRoute: "consumer routes need the caller's namespace, which a shared gateway cannot see (MeshConsumerRoute not supported)",
  MeshFrontend: "matches the destination pod IP (MeshClusterIPMatching not supported: Canal routes by :authority)",
  MeshFrontendHostname: "matches the Service IP against a different Host header (MeshClusterIPMatching not supported)",
  MeshGRPCRouteWeight: "GRPCRoute is not translated",
};

/**
 * Cases that fail today, by test and case index, with the reason. The test asserts that they
 * still fail, so a fix shows up as a failure here until the entry is removed.
 */
const KNOWN_FAILURES: Record<string, { cases: number[]; reason: string }> = {
  MeshHTTPRouteNamedRule: { cases: [1], reason: "the upstream case expects the backend to see /named for a request to /unnamed; the mesh suite never compares paths, Canal's replay does" },
};

const data = casesFile();
const replayed = data.tests.filter((t) => t.mesh && NOT_REPLAYED[t.name] === undefined);

let api: KubeApi;
let gw: Gateway;
const upstreams = new Map<string, Upstream>();
const validateRegex = (() => {
  let v: ((p: string) => string | null) | undefined;
  return (p: string): string | null => {
    v ??= loadRegexValidator();
    return v(p);
  };
})();

/** The base mesh manifests' Services (Deployments and pods need a kubelet: echo upstreams stand in). */
function baseServices(): KubeObject[] {
  return data.baseObjects("mesh/manifests.yaml").filter((o) => o.kind === "Service" || o.kind === "Namespace");
}

beforeAll(async () => {
  buildRegexCheck();
  const services = baseServices().filter((o) => o.kind === "Service");
  const clusters: { name: string; host: string; port: number }[] = [];
  for (const s of services) {
    const key = `${s.metadata.namespace ?? ""}/${s.metadata.name ?? ""}`;
    const u = await startUpstream(key);
    upstreams.set(key, u);
    const ports = ((s.spec as { ports?: { port: number }[] }).ports ?? []).map((p) => p.port);
    for (const p of ports) clusters.push({ name: `outbound|${p}||${s.metadata.name ?? ""}.${s.metadata.namespace ?? ""}.svc.${DOMAIN}`, host: "127.0.0.1", port: u.port });
  }
  gw = await startGateway({ name: "gwapi-mesh", wasmPath: ensureCanalWasm(), services: [], extraClusters: clusters });
  api = await startKubeApi({ name: "gwapi-mesh" });
  await api.installCrds([gatewayApiCrdsPath("standard")]);
  await api.apply(baseServices());
}, 600_000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([...upstreams.values()].map((u) => u.close()));
  await api?.stop();
});

/** Applies a test's manifests, reads every route and grant back, translates, and delivers the table. */
async function deploy(t: ConformanceTest): Promise<KubeObject[]> {
  const objects = t.manifests.flatMap((m) => data.manifestObjects(m));
  const stored = await api.apply(objects);
  const raws: unknown[] = [];
  for (const [apiVersion, kind] of [["gateway.networking.k8s.io/v1", "HTTPRoute"], ["gateway.networking.k8s.io/v1beta1", "ReferenceGrant"], ["v1", "Service"]] as const) {
    // Every namespace: the collection path without its namespace segment.
    const list = await api.list((await api.resourcePath(apiVersion, kind)).replace("/namespaces/default/", "/"));
    raws.push(...list.items.map((o) => ({ ...o, apiVersion, kind })));
  }
  const routes: HTTPRoute[] = [];
  const grants: ReferenceGrant[] = [];
  const rest: unknown[] = [];
  for (const raw of raws) {
    const out = parseGatewayApiObject(raw);
    if (out.status === "ok") out.object.kind === "HTTPRoute" ? routes.push(out.object) : grants.push(out.object);
    else if (out.status === "invalid") throw new Error(`${t.name}: ${out.problems.map((p) => p.message).join("; ")}`);
    else rest.push(raw);
  }
  const parsed = parseObjects(rest);
  const result = translateMeshRoutes(routes, {
    clusterDomain: DOMAIN,
    validateRegex,
    services: new ServiceIndex(parsed.snapshot.services, DOMAIN),
    referenceGrants: grants,
    grants: [],
    grantsFrom: "istio-system/canal",
  });
  const table = assembleTable(result.virtualHosts, result.ambiguousHosts);
  expect(await gw.apply(table)).toBe("applied");
  return stored;
}

async function undeploy(stored: readonly KubeObject[]): Promise<void> {
  for (const o of stored) await api.delete(await api.resourcePath(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name));
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The conformance suite's checks of one case, as failure messages (empty: the case passes). */
function check(c: ConformanceCase, res: HttpResponse): string[] {
  const e = c.expected;
  const fails: string[] = [];
  const want = e.Response?.StatusCodes ?? [e.Response?.StatusCode || 200];
  if (!want.includes(res.status)) fails.push(`status ${res.status}, want ${want.join(" or ")}: ${res.body.slice(0, 200)}`);
  for (const [name, value] of Object.entries(e.Response?.Headers ?? {})) {
    const got = headerValues(res, name).join(",");
    if (got !== value) fails.push(`response header ${name}: ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
  }
  for (const name of e.Response?.AbsentHeaders ?? []) if (headerValues(res, name).length > 0) fails.push(`response header ${name} should be absent`);
  if (e.RedirectRequest !== undefined) {
    const loc = firstValue(res.headers["location"]);
    if (loc === undefined) fails.push("no location header");
    else {
      const u = new URL(loc);
      const r = e.RedirectRequest;
      if (r.Scheme !== undefined && r.Scheme !== "" && u.protocol !== `${r.Scheme}:`) fails.push(`redirect scheme ${u.protocol}, want ${r.Scheme}`);
      if (r.Host !== undefined && r.Host !== "" && u.hostname !== r.Host) fails.push(`redirect host ${u.hostname}, want ${r.Host}`);
      if (r.Port !== undefined && r.Port !== "" && u.port !== r.Port) fails.push(`redirect port ${JSON.stringify(u.port)}, want ${r.Port}`);
      if (r.Path !== undefined && r.Path !== "" && u.pathname !== r.Path) fails.push(`redirect path ${u.pathname}, want ${r.Path}`);
    }
    return fails;
  }
  if (res.status !== 200 || e.Backend === undefined || e.Backend === "") return fails;
  let echo: Echo;
  try {
    echo = JSON.parse(res.body) as Echo;
  } catch {
    return [...fails, `not an echo answer: ${res.body.slice(0, 200)}`];
  }
  const ns = e.Namespace || MESH_NS;
  if (!echo.upstream.startsWith(`${ns}/${e.Backend}`)) fails.push(`backend ${echo.upstream}, want ${ns}/${e.Backend}`);
  const seen = e.ExpectedRequest?.Request;
  const wantPath = seen?.Path || e.Request.Path || "/";
  if (echo.path.split("?")[0] !== wantPath.split("?")[0]) fails.push(`backend saw path ${echo.path}, want ${wantPath}`);
  for (const [name, value] of Object.entries(seen?.Headers ?? {})) {
    // As the mesh suite compares: every value the backend received, joined with ",".
    const values: string[] = [];
    for (let i = 0; i + 1 < echo.rawHeaders.length; i += 2) if (echo.rawHeaders[i]?.toLowerCase() === name.toLowerCase()) values.push(echo.rawHeaders[i + 1] ?? "");
    const got = values.length === 0 ? undefined : values.join(",");
    if (got !== value) fails.push(`backend saw ${name}: ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
  }
  for (const name of e.ExpectedRequest?.AbsentHeaders ?? []) if (echo.headers[name.toLowerCase()] !== undefined) fails.push(`backend saw ${name}, which should be absent`);
  return fails;
}

describe("mesh conformance cases, replayed through the real API server and a real Envoy", () => {
  it("replays at least 40 cases and leaves out only the unsupported tests", () => {
    expect(replayed.flatMap((t) => t.cases).length).toBeGreaterThanOrEqual(40);
    for (const name of Object.keys(NOT_REPLAYED)) expect(data.tests.some((t) => t.name === name), name).toBe(true);
  });

  it.each(replayed.map((t) => [t.name, t] as const))("%s", async (_name, t) => {
    const stored = await deploy(t);
    try {
      const failures: string[] = [];
      const known = KNOWN_FAILURES[t.name]?.cases ?? [];
      for (const [i, c] of t.cases.entries()) {
        const r = c.expected.Request;
        const headers: Record<string, string> = { ...(r.Headers ?? {}) };
        const res = await gw.send(r.Host ?? "echo", r.Path || "/", { method: r.Method || "GET", headers });
        const fails = check(c, res);
        if (known.includes(i)) {
          if (fails.length === 0) failures.push(`case ${i} passes now: remove it from KNOWN_FAILURES`);
          continue;
        }
        for (const f of fails) failures.push(`case ${i} (${r.Method || "GET"} ${r.Host ?? ""}${r.Path ?? "/"}): ${f}`);
        const weights = t.weights?.[0];
        if (weights !== undefined && res.status === 200) {
          const seen = new Set<string>();
          for (let n = 0; n < 40; n++) {
            const echo = JSON.parse((await gw.send(r.Host ?? "echo", r.Path || "/")).body) as Echo;
            seen.add(echo.upstream.slice(echo.upstream.indexOf("/") + 1));
          }
          expect([...seen].sort(), "every weighted backend answers").toEqual(Object.keys(weights).filter((k) => (weights[k] ?? 0) > 0).sort());
        }
      }
      expect(failures).toEqual([]);
    } finally {
      await undeploy(stored);
    }
  }, 120_000);
});
