// Which mode a plugin configuration selects (ADR 0005): a route table (the default), a carrier's
// shard or manifest (a `kind` member), or a sharded router (a `shardedTable` member). Deciding
// must not cost a route table's configure anything: a large document is read for its head only
// when its first member is `kind` (the planner writes it first); any other large document goes
// to the table path, and only if that rejects it is its head read (sniffRejected), so a carrier
// document with its members in another order is still carried, never refused.
import { HEAD_TABLE, Head, readHead, startsWithKind } from "./head";

/** Documents up to this size have their head read before the table path (a router's is tiny). */
const SNIFF_ALWAYS_BYTES: i32 = 65536;

/** The head of a carrier or router document; null: compile it as a route table. */
export function sniff(bytes: ArrayBuffer): Head | null {
  if (bytes.byteLength == 0) return null;
  if (bytes.byteLength > SNIFF_ALWAYS_BYTES && !startsWithKind(bytes)) return null;
  return sharded(readHead(bytes));
}

/** After the table path refused a large document: its head, if it is a carrier's or a router's. */
export function sniffRejected(bytes: ArrayBuffer): Head | null {
  if (bytes.byteLength <= SNIFF_ALWAYS_BYTES) return null;
  return sharded(readHead(bytes));
}

function sharded(h: Head): Head | null {
  if (h.kind == HEAD_TABLE) return null;
  return h;
}
