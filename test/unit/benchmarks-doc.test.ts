// Each bench owns whole sections of docs/benchmarks.md: replacing one must keep every other line.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BENCHMARKS_DOC, replaceSection } from "../../bench/benchmarks-doc.ts";

const DOC = "# B\n\npre\n\n## A\n\na1\n\n## Controller\n\nold\n\n## DNS\n\nd\n";

describe("replaceSection", () => {
  it("replaces a middle section up to the next heading", () => {
    expect(replaceSection(DOC, "## Controller\n\nnew\n")).toBe("# B\n\npre\n\n## A\n\na1\n\n## Controller\n\nnew\n\n## DNS\n\nd\n");
  });
  it("replaces the last section", () => {
    expect(replaceSection(DOC, "## DNS\n\nd2")).toBe("# B\n\npre\n\n## A\n\na1\n\n## Controller\n\nold\n\n## DNS\n\nd2\n");
  });
  it("appends a section that is not there yet", () => {
    expect(replaceSection(DOC, "## New\n\nx\n")).toBe(`${DOC}\n## New\n\nx\n`);
  });
  it("is the identity for every section of the real page", () => {
    const doc = readFileSync(BENCHMARKS_DOC, "utf8");
    const starts = [...doc.matchAll(/^## .*$/gm)].map((m) => m.index);
    expect(starts.length).toBeGreaterThan(2);
    starts.forEach((s, i) => expect(replaceSection(doc, doc.slice(s, starts[i + 1] ?? doc.length))).toBe(doc));
  });
});
