// The ECDS server's limits: every client of the ECDS port is untrusted until proven otherwise (a
// pod that is not a gateway can open it), so everything a client can make the controller keep or
// write is capped here. docs/ecds.md, "Limits", lists them with the reason for each value.
import type { NodeInfo } from "./proto.ts";

/** Streams open at once, all clients together (`--ecds-max-streams`): a pool is one stream per gateway pod. */
export const DEFAULT_MAX_STREAMS = 1024;
/**
 * Streams from one client IP (a gateway pod has one; a node-local proxy or NAT in front of several
 * gateways would need more): one rogue pod cannot take every slot of DEFAULT_MAX_STREAMS.
 */
export const DEFAULT_MAX_STREAMS_PER_CLIENT_IP = 64;
/**
 * Streams on one HTTP/2 connection: Envoy opens one ADS (or ECDS) stream per connection, so a
 * handful allows overlapping reconnects; more is a client multiplexing streams to fill the cap.
 */
export const DEFAULT_MAX_STREAMS_PER_CONNECTION = 8;
/**
 * HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS advertised to clients: a backstop above the per-connection
 * cap, so a client that opens more streams waits in its own HTTP/2 layer instead of in the server.
 */
export const HTTP2_MAX_CONCURRENT_STREAMS = 64;
/** A stream that sends no node within this time holds a slot for nothing: it is closed. */
export const DEFAULT_FIRST_REQUEST_TIMEOUT_MS = 10_000;
/** A connection with no open stream for this long is closed (HTTP/2 GOAWAY). */
export const DEFAULT_MAX_CONNECTION_IDLE_MS = 60_000;
/**
 * gRPC receive limit: Envoy's requests carry the node (Istio's node metadata is some KiB), the
 * resource names, a nonce and at most one error message. A larger message is refused with
 * RESOURCE_EXHAUSTED before it is decoded.
 */
export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 256 * 1024;
/**
 * node.id: Istio's ids are "router~IP~pod.namespace~namespace.svc.<domain>" (pod name ≤ 253,
 * namespace ≤ 63); longer is refused with INVALID_ARGUMENT.
 */
export const MAX_NODE_ID_LENGTH = 512;
/** node.cluster names an InternalGateway, "namespace/name" (63 + 1 + 253); longer is refused. */
export const MAX_NODE_CLUSTER_LENGTH = 317;
/**
 * version_info a client reports: the versions this server sends are table hashes (~71 chars); the
 * InternalGateway's status caps tableVersion at 128. Longer is refused: no server sent it.
 */
export const MAX_VERSION_LENGTH = 128;
/** user_agent_name / user_agent_version kept per gateway (truncated). */
export const MAX_USER_AGENT_LENGTH = 64;
/** A NACK's error_detail.message kept per gateway (truncated; Envoy's own are a few hundred chars). */
export const MAX_NACK_MESSAGE_LENGTH = 1024;
/** NACKed versions remembered per stream (so they are not re-sent); the oldest is forgotten first. */
export const MAX_NACKED_VERSIONS_PER_STREAM = 64;
/** Disconnected gateways kept in status(); the longest disconnected go first. */
export const DEFAULT_MAX_DISCONNECTED_GATEWAYS = 256;
/** How long a disconnected gateway stays in status(). */
export const DEFAULT_DISCONNECTED_RETENTION_MS = 3_600_000;
/** Any client-supplied value inside a log line is cut to this many characters. */
export const MAX_LOGGED_VALUE_LENGTH = 256;
/** Repeated log lines of one kind (refusals, NACKs, stale nonces): at most one per window per kind. */
export const LOG_WINDOW_MS = 1000;

/** `s` cut to `max` characters, with "…" as the last one when cut. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  return max <= 0 ? "" : `${s.slice(0, max - 1)}…`;
}

/** A client-supplied value for a log line: capped, control characters escaped (one line per entry). */
export function loggable(s: string, max = MAX_LOGGED_VALUE_LENGTH): string {
  return JSON.stringify(truncate(s, max));
}

/**
 * At most one log line per kind per window: a client that repeats the same mistake (10,000
 * refused streams, endless NACKs) costs one line a second, which says how many it stands for.
 */
export class LogLimiter {
  private readonly kinds = new Map<string, { last: number; suppressed: number }>();

  constructor(private readonly windowMs = LOG_WINDOW_MS, private readonly clock: () => number = Date.now) {}

  /** The line to log now (with the count of lines suppressed since the last one), or undefined. */
  admit(kind: string, line: string): string | undefined {
    const now = this.clock();
    const k = this.kinds.get(kind);
    if (k !== undefined && now - k.last < this.windowMs) {
      k.suppressed += 1;
      return undefined;
    }
    const suppressed = k?.suppressed ?? 0;
    this.kinds.set(kind, { last: now, suppressed: 0 });
    // Bounded: the kinds are the server's own fixed set of messages, never client text.
    return suppressed > 0 ? `${line} (and ${suppressed} more like it since the last such line)` : line;
  }
}

/** Why a stream's first request cannot name a gateway, or undefined when its node is acceptable. */
export function nodeRefusal(node: NodeInfo | undefined): string | undefined {
  if (node === undefined || node.id === "") return "the first DiscoveryRequest of a stream must carry node.id";
  if (node.id.length > MAX_NODE_ID_LENGTH) return `node.id of ${node.id.length} characters, over the limit of ${MAX_NODE_ID_LENGTH}`;
  if (node.cluster.length > MAX_NODE_CLUSTER_LENGTH) return `node.cluster of ${node.cluster.length} characters, over the limit of ${MAX_NODE_CLUSTER_LENGTH}`;
  return undefined;
}

/** Adds `version` to a stream's NACKed set, forgetting the oldest beyond MAX_NACKED_VERSIONS_PER_STREAM. */
export function rememberNack(nacked: Set<string>, version: string): void {
  nacked.delete(version);
  nacked.add(version);
  while (nacked.size > MAX_NACKED_VERSIONS_PER_STREAM) {
    const oldest = nacked.values().next().value;
    if (oldest === undefined) break;
    nacked.delete(oldest);
  }
}


/** `v` if it is a positive integer, `fallback` if undefined; throws otherwise. */
export function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`EcdsServer: ${name} must be a positive integer, got ${v}`);
  return v;
}
