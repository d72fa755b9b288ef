// Golden cases: testdata/<case>.in.yaml (Kubernetes objects, multi-document) → <case>.out.json.
// Inputs are loaded strictly: YAML errors, duplicate keys, kinds Canal does not read, fields it
// does not know and malformed objects all fail the load, unless the case opts in with a
// directive comment at the top of the file:
//
//   # allow: unknown-fields     the case is about fields Canal does not know (UnsupportedField)
//   # allow: invalid-objects    the case is about malformed objects (InvalidField)
//   # clusterDomain: corp.local translate with another cluster domain
//
// Test support only (reads files); the translator itself never imports it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { parseObjects } from "../../api/parse.ts";
import { sortProblems, type Problem } from "../../api/problem.ts";
import type { Snapshot } from "../../api/snapshot.ts";
import { translate, type GatewayResult, type RegexValidator } from "../index.ts";

export const TESTDATA = join(import.meta.dirname, "..", "testdata");

export interface CaseInput {
  name: string;
  snapshot: Snapshot;
  /** Problems found while parsing (only with `allow: invalid-objects`). */
  parseProblems: Problem[];
  clusterDomain?: string;
}

export interface GoldenOutput {
  gateways: GatewayResult[];
  /** Parse and translation problems together, sorted. */
  problems: Problem[];
}

export function caseNames(): string[] {
  return readdirSync(TESTDATA)
    .filter((f) => f.endsWith(".in.yaml"))
    .map((f) => f.slice(0, -".in.yaml".length))
    .sort();
}

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("#")) break;
    const m = /^#\s*([A-Za-z-]+):\s*(.+)$/.exec(line);
    if (m) out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), (m[2] as string).trim()]);
  }
  return out;
}

/** Raw objects of a YAML stream, strictly parsed (null documents skipped). */
export function readYamlObjects(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true, strict: true, prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${source}: not a YAML stream`);
  const out: unknown[] = [];
  for (const d of docs) {
    const issues = [...d.errors, ...d.warnings];
    if (issues.length > 0) throw new Error(`${source}: ${issues.map((e) => e.message).join("; ")}`);
    const v: unknown = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

export function loadCase(name: string): CaseInput {
  const file = join(TESTDATA, `${name}.in.yaml`);
  const text = readFileSync(file, "utf8");
  const dir = directives(text);
  const allow = new Set(dir.get("allow") ?? []);
  const parsed = parseObjects(readYamlObjects(text, file));
  if (parsed.ignored.length > 0) throw new Error(`${name}: objects of kinds Canal does not read: ${parsed.ignored.join(", ")}`);
  if (parsed.problems.length > 0 && !allow.has("invalid-objects")) {
    throw new Error(`${name}: malformed objects:\n${parsed.problems.map((p) => `  ${p.kind} ${p.namespace}/${p.name}: ${p.message}`).join("\n")}`);
  }
  if (!allow.has("unknown-fields")) {
    const s = parsed.snapshot;
    const all = [...s.internalGateways, ...s.gateways, ...s.virtualServices, ...s.destinationRules, ...s.services];
    const unknown = all.flatMap((o) => (o.ignoredFields ?? []).filter((f) => !f.known).map((f) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}: ${f.path}`));
    if (unknown.length > 0) throw new Error(`${name}: unknown fields (typo?):\n  ${unknown.join("\n  ")}`);
  }
  const input: CaseInput = { name, snapshot: parsed.snapshot, parseProblems: parsed.problems };
  const domain = dir.get("clusterDomain")?.[0];
  if (domain !== undefined) input.clusterDomain = domain;
  return input;
}

export function runCase(input: CaseInput, validateRegex: RegexValidator): GoldenOutput {
  const result = translate(input.snapshot, input.clusterDomain === undefined ? { validateRegex } : { validateRegex, clusterDomain: input.clusterDomain });
  return { gateways: result.gateways, problems: sortProblems([...input.parseProblems, ...result.problems]) };
}

export function serialize(out: GoldenOutput): string {
  return `${JSON.stringify(out, null, 2)}\n`;
}
