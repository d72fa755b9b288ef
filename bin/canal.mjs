#!/usr/bin/env node
// The `canal` command. Runs build/controller/canal.mjs, the plain-JavaScript bundle `make build`
// makes (scripts/bundle-controller.mjs: a third of the memory, no TypeScript loader), when it is
// up to date: no file it was built from (build/controller/canal.inputs.json) is newer or gone.
// Otherwise it runs the TypeScript sources through tsx, so stale code never runs. Which one runs,
// and why, is in CANAL_CODE (`canal controller` logs it and exports canal_code_info on /metrics);
// CANAL_CODE=sources forces the sources.
import { existsSync, readFileSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);
const bundle = new URL("build/controller/canal.mjs", root);

/** Why the bundle cannot be used, or undefined when it can. */
function notBundle() {
  if (process.env.CANAL_CODE === "sources") return "CANAL_CODE=sources";
  if (!existsSync(bundle)) return "build/controller/canal.mjs is missing; make build makes it";
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(new URL("build/controller/canal.inputs.json", root), "utf8"));
  } catch {
    return "build/controller/canal.inputs.json is unreadable; make build remakes it";
  }
  const built = statSync(bundle).mtimeMs;
  for (const f of inputs) {
    const s = statSync(new URL(f, root), { throwIfNoEntry: false });
    if (s === undefined) return `${f}, an input of the bundle, is gone; make build remakes it`;
    if (s.mtimeMs > built) return `${f} is newer than the bundle; make build remakes it`;
  }
  return undefined;
}

const why = notBundle();
let main;
if (why === undefined) {
  process.env.CANAL_CODE = "bundle";
  ({ main } = await import(bundle.href));
} else {
  process.env.CANAL_CODE = `sources (${why})`;
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../controller/src/cli.ts"));
}
process.exitCode = await main(process.argv.slice(2));
