// redirect and directResponse. An action that cannot be expressed makes the route answer 503
// (the route still matches what it matched, so no other route takes its traffic).
import type { HTTPDirectResponse, HTTPRedirect } from "../api/istio.ts";
import type { DirectResponse, Redirect } from "../../../schema/route-table.ts";
import type { RouteContext } from "./context.ts";
import { isHeaderValue } from "./headers.ts";

export type ActionOutcome<T> = { ok: true; value: T } | { ok: false; why: string };

const REDIRECT_CODES = [301, 302, 303, 307, 308];
const MAX_BODY_BYTES = 1_048_576;

export function translateRedirect(r: HTTPRedirect, path: string, ctx: RouteContext): ActionOutcome<Redirect> {
  const out: Redirect = {};
  const errors: string[] = [];
  const bad = (field: string, message: string): void => {
    ctx.sink.add(ctx.vs, `${path}.${field}`, "InvalidRedirect", `${path}.${field}: ${message}. The route answers 503 until this is fixed.`);
    errors.push(field);
  };
  if (r.uri !== undefined) {
    if (!r.uri.startsWith("/") || !isHeaderValue(r.uri)) bad("uri", `${JSON.stringify(r.uri)} must be a path starting with "/" without control characters`);
    else out.uri = r.uri;
  }
  if (r.authority !== undefined) {
    if (r.authority === "" || r.authority.includes("/") || !isHeaderValue(r.authority) || /\s/.test(r.authority)) bad("authority", `${JSON.stringify(r.authority)} must be a non-empty host[:port]`);
    else out.authority = r.authority;
  }
  if (r.scheme !== undefined) {
    const s = r.scheme.toLowerCase();
    if (s !== "http" && s !== "https") bad("scheme", `${JSON.stringify(r.scheme)} must be http or https`);
    else out.scheme = s;
  }
  if (r.port !== undefined) {
    if (r.port < 1 || r.port > 65535) bad("port", `${r.port} is not a port (1-65535)`);
    else out.port = r.port;
  }
  if (r.redirectCode !== undefined) {
    if (!REDIRECT_CODES.includes(r.redirectCode)) bad("redirectCode", `${r.redirectCode} is not a redirect status (301, 302, 303, 307 or 308)`);
    else out.redirectCode = r.redirectCode;
  }
  if (errors.length > 0) return { ok: false, why: `invalid redirect ${errors.join(", ")} (InvalidRedirect)` };
  // `redirect: {}` is Istio's 301 to the same URL; the table needs at least one field.
  if (Object.keys(out).length === 0) out.redirectCode = 301;
  return { ok: true, value: out };
}

export function translateDirectResponse(d: HTTPDirectResponse, path: string, ctx: RouteContext): ActionOutcome<DirectResponse> {
  if (!Number.isInteger(d.status) || d.status < 200 || d.status > 599) {
    ctx.sink.add(ctx.vs, `${path}.status`, "InvalidStatus", `${path}.status: ${d.status} is not an HTTP status Canal can send (200-599). The route answers 503 until this is fixed.`);
    return { ok: false, why: `invalid directResponse status ${d.status} (InvalidStatus)` };
  }
  const out: DirectResponse = { status: d.status };
  const body = d.body === undefined ? undefined : bodyText(d.body, `${path}.body`, ctx);
  if (body !== undefined) out.body = body;
  return { ok: true, value: out };
}

/** body.string, or body.bytes decoded from base64 when it is UTF-8 text. Bad bodies are left out. */
function bodyText(body: { string?: string; bytes?: string }, path: string, ctx: RouteContext): string | undefined {
  const bad = (field: string, message: string): undefined => {
    ctx.sink.add(ctx.vs, `${path}${field}`, "InvalidBody", `${path}${field}: ${message}; the response is sent without a body.`);
    return undefined;
  };
  if (body.string !== undefined && body.bytes !== undefined) return bad("", "sets both string and bytes (choose one)");
  let text = body.string;
  if (body.bytes !== undefined) {
    const raw = decodeBase64(body.bytes);
    if (raw === undefined) return bad(".bytes", "is not valid base64");
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      return bad(".bytes", "does not decode to UTF-8 text (the gateway sends text bodies only)");
    }
  }
  if (text !== undefined && new TextEncoder().encode(text).length > MAX_BODY_BYTES) return bad("", "is larger than 1 MiB (Envoy's local reply limit)");
  return text;
}

/** Standard or URL-safe base64, padding optional (protobuf JSON accepts both). */
export function decodeBase64(s: string): Uint8Array | undefined {
  const std = s.replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(std)) return undefined;
  const unpadded = std.replace(/=+$/, "");
  if (unpadded.length % 4 === 1) return undefined;
  if (std.includes("=") && std.length % 4 !== 0) return undefined;
  return new Uint8Array(Buffer.from(unpadded, "base64"));
}
