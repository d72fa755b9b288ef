// The conformance cases as data (test/gateway-api/cases/conformance.json): the committed file
// is exactly what scripts/gateway-api-cases generates from the pinned release's Go sources, and
// it holds the mesh and HTTPRoute core cases the replay needs.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GATEWAY_API_VERSION, requireGatewayApiDir } from "../support/gateway-api.ts";
import { casesFile } from "./conformance-data.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const data = casesFile();
const committed = data.text;
const byName = new Map(data.tests.map((t) => [t.name, t]));

describe("conformance cases as data", () => {
  it("are of the pinned release", () => {
    expect(data.version).toBe(GATEWAY_API_VERSION);
  });

  it("equal a fresh generation from the cached Go sources", () => {
    const src = requireGatewayApiDir();
    const fresh = execFileSync("go", ["run", ".", "-src", src, "-version", GATEWAY_API_VERSION], {
      cwd: join(ROOT, "scripts", "gateway-api-cases"),
      env: { ...process.env, GOWORK: "off", GOFLAGS: "-buildvcs=false" },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      timeout: 240_000,
    });
    // Compared as text: a byte that differs is a case that differs.
    expect(fresh === committed, "conformance.json is stale: regenerate it (test/gateway-api/cases/README.md)").toBe(true);
  }, 300_000);

  it("hold every mesh test and the HTTPRoute core tests with their manifests", () => {
    const mesh = data.tests.filter((t) => t.mesh);
    const core = data.tests.filter((t) => !t.mesh && t.core && t.name.startsWith("HTTPRoute"));
    expect(mesh.length).toBeGreaterThanOrEqual(20);
    expect(core.length).toBeGreaterThanOrEqual(20);
    expect(mesh.flatMap((t) => t.cases).length + core.flatMap((t) => t.cases).length).toBeGreaterThanOrEqual(150);
    for (const t of data.tests) for (const m of t.manifests) expect(data.manifests[m], `${t.name}: ${m}`).toContain("kind:");
    expect(data.base["mesh/manifests.yaml"]).toContain("name: echo");
  });

  it("read the literals faithfully: a slice of cases, constants of other packages, helpers and loops", () => {
    // mesh-split.go: a []http.ExpectedResponse with Host, Method, Path, StatusCode and Backend.
    expect(byName.get("MeshTrafficSplit")?.cases.map((c) => c.expected)).toEqual([
      { Request: { Host: "echo", Method: "GET", Path: "/v1" }, Response: { StatusCode: 200 }, Backend: "echo-v1" },
      { Request: { Host: "echo", Method: "GET", Path: "/v2" }, Response: { StatusCode: 200 }, Backend: "echo-v2" },
    ]);
    // confsuite.InfraBackendServiceNameV1 and InfrastructureNamespace resolve; features by name.
    const simple = byName.get("HTTPRouteSimpleSameNamespace");
    expect(simple?.features).toEqual(["Gateway", "HTTPRoute"]);
    expect(simple?.cases[0]?.expected).toMatchObject({ Backend: "infra-backend-v1", Namespace: "gateway-conformance-infra", Request: { Path: "/" } });
    // Test: HTTPRouteRequestHeaderModifier.Test reuses that function's cases.
    expect(byName.get("HTTPRouteBackendRequestHeaderModifier")?.cases.length).toBe(byName.get("HTTPRouteRequestHeaderModifier")?.cases.length);
    // A loop variable is never guessed.
    expect(byName.get("HTTPRouteServiceTypes")?.cases[0]?.unresolved).toEqual(['Request.Path: "/" + path']);
  });
});
