// The validator is the filter's own engine (filter/assembly/regex) compiled to wasm: it accepts
// what the filter accepts and rejects with the filter's message.
import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { buildRegexCheck, inputsHash, REGEX_CHECK_WASM } from "./regex-check/build.ts";
import { loadRegexValidator } from "./regex-validator.ts";
import type { RegexValidator } from "./index.ts";

let check: RegexValidator;

beforeAll(() => {
  buildRegexCheck();
  check = loadRegexValidator();
}, 600_000);

describe("the regex-check build", () => {
  it("is current: the stamp matches the engine sources", () => {
    expect(existsSync(REGEX_CHECK_WASM)).toBe(true);
    expect(readFileSync(`${REGEX_CHECK_WASM}.inputs`, "utf8").trim()).toBe(inputsHash());
  });

  it("is a small module that imports only the abort hook", () => {
    const module = new WebAssembly.Module(readFileSync(REGEX_CHECK_WASM));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: "env", name: "regexCheckAbort", kind: "function" }]);
    expect(WebAssembly.Module.exports(module).map((e) => e.name)).toEqual(expect.arrayContaining(["memory", "buffer", "check"]));
  });

  it("fails with instructions when the module is missing", () => {
    expect(() => loadRegexValidator({ wasmPath: "/nonexistent/regex-check.wasm" })).toThrow(/regex-check\/build\.ts/);
  });
});

describe("accepts RE2 syntax", () => {
  it.each([
    "/api/v[0-9]+/users/[^/]+",
    "GET|HEAD",
    ".*",
    "(?i)bearer .+",
    "^/static/.*\\.(css|js)$",
    "[[:alpha:]]+",
    "\\d{3}-\\d{4}",
    "\\x{1F600}",
    "\u{1F600}+",
    "(?s).",
    "a{2,5}?",
    "(?P<id>[0-9]+)",
    "",
  ])("%j", (pattern) => {
    expect(check(pattern)).toBeNull();
  });
});

describe("rejects what the filter rejects, with its message", () => {
  it.each([
    ["a(b", "missing closing )"],
    ["a)b", "unexpected )"],
    ["(a)\\1", "invalid escape sequence"],
    ["(?=x)", "invalid or unsupported Perl syntax"],
    ["(?<!x)y", "invalid or unsupported Perl syntax"],
    ["x{2,1}", "invalid repeat count"],
    ["[z-a]", "invalid character class range"],
    ["a**", "invalid nested repetition operator"],
    ["[abc", "missing closing ]"],
    ["*a", "missing argument to repetition operator"],
    ["a{1001}", "invalid repeat count"],
    ["\\8", "invalid escape sequence"],
    ["\\p{Greek}+", "unsupported Unicode character class"],
  ])("%j: %s", (pattern, message) => {
    expect(check(pattern)).toContain(message);
  });

  it("rejects a pattern too large for the filter's program limit", () => {
    expect(check("(((a{100}){100}){100})")).toMatch(/too large|repeat count/);
  });
});

describe("the validator", () => {
  it("gives the same answer every time (cached or not)", () => {
    for (let i = 0; i < 3; i++) {
      expect(check("a(b")).toBe("missing closing ): at offset 3");
      expect(check("ok")).toBeNull();
    }
  });

  it("survives many checks with bounded memory (a fresh instance per validator)", () => {
    const fresh = loadRegexValidator({ cacheSize: 1 });
    for (let i = 0; i < 3000; i++) {
      expect(fresh(`/item/${i}/[0-9]+(/.*)?`)).toBeNull();
      expect(fresh(`(${i}`)).toContain("missing closing )");
    }
  });

  it("handles lone surrogates and NUL without failing", () => {
    expect(() => check("\ud800")).not.toThrow();
    expect(check("a\u0000b")).toBeNull();
  });
});
