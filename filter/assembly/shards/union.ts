// The union of compiled shards: one RouteTable whose lookups hold every shard's virtual hosts and
// ambiguous hosts (host matching does not depend on virtual host order, docs/route-table.md), with
// the whole compile's checks across them: a domain used twice, a second catch-all, an ambiguous
// host that is also a domain. Any of those refuses the whole union (the caller keeps its table).
import { DOMAIN_CATCH_ALL, DOMAIN_EXACT, insertDomain, sizeExact } from "../load/document";
import { encode } from "../load/tape";
import { RouteTable, VirtualHost } from "../table";
import { CompiledShard } from "./compile";

/** Why the last unionOf refused ("" when it did not). */
export let unionError: string = "";

function domainText(kind: u8, key: string): string {
  if (kind == DOMAIN_CATCH_ALL) return "*";
  if (kind == DOMAIN_EXACT) return key;
  return "*." + key;
}

/** Where a key was first used, among shards[0..upto] (only for the message). */
function firstOwner(shards: Array<CompiledShard>, upto: i32, kind: u8, key: string): string {
  for (let s = 0; s <= upto; s++) {
    let shard = shards[s];
    let start = 0;
    for (let v = 0; v < shard.vhosts.length; v++) {
      let end = unchecked(shard.keyEnds[v]);
      for (let m = start; m < end; m++) {
        if (unchecked(shard.kinds[m]) == kind && unchecked(shard.keys[m]) == key) {
          let vh = unchecked(shard.vhosts[v]);
          return "virtual host \"" + vh.name + "\" of shard " + shard.index.toString();
        }
      }
      start = end;
    }
  }
  return "?";
}

/** The table of `shards` (in index order) at `version`, or null with unionError set. */
export function unionOf(version: string, shards: Array<CompiledShard>): RouteTable | null {
  unionError = "";
  let t = new RouteTable();
  t.version = version;
  t.versionBytes = encode(version);
  let keyCount = 0;
  for (let s = 0; s < shards.length; s++) keyCount += shards[s].keys.length;
  sizeExact(t, keyCount);
  for (let s = 0; s < shards.length; s++) {
    let shard = shards[s];
    let start = 0;
    for (let v = 0; v < shard.vhosts.length; v++) {
      let vh: VirtualHost = unchecked(shard.vhosts[v]);
      let end = unchecked(shard.keyEnds[v]);
      for (let m = start; m < end; m++) {
        let kind = unchecked(shard.kinds[m]);
        let key = unchecked(shard.keys[m]);
        if (insertDomain(t, kind, key, vh)) {
          // The map now holds this virtual host; where the domain was first used is searched for.
          let first = firstOwner(shards, s, kind, key);
          unionError = "domain \"" + domainText(kind, key) + "\" of virtual host \"" + vh.name + "\" (shard " +
            shard.index.toString() + ") is already used by " + first;
          return null;
        }
      }
      start = end;
    }
    t.virtualHostCount += shard.vhosts.length;
    t.routeCount += shard.routeCount;
    if (shard.hasDelays) t.hasDelays = true;
  }
  for (let s = 0; s < shards.length; s++) {
    let shard = shards[s];
    for (let a = 0; a < shard.ambiguousHosts.length; a++) {
      let host = shard.ambiguousHosts[a];
      if (t.exact.has(host)) {
        unionError = "ambiguous host \"" + host + "\" (shard " + shard.index.toString() + ") is also a domain of " +
          firstOwner(shards, shards.length - 1, DOMAIN_EXACT, host);
        return null;
      }
      t.ambiguous.set(host, shard.ambiguousBodies[a]);
    }
  }
  return t;
}
