// Router mode (ADR 0005, decision 5): the plugin configuration names a shared-data key; the table
// is the union of the shards the manifest under it names. poll() runs at configure and on the
// root context's tick: it reads the manifest, and when the manifest changed (or was incomplete)
// reads each shard whose version differs from the one it holds, compiles only those, rebuilds the
// lookups (union.ts) and hands back the new table. The rule is controller/src/translate/
// shards-union.ts's: a table is served only when every shard the manifest names is present at
// exactly that version with the same key, index and count; until then the complete table it has
// keeps serving, and with none every request (and the delivery probe) gets a 503 that names the
// missing, stale and invalid shards. Shards past the manifest's count (left-overs of a larger
// count) are never read.
import { LogLevelValues, log } from "@solo-io/proxy-runtime";
import { getSharedData } from "../host";
import { bytesEqual } from "../load/cache";
import { encode } from "../load/tape";
import { ACTION_DIRECT, Route, RouteTable, VirtualHost } from "../table";
import { CompiledShard, compileShard, shardError } from "./compile";
import { INVALID_MARKER, MANIFEST_KEY_SUFFIX, MAX_MANIFEST_BYTES, MAX_SHARDS, MAX_SHARD_DOCUMENT_BYTES, SHARD_KEY_INFIX } from "./contract";
import { HEAD_MANIFEST, HEAD_SHARD, readHead } from "./head";
import { unionError, unionOf } from "./union";

/** The version the placeholder of an incomplete table reports (the probe answers 503 for it). */
export const INCOMPLETE_VERSION = "incomplete";
/** Indices named per list in the 503 body. */
const LIST_CAP: i32 = 16;
const REASON_CAP: i32 = 200;
const MARKER = String.UTF8.encode(INVALID_MARKER);

function startsWithMarker(b: ArrayBuffer): bool {
  return b.byteLength >= MARKER.byteLength && bytesEqual(changetype<usize>(b), changetype<usize>(MARKER), MARKER.byteLength);
}

function markerReason(b: ArrayBuffer): string {
  let n = min(b.byteLength - MARKER.byteLength, REASON_CAP);
  return String.UTF8.decodeUnsafe(changetype<usize>(b) + <usize>MARKER.byteLength, <usize>n);
}

function capped(s: string): string {
  if (s.length <= REASON_CAP) return s;
  return s.substring(0, REASON_CAP) + "...";
}

function indexList(list: Array<i32>): string {
  let out = "";
  let n = min(list.length, LIST_CAP);
  for (let i = 0; i < n; i++) {
    if (i > 0) out += ", ";
    out += list[i].toString();
  }
  if (list.length > n) out += ", ... (" + list.length.toString() + " in all)";
  return out;
}

/** A table whose one catch-all route answers 503 with `body`: what serves before any complete table. */
function incompleteTable(body: string): RouteTable {
  let t = new RouteTable();
  t.version = INCOMPLETE_VERSION;
  t.versionBytes = encode(INCOMPLETE_VERSION);
  let r = new Route();
  r.action = ACTION_DIRECT;
  r.directStatus = 503;
  r.directBody = encode(body + "\n");
  let routes = new StaticArray<Route>(1);
  unchecked(routes[0] = r);
  let vh = new VirtualHost("canal-table-incomplete");
  vh.routes = routes;
  t.catchAll = vh;
  t.incomplete = r.directBody;
  return t;
}

export class ShardedRouter {
  key: string;
  private manifestKey: ArrayBuffer;
  /** The manifest bytes poll() last evaluated, and whether that evaluation was final (served or refused). */
  private lastManifest: ArrayBuffer = new ArrayBuffer(0);
  private settled: bool = false;
  /** Compiled shards by index, kept across manifests: a shard is compiled again only when its version changes. */
  private held: StaticArray<CompiledShard | null> = new StaticArray<CompiledShard | null>(MAX_SHARDS);
  /** A shard version that failed to compile, by index, and why: not compiled again. */
  private failedVersion: StaticArray<string> = new StaticArray<string>(MAX_SHARDS);
  private failedReason: StaticArray<string> = new StaticArray<string>(MAX_SHARDS);
  /** The version of the complete table being served ("" until there is one). */
  servedVersion: string = "";
  /** Why the newest manifest is not served ("" when it is). */
  status: string = "";
  /** Shards compiled by the last poll (tests and the log read it). */
  compiled: i32 = 0;

  constructor(key: string) {
    this.key = key;
    this.manifestKey = String.UTF8.encode(key + MANIFEST_KEY_SUFFIX);
    for (let i = 0; i < MAX_SHARDS; i++) {
      unchecked(this.failedVersion[i] = "");
      unchecked(this.failedReason[i] = "");
    }
  }

  /** Checks shared data: a table to serve from now on, or null to keep the one being served. */
  poll(): RouteTable | null {
    this.compiled = 0;
    let data = getSharedData(this.manifestKey);
    if (data === null || data.byteLength == 0) {
      this.settled = false;
      return this.incomplete("manifest missing: " + this.key + MANIFEST_KEY_SUFFIX);
    }
    let same = data.byteLength == this.lastManifest.byteLength &&
      bytesEqual(changetype<usize>(data), changetype<usize>(this.lastManifest), data.byteLength);
    if (same && this.settled) return null;
    this.lastManifest = data;
    this.settled = false;
    if (startsWithMarker(data)) return this.incomplete("manifest invalid: " + markerReason(data));
    if (data.byteLength > MAX_MANIFEST_BYTES) return this.incomplete("manifest invalid: " + data.byteLength.toString() + " bytes");
    let m = readHead(data);
    if (m.kind != HEAD_MANIFEST) return this.incomplete("manifest invalid: not a manifest");
    if (m.error.length) return this.incomplete("manifest invalid: " + capped(m.error));
    if (m.key != this.key) return this.incomplete("manifest invalid: its key \"" + m.key + "\" is not \"" + this.key + "\"");
    let n = m.shards.length;
    let missing = new Array<i32>();
    let stale = new Array<i32>();
    let invalid = new Array<i32>();
    let reason = "";
    for (let i = 0; i < n; i++) {
      let want = m.shards[i];
      let have = unchecked(this.held[i]);
      if (have !== null && have.version == want && have.count == n) continue;
      let bytes = getSharedData(String.UTF8.encode(this.key + SHARD_KEY_INFIX + i.toString()));
      if (bytes === null || bytes.byteLength == 0) {
        missing.push(i);
        continue;
      }
      let why = "";
      if (startsWithMarker(bytes)) why = markerReason(bytes);
      else if (bytes.byteLength > MAX_SHARD_DOCUMENT_BYTES) why = bytes.byteLength.toString() + " bytes";
      else {
        let h = readHead(bytes);
        if (h.kind != HEAD_SHARD) why = "not a shard";
        else if (h.error.length) why = h.error;
        else if (h.version != want || h.key != this.key || h.count != n || h.index != i) {
          stale.push(i);
          continue;
        } else if (unchecked(this.failedVersion[i]) == want) why = unchecked(this.failedReason[i]);
        else {
          let c = compileShard(bytes, h);
          if (c === null) {
            unchecked(this.failedVersion[i] = want);
            unchecked(this.failedReason[i] = shardError);
            why = shardError;
          } else {
            unchecked(this.held[i] = c);
            this.compiled++;
            continue;
          }
        }
      }
      invalid.push(i);
      if (reason.length == 0) reason = capped(why);
    }
    if (missing.length || stale.length || invalid.length) {
      let parts = new Array<string>();
      if (missing.length) parts.push("missing: " + indexList(missing));
      if (stale.length) parts.push("stale: " + indexList(stale));
      if (invalid.length) parts.push("invalid: " + indexList(invalid) + " (" + reason + ")");
      return this.incomplete("shards " + parts.join("; ") + "; manifest " + m.version + " of " + n.toString() + " shards");
    }
    let shards = new Array<CompiledShard>(n);
    for (let i = 0; i < n; i++) {
      let c = unchecked(this.held[i]);
      if (c !== null) unchecked(shards[i] = c);
    }
    let table = unionOf(m.version, shards);
    this.settled = true;
    if (table === null) {
      log(LogLevelValues.error, "canal: refused route table " + m.version + " (" + n.toString() + " shards): " + unionError +
        this.serving());
      return this.incomplete("refused: " + capped(unionError) + "; manifest " + m.version);
    }
    // Shards past this count are left-overs of a larger count: never read, their compiles dropped.
    for (let i = n; i < MAX_SHARDS; i++) unchecked(this.held[i] = null);
    this.servedVersion = m.version;
    this.status = "";
    log(LogLevelValues.info, "canal: loaded route table " + m.version + " from " + n.toString() + " shards (" +
      this.compiled.toString() + " compiled): " + table.virtualHostCount.toString() + " virtual hosts, " +
      table.routeCount.toString() + " routes");
    return table;
  }

  private serving(): string {
    if (this.servedVersion.length) return " (still serving table " + this.servedVersion + ")";
    return " (no table yet: requests get 503)";
  }

  /**
   * The newest manifest cannot be served because of `why`: logged once per change; the
   * placeholder that answers 503 when no complete table has been served, else null (keep it).
   */
  private incomplete(why: string): RouteTable | null {
    if (why == this.status) return null;
    this.status = why;
    log(LogLevelValues.warn, "canal: table incomplete (" + why + ")" + this.serving());
    if (this.servedVersion.length) return null;
    return incompleteTable("canal: table incomplete (" + why + ")");
  }
}
