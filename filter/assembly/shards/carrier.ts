// Carrier mode (ADR 0005, decision 4): a plugin whose configuration is a shard or a manifest
// copies the bytes Envoy gave it into shared data under the key the document names, for the
// router on the data port. It checks only the head (head.ts) and compiles nothing: there are
// K × (workers + 2) carrier VMs. It never refuses a configuration: a NACKed plugin on the table
// port blocks every later shard (finding d'''). A document whose head fails is stored as an
// invalid marker with its reason (when it names a key and, for a shard, an index), which the
// router reports; otherwise it is only logged.
import { LogLevelValues, log } from "@solo-io/proxy-runtime";
import { setSharedData } from "../host";
import { INVALID_MARKER, MANIFEST_KEY_SUFFIX, MAX_MANIFEST_BYTES, MAX_SHARD_DOCUMENT_BYTES, SHARD_KEY_INFIX } from "./contract";
import { HEAD_MANIFEST, HEAD_SHARD, Head } from "./head";

/** The shared-data key a document's head names ("" when it names none). */
function dataKey(h: Head): string {
  if (h.key.length == 0) return "";
  if (h.kind == HEAD_MANIFEST) return h.key + MANIFEST_KEY_SUFFIX;
  if (h.kind == HEAD_SHARD && h.index >= 0) return h.key + SHARD_KEY_INFIX + h.index.toString();
  return "";
}

function what(h: Head): string {
  if (h.kind == HEAD_MANIFEST) return "manifest";
  if (h.kind == HEAD_SHARD) return "shard " + (h.index >= 0 ? h.index.toString() : "?");
  return "document";
}

/** Stores `bytes` (or its invalid marker) and logs what it did. Never fails. */
export function carry(bytes: ArrayBuffer, h: Head): void {
  let bound = h.kind == HEAD_MANIFEST ? MAX_MANIFEST_BYTES : MAX_SHARD_DOCUMENT_BYTES;
  if (bytes.byteLength > bound) {
    // The head was read anyway (for the key); the size decides first.
    h.error = "document of " + bytes.byteLength.toString() + " bytes is larger than " + bound.toString();
  }
  let key = dataKey(h);
  if (h.error.length == 0) {
    setSharedData(String.UTF8.encode(key), changetype<usize>(bytes), bytes.byteLength);
    log(LogLevelValues.info, "canal: carried " + what(h) + " version " + h.version + " (" + bytes.byteLength.toString() +
      " bytes) into " + key);
    return;
  }
  let reason = h.error;
  if (reason.length > 300) reason = reason.substring(0, 300) + "...";
  if (key.length == 0) {
    log(LogLevelValues.error, "canal: carrier: invalid " + what(h) + " names no shared-data key, not stored: " + reason);
    return;
  }
  let marker = String.UTF8.encode(INVALID_MARKER + reason);
  setSharedData(String.UTF8.encode(key), changetype<usize>(marker), marker.byteLength);
  log(LogLevelValues.error, "canal: carrier: invalid " + what(h) + ", stored as invalid under " + key + ": " + reason);
}
