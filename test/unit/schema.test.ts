// The route table is defined twice — JSON Schema and TypeScript type — so this test keeps the two
// in step and checks the shared table corpus against the schema.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const schemaPath = join(root, "schema", "route-table.schema.json");
const typePath = join(root, "schema", "route-table.ts");
const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as JsonSchema;

interface JsonSchema {
  properties?: Record<string, unknown>;
  required?: string[];
  definitions?: Record<string, JsonSchema>;
}

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validate = ajv.compile(schema);

function corpus(dir: string): Array<[string, unknown]> {
  const full = join(root, "test", "tables", dir);
  return readdirSync(full).filter((f) => f.endsWith(".json")).map((f) => [f, JSON.parse(readFileSync(join(full, f), "utf8"))]);
}

describe("route table corpus against the JSON Schema", () => {
  it.each(corpus("valid"))("accepts valid/%s", (_name, table) => {
    const ok = validate(table);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it.each(corpus("invalid"))("rejects invalid/%s", (_name, entry) => {
    const { table, schemaValid } = entry as { table: unknown; schemaValid?: boolean };
    expect(validate(table)).toBe(schemaValid === true);
  });
});

/** Interface name → its JSON Schema definition (the root schema for RouteTable). */
const definitionOf: Record<string, string> = {
  RouteTable: "(root)",
  AmbiguousHost: "ambiguousHost",
  VirtualHost: "virtualHost",
  Route: "route",
  MatchBlock: "matchBlock",
  WeightedCluster: "weightedCluster",
  Redirect: "redirect",
  DirectResponse: "directResponse",
  Rewrite: "rewrite",
  HeaderOps: "headerOps",
  HeaderOperations: "headerOperations",
  Fault: "fault",
  Retries: "retries",
};

interface Shape { props: string[]; required: string[] }

function interfacesOf(file: string): Map<string, Shape> {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, Shape>();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node)) return;
    const props: string[] = [];
    const required: string[] = [];
    for (const m of node.members) {
      if (!ts.isPropertySignature(m) || !m.name) continue;
      const name = m.name.getText(source);
      props.push(name);
      if (!m.questionToken) required.push(name);
    }
    out.set(node.name.text, { props: props.sort(), required: required.sort() });
  });
  return out;
}

describe("TypeScript type and JSON Schema agree", () => {
  const interfaces = interfacesOf(typePath);

  it("every interface has a schema definition", () => {
    expect([...interfaces.keys()].sort()).toEqual(Object.keys(definitionOf).sort());
  });

  it.each(Object.entries(definitionOf))("%s ↔ %s: same fields, same required fields", (iface, def) => {
    const shape = interfaces.get(iface);
    const s = def === "(root)" ? schema : schema.definitions?.[def];
    expect(shape, `interface ${iface}`).toBeDefined();
    expect(s, `definition ${def}`).toBeDefined();
    expect(Object.keys(s?.properties ?? {}).sort()).toEqual(shape?.props);
    expect([...(s?.required ?? [])].sort()).toEqual(shape?.required);
  });
});
