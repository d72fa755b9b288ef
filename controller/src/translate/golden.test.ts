// Golden tests: every testdata/<case>.in.yaml translates to exactly <case>.out.json, and every
// table it produces is valid by the route table's JSON Schema. UPDATE_GOLDEN=1 rewrites the
// expected files.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { beforeAll, describe, expect, it } from "vitest";
import { PROBLEM_REASONS } from "../api/problem.ts";
import { buildRegexCheck } from "./regex-check/build.ts";
import { loadRegexValidator } from "./regex-validator.ts";
import { caseNames, loadCase, runCase, serialize, TESTDATA, type GoldenOutput } from "./testing/cases.ts";
import type { RegexValidator } from "./index.ts";

const schema: unknown = JSON.parse(readFileSync(join(import.meta.dirname, "../../../schema/route-table.schema.json"), "utf8"));
const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
const validateTable = ajv.compile(schema as object);
const update = process.env["UPDATE_GOLDEN"] === "1";

let validateRegex: RegexValidator;
const outputs = new Map<string, GoldenOutput>();

beforeAll(() => {
  buildRegexCheck();
  validateRegex = loadRegexValidator();
}, 600_000);

describe("golden cases", () => {
  it.each(caseNames())("%s", (name) => {
    const out = runCase(loadCase(name), validateRegex);
    outputs.set(name, out);
    const text = serialize(out);
    const file = join(TESTDATA, `${name}.out.json`);
    if (update || !existsSync(file)) writeFileSync(file, text);
    expect(text).toBe(readFileSync(file, "utf8"));
    for (const g of out.gateways) {
      expect(validateTable(g.table), `${name}: ${JSON.stringify(validateTable.errors)}`).toBe(true);
      const domains = g.table.virtualHosts.flatMap((v) => v.domains);
      expect(new Set(domains).size, `${name}: a domain is repeated`).toBe(domains.length);
      for (const a of g.table.ambiguousHosts ?? []) expect(domains).not.toContain(a.host);
      for (const e of g.dnsPlan) expect(e.fqdn).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
      expect(g.counts.problems).toBe(g.problems.length);
    }
  });
});

describe("the case collection", () => {
  it("has at least 30 scenarios", () => {
    expect(caseNames().length).toBeGreaterThanOrEqual(30);
  });

  it("exercises every problem reason", () => {
    const seen = new Set<string>();
    for (const name of caseNames()) {
      const out = outputs.get(name) ?? runCase(loadCase(name), validateRegex);
      for (const p of out.problems) seen.add(p.reason);
    }
    expect(PROBLEM_REASONS.filter((r) => !seen.has(r))).toEqual([]);
  });
});
