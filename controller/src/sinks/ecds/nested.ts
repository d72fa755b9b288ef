// One big payload (the route table) nested several messages deep, written with ONE copy.
//
// The table reaches Envoy as StringValue → Any → PluginConfig → Wasm → Any → TypedExtensionConfig
// → Any → DiscoveryResponse. Encoding each level with protobufjs copies the table once per level
// (and UTF-8-encodes it once more): at 10,000 VirtualServices six 4.8 MB buffers per change, all
// garbage a moment later. Protobuf lets a message be written as the concatenation of its fields
// in field-number order, so each level is: the small fields before the nested one (encoded by
// protobufjs), the nested field's tag and length, the nested message, the small fields after it.
// The lengths are computed inside-out first, then everything is written into one buffer.
// The bytes are identical to protobufjs' (nested.test.ts checks it).

import { joinTableJson, type TableJsonParts } from "../../translate/assemble-table.ts";

/** One level around the payload: `before` + field `field` (length-delimited) holding the inner level + `after`. */
export interface Level {
  before: Uint8Array;
  field: number;
  after: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** The table's JSON, whole or in parts (translate/assemble-table.ts). */
export type TableJson = string | TableJsonParts;

/** The table's JSON as one string. */
export function joinJson(j: TableJson): string {
  return typeof j === "string" ? j : joinTableJson(j);
}

/** Same JSON? Parts compare piece by piece (kept pieces are the same strings: cheap). */
export function sameJson(a: TableJson, b: TableJson): boolean {
  if (typeof a === "string" && typeof b === "string") return a === b;
  if (typeof a !== "string" && typeof b !== "string") {
    if (a.byteLength !== b.byteLength || a.head !== b.head || a.tail !== b.tail || a.items.length !== b.items.length) return false;
    for (let i = 0; i < a.items.length; i++) if (a.items[i] !== b.items[i]) return false;
    return true;
  }
  return joinJson(a) === joinJson(b);
}

function writeParts(buf: Buffer, at: number, j: TableJsonParts): number {
  let n = buf.write(j.head, at, "utf8");
  j.items.forEach((item, i) => {
    if (i > 0) n += buf.write(",", at + n, "latin1");
    n += buf.write(item, at + n, "utf8");
  });
  return n + buf.write(j.tail, at + n, "utf8");
}

export function level(before: Uint8Array, field: number, after: Uint8Array = EMPTY): Level {
  if (!Number.isInteger(field) || field < 1 || field > 536_870_911) throw new Error(`nested: field number ${field} is out of range`);
  return { before, field, after };
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/**
 * `levels` outermost first; `payload` is the innermost length-delimited value (a string or JSON
 * parts are written as UTF-8). Returns the outermost message's bytes.
 */
export function encodeNested(levels: readonly Level[], payload: string | Uint8Array | TableJsonParts): Buffer {
  const payloadBytes = typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.byteLength;
  // inner[i] = size of what level i's field holds.
  const inner = new Array<number>(levels.length);
  let size = payloadBytes;
  for (let i = levels.length - 1; i >= 0; i--) {
    const l = levels[i] as Level;
    inner[i] = size;
    size = l.before.byteLength + varintLength(l.field * 8 + 2) + varintLength(size) + size + l.after.byteLength;
  }
  // 4 bytes of slack after everything: parts whose byteLength is too small then writes past
  // its region instead of being cut silently (Buffer.write stops at the end), and is caught below.
  const buf = Buffer.allocUnsafe(size + 4);
  let at = 0;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i] as Level;
    buf.set(l.before, at);
    at += l.before.byteLength;
    at = writeVarint(buf, at, l.field * 8 + 2);
    at = writeVarint(buf, at, inner[i] as number);
  }
  const written =
    typeof payload === "string"
      ? buf.write(payload, at, "utf8")
      : payload instanceof Uint8Array
        ? (buf.set(payload, at), payload.byteLength)
        : writeParts(buf.subarray(0, at + payloadBytes + 4), at, payload);
  if (written !== payloadBytes) throw new Error(`nested: wrote ${written} payload bytes, expected ${payloadBytes}`);
  at += written;
  for (let i = levels.length - 1; i >= 0; i--) {
    const l = levels[i] as Level;
    buf.set(l.after, at);
    at += l.after.byteLength;
  }
  if (at !== size) throw new Error(`nested: wrote ${at} bytes, expected ${size}`);
  return buf.subarray(0, size);
}
