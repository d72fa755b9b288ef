// The controller is a one-way pipeline (docs/architecture.md): a module imports only from its own
// folder or from an earlier layer, so a stage can be read without the stages after it. Checked on
// the import graph of the source files (tests and test helpers may import anything).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const root = import.meta.dirname;

/** Earlier layers first; a folder imports only from its own rank or a lower one. */
const RANK: Record<string, number> = {
  common: 0, // log, metrics, errors: imported by every stage
  api: 1, // the parsed input objects, importable by every stage
  kube: 1, // which served version of each watched kind to read
  sources: 2,
  translate: 3,
  sinks: 4,
  status: 5,
  runner: 6,
  cli: 7,
  "cli.ts": 7,
};

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = dir === "" ? e.name : join(dir, e.name);
    if (e.isDirectory()) return e.name === "testdata" || e.name === "testing" ? [] : sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1] as string);
}

const layerOf = (file: string): string => file.split(sep)[0] as string;
const files = sources("");

/** "from → to" for every import that goes against the pipeline. */
function backwardImports(): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    for (const spec of imports(file)) {
      if (!spec.startsWith(".")) continue;
      const target = relative(root, resolve(dirname(join(root, file)), spec));
      if (target.startsWith("..")) continue; // schema/, envoy/, filter/: outside the controller
      const to = layerOf(target);
      if (!((RANK[to] ?? Infinity) <= (RANK[from] ?? -Infinity))) bad.push(`${file} → ${target}`);
    }
  }
  return bad;
}

describe("controller layers", () => {
  it("every folder has a place in the pipeline", () => {
    expect(files).toContain(join("runner", "controller.ts"));
    expect(files.map(layerOf).filter((l) => RANK[l] === undefined)).toEqual([]);
  });

  it("no module imports from a later layer", () => {
    expect(backwardImports()).toEqual([]);
  });
});
