// What the ECDS sink knows about each gateway (an Envoy node: node.id + node.cluster), for the
// controller to write into the InternalGateway's status. docs/ecds.md, "Status".

/** RFC 3339 time, e.g. "2026-11-25T23:40:36.959Z". */
export type Timestamp = string;

export interface SentInfo {
  version: string;
  nonce: string;
  /** Size of the serialized TypedExtensionConfig (the table plus a few hundred bytes). */
  bytes: number;
  at: Timestamp;
}

export interface AckInfo {
  version: string;
  at: Timestamp;
}

export interface NackInfo {
  /** The version Envoy rejected (the one we sent with the nonce its NACK carried). */
  version: string;
  /** google.rpc.Status code Envoy sent (Envoy uses 13, INTERNAL, for rejected configs). */
  code: number;
  /** Envoy's error_detail.message, e.g. "Unable to create Wasm plugin canal". */
  message: string;
  at: Timestamp;
}

export interface GatewayStatus {
  /** Envoy's node.id. */
  nodeId: string;
  /** Envoy's node.cluster. */
  cluster: string;
  /** The table group this gateway is served from (`EcdsServerOptions.groupOf`; "" by default). */
  group: string;
  /** At least one ADS stream from this node is open. */
  connected: boolean;
  /** Open ADS streams from this node (normally 0 or 1; more when node ids collide or a reconnect overlaps). */
  streams: number;
  /** The peer address of the most recent stream (e.g. "127.0.0.1:40312"). */
  peer: string;
  /** Envoy's user agent ("envoy") and build version ("1.40.0"). */
  userAgent: string;
  connectedAt?: Timestamp;
  disconnectedAt?: Timestamp;
  /** The last response sent to this gateway. */
  lastSent?: SentInfo;
  /** The last version this gateway ACKed. */
  lastAcked?: AckInfo;
  /** The last NACK: Envoy rejected `version` and keeps running what it had. */
  lastNack?: NackInfo;
  /**
   * version_info of the gateway's latest (non-stale) request: the version Envoy says it has
   * applied, also across a reconnect or a controller restart. "" = no table from a control plane
   * yet (the filter runs its default config: the empty table).
   */
  reportedVersion: string;
}

/**
 * `connected` / `disconnected`: one ADS stream of the gateway opened / closed (read `streams` and
 * `connected` for the gateway's state); `sent`: a response went out; `acked` / `nacked`: Envoy
 * answered the latest response.
 */
export type GatewayEventKind = "connected" | "disconnected" | "sent" | "acked" | "nacked";

export interface GatewayEvent {
  kind: GatewayEventKind;
  /** The gateway's status right after the event (a copy). */
  gateway: GatewayStatus;
}

export type GatewayListener = (event: GatewayEvent) => void;

/** A deep copy, so callers can keep snapshots. */
export function copyStatus(s: GatewayStatus): GatewayStatus {
  return {
    ...s,
    ...(s.lastSent ? { lastSent: { ...s.lastSent } } : {}),
    ...(s.lastAcked ? { lastAcked: { ...s.lastAcked } } : {}),
    ...(s.lastNack ? { lastNack: { ...s.lastNack } } : {}),
  };
}
