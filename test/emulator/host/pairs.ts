// The Proxy-Wasm encoding of header pairs: a count, then each key and value length, then the
// NUL-terminated keys and values.

import { dec, enc, type HeaderList } from "./abi.ts";

export function serializePairs(pairs: HeaderList): Uint8Array {
  const encoded = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)] as const);
  let size = 4 + 8 * pairs.length;
  for (const [k, v] of encoded) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, pairs.length, true);
  let off = 4;
  for (const [k, v] of encoded) {
    dv.setUint32(off, k.length, true);
    dv.setUint32(off + 4, v.length, true);
    off += 8;
  }
  for (const [k, v] of encoded) {
    out.set(k, off);
    off += k.length + 1;
    out.set(v, off);
    off += v.length + 1;
  }
  return out;
}

export function deserializePairs(data: Uint8Array): HeaderList {
  if (data.length < 4) return [];
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = dv.getUint32(0, true);
  const out: HeaderList = [];
  let off = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const kl = dv.getUint32(4 + 8 * i, true);
    const vl = dv.getUint32(8 + 8 * i, true);
    const k = dec.decode(data.subarray(off, off + kl));
    off += kl + 1;
    const v = dec.decode(data.subarray(off, off + vl));
    off += vl + 1;
    out.push([k, v]);
  }
  return out;
}
