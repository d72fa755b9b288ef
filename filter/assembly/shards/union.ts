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
    for (let m = 0; m < shard.keys.length; m++) {
      if (unchecked(shard.kinds[m]) == kind && unchecked(shard.keys[m]) == key) {
        return "virtual host \"" + shard.ownerOf(m).name + "\" of shard " + shard.index.toString();
      }
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
    for (let m = 0; m < shard.keys.length; m++) {
      let kind = unchecked(shard.kinds[m]);
      let key = unchecked(shard.keys[m]);
      let vh = shard.ownerOf(m);
      if (insertDomain(t, kind, key, vh)) {
        // The map now holds this virtual host; where the domain was first used is searched for.
        unionError = "domain \"" + domainText(kind, key) + "\" of virtual host \"" + vh.name + "\" (shard " +
          shard.index.toString() + ") is already used by " + firstOwner(shards, s, kind, key);
        return null;
      }
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

export const REPLACED: i32 = 0;
/** A conflict: `t` is as it was, unionError says why. */
export const REFUSED: i32 = 1;
/** Not decidable in place (an ambiguous host another shard or a domain has, or `t` not old's union): `t` is as it was. */
export const REBUILD: i32 = 2;

function mapOf(t: RouteTable, kind: u8): Map<string, VirtualHost> {
  if (kind == DOMAIN_EXACT) return t.exact;
  return t.wildcard;
}

/** Whether `t` maps every key of `s` to its virtual host and holds its ambiguous bodies. */
function holds(t: RouteTable, s: CompiledShard): bool {
  for (let m = 0; m < s.keys.length; m++) {
    let kind = unchecked(s.kinds[m]);
    let vh = s.ownerOf(m);
    if (kind == DOMAIN_CATCH_ALL) {
      if (t.catchAll !== vh) return false;
      continue;
    }
    let map = mapOf(t, kind);
    let key = unchecked(s.keys[m]);
    if (!map.has(key)) return false;
    let got = map.get(key);
    if (got !== vh) return false;
  }
  for (let a = 0; a < s.ambiguousHosts.length; a++) {
    let host = s.ambiguousHosts[a];
    if (!t.ambiguous.has(host)) return false;
    let body = t.ambiguous.get(host);
    if (body !== s.ambiguousBodies[a]) return false;
  }
  return true;
}

/** Removes keys [0, upto) of `s` (all when upto < 0) and, with `ambiguous`, its ambiguous hosts from `t`'s lookups. */
function removeKeys(t: RouteTable, s: CompiledShard, upto: i32, ambiguous: bool): void {
  let n = upto < 0 ? s.keys.length : upto;
  for (let m = 0; m < n; m++) {
    let kind = unchecked(s.kinds[m]);
    if (kind == DOMAIN_CATCH_ALL) t.catchAll = null;
    else mapOf(t, kind).delete(unchecked(s.keys[m]));
  }
  if (!ambiguous) return;
  for (let a = 0; a < s.ambiguousHosts.length; a++) t.ambiguous.delete(s.ambiguousHosts[a]);
}

/** Puts every key and ambiguous host of `s` into `t`'s lookups without checks (undoing a removal). */
function restoreKeys(t: RouteTable, s: CompiledShard): void {
  for (let m = 0; m < s.keys.length; m++) {
    let kind = unchecked(s.kinds[m]);
    if (kind == DOMAIN_CATCH_ALL) t.catchAll = s.ownerOf(m);
    else mapOf(t, kind).set(unchecked(s.keys[m]), s.ownerOf(m));
  }
  for (let a = 0; a < s.ambiguousHosts.length; a++) t.ambiguous.set(s.ambiguousHosts[a], s.ambiguousBodies[a]);
}

/** Where a key is used among `shards` other than index `skip` (only for the message). */
function otherOwner(shards: Array<CompiledShard>, skip: i32, kind: u8, key: string): string {
  let others = new Array<CompiledShard>();
  for (let s = 0; s < shards.length; s++) if (s != skip) others.push(shards[s]);
  return firstOwner(others, others.length - 1, kind, key);
}

/**
 * Replaces shard `old` by `next` in `t`, the union being served (`shards` holds the new union's
 * shards, `next` in old's place): old's keys out, next's in, each checked against the rest as
 * unionOf checks them. O(shard) instead of O(table). A conflict undoes every change (REFUSED);
 * REBUILD when only the whole union can answer. The counts and the version are the caller's.
 */
export function replaceShard(t: RouteTable, old: CompiledShard, next: CompiledShard, shards: Array<CompiledShard>): i32 {
  unionError = "";
  if (!holds(t, old)) return REBUILD;
  // An ambiguous host of next that another shard also has: the whole union decides.
  for (let a = 0; a < next.ambiguousHosts.length; a++) {
    let host = next.ambiguousHosts[a];
    if (t.ambiguous.has(host) && old.ambiguousHosts.indexOf(host) < 0) return REBUILD;
  }
  removeKeys(t, old, -1, true);
  for (let m = 0; m < next.keys.length; m++) {
    let kind = unchecked(next.kinds[m]);
    let key = unchecked(next.keys[m]);
    let vh = next.ownerOf(m);
    let taken = false;
    if (kind == DOMAIN_CATCH_ALL) taken = t.catchAll !== null;
    else taken = mapOf(t, kind).has(key) || (kind == DOMAIN_EXACT && t.ambiguous.has(key));
    if (taken) {
      if (kind == DOMAIN_EXACT && !t.exact.has(key)) {
        unionError = "ambiguous host \"" + key + "\" is also a domain of virtual host \"" + vh.name + "\" (shard " + next.index.toString() + ")";
      } else {
        unionError = "domain \"" + domainText(kind, key) + "\" of virtual host \"" + vh.name + "\" (shard " +
          next.index.toString() + ") is already used by " + otherOwner(shards, next.index, kind, key);
      }
      removeKeys(t, next, m, false);
      restoreKeys(t, old);
      return REFUSED;
    }
    if (kind == DOMAIN_CATCH_ALL) t.catchAll = vh;
    else mapOf(t, kind).set(key, vh);
  }
  for (let a = 0; a < next.ambiguousHosts.length; a++) {
    if (t.exact.has(next.ambiguousHosts[a])) {
      // The whole union refuses it and names the domain's owner: undo and let it.
      removeKeys(t, next, -1, false);
      restoreKeys(t, old);
      return REBUILD;
    }
  }
  for (let a = 0; a < next.ambiguousHosts.length; a++) t.ambiguous.set(next.ambiguousHosts[a], next.ambiguousBodies[a]);
  return REPLACED;
}
