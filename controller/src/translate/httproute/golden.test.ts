// Golden tests of the GAMMA translation: every testdata/<case>.in.yaml (Services, HTTPRoutes,
// ReferenceGrants, optionally an InternalGateway for its hostGrants) translates to exactly
// <case>.out.json, and the table is valid by the route table's JSON Schema. UPDATE_GOLDEN=1
// rewrites the expected files. Inputs are strict: kinds not read, unknown fields and malformed
// objects fail the load unless the case says `# allow: unknown-fields` / `invalid-objects`.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { beforeAll, describe, expect, it } from "vitest";
import type { HTTPRoute, ReferenceGrant } from "../../api/gateway-api.ts";
import type { InternalGateway } from "../../api/internalgateway.ts";
import { parseObjects } from "../../api/parse.ts";
import { parseGatewayApiObject } from "../../api/parse-httproute.ts";
import { GATEWAY_API_REASONS, sortProblems, type Problem } from "../../api/problem.ts";
import { assembleTable } from "../assemble-table.ts";
import { buildRegexCheck } from "../regex-check/build.ts";
import { loadRegexValidator } from "../regex-validator.ts";
import { ServiceIndex } from "../services.ts";
import { readYamlObjects } from "../testing/cases.ts";
import type { RegexValidator } from "../context.ts";
import { translateGatewayRoutes } from "./gateway-routes.ts";
import { translateMeshRoutes } from "./mesh.ts";

const TESTDATA = join(import.meta.dirname, "testdata");
const schema: unknown = JSON.parse(readFileSync(join(import.meta.dirname, "../../../../schema/route-table.schema.json"), "utf8"));
const validateTable = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true }).compile(schema as object);
const update = process.env["UPDATE_GOLDEN"] === "1";

let validateRegex: RegexValidator;
const seen = new Set<string>();

beforeAll(() => {
  buildRegexCheck();
  validateRegex = loadRegexValidator();
}, 600_000);

function caseNames(): string[] {
  return readdirSync(TESTDATA).filter((f) => f.endsWith(".in.yaml")).map((f) => f.slice(0, -".in.yaml".length)).sort();
}

function run(name: string, reverse = false): unknown {
  const file = join(TESTDATA, `${name}.in.yaml`);
  const text = readFileSync(file, "utf8");
  const raws = readYamlObjects(text, file);
  if (reverse) raws.reverse();
  const allow = new Set([...text.matchAll(/^#\s*allow:\s*(\S+)/gm)].map((m) => m[1]));
  const routes: HTTPRoute[] = [];
  const referenceGrants: ReferenceGrant[] = [];
  const problems: Problem[] = [];
  const rest: unknown[] = [];
  for (const raw of raws) {
    const out = parseGatewayApiObject(raw);
    if (out.status === "ok") {
      if (out.object.kind === "HTTPRoute") routes.push(out.object);
      else referenceGrants.push(out.object);
    } else if (out.status === "invalid") problems.push(...out.problems);
    else rest.push(raw);
  }
  const parsed = parseObjects(rest);
  if (parsed.ignored.length > 0) throw new Error(`${name}: kinds not read: ${parsed.ignored.join(", ")}`);
  problems.push(...parsed.problems);
  if (problems.length > 0 && !allow.has("invalid-objects")) throw new Error(`${name}: malformed objects: ${problems.map((p) => p.message).join("; ")}`);
  const unknown = routes.flatMap((r) => (r.ignoredFields ?? []).filter((f) => !f.known).map((f) => `${r.metadata.name}: ${f.path}`));
  if (unknown.length > 0 && !allow.has("unknown-fields")) throw new Error(`${name}: unknown fields (typo?): ${unknown.join(", ")}`);
  const ig: InternalGateway | undefined = parsed.snapshot.internalGateways[0];
  const env = {
    clusterDomain: "cluster.local",
    validateRegex,
    services: new ServiceIndex(parsed.snapshot.services, "cluster.local"),
    referenceGrants,
    grants: ig?.spec.hostGrants ?? [],
    grantsFrom: ig === undefined ? "istio-system/canal" : `${ig.metadata.namespace}/${ig.metadata.name}`,
  };
  const result = translateMeshRoutes(routes, env);
  // Gateway-attached routes (cases with Gateways): after the mesh hosts, which keep their domains.
  const taken = new Set(result.virtualHosts.flatMap((vh) => vh.domains));
  const { gatewayApiGateways: gateways, gatewayClasses, namespaces } = parsed.snapshot;
  const onGateways = translateGatewayRoutes(routes, { ...env, gateways, gatewayClasses, namespaces, takenBy: (d) => (taken.has(d) ? "a mesh route" : undefined) });
  const table = assembleTable([...result.virtualHosts, ...onGateways.virtualHosts], result.ambiguousHosts);
  expect(validateTable(table), `${name}: ${JSON.stringify(validateTable.errors)}`).toBe(true);
  const all = sortProblems([...problems, ...result.problems, ...onGateways.problems]);
  for (const p of all) seen.add(p.reason);
  const clusters = [...result.clusters, ...onGateways.clusters.filter((c) => !result.clusters.some((m) => m.cluster === c.cluster))];
  const gatewayPart = onGateways.servedGateways.length === 0 ? {} : { servedGateways: onGateways.servedGateways, attachedRoutes: Object.fromEntries([...onGateways.attachedRoutes].map(([k, m]) => [k, Object.fromEntries(m)])) };
  return { table, clusters, services: result.services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`), ...gatewayPart, problems: all };
}

describe("HTTPRoute (GAMMA) golden cases", () => {
  it.each(caseNames())("%s", (name) => {
    const text = `${JSON.stringify(run(name), null, 2)}\n`;
    const file = join(TESTDATA, `${name}.out.json`);
    if (update || !existsSync(file)) writeFileSync(file, text);
    expect(text).toBe(readFileSync(file, "utf8"));
  });

  it("exercise every Gateway API problem reason", () => {
    for (const name of caseNames()) run(name);
    expect(GATEWAY_API_REASONS.filter((r) => !seen.has(r))).toEqual([]);
  });

  it("give the same output for the objects in reverse order", () => {
    for (const name of caseNames()) expect(JSON.stringify(run(name, true)), name).toBe(JSON.stringify(run(name)));
  });
});
