// Assembling the route table: virtual hosts in VirtualService order, ambiguous hosts that are not
// domains, and the content version over everything else. The table is serialized here, once,
// from per-virtual-host pieces (a memo keeps each VirtualService's virtual host serialized and
// hashed), both for the version and for delivery (`tableJson`, the same bytes as
// JSON.stringify(table)).
import { createHash } from "node:crypto";
import { ROUTE_TABLE_FORMAT, type AmbiguousHost, type RouteTable, type VirtualHost } from "../../../schema/route-table.ts";
import { canonicalJson } from "./canonical.ts";

/**
 * A virtual host serialized: JSON.stringify(vh), its UTF-8 size, and the sha256 of
 * canonicalJson(vh) as a 32-character binary (latin1) string (a string per virtual host costs a fifth of a
 * Buffer, which drags an ArrayBuffer and a backing store along).
 */
export interface VirtualHostJson {
  plain: string;
  bytes: number;
  digest: string;
}

/**
 * A table's JSON in parts: `head + items.join(",") + tail`, `byteLength` its UTF-8 size. Each
 * item is a virtual host's kept JSON, so no change builds the whole table as one string: the ECDS
 * sink writes the parts straight into the protobuf buffer (sinks/ecds/nested.ts).
 */
export interface TableJsonParts {
  head: string;
  items: readonly string[];
  tail: string;
  byteLength: number;
}

/** The parts as one string (for callers that need it; the hot path writes the parts). */
export function joinTableJson(p: TableJsonParts): string {
  return p.head + p.items.join(",") + p.tail;
}

/** Serializes a virtual host (a memo returns kept results). */
export type VirtualHostSerializer = (vh: VirtualHost) => VirtualHostJson;

/** Keys as written by translateGateway: name, domains, routes; canonical order: domains, name, routes. */
export function serializeVirtualHost(vh: VirtualHost): VirtualHostJson {
  const name = JSON.stringify(vh.name);
  const domains = JSON.stringify(vh.domains);
  // join(), not a template literal: a template makes a tree of string pieces (V8 cons strings) that
  // the memo would keep for every virtual host; join() makes one flat string.
  const plain = ['{"name":', name, ',"domains":', domains, ',"routes":', JSON.stringify(vh.routes), "}"].join("");
  return {
    plain,
    bytes: Buffer.byteLength(plain, "utf8"),
    digest: createHash("sha256").update(['{"domains":', domains, ',"name":', name, ',"routes":', canonicalJson(vh.routes), "}"].join("")).digest("binary"),
  };
}

/**
 * The table's content version: sha256 over a header (format, ambiguous hosts) and each virtual
 * host's digest in order. Hashing digests rather than the whole canonical JSON lets a change cost
 * one virtual host's hash plus 32 bytes per virtual host, and lets the memo keep 32 bytes instead
 * of a second serialization. Key order never matters (canonical JSON under every digest).
 */
export function tableVersion(ambiguous: readonly AmbiguousHost[], digests: readonly string[]): string {
  const header = `canal-table\n{${ambiguous.length > 0 ? `"ambiguousHosts":${canonicalJson(ambiguous)},` : ""}"format":${JSON.stringify(ROUTE_TABLE_FORMAT)}}\n`;
  return `sha256:${createHash("sha256").update(header).update(Buffer.from(digests.join(""), "binary")).digest("hex")}`;
}

/** JSON.stringify of each assembled table, in parts, made while assembling it. */
const SERIALIZED = new WeakMap<RouteTable, TableJsonParts>();

export function assembleTable(virtualHosts: readonly VirtualHost[], ambiguous: readonly AmbiguousHost[], serialize: VirtualHostSerializer = (vh) => serializeVirtualHost(vh)): RouteTable {
  const domains = new Set<string>();
  if (ambiguous.length > 0) for (const v of virtualHosts) for (const d of v.domains) domains.add(d);
  const amb = ambiguous.filter((a) => !domains.has(a.host) && a.candidates.length >= 2);
  const pieces = virtualHosts.map(serialize);
  const format = JSON.stringify(ROUTE_TABLE_FORMAT);
  const version = tableVersion(amb, pieces.map((p) => p.digest));
  const table: RouteTable = { format: ROUTE_TABLE_FORMAT, version, virtualHosts: [...virtualHosts], ...(amb.length > 0 ? { ambiguousHosts: [...amb] } : {}) };
  // JSON.stringify(table), from the same pieces: keys in the order of the literal above.
  const head = `{"format":${format},"version":${JSON.stringify(version)},"virtualHosts":[`;
  const tail = `]${amb.length > 0 ? `,"ambiguousHosts":${JSON.stringify(amb)}` : ""}}`;
  let byteLength = Buffer.byteLength(head, "utf8") + Buffer.byteLength(tail, "utf8") + Math.max(0, pieces.length - 1);
  for (const p of pieces) byteLength += p.bytes;
  SERIALIZED.set(table, { head, items: pieces.map((p) => p.plain), tail, byteLength });
  return table;
}

export function emptyTable(): RouteTable {
  return assembleTable([], []);
}

/**
 * The table's JSON in parts (identical, joined, to JSON.stringify(table)): kept from assembly for
 * tables made by translate() (which are never modified afterwards), serialized now for any other.
 */
export function tableJsonParts(table: RouteTable): TableJsonParts {
  const kept = SERIALIZED.get(table);
  if (kept !== undefined) return kept;
  const json = JSON.stringify(table);
  return { head: json, items: [], tail: "", byteLength: Buffer.byteLength(json, "utf8") };
}

/** The table as one JSON string, identical to JSON.stringify(table) (joined on every call: not for hot paths). */
export function tableJson(table: RouteTable): string {
  return joinTableJson(tableJsonParts(table));
}
