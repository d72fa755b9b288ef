// docs/benchmarks.md is shared by several benches: each owns whole `## ` sections and replaces
// only those, so running one bench never deletes another's results.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../test/support/wasm.ts";

export const BENCHMARKS_DOC = join(REPO_ROOT, "docs", "benchmarks.md");

/**
 * `section` starts with its own `## Heading` line. Replaces the section with that heading (up to
 * the next `## ` line) or appends it; every other line of `doc` stays.
 */
export function replaceSection(doc: string, section: string): string {
  const heading = section.slice(0, section.indexOf("\n") < 0 ? undefined : section.indexOf("\n")).trim();
  const body = `${section.trim()}\n`;
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return `${doc.replace(/\n*$/, "\n")}\n${body}`;
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  const before = lines.slice(0, start).join("\n");
  const after = lines.slice(end).join("\n");
  return `${before}${before === "" ? "" : "\n"}${body}${after === "" ? "" : `\n${after}`}`;
}

/** Rewrites one section of docs/benchmarks.md in place. */
export function writeBenchmarkSection(section: string): void {
  writeFileSync(BENCHMARKS_DOC, replaceSection(readFileSync(BENCHMARKS_DOC, "utf8"), section));
}
