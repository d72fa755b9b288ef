#!/usr/bin/env node
// Bundles the `canal` CLI (controller/src/cli.ts and everything it imports, npm dependencies
// included) into one plain-JavaScript ES module, build/controller/canal.mjs, with esbuild (the one
// tsx ships). bin/canal.mjs runs it instead of the TypeScript sources when it is up to date: no
// TypeScript loader and no module graph of hundreds of files, so the process starts in a third of
// the memory (docs/controller.md, "Memory").
//
//   node scripts/bundle-controller.mjs        (make build runs it)
//
// Writes build/controller/canal.inputs.json: the repository files the bundle was made from (plus
// node_modules/.package-lock.json, which npm rewrites on every install). bin/canal.mjs falls back
// to the sources when any of them is newer than the bundle or gone. The bundle's mtime is set to
// the moment the build started, so a file saved while bundling also counts as newer.
//
// Modules that locate files from their own path (import.meta.url / dirname / filename) get it
// rewritten relative to the bundle, so they find the same files as when run from source.
import { mkdirSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT_DIR = join(ROOT, "build", "controller");
const OUT = join(OUT_DIR, "canal.mjs");
const INPUTS = join(OUT_DIR, "canal.inputs.json");

/** Rewrites import.meta.{url,dirname,filename} in our own sources to their original location. */
const ownLocation = {
  name: "own-location",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${join("node_modules")}/`)) return undefined;
      const source = await readFile(args.path, "utf8");
      if (!source.includes("import.meta")) return undefined;
      const file = JSON.stringify(relative(OUT_DIR, args.path));
      const dir = JSON.stringify(`${relative(OUT_DIR, dirname(args.path)) || "."}/`);
      const contents = source
        .replaceAll("import.meta.url", `new URL(${file}, import.meta.url).href`)
        .replaceAll("import.meta.dirname", `__canalPath(new URL(${dir}, import.meta.url)).replace(/\\/$/, "")`)
        .replaceAll("import.meta.filename", `__canalPath(new URL(${file}, import.meta.url))`);
      return { contents, loader: "ts" };
    });
  },
};

const started = new Date();
mkdirSync(OUT_DIR, { recursive: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ["controller/src/cli.ts"],
  outfile: `${OUT}.part`,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  metafile: true,
  logLevel: "warning",
  // Node keeps a module's whole source text in the heap (for lazy compilation): 12.7 MB unminified.
  // Whitespace and syntax only: names stay as written, so stack traces and logs stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  plugins: [ownLocation],
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: 'import { createRequire as __canalRequire } from "node:module"; import { fileURLToPath as __canalPath } from "node:url"; const require = __canalRequire(import.meta.url);' },
});
const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith("node_modules/")).sort();
inputs.push("node_modules/.package-lock.json", "scripts/bundle-controller.mjs");
writeFileSync(`${INPUTS}.part`, `${JSON.stringify(inputs, null, 1)}\n`);
renameSync(`${INPUTS}.part`, INPUTS);
utimesSync(`${OUT}.part`, started, started);
renameSync(`${OUT}.part`, OUT);
process.stdout.write(`bundled ${inputs.length - 2} source files and the npm dependencies into ${relative(ROOT, OUT)}\n`);
