// The RE2 syntax's vocabulary shared by the parser, the compiler and the matcher: AST node
// kinds, empty-width assertion kinds, the parser's limits and its error messages.

// AST node kinds
export const N_EMPTY: i32 = 0;
export const N_LIT: i32 = 1; //    a = code point, b = 1 when ASCII case-folded (a is lower case)
export const N_CLASS: i32 = 2; //  a = class id
export const N_ANY: i32 = 3; //    any code point
export const N_ANYNOTNL: i32 = 4; // any code point but \n
export const N_ASSERT: i32 = 5; // a = A_* kind
export const N_CONCAT: i32 = 6; // a = first index in kids, b = count
export const N_ALT: i32 = 7; //    a = first index in kids, b = count
export const N_REPEAT: i32 = 8; // a = child, b = min, c = max (-1 = unbounded)

// Empty-width assertion kinds
export const A_BOT: i32 = 1; // beginning of text (\A, ^ without m)
export const A_EOT: i32 = 2; // end of text (\z, $ without m)
export const A_BOL: i32 = 3; // beginning of line ((?m)^)
export const A_EOL: i32 = 4; // end of line ((?m)$)
export const A_WORDB: i32 = 5; // \b
export const A_NWORDB: i32 = 6; // \B


/** Maximum {n,m} count, and maximum product of nested counts (as RE2). */
export const MAX_REPEAT: i32 = 1000;
/** Maximum group nesting depth (as RE2). */
export const MAX_DEPTH: i32 = 1000;

export const E_MISSING_PAREN = "missing closing )";
export const E_UNEXPECTED_PAREN = "unexpected )";
export const E_MISSING_BRACKET = "missing closing ]";
export const E_BAD_RANGE = "invalid character class range";
export const E_BAD_ESCAPE = "invalid escape sequence";
export const E_TRAILING_BACKSLASH = "trailing backslash at end of expression";
export const E_REPEAT_ARG = "missing argument to repetition operator";
export const E_REPEAT_OP = "invalid nested repetition operator";
export const E_REPEAT_SIZE = "invalid repeat count";
export const E_PERL_OP = "invalid or unsupported Perl syntax";
export const E_NAMED_CAPTURE = "invalid named capture";
export const E_NESTING = "expression nests too deeply";
export const E_UTF = "invalid UTF-8";
export const E_UNICODE_CLASS = "unsupported Unicode character class";
export const E_ANY_BYTE = "unsupported \\C (any byte)";
