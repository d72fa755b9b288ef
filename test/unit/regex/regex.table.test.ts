// Table-driven behaviour of filter/assembly/regex: full-match results for every supported
// feature, and the rejection messages. Each case runs on four paths: UTF-8 bytes and UTF-16
// string input, each with the lazy DFA enabled and disabled (pure Pike VM).
import { beforeAll, describe, expect, it } from "vitest";
import { loadRegex, RegexModule } from "./harness.ts";

type Case = [pattern: string, input: string, expected: 0 | 1];

const X1000 = "x".repeat(1000);
const UUID = "0f8fad5b-d9cb-469f-a165-70867728950e";

const cases: Case[] = [
  // literals and escapes
  ["abc", "abc", 1], ["abc", "abcd", 0], ["abc", "ab", 0], ["abc", "xabc", 0], ["", "", 1], ["", "a", 0],
  ["a\\.b", "a.b", 1], ["a\\.b", "axb", 0], ["a.b", "axb", 1], ["\\\\", "\\", 1], ["\\/api\\/v1", "/api/v1", 1],
  ["a\\-b", "a-b", 1], ["\\t", "\t", 1], ["\\n", "\n", 1], ["\\r", "\r", 1], ["\\f", "\f", 1], ["\\v", "\v", 1],
  ["\\a", "\x07", 1], ["\\x41", "A", 1], ["\\x41", "a", 0], ["\\x6a", "j", 1], ["\\x{263a}", "\u263a", 1],
  ["\\x{1F600}", "\u{1F600}", 1], ["\\x{1F600}", "\u{1F600}\u{1F600}", 0], ["\\0", "\0", 1], ["\\101", "A", 1],
  ["\\12", "\n", 1], ["\\_", "_", 1], ["\\ ", " ", 1], ["\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$", "*+?()[]{}|^$", 1],
  ["\\Qa.b*\\E", "a.b*", 1], ["\\Qa.b*\\E", "axb", 0], ["\\Qa.b", "a.b", 1], ["x\\Q\\Ey", "xy", 1], ["\\Qab\\E+", "abbb", 1],
  ["a{", "a{", 1], ["a{,3}", "a{,3}", 1], ["a{x}", "a{x}", 1], ["a{01}", "a{01}", 1], ["x{1", "x{1", 1], ["a{1,2", "a{1,2", 1],
  ["{", "{", 1], ["}", "}", 1], ["]", "]", 1], ["a]", "a]", 1],
  ["\u00e9", "\u00e9", 1], ["\u65e5\u672c", "\u65e5\u672c", 1], ["\u263a+", "\u263a\u263a\u263a", 1],
  // dot
  [".", "a", 1], [".", "\n", 0], [".", "\r", 1], [".", "\u00e9", 1], [".", "\u{1F600}", 1], ["..", "\u{1F600}", 0],
  ["(?s).", "\n", 1], ["a.c", "a\nc", 0], [".*", "", 1], [".*", "abc\n", 0], ["(?s).*", "abc\n", 1], ["(?s:.)\\n.", "\n\nx", 1],
  [".{2,3}", "\u{1F600}\u{1F600}", 1], [".{2,3}", "\u{1F600}", 0],
  // character classes
  ["[abc]", "b", 1], ["[abc]", "d", 0], ["[a-z0-9_]+", "ab_09z", 1], ["[a-z0-9_]+", "ab-", 0], ["[^abc]", "d", 1],
  ["[^abc]", "a", 0], ["[^abc]", "\n", 1], ["[^/]+", "abc", 1], ["[^/]+", "a/c", 0], ["[]a]", "]", 1], ["[]a]", "a", 1],
  ["[]a]", "b", 0], ["[^]a]", "b", 1], ["[^]a]", "]", 0], ["[a-]", "-", 1], ["[-a]", "-", 1], ["[a-c-e]", "-", 1],
  ["[a-c-e]", "d", 0], ["[\\]]", "]", 1], ["[\\-]", "-", 1], ["[\\\\]", "\\", 1], ["[.]", ".", 1], ["[.]", "a", 0],
  ["[\\d]", "5", 1], ["[\\d\\s]", " ", 1], ["[^\\d]", "a", 1], ["[^\\d]", "1", 0], ["[\\x41-\\x43]", "B", 1],
  ["[\\x{263a}-\\x{263c}]", "\u263b", 1], ["[\u03b1-\u03c9]+", "\u03bb\u03bc", 1], ["[^a]", "\u00e9", 1], ["[[]", "[", 1],
  ["[a[]+", "a[", 1], ["[[:alpha]", "p", 1], ["[\\n]", "\n", 1], ["[\\x00-\\x{10FFFF}]", "\u{10FFFF}", 1],
  ["[^\\x00-\\x{10FFFF}]", "a", 0], ["[\\w-]+", "a-b_c", 1], ["[a-cx-z]", "y", 1], ["[a-cx-z]", "m", 0],
  // POSIX classes
  ["[[:alpha:]]+", "abcXYZ", 1], ["[[:alpha:]]", "1", 0], ["[[:digit:]]", "7", 1], ["[[:alnum:]]+", "a1B2", 1],
  ["[[:upper:]]", "A", 1], ["[[:upper:]]", "a", 0], ["[[:lower:]]", "a", 1], ["[[:space:]]", "\v", 1],
  ["[[:punct:]]+", "!/:@[`{~", 1], ["[[:punct:]]", "a", 0], ["[[:xdigit:]]+", "09afAF", 1], ["[[:xdigit:]]", "g", 0],
  ["[[:word:]]+", "a_1", 1], ["[[:^alpha:]]", "1", 1], ["[[:^alpha:]]", "a", 0], ["[[:alpha:][:digit:]]+", "a1", 1],
  ["[^[:alpha:]]", "1", 1], ["[[:blank:]]", "\t", 1], ["[[:blank:]]", "\n", 0], ["[[:cntrl:]]", "\x01", 1],
  ["[[:print:]]", " ", 1], ["[[:graph:]]", " ", 0], ["[[:ascii:]]", "\u00e9", 0], ["[[:ascii:]]", "\x7f", 1],
  // Perl classes
  ["\\d+", "0123456789", 1], ["\\d", "a", 0], ["\\D", "a", 1], ["\\D", "1", 0], ["\\w+", "aZ_9", 1], ["\\w", "-", 0],
  ["\\W", "-", 1], ["\\W", "\u00e9", 1], ["\\s+", " \t\n\r\f", 1], ["\\s", "\v", 0], ["\\S", "a", 1], ["\\S", " ", 0],
  ["\\d", "\u0663", 0],
  // anchors
  ["^abc", "abc", 1], ["abc$", "abc", 1], ["^abc$", "abc", 1], ["^", "", 1], ["$", "", 1], ["^$", "", 1], ["^$", "a", 0],
  ["a^b", "ab", 0], ["a$b", "ab", 0], ["(?:^a|b)c", "ac", 1], ["(?:^a|b)c", "bc", 1], ["x(?:^a|b)c", "xac", 0],
  ["a(?:$|b)", "a", 1], ["a(?:$|b)", "ab", 1], ["\\Aabc\\z", "abc", 1], ["a\\z", "a", 1], ["a\\zb", "ab", 0],
  ["(?m)^a$", "a", 1], ["(?m)a$\\n^b", "a\nb", 1], ["a$\\nb", "a\nb", 0], ["a\\n^b", "a\nb", 0], ["(?m)a\\n^b$", "a\nb", 1],
  ["(?m)(?:^.*$\\n?)*", "ab\ncd\n", 1], ["^*a", "a", 1], ["$*", "", 1], ["(?:^)*a", "a", 1], ["a(?:$)+", "a", 1],
  // word boundaries
  ["\\bfoo\\b", "foo", 1], ["a\\bb", "ab", 0], ["a\\Bb", "ab", 1], ["a\\b-", "a-", 1], ["a\\B-", "a-", 0], ["\\b", "", 0],
  ["\\B", "", 1], ["foo\\b.*", "foo bar", 1], ["foo\\b.*", "foobar", 0], [".*\\bbar", "foo bar", 1], [".*\\bbar", "foobar", 0],
  ["\u00e9\\b", "\u00e9", 0], ["\u00e9\\B", "\u00e9", 1], ["(?:\\b\\w+\\b\\s*)+", "ab cd  ef", 1],
  // alternation and groups
  ["a|b", "a", 1], ["a|b", "b", 1], ["a|b", "ab", 0], ["abc|abd", "abd", 1], ["a|", "", 1], ["|a", "a", 1], ["a||b", "", 1],
  ["(a|b)c", "bc", 1], ["(?:a|b)+", "abba", 1], ["(?:ab|a)(?:bc|c)", "abc", 1], ["()", "", 1], ["(|)", "", 1],
  ["(?P<name>a+)b", "aab", 1], ["(?<name>a+)b", "aab", 1], ["(?P<x1_Y>a)", "a", 1], ["((((a))))", "a", 1],
  ["(a)(b)(c)", "abc", 1], ["/api/(v1|v2)/.*", "/api/v2/x", 1], ["/api/(v1|v2)/.*", "/api/v3/x", 0], ["(?:)", "", 1],
  ["(?)a", "a", 1], ["(?:a|b|c|d|e)+z", "edcbaz", 1],
  // flags
  ["(?i)abc", "ABC", 1], ["(?i)abc", "aBc", 1], ["(?i)abc", "abd", 0], ["(?i:a)b", "Ab", 1], ["(?i:a)b", "AB", 0],
  ["a(?i)b", "aB", 1], ["a(?i)b", "AB", 0], ["(?i)a(?-i)b", "Ab", 1], ["(?i)a(?-i)b", "AB", 0], ["(?i)[a-c]+", "AbC", 1],
  ["(?i)[^a]", "A", 0], ["(?i)k", "\u212a", 1], ["(?i)S", "\u017f", 1], ["(?i)\\x41", "a", 1], ["(?i)[[:upper:]]", "a", 1],
  ["(?i)\\W", "\u212a", 0], ["(?i)\u00e9", "\u00c9", 0], ["(?U)a+", "aaa", 1], ["(?m:^)a", "a", 1], ["(?im)^AB$", "ab", 1],
  ["(?i)(?:ab|cd)+", "ABcD", 1], ["((?i)a)a", "Aa", 1], ["((?i)a)a", "AA", 0], ["(?i)a|b", "B", 1], ["(?i-i)a", "A", 0],
  ["(?s-s:.)", "\n", 0], ["(?i)[k]", "K", 1], ["(?i)@", "`", 0], ["(?i)[@-@]", "`", 0], ["(?i)bearer .+", "BEARER xyz", 1],
  // quantifiers
  ["a*", "", 1], ["a*", "aaa", 1], ["a*", "aab", 0], ["a+", "", 0], ["a+", "aa", 1], ["a?", "", 1], ["a?", "a", 1], ["a?", "aa", 0],
  ["a{3}", "aaa", 1], ["a{3}", "aa", 0], ["a{3}", "aaaa", 0], ["a{2,}", "aa", 1], ["a{2,}", "aaaaaaa", 1], ["a{2,}", "a", 0],
  ["a{2,4}", "aaaa", 1], ["a{2,4}", "aaaaa", 0], ["a{0}", "", 1], ["a{0}b", "b", 1], ["a{0,0}", "a", 0], ["a{0,}", "aa", 1],
  ["a{1,}", "", 0], ["(ab){2}", "abab", 1], ["(ab){2}", "ab", 0], ["a*?", "aaa", 1], ["a+?b", "aab", 1], ["a??", "a", 1],
  ["a{2,3}?", "aaa", 1], ["a{2}?", "aa", 1], ["(a|b)*?c", "abc", 1], ["x{1000}", X1000, 1], ["x{1000}", X1000.slice(1), 0],
  ["(?:a{2}){3}", "aaaaaa", 1], ["(?:a{2}){3}", "aaaaa", 0], ["a{1,3}b{2}", "abb", 1], ["(a*)*", "aaa", 1], ["(a*)+", "", 1],
  ["(a?)*b", "b", 1], ["(?:(?:a*)*)*b", "aaab", 1], ["(a|aa)*c", "aaaac", 1], ["(a|aa)*c", "aaaa", 0],
  ["[0-9]{3}-[0-9]{4}", "555-1234", 1], ["[0-9]{3}-[0-9]{4}", "555-123", 0], ["(?:a+|b+)*c", "aabbbac", 1],
  ["(?:\\b)*x", "x", 1], ["(?:a*b*)*", "abba", 1], ["(?:.*){3}", "xyz", 1], ["a{2}{", "aa{", 1],
  // realistic routing patterns
  ["/api/v[0-9]+/users/[^/]+", "/api/v1/users/alice", 1], ["/api/v[0-9]+/users/[^/]+", "/api/v/users/alice", 0],
  ["/api/v[0-9]+/users/[^/]+", "/api/v1/users/", 0], ["/api/v[0-9]+/users/[^/]+", "/api/v1/users/a/b", 0],
  ["/static/.*\\.(css|js)", "/static/a/b.css", 1], ["/static/.*\\.(css|js)", "/static/a/b.png", 0],
  [".*\\.example\\.com", "api.example.com", 1], [".*\\.example\\.com", "example.com", 0], ["(GET|HEAD)", "GET", 1],
  ["(GET|HEAD)", "POST", 0], ["https?", "https", 1], ["https?", "ftp", 0],
  ["[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", UUID, 1],
  ["[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", UUID.toUpperCase(), 0],
  ["v[0-9]+\\.[0-9]+(\\.[0-9]+)?", "v1.2", 1], ["v[0-9]+\\.[0-9]+(\\.[0-9]+)?", "v1.2.", 0], [".*canary.*", "user=canary-1", 1],
  ["/product/[0-9]+/reviews", "/product/0/reviews", 1], ["[^?]*", "/a?b", 0], ["/\u00fcber/.*", "/\u00fcber/x", 1],
  ["^/api/.*$", "/api/", 1], ["/api/.+", "/api/", 0], ["(?i)/API/V1/.*", "/api/v1/x", 1], ["10\\.0\\.[0-9]{1,3}\\.[0-9]{1,3}", "10.0.12.255", 1],
];

describe("regex full-match table", () => {
  let rx: RegexModule;
  const handles = new Map<string, number>();
  const handle = (p: string, dfa: boolean): number => {
    const key = `${dfa ? "D" : "N"}:${p}`;
    let h = handles.get(key);
    if (h === undefined) {
      h = rx.compile(p, dfa ? 64 : 0);
      if (h < 0) throw new Error(`compile failed for ${JSON.stringify(p)}: ${rx.error()}`);
      handles.set(key, h);
    }
    return h;
  };

  beforeAll(() => {
    rx = loadRegex();
  }, 240_000);

  it("has at least 150 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
  });

  it.each(cases)("%j on %j -> %i", (pattern, input, expected) => {
    const got = [
      rx.match(handle(pattern, true), input),
      rx.match(handle(pattern, false), input),
      rx.matchString(handle(pattern, true), input),
      rx.matchString(handle(pattern, false), input),
    ];
    expect(got).toEqual([expected, expected, expected, expected]);
  });

  it("uses the DFA (also with assertions) unless disabled or a pure literal", () => {
    expect(rx.e.usesDfa(handle("/api/v[0-9]+/users/[^/]+", true))).toBe(1);
    expect(rx.e.usesDfa(handle("^/api/.*$", true))).toBe(1);
    expect(rx.e.usesDfa(handle("\\bfoo\\b", true))).toBe(1);
    expect(rx.e.usesDfa(handle("(?m)a$\\n^b", true))).toBe(1);
    expect(rx.e.usesDfa(handle("abc", true))).toBe(0); // pure literal: memcmp only
    expect(rx.e.usesDfa(handle("/api/v[0-9]+/users/[^/]+", false))).toBe(0);
  });

  it("strips the literal prefix and suffix from the program", () => {
    expect(rx.e.programSize(handle("/api/v1/users", true))).toBe(1); // just MATCH
    expect(rx.e.programSize(handle("/api/.*\\.json", true))).toBe(4); // SPLIT ANYNOTNL JMP MATCH
  });

  type ByteCase = [pattern: string, bytes: number[], expected: 0 | 1];
  const byteCases: ByteCase[] = [
    [".", [0xff], 1], ["\\x{FFFD}", [0xff], 1], ["a.b", [0x61, 0xc3, 0x62], 1], ["..", [0xe2, 0x82], 1], [".", [0xe2, 0x82], 0],
    [".", [0xe2, 0x82, 0xac], 1], ["\u20ac", [0xe2, 0x82, 0xac], 1], [".", [0xed, 0xa0, 0x80], 0], ["...", [0xed, 0xa0, 0x80], 1],
    [".", [0xc0, 0x80], 0], ["..", [0xc0, 0x80], 1], ["[^a]+", [0xf8, 0x80], 1], ["\\x{10FFFF}", [0xf4, 0x8f, 0xbf, 0xbf], 1],
    [".", [0xf4, 0x90, 0x80, 0x80], 0], ["....", [0xf4, 0x90, 0x80, 0x80], 1], ["a", [0x61, 0x00], 0], ["a\\x00", [0x61, 0x00], 1],
    ["\\x{FFFD}+", [0x80, 0xbf, 0xfe], 1], ["/api/.*", [0x2f, 0x61, 0x70, 0x69, 0x2f, 0xff, 0xfe], 1],
    ["/api/[^\\x{FFFD}]*", [0x2f, 0x61, 0x70, 0x69, 0x2f, 0xff], 0], ["\\x{FFFD}", [0xef, 0xbf, 0xbd], 1],
    ["\\x{D800}", [0xed, 0xa0, 0x80], 0], ["a\\x{DC00}", [0x61, 0xed, 0xb0, 0x80], 0],
  ];
  it.each(byteCases)("bytes: %j on %j -> %i", (pattern, bytes, expected) => {
    const input = Uint8Array.from(bytes);
    expect([rx.matchBytes(handle(pattern, true), input), rx.matchBytes(handle(pattern, false), input)])
      .toEqual([expected, expected]);
  });

  type StrCase = [pattern: string, input: string, expected: 0 | 1];
  const utf16Cases: StrCase[] = [
    [".", "\ud800", 1], ["\\x{FFFD}", "\udc00", 1], ["..", "\ud83d\ude00", 0], [".", "\ud83d\ude00", 1], ["a.", "a\ud83d", 1],
    ["\\x{1F600}", "\ud83d\ude00", 1], ["\\x{D800}", "\ud800", 0], ["[^x]{2}", "\ude00\ud83d", 1],
  ];
  it.each(utf16Cases)("utf16: %j on %j -> %i", (pattern, input, expected) => {
    expect([rx.matchString(handle(pattern, true), input), rx.matchString(handle(pattern, false), input)])
      .toEqual([expected, expected]);
  });
});

describe("regex rejections", () => {
  let rx: RegexModule;
  beforeAll(() => {
    rx = loadRegex();
  }, 240_000);

  const rejected: [pattern: string, message: string][] = [
    ["(abc", "missing closing ): at offset 4"],
    ["(a(b)", "missing closing ): at offset 5"],
    ["abc)", "unexpected ): `)` at offset 3"],
    [")", "unexpected ): `)` at offset 0"],
    ["[abc", "missing closing ]: `[abc` at offset 0"],
    ["[]", "missing closing ]: `[]` at offset 0"],
    ["a[^", "missing closing ]: `[^` at offset 1"],
    ["[a-", "missing closing ]: `[a-` at offset 0"],
    ["[[:alpha:]", "missing closing ]: `[[:alpha:]` at offset 0"],
    ["[z-a]", "invalid character class range: `z-a` at offset 1"],
    ["[[:foo:]]", "invalid character class range: `[:foo:]` at offset 1"],
    ["*a", "missing argument to repetition operator: `*` at offset 0"],
    ["a|*", "missing argument to repetition operator: `*` at offset 2"],
    ["(*)", "missing argument to repetition operator: `*` at offset 1"],
    ["(?i)*", "missing argument to repetition operator: `*` at offset 4"],
    ["{2}", "missing argument to repetition operator: `{2}` at offset 0"],
    ["+", "missing argument to repetition operator: `+` at offset 0"],
    ["a**", "invalid nested repetition operator: `**` at offset 1"],
    ["a*+", "invalid nested repetition operator: `*+` at offset 1"],
    ["a++", "invalid nested repetition operator: `++` at offset 1"],
    ["a?*", "invalid nested repetition operator: `?*` at offset 1"],
    ["a{2}*", "invalid nested repetition operator: `{2}*` at offset 1"],
    ["a*??", "invalid nested repetition operator: `*??` at offset 1"],
    ["a{2}{3}", "invalid nested repetition operator: `{2}{3}` at offset 1"],
    ["a{1001}", "invalid repeat count: `{1001}` at offset 1"],
    ["a{0,1001}", "invalid repeat count: `{0,1001}` at offset 1"],
    ["a{2,1}", "invalid repeat count: `{2,1}` at offset 1"],
    ["(a{100}){11}", "invalid repeat count: `{11}` at offset 8"],
    ["((a{10}){10}){11}", "invalid repeat count: `{11}` at offset 13"],
    ["\\1", "invalid escape sequence: `\\1` at offset 0"],
    ["(a)\\1", "invalid escape sequence: `\\1` at offset 3"],
    ["\\8", "invalid escape sequence: `\\8` at offset 0"],
    ["\\q", "invalid escape sequence: `\\q` at offset 0"],
    ["\\Z", "invalid escape sequence: `\\Z` at offset 0"],
    ["\\x4", "invalid escape sequence: `\\x4` at offset 0"],
    ["\\xZZ", "invalid escape sequence: `\\xZZ` at offset 0"],
    ["\\x{}", "invalid escape sequence: `\\x{}` at offset 0"],
    ["\\x{110000}", "invalid escape sequence: `\\x{110000` at offset 0"],
    ["\\x{12", "invalid escape sequence: `\\x{12` at offset 0"],
    ["\\\u00e9", "invalid escape sequence: `\\\u00e9` at offset 0"],
    ["[\\b]", "invalid escape sequence: `\\b` at offset 1"],
    ["[a-\\d]", "invalid escape sequence: `\\d` at offset 3"],
    ["abc\\", "trailing backslash at end of expression: `\\` at offset 3"],
    ["(?=a)", "invalid or unsupported Perl syntax: `(?=` at offset 0"],
    ["(?!a)", "invalid or unsupported Perl syntax: `(?!` at offset 0"],
    ["(?<=a)b", "invalid or unsupported Perl syntax: `(?<` at offset 0"],
    ["(?<!a)b", "invalid or unsupported Perl syntax: `(?<` at offset 0"],
    ["(?P=n)", "invalid or unsupported Perl syntax: `(?P` at offset 0"],
    ["(?>a)", "invalid or unsupported Perl syntax: `(?>` at offset 0"],
    ["(?x)a", "invalid or unsupported Perl syntax: `(?x` at offset 0"],
    ["(?-)a", "invalid or unsupported Perl syntax: `(?-)` at offset 0"],
    ["(?i-)a", "invalid or unsupported Perl syntax: `(?i-)` at offset 0"],
    ["(?--i)a", "invalid or unsupported Perl syntax: `(?--` at offset 0"],
    ["(?i", "invalid or unsupported Perl syntax: `(?i` at offset 0"],
    ["(?P<>a)", "invalid named capture: `(?P<>` at offset 0"],
    ["(?P<a-b>x)", "invalid named capture: `(?P<a-b>` at offset 0"],
    ["(?P<n>a)(?P<n>b)", "invalid named capture: `(?P<n>` at offset 8"],
    ["(?P<name", "invalid named capture: `(?P<name` at offset 0"],
    ["\\pL", "unsupported Unicode character class: `\\pL` at offset 0"],
    ["\\p{Greek}", "unsupported Unicode character class: `\\p{Greek}` at offset 0"],
    ["[\\P{L}]", "unsupported Unicode character class: `\\P{L}` at offset 1"],
    ["\\C", "unsupported \\C (any byte): `\\C` at offset 0"],
    ["\ud800", "invalid UTF-8: `\ud800` at offset 0"],
    ["a\udc00", "invalid UTF-8: `\udc00` at offset 1"],
    [".{1000}".repeat(11), "pattern too large: at offset 0"],
    ["(?:abcdefghij){1000}x", "pattern too large: at offset 0"],
    ["(".repeat(1001) + ")".repeat(1001), "expression nests too deeply: `(` at offset 1000"],
  ];

  it.each(rejected)("rejects %j with %j", (pattern, message) => {
    expect(rx.compileError(pattern)).toBe(message);
  });

  it("accepts patterns right at the limits", () => {
    expect(rx.compileError(".{1000}".repeat(9))).toBe("");
    expect(rx.compileError("(".repeat(1000) + ")".repeat(1000))).toBe("");
    expect(rx.compileError("(a{10}){100}")).toBe("");
    expect(rx.compileError("a{1000}")).toBe("");
  });

  it("honours a configured program-size limit", () => {
    rx.e.setProgramLimit(100);
    try {
      expect(rx.compileError("a{200}")).toBe("pattern too large: at offset 0");
      expect(rx.compileError("a{50}")).toBe("");
    } finally {
      rx.e.setProgramLimit(10000);
    }
    expect(rx.compileError("a{200}")).toBe("");
  });

  it("clears the error after a successful compile", () => {
    expect(rx.compileError("(")).not.toBe("");
    expect(rx.compileError("a")).toBe("");
    expect(rx.error()).toBe("");
  });
});
