// Assembling the route table: virtual hosts in VirtualService order, ambiguous hosts that are not
// domains, and the content version over everything else. The table is serialized here, once,
// from per-virtual-host pieces (a memo keeps each VirtualService's routes serialized), both for
// the version (the hash of the canonical JSON) and for delivery (`tableJson`, the same
// bytes as JSON.stringify(table)).
import { createHash } from "node:crypto";
import { ROUTE_TABLE_FORMAT, type AmbiguousHost, type RouteTable, type VirtualHost } from "../../../schema/route-table.ts";
import { canonicalJson } from "./canonical.ts";

/** A virtual host serialized: canonicalJson(vh) and JSON.stringify(vh). */
export interface VirtualHostJson {
  canonical: string;
  plain: string;
}

/** Serializes a virtual host (a memo returns kept strings). */
export type VirtualHostSerializer = (vh: VirtualHost) => VirtualHostJson;

/** Keys as written by translateGateway: name, domains, routes; canonical order: domains, name, routes. */
export function serializeVirtualHost(vh: VirtualHost): VirtualHostJson {
  const name = JSON.stringify(vh.name);
  const domains = JSON.stringify(vh.domains);
  // join(), not a template literal: a template makes a tree of string pieces (V8 cons strings) that
  // the memo would keep for every virtual host; join() makes one flat string.
  return {
    canonical: ['{"domains":', domains, ',"name":', name, ',"routes":', canonicalJson(vh.routes), "}"].join(""),
    plain: ['{"name":', name, ',"domains":', domains, ',"routes":', JSON.stringify(vh.routes), "}"].join(""),
  };
}

/** JSON.stringify of each assembled table, made while assembling it. */
const SERIALIZED = new WeakMap<RouteTable, string>();

export function assembleTable(virtualHosts: readonly VirtualHost[], ambiguous: readonly AmbiguousHost[], serialize: VirtualHostSerializer = (vh) => serializeVirtualHost(vh)): RouteTable {
  const domains = new Set<string>();
  if (ambiguous.length > 0) for (const v of virtualHosts) for (const d of v.domains) domains.add(d);
  const amb = ambiguous.filter((a) => !domains.has(a.host) && a.candidates.length >= 2);
  const pieces = virtualHosts.map(serialize);
  // contentVersion({format, virtualHosts, ambiguousHosts?}) = sha256 of its canonical JSON
  // (keys sorted: ambiguousHosts, format, virtualHosts).
  const format = JSON.stringify(ROUTE_TABLE_FORMAT);
  const hash = createHash("sha256").update(`{${amb.length > 0 ? `"ambiguousHosts":${canonicalJson(amb)},` : ""}"format":${format},"virtualHosts":[`);
  pieces.forEach((p, i) => hash.update(i === 0 ? p.canonical : `,${p.canonical}`));
  const version = `sha256:${hash.update("]}").digest("hex")}`;
  const table: RouteTable = { format: ROUTE_TABLE_FORMAT, version, virtualHosts: [...virtualHosts], ...(amb.length > 0 ? { ambiguousHosts: [...amb] } : {}) };
  // JSON.stringify(table), from the same pieces: keys in the order of the literal above.
  const tail = amb.length > 0 ? `,"ambiguousHosts":${JSON.stringify(amb)}` : "";
  SERIALIZED.set(table, `{"format":${format},"version":${JSON.stringify(version)},"virtualHosts":[${pieces.map((p) => p.plain).join(",")}]${tail}}`);
  return table;
}

export function emptyTable(): RouteTable {
  return assembleTable([], []);
}

/**
 * The table as JSON, identical to JSON.stringify(table): kept from assembly for tables made by
 * translate() (which are never modified afterwards), serialized now for any other.
 */
export function tableJson(table: RouteTable): string {
  return SERIALIZED.get(table) ?? JSON.stringify(table);
}
