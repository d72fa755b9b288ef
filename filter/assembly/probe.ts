// The delivery probe (docs/adr/0004-delivery-proof.md): a request for the reserved host
// canal-probe.invalid is answered by the filter itself, before routing, with the version of the
// table it runs (200) or 503 while it runs only the empty default table (or, sharded, before the
// first complete table). `.invalid` can never
// resolve (RFC 6761), so no mesh host is shadowed; the controller's prober and the gateway's
// readiness probe ask it. A gateway without the filter never answers 200 for this host.
import { sendLocalReply, serializePairs } from "./host";
import { RouteTable } from "./table";

/** The reserved host (lower case, no port: compared with RequestView.host). */
export const PROBE_HOST = "canal-probe.invalid";

const KEY_TABLE = String.UTF8.encode("x-canal-table");
const KEY_CONTENT_TYPE = String.UTF8.encode("content-type");
const KEY_CACHE = String.UTF8.encode("cache-control");
const TEXT_PLAIN = String.UTF8.encode("text/plain");
const NO_STORE = String.UTF8.encode("no-store");
const DETAILS_PROBE = String.UTF8.encode("canal_probe");
const NO_TABLE_BODY = String.UTF8.encode("canal: no route table yet\n");
const NEWLINE = String.UTF8.encode("\n");
/** The version load/loader.ts gives the table of an empty configuration (the default config). */
const EMPTY_VERSION = "empty";

/** Whether a request is the probe: one length comparison for normal traffic (String.__eq). */
export function isProbe(host: string): bool {
  return host == PROBE_HOST;
}

/** 200 with the table version in `x-canal-table` and the body; 503 without a delivered table. */
export function replyProbe(table: RouteTable): void {
  let keys = new Array<ArrayBuffer>();
  let values = new Array<ArrayBuffer>();
  keys.push(KEY_TABLE);
  values.push(table.versionBytes);
  keys.push(KEY_CONTENT_TYPE);
  values.push(TEXT_PLAIN);
  keys.push(KEY_CACHE);
  values.push(NO_STORE);
  let pairs = serializePairs(keys, values);
  // A sharded router without a complete table yet (shards/router.ts): 503, naming what is missing.
  let incomplete = table.incomplete;
  if (incomplete !== null) {
    sendLocalReply(503, DETAILS_PROBE, incomplete, pairs);
    return;
  }
  if (table.version == EMPTY_VERSION) {
    sendLocalReply(503, DETAILS_PROBE, NO_TABLE_BODY, pairs);
    return;
  }
  let v = table.versionBytes;
  let body = new ArrayBuffer(v.byteLength + 1);
  memory.copy(changetype<usize>(body), changetype<usize>(v), <usize>v.byteLength);
  memory.copy(changetype<usize>(body) + <usize>v.byteLength, changetype<usize>(NEWLINE), 1);
  sendLocalReply(200, DETAILS_PROBE, body, pairs);
}
