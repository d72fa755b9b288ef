// What an EcdsServer is configured with and what it publishes: the options (limits, credentials,
// groups) and the published table and its result. The server itself is server.ts.
import type * as grpc from "@grpc/grpc-js";
import type { NodeInfo } from "./proto.ts";
import type { TableJson } from "./nested.ts";
import type { WasmCode } from "./resource.ts";

/** Default gRPC send limit: large enough for a table of tens of MB. */
export const DEFAULT_MAX_SEND_MESSAGE_BYTES = 64 * 1024 * 1024;
export interface EcdsLogEntry {
  level: "debug" | "info" | "warn";
  message: string;
}

export interface EcdsServerOptions {
  /**
   * Where the gateways load the filter's code from; must match the bootstrap's default_config.
   * Only `{local}` is accepted: see `unsafeAllowRemoteCode`.
   */
  code: WasmCode;
  /**
   * Serve `{remote}` code anyway. Envoy 1.40 ACKs such an ECDS update, never fetches the code,
   * and then runs the HTTP filter chain WITHOUT the canal filter (the Wasm filter fails open):
   * requests reach the router unfiltered (test/ecds/ecds-envoy.test.ts proves it). For tests only.
   */
  unsafeAllowRemoteCode?: boolean;
  /** ECDS resource name = the HTTP filter's name in the bootstrap; default "canal". */
  resourceName?: string;
  /** vm_id; default "canal", as the bootstrap's default_config (a different one starts another VM). */
  vmId?: string;
  /** gRPC max send message size (bytes); default 64 MiB. publish() refuses tables that would not fit. */
  maxSendMessageBytes?: number;
  /** gRPC max receive message size (bytes); default 256 KiB (limits.ts). */
  maxReceiveMessageBytes?: number;
  /** Streams open at once over all clients; more are refused with RESOURCE_EXHAUSTED; default 1024. */
  maxStreams?: number;
  /** Streams open at once from one client IP; more are refused; default 64. */
  maxStreamsPerClientIp?: number;
  /** Streams open at once on one HTTP/2 connection; more are refused; default 8. */
  maxStreamsPerConnection?: number;
  /** A stream whose first request (with the node) does not come within this time is closed; default 10 s. */
  firstRequestTimeoutMs?: number;
  /** A connection without streams for this long is closed; default 60 s. */
  maxConnectionIdleMs?: number;
  /** Disconnected gateways kept in status() at most (the longest disconnected go first); default 256. */
  maxDisconnectedGateways?: number;
  /** HTTP/2 keepalive pings to each gateway, so a vanished gateway is marked disconnected; default 30 s / 10 s timeout. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /**
   * When a gateway that runs no table (its requests say version_info "") NACKs the latest table,
   * send it the group's last ACKed table instead of leaving it on the empty default; default true.
   */
  fallbackToLastAcked?: boolean;
  /** The table group of a gateway (one table per group); default: everyone is in group "". */
  groupOf?: (node: GatewayNode) => string;
  /** ControlPlane.identifier in every response; default "canal-controller". */
  controlPlaneId?: string;
  /** How long a disconnected gateway stays in status(); default one hour. */
  disconnectedRetentionMs?: number;
  /** Server credentials; default insecure (plaintext HTTP/2, as the bootstrap's ADS cluster). */
  credentials?: grpc.ServerCredentials;
  log?: (entry: EcdsLogEntry) => void;
}

/** What the server knows about a node from its first DiscoveryRequest. */
export type GatewayNode = NodeInfo;

export interface TableToPublish {
  /** The table's version (its content hash); becomes the xDS version_info. Non-empty. */
  version: string;
  /** The route table JSON (or its parts: nested.ts), delivered as the filter's plugin configuration. */
  json: TableJson;
}

export interface PublishResult {
  version: string;
  group: string;
  /** Serialized resource size. */
  bytes: number;
  /** false when this exact table was already the group's latest (nothing is sent). */
  changed: boolean;
  /** Streams the table was pushed to (or queued for, behind an in-flight response). */
  streams: number;
}

export class TableTooLargeError extends Error {}
