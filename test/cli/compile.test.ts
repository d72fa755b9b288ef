// `canal compile` as a real process: good files print the tables, bad files print exact
// `file:line: field: message (Reason)` lines and exit 1, --allow-rejected prints the table anyway.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteTable } from "../../schema/route-table.ts";
import { canal, REPO } from "./run.ts";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "canal-compile-"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const clusters = (t: RouteTable): string[] => t.virtualHosts.flatMap((v) => v.routes.flatMap((r) => (r.route ?? []).map((d) => d.cluster)));

describe("canal compile", () => {
  it("examples/helloworld: one table, keyed by the InternalGateway, with the example's routes", async () => {
    const r = await canal(["compile", "examples/helloworld"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, RouteTable>;
    expect(Object.keys(out)).toEqual(["istio-system/canal"]);
    const t = out["istio-system/canal"] as RouteTable;
    expect(t.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(t.virtualHosts.map((v) => v.domains)).toEqual([["helloworld.default.svc.cluster.local", "helloworld.default.svc", "helloworld.default", "helloworld"]]);
    expect(clusters(t)).toEqual([
      "outbound|5000|v2|helloworld.default.svc.cluster.local",
      "outbound|5000|v1|helloworld.default.svc.cluster.local",
      "outbound|5000|v2|helloworld.default.svc.cluster.local",
    ]);
  }, 60_000);

  it("--gateway prints the bare table; -o full adds clusters and problems", async () => {
    const bare = await canal(["compile", "--gateway", "istio-system/canal", "examples/helloworld"]);
    expect(bare.code).toBe(0);
    expect((JSON.parse(bare.stdout) as RouteTable).format).toBe(1);
    const full = await canal(["compile", "-o", "full", "examples/helloworld"]);
    const g = (JSON.parse(full.stdout) as Array<{ clusters: Array<{ cluster: string; subset?: string }>; problems: unknown[] }>)[0];
    expect(g?.clusters.map((c) => c.subset)).toEqual(["v1", "v2"]);
    expect(g?.problems).toEqual([]);
    const missing = await canal(["compile", "--gateway", "other/gw", "examples/helloworld"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("canal compile: no InternalGateway other/gw in the files (found: istio-system/canal)\n");
  }, 60_000);

  it("a Gateway API Gateway beside one Istio Gateway: the InternalGateway is still implied, and the Gateway's route is routed", async () => {
    const f = write("gateway-parents.yaml", `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: canal, namespace: istio-system}
spec:
  selector: {app: canal-gateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: canal}
spec: {controllerName: canal.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-system}
spec:
  gatewayClassName: canal
  listeners: [{name: http, port: 80, protocol: HTTP, hostname: web.example.com}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: istio-system}
spec: {ports: [{port: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: istio-system}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: web, port: 8080}]}]
`);
    const r = await canal(["compile", f]);
    expect(r.stderr).toContain("using an implied one, istio-system/canal (gatewayRef canal");
    expect(r.code).toBe(0);
    const t = (JSON.parse(r.stdout) as Record<string, RouteTable>)["istio-system/canal"] as RouteTable;
    expect(t.virtualHosts.map((v) => `${v.name} ${v.domains.join(",")}`)).toEqual(["gateway-host/web.example.com web.example.com"]);
    expect(clusters(t)).toEqual(["outbound|8080||web.istio-system.svc.cluster.local"]);
  }, 60_000);

  it("HTTPRoutes from files: routed beside VirtualServices, the loser of a mixed Service reported at its line", async () => {
    const f = join(REPO, "controller/src/translate/testdata/httproute-mixing.in.yaml");
    const r = await canal(["compile", "--allow-rejected", f]);
    expect(r.code).toBe(0);
    const t = (JSON.parse(r.stdout) as Record<string, RouteTable>)["istio-system/canal"] as RouteTable;
    expect(t.virtualHosts.map((v) => v.name)).toEqual(["prod/reviews", "prod/ratings", "shop/reviews"]);
    expect(clusters(t)).toEqual(["outbound|80||reviews.prod.svc.cluster.local", "outbound|80||ratings.prod.svc.cluster.local", "outbound|80||reviews.shop.svc.cluster.local"]);
    const lines = readFileSync(f, "utf8").split("\n");
    const line = lines.findIndex((l) => l.includes("name: reviews-v2")) + 1;
    const parentRef = lines.findIndex((l, i) => i >= line && l.includes("- group:")) + 1;
    expect(r.stderr).toContain(`${f}:${parentRef}: spec.parentRefs[0]: Service prod/reviews (reviews.prod.svc.cluster.local) is already routed by VirtualService prod/reviews`);
    expect(r.stderr).toContain("(HostConflict)");
  }, 60_000);

  it("the seed's YAML without an InternalGateway: an implied one, said on stderr", async () => {
    const seed = readFileSync(join(REPO, "controller/src/translate/testdata/seed-helloworld.in.yaml"), "utf8");
    const withoutIg = seed.split(/^---$/m).filter((d) => !d.includes("kind: InternalGateway")).join("---");
    const f = write("seed.yaml", withoutIg);
    const r = await canal(["compile", f]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("canal compile: no InternalGateway in the files: using an implied one, istio-system/canal (gatewayRef canal, serviceRef canal-gateway, hosts \"*\" granted to istio-system)\n");
    const t = (JSON.parse(r.stdout) as Record<string, RouteTable>)["istio-system/canal"] as RouteTable;
    expect(clusters(t)).toEqual(["outbound|5000||helloworld.default.svc.cluster.local"]);
  }, 60_000);

  it("bad files: every problem as file:line: field: message (Reason), exit 1, nothing on stdout", async () => {
    const bad = write("bad.yaml", `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bad
  namespace: istio-system
spec:
  hosts: [bad.example.com]
  gateways: [canal]
  http:
    - match:
        - uri:
            prefix: /ok
        - uri:
            regex: "a(b"
      route:
        - destination:
            host: nowhere.default.svc.cluster.local
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: typed
  namespace: istio-system
spec:
  hosts: [typed.example.com]
  gateways: [canal]
  http:
    - route:
        - destination:
            host: helloworld.default.svc.cluster.local
          weight: fifty
`);
    const r = await canal(["compile", "examples/helloworld", bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    expect(lines[0]).toBe(`${bad}:14: spec.http[0].match[1].uri.regex: regex "a(b" does not compile in the gateway's RE2-syntax engine (missing closing ): at offset 3). This match block is dropped; fix the pattern (RE2 syntax, no backreferences or lookaround). (InvalidRegex)`);
    // The wording of this one belongs to translate/; the location, field and reason are ours.
    expect(lines[1]).toMatch(/^.*bad\.yaml:17: spec\.http\[0\]\.route\[0\]\.destination\.host: "nowhere\.default\.svc\.cluster\.local" .* \(DestinationNotFound\)$/);
    expect(lines.slice(2)).toEqual([
      `${bad}:31: spec.http[0].route[0].weight: expected an integer, got the string "fifty"; the VirtualService is ignored until this is fixed (InvalidField)`,
      "canal compile: 3 problem(s); no table printed (pass --allow-rejected to print it anyway)",
      "",
    ]);
  }, 60_000);

  it("--allow-rejected prints the table anyway (exit 0) and still lists the problems", async () => {
    const bad = join(REPO, "test/cli/testdata/bad-regex.yaml");
    const strict = await canal(["compile", "-q", "examples/helloworld", bad]);
    expect(strict.code).toBe(1);
    const r = await canal(["compile", "-q", "--allow-rejected", "examples/helloworld", bad]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:8: spec\\.http\\[0\\]\\.match\\[0\\]\\.uri\\.regex: .*\\(InvalidRegex\\)$`, "m"));
    expect(r.stderr).toContain(`${bad}:8: spec.http[0].match: `);
    const t = (JSON.parse(r.stdout) as Record<string, RouteTable>)["istio-system/canal"] as RouteTable;
    const rx = t.virtualHosts.find((v) => v.name === "istio-system/rx");
    // The route with the bad regex is dropped, the other one is kept.
    expect(rx?.routes.map((x) => x.name)).toEqual(["istio-system/rx.http[1]"]);
  }, 60_000);

  it("YAML syntax errors and duplicates are file:line errors", async () => {
    const sub = mkdtempSync(join(dir, "yaml-"));
    cpSync(join(REPO, "examples/helloworld"), sub, { recursive: true });
    writeFileSync(join(sub, "broken.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: x\n");
    writeFileSync(join(sub, "zz-dup.yaml"), "# again\napiVersion: v1\nkind: Service\nmetadata:\n  name: helloworld\n  namespace: default\nspec: {ports: [{port: 1}]}\n");
    const r = await canal(["compile", "-q", sub]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    // The YAML parser reports an unclosed flow map where it expected the "}": the end of the file.
    expect(lines[0]).toBe(`${join(sub, "broken.yaml")}:4: YAML: Flow map in block collection must be sufficiently indented and end with a }`);
    expect(lines[1]).toBe(`${join(sub, "zz-dup.yaml")}:5: metadata.name: Service default/helloworld is already defined at ${join(sub, "helloworld.yaml")}:6; this copy is ignored`);
    expect(lines).toHaveLength(2);
  }, 60_000);

  it("a lone VirtualService (no Gateway): its own errors as file:line lines, then the note that no table can be built", async () => {
    const vs = write("lone-vs.yaml", `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts:
    - "bad_host!.example.com"
  http:
    - match:
        - uri:
            regex: "/api/(unclosed"
      route:
        - destination:
            host: reviews.default.svc.cluster.local
`);
    const r = await canal(["compile", vs]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^${vs.replace(/[.*+?^\${}()|[\]\\/]/g, "\\$&")}:8: spec\\.hosts\\[0\\]: "bad_host!\\.example\\.com" is not a valid host: .*\\(InvalidHost\\)$`));
    expect(lines).toContain(`${vs}:12: spec.http[0].match[0].uri.regex: regex "/api/(unclosed" does not compile in the gateway's RE2-syntax engine (missing closing ): at offset 14). This match block is dropped; fix the pattern (RE2 syntax, no backreferences or lookaround). (InvalidRegex)`);
    // The objects' errors come first, then what they mean: no table.
    const note = lines.indexOf("canal compile: no InternalGateway and no Gateway in the files: there is no table to build");
    expect(note).toBeGreaterThan(lines.findIndex((l) => l.includes("(InvalidRegex)")));
    // The synthetic binding used for the check never shows.
    expect(r.stderr).not.toMatch(/canal-lint|spec\.gateways|placeholder/);
  }, 60_000);

  it("a valid lone VirtualService: no object errors, only the note; one bound to a Gateway no InternalGateway serves is checked too", async () => {
    // (A destination needs its Service in the files, as with a Gateway: DestinationNotFound otherwise.)
    const ok = write("lone-ok.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: ok, namespace: default}\nspec: {ports: [{port: 80, name: http}]}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ok, namespace: default}\nspec:\n  hosts: [ok.example.com]\n  http: [{route: [{destination: {host: ok.default.svc.cluster.local}}]}]\n");
    const r = await canal(["compile", ok]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("canal compile: no InternalGateway and no Gateway in the files: there is no table to build\n");
    // With the example's InternalGateway present, a VirtualService naming another Gateway is still validated.
    const sub = mkdtempSync(join(dir, "unbound-"));
    cpSync(join(REPO, "examples/helloworld"), sub, { recursive: true });
    writeFileSync(join(sub, "other.yaml"), "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: other, namespace: default}\nspec:\n  hosts: [other.example.com]\n  gateways: [elsewhere]\n  http:\n    - match: [{headers: {x-a: {regex: \"(\"}}}]\n      route: [{destination: {host: other.default.svc.cluster.local}}]\n");
    const b = await canal(["compile", "-q", sub]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain(`${join(sub, "other.yaml")}:8: spec.http[0].match[0].headers[x-a].regex: `);
  }, 60_000);

  it("two Gateways and no InternalGateway: each Gateway's own errors, then the note", async () => {
    const gws = write("two-gateways.yaml", 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: a, namespace: default}\nspec:\n  selector: {app: x}\n  servers:\n    - port: {number: 443, protocol: HTTPS, name: https}\n      hosts: ["*"]\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: b, namespace: default}\nspec:\n  selector: {app: x}\n  servers:\n    - port: {number: 80, protocol: HTTP, name: http}\n      hosts: ["bad_host!"]\n');
    const r = await canal(["compile", gws]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`${gws}:7: spec.servers[0].port.protocol: HTTPS is not served by Canal (HTTP, HTTP2 and GRPC are); this server's hosts are not exposed. Use protocol HTTP. (UnsupportedField)`);
    expect(lines[1]).toMatch(/:17: spec\.servers\[0\]\.hosts\[0\]: "bad_host!" is not a valid server host .*\(InvalidHost\)$/);
    expect(lines[2]).toBe("canal compile: no InternalGateway in the files and 2 Gateways: add an InternalGateway naming one (see examples/helloworld)");
    // The synthetic InternalGateway's workload labels follow each Gateway's selector: no SelectorMismatch artefact.
    expect(r.stderr).not.toContain("SelectorMismatch");
  }, 60_000);

  it("a missing file and no files: one line", async () => {
    const r = await canal(["compile", join(dir, "nope.yaml")]);
    expect([r.code, r.stderr]).toEqual([1, `canal compile: ${join(dir, "nope.yaml")}: no such file or directory\n`]);
    const none = await canal(["compile"]);
    expect([none.code, none.stderr]).toEqual([2, "canal compile: no files given; usage: canal compile [flags] <file|dir>...\n"]);
  }, 60_000);
});
