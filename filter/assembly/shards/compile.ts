// One shard compiled on its own (ADR 0005): its virtualHosts and ambiguousHosts are a route
// table's, so they are cut out of the shard document into a table document and compiled by the
// loader's whole compile (the same checks and messages as a table), and what the union needs is
// kept: the virtual hosts and their lookup keys (load/document.ts records them) and the ambiguous
// hosts. Nothing here touches the loader's incremental cache or the shared entry (table mode's).
import { compileBytes, lastError } from "../load/loader";
import { forgetLastParts } from "../load/elements";
import { clearRecord, recKeyEnds, recKeys, recKinds, recVhosts } from "../load/incremental";
import { RouteTable, VirtualHost } from "../table";
import { Head } from "./head";

export class CompiledShard {
  version: string = "";
  index: i32 = 0;
  count: i32 = 0;
  vhosts: StaticArray<VirtualHost> = new StaticArray<VirtualHost>(0);
  /** Every virtual host's lookup keys and kinds (load/document.ts DOMAIN_*); keyEnds[i] ends host i's. */
  keys: StaticArray<string> = new StaticArray<string>(0);
  kinds: StaticArray<u8> = new StaticArray<u8>(0);
  keyEnds: StaticArray<i32> = new StaticArray<i32>(0);
  ambiguousHosts: Array<string> = new Array<string>();
  ambiguousBodies: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  routeCount: i32 = 0;
  hasDelays: bool = false;
}

/** Why the last compileShard failed. */
export let shardError: string = "";

function put(d: usize, s: string): usize {
  let b = String.UTF8.encode(s);
  memory.copy(d, changetype<usize>(b), <usize>b.byteLength);
  return d + <usize>b.byteLength;
}

/** The table document of a shard whose head `h` passed: format, its version, its two arrays. */
function tableDocument(bytes: ArrayBuffer, h: Head): ArrayBuffer {
  let head = "{\"format\":1,\"version\":\"" + h.version + "\",\"virtualHosts\":";
  let amb = ",\"ambiguousHosts\":";
  let vl = h.vhostsEnd - h.vhostsStart;
  let al = h.ambiguousStart >= 0 ? h.ambiguousEnd - h.ambiguousStart : 0;
  let size = String.UTF8.byteLength(head) + vl + 1;
  if (h.ambiguousStart >= 0) size += amb.length + al;
  let out = new ArrayBuffer(size);
  let base = changetype<usize>(bytes);
  let d = put(changetype<usize>(out), head);
  memory.copy(d, base + <usize>h.vhostsStart, <usize>vl);
  d += <usize>vl;
  if (h.ambiguousStart >= 0) {
    d = put(d, amb);
    memory.copy(d, base + <usize>h.ambiguousStart, <usize>al);
    d += <usize>al;
  }
  store<u8>(d, 0x7d);
  return out;
}

/** The shard compiled, or null with shardError saying why (a route table's message). */
export function compileShard(bytes: ArrayBuffer, h: Head): CompiledShard | null {
  let doc = tableDocument(bytes, h);
  forgetLastParts();
  clearRecord();
  let table = new RouteTable();
  let good = compileBytes(table, doc, -1);
  forgetLastParts();
  if (!good) {
    shardError = lastError;
    clearRecord();
    return null;
  }
  let c = new CompiledShard();
  c.version = h.version;
  c.index = h.index;
  c.count = h.count;
  let n = recVhosts.count;
  let vhosts = new StaticArray<VirtualHost>(n);
  let keyEnds = new StaticArray<i32>(n);
  for (let i = 0; i < n; i++) {
    unchecked(vhosts[i] = recVhosts.at(i));
    unchecked(keyEnds[i] = recKeyEnds.at(i));
  }
  let k = recKeys.count;
  let keys = new StaticArray<string>(k);
  let kinds = new StaticArray<u8>(k);
  for (let i = 0; i < k; i++) {
    unchecked(keys[i] = recKeys.at(i));
    unchecked(kinds[i] = recKinds.at(i));
  }
  c.vhosts = vhosts;
  c.keyEnds = keyEnds;
  c.keys = keys;
  c.kinds = kinds;
  c.ambiguousHosts = table.ambiguous.keys();
  c.ambiguousBodies = table.ambiguous.values();
  c.routeCount = table.routeCount;
  c.hasDelays = table.hasDelays;
  clearRecord();
  shardError = "";
  return c;
}
