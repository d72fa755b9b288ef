// The translator and the input API are pure: no file system, network, process, Kubernetes or
// gRPC access. Checked on the import graph of the modules themselves.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");
/** Modules allowed to do I/O, and why: they are not imported by the pure ones. */
const IMPURE = new Set([
  "translate/regex-validator.ts", // reads the wasm file
  "translate/regex-check/build.ts", // runs the compiler
  "translate/regex-check/entry.ts", // AssemblyScript source
]);
const ALLOWED_BUILTINS = new Set(["node:crypto"]);

function modules(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "testdata" || e.name === "testing" ? [] : modules(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1] as string);
}

const pure = [...modules("api"), ...modules("translate")].filter((f) => !IMPURE.has(f));

describe("pure modules", () => {
  it("there are some", () => {
    expect(pure).toContain("translate/index.ts");
    expect(pure).toContain("api/parse.ts");
  });

  it.each(pure)("%s imports only pure modules", (file) => {
    for (const spec of imports(file)) {
      if (spec.startsWith(".")) {
        const target = relative(root, resolve(dirname(join(root, file)), spec));
        const inSchema = target.startsWith("../../schema/");
        expect(inSchema || !IMPURE.has(target), `${file} imports ${target}`).toBe(true);
      } else {
        expect(ALLOWED_BUILTINS.has(spec), `${file} imports ${spec}`).toBe(true);
      }
    }
  });

  it.each(pure)("%s touches no process state", (file) => {
    const text = readFileSync(join(root, file), "utf8");
    expect(text).not.toMatch(/\bprocess\.|\brequire\(|\bfetch\(|Date\.now\(|Math\.random\(/);
  });
});
