// Header names and values, and Istio header operations → route-table header operations.
import type { HeaderOpsInput, HeadersInput } from "../api/istio.ts";
import type { HeaderOperations, HeaderOps } from "../../../schema/route-table.ts";
import type { RouteContext } from "./context.ts";
import { mapKey } from "../api/reader.ts";

const TOKEN = /^:?[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** A lower-case HTTP header name (RFC 9110 token; pseudo-headers start with ':'). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** A header value the filter can send: no NUL, CR or LF. */
export function isHeaderValue(value: string): boolean {
  return !/[\0\r\n]/.test(value);
}

/**
 * Why a header may not be modified by a route, or undefined when it may: pseudo-headers and
 * `host` (Istio refuses them too) and `x-canal-*` (the filter's own routing headers).
 */
export function reservedHeader(name: string): string | undefined {
  if (name.startsWith(":")) return "pseudo-headers cannot be modified (use rewrite.authority for the host)";
  if (name === "host") return "the host header cannot be modified (use rewrite.authority)";
  if (name.startsWith("x-canal-")) return "x-canal-* headers are reserved for the Canal filter";
  return undefined;
}

/** `headers` of a route or destination. Bad entries are reported and left out. */
export function translateHeaders(input: HeadersInput | undefined, path: string, ctx: RouteContext): HeaderOperations | undefined {
  if (input === undefined) return undefined;
  const out: HeaderOperations = {};
  const request = ops(input.request, `${path}.request`, ctx);
  if (request !== undefined) out.request = request;
  const response = ops(input.response, `${path}.response`, ctx);
  if (response !== undefined) out.response = response;
  return out.request === undefined && out.response === undefined ? undefined : out;
}

function ops(input: HeaderOpsInput | undefined, path: string, ctx: RouteContext): HeaderOps | undefined {
  if (input === undefined) return undefined;
  const out: HeaderOps = {};
  const set = pairs(input.set, `${path}.set`, ctx);
  if (set !== undefined) out.set = set;
  const add = pairs(input.add, `${path}.add`, ctx);
  if (add !== undefined) out.add = add;
  const remove: string[] = [];
  (input.remove ?? []).forEach((raw, i) => {
    const name = checkName(raw, `${path}.remove[${i}]`, ctx);
    if (name !== undefined && !remove.includes(name)) remove.push(name);
  });
  if (remove.length > 0) out.remove = remove;
  return Object.keys(out).length === 0 ? undefined : out;
}

function pairs(input: Record<string, string> | undefined, path: string, ctx: RouteContext): Record<string, string> | undefined {
  if (input === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(input)) {
    const field = mapKey(path, raw);
    const name = checkName(raw, field, ctx);
    if (name === undefined) continue;
    if (!isHeaderValue(value)) {
      ctx.sink.add(ctx.vs, field, "InvalidHeaderValue", `${field}: the value of header "${name}" contains NUL, CR or LF; this operation is skipped. Remove the control characters.`);
      continue;
    }
    if (name in out) {
      ctx.sink.add(ctx.vs, field, "InvalidHeaderName", `${field}: header "${name}" appears twice (names are case-insensitive); the first value is kept. Keep one entry.`);
      continue;
    }
    out[name] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function checkName(raw: string, field: string, ctx: RouteContext): string | undefined {
  const name = raw.toLowerCase();
  if (!isHeaderName(name)) {
    ctx.sink.add(ctx.vs, field, "InvalidHeaderName", `${field}: ${JSON.stringify(raw)} is not a valid header name (letters, digits and !#$%&'*+.^_\`|~-); this operation is skipped.`);
    return undefined;
  }
  const reserved = reservedHeader(name);
  if (reserved !== undefined) {
    ctx.sink.add(ctx.vs, field, "InvalidHeaderName", `${field}: header "${name}": ${reserved}; this operation is skipped.`);
    return undefined;
  }
  return name;
}
