// The controller's ECDS sink: an xDS server (ADS, state of the world) that serves the `canal`
// filter's config — the route table as the Wasm plugin configuration — to every connected
// gateway, and records per gateway what was sent, ACKed and NACKed. docs/ecds.md describes the
// protocol as implemented; the short version:
//
// - Envoy opens AggregatedDiscoveryService/StreamAggregatedResources and asks for
//   type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig, resource "canal".
// - Each response carries the table's version as version_info and a fresh nonce.
// - A request whose response_nonce is the stream's latest nonce ACKs (no error_detail) or NACKs
//   (error_detail) that response; any other non-empty nonce is stale and ignored.
// - A NACKed version is never re-sent on that stream. Envoy keeps what it had; if it had nothing
//   (version_info ""), the group's last ACKed table is sent instead (fallbackToLastAcked).
// - publish() pushes the new table at once to every subscribed stream of its group. At most one
//   response per stream is in flight; later publishes coalesce to the newest table.
// - Every client is untrusted: streams, message sizes, node ids, what is kept per gateway and
//   what is logged are capped (limits.ts, admission.ts; docs/ecds.md, "Untrusted clients").

import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { DiscoveryRequest, DiscoveryResponse, NodeInfo } from "./proto.ts";
import { sameJson, type TableJson } from "./nested.ts";
import { DEFAULT_MAX_SEND_MESSAGE_BYTES, TableTooLargeError, type EcdsLogEntry, type EcdsServerOptions, type GatewayNode, type PublishResult, type TableToPublish } from "./options.ts";
import { CANAL_RESOURCE_NAME, encodeCanalResource, type WasmCode } from "./resource.ts";
import { StreamAdmission, type Admission } from "./admission.ts";
import {
  DEFAULT_DISCONNECTED_RETENTION_MS,
  DEFAULT_FIRST_REQUEST_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTION_IDLE_MS,
  DEFAULT_MAX_DISCONNECTED_GATEWAYS,
  DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
  DEFAULT_MAX_STREAMS,
  DEFAULT_MAX_STREAMS_PER_CLIENT_IP,
  DEFAULT_MAX_STREAMS_PER_CONNECTION,
  HTTP2_MAX_CONCURRENT_STREAMS,
  loggable,
  LogLimiter,
  MAX_NACK_MESSAGE_LENGTH,
  MAX_USER_AGENT_LENGTH,
  MAX_VERSION_LENGTH,
  nodeRefusal,
  positive,
  rememberNack,
  truncate,
} from "./limits.ts";
import { copyStatus, type GatewayEvent, type GatewayEventKind, type GatewayListener, type GatewayStatus } from "./gateway-status.ts";

import { TYPED_EXTENSION_CONFIG_TYPE_URL, adsServiceDefinition, ecdsServiceDefinition } from "./services.ts";

export { ADS_METHOD_PATH, ECDS_METHOD_PATH, TYPED_EXTENSION_CONFIG_TYPE_URL, adsServiceDefinition, ecdsServiceDefinition } from "./services.ts";
export { DEFAULT_MAX_RECEIVE_MESSAGE_BYTES };
/** Room left in a response for everything but the resource (version, nonce, type URL, framing). */
const RESPONSE_OVERHEAD_BYTES = 1024;

interface Entry {
  seq: number;
  group: string;
  version: string;
  json: TableJson;
  resource: Uint8Array;
}

interface GroupState {
  latest?: Entry;
  /** The newest table of this group some gateway ACKed. */
  lastGood?: Entry;
}

interface StreamState {
  id: number;
  call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  admission: Extract<Admission, { ok: true }>;
  firstRequestTimer?: NodeJS.Timeout;
  peer: string;
  node?: NodeInfo;
  key?: string;
  group: string;
  subscribed: boolean;
  /** version_info of the latest non-stale request. */
  reported: string;
  /** `answered`: the client ACKed or NACKed this response already. */
  lastSent?: { nonce: string; entry: Entry; answered: boolean };
  nacked: Set<string>;
  nonces: number;
  writing: boolean;
  /** Send again even if lastSent is the desired entry (a new subscription asked for it). */
  resend: boolean;
  closed: boolean;
}

function now(): string {
  return new Date().toISOString();
}

function nodeKey(n: NodeInfo): string {
  return `${n.cluster}\u0000${n.id}`;
}

export class EcdsServer {
  private readonly opts: Required<Omit<EcdsServerOptions, "credentials" | "log" | "groupOf" | "resourceName" | "vmId" | "unsafeAllowRemoteCode">> & {
    resourceName: string;
    vmId: string | undefined;
    credentials: grpc.ServerCredentials | undefined;
    log: (entry: EcdsLogEntry) => void;
    groupOf: (node: GatewayNode) => string;
  };
  private server: grpc.Server | undefined;
  private boundPort: number | undefined;
  private readonly groups = new Map<string, GroupState>();
  private readonly streams = new Set<StreamState>();
  private readonly gateways = new Map<string, GatewayStatus>();
  private readonly listeners = new Set<GatewayListener>();
  private readonly admission: StreamAdmission;
  private readonly logLimiter = new LogLimiter();
  private seq = 0;
  private streamIds = 0;
  /** Distinguishes this server instance's nonces from an earlier instance's. */
  private readonly instance = randomBytes(4).toString("hex");

  constructor(options: EcdsServerOptions) {
    this.opts = {
      code: options.code,
      resourceName: options.resourceName ?? CANAL_RESOURCE_NAME,
      vmId: options.vmId,
      maxSendMessageBytes: options.maxSendMessageBytes ?? DEFAULT_MAX_SEND_MESSAGE_BYTES,
      maxReceiveMessageBytes: options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
      keepaliveTimeMs: options.keepaliveTimeMs ?? 30_000,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? 10_000,
      fallbackToLastAcked: options.fallbackToLastAcked ?? true,
      groupOf: options.groupOf ?? (() => ""),
      controlPlaneId: options.controlPlaneId ?? "canal-controller",
      disconnectedRetentionMs: options.disconnectedRetentionMs ?? DEFAULT_DISCONNECTED_RETENTION_MS,
      maxStreams: positive(options.maxStreams, DEFAULT_MAX_STREAMS, "maxStreams"),
      maxStreamsPerClientIp: positive(options.maxStreamsPerClientIp, DEFAULT_MAX_STREAMS_PER_CLIENT_IP, "maxStreamsPerClientIp"),
      maxStreamsPerConnection: positive(options.maxStreamsPerConnection, DEFAULT_MAX_STREAMS_PER_CONNECTION, "maxStreamsPerConnection"),
      firstRequestTimeoutMs: positive(options.firstRequestTimeoutMs, DEFAULT_FIRST_REQUEST_TIMEOUT_MS, "firstRequestTimeoutMs"),
      maxConnectionIdleMs: positive(options.maxConnectionIdleMs, DEFAULT_MAX_CONNECTION_IDLE_MS, "maxConnectionIdleMs"),
      maxDisconnectedGateways: options.maxDisconnectedGateways ?? DEFAULT_MAX_DISCONNECTED_GATEWAYS,
      credentials: options.credentials,
      log: options.log ?? (() => {}),
    };
    this.admission = new StreamAdmission({
      maxStreams: this.opts.maxStreams,
      maxStreamsPerClientIp: this.opts.maxStreamsPerClientIp,
      maxStreamsPerConnection: this.opts.maxStreamsPerConnection,
    });
    if ("remote" in options.code && options.unsafeAllowRemoteCode !== true) {
      throw new Error(
        "EcdsServer: remote Wasm code is refused: Envoy 1.40 ACKs an ECDS update with remote code but never fetches it, " +
          "and the canal filter is then bypassed (requests reach the router unfiltered); ship the .wasm on the gateway and use {local: path}",
      );
    }
    // Fail at construction, not at the first publish, on a bad code source.
    encodeCanalResource(this.resourceOptions(), "");
  }

  /** The bound port while running. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Binds `address` (host:port; port 0 picks one) and serves until stop(). May be called again after stop(). */
  async start(address = "127.0.0.1:0"): Promise<{ port: number }> {
    if (this.server !== undefined) throw new Error(`ECDS server already running on port ${this.boundPort}`);
    const server = new grpc.Server({
      "grpc.max_send_message_length": this.opts.maxSendMessageBytes,
      "grpc.max_receive_message_length": this.opts.maxReceiveMessageBytes,
      "grpc.keepalive_time_ms": this.opts.keepaliveTimeMs,
      "grpc.keepalive_timeout_ms": this.opts.keepaliveTimeoutMs,
      "grpc.max_concurrent_streams": Math.max(HTTP2_MAX_CONCURRENT_STREAMS, this.opts.maxStreamsPerConnection),
      "grpc.max_connection_idle_ms": this.opts.maxConnectionIdleMs,
    });
    const onStream = (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void => this.onStream(call);
    server.addService(adsServiceDefinition(), { StreamAggregatedResources: onStream });
    server.addService(ecdsServiceDefinition(), { StreamExtensionConfigs: onStream });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, this.opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) => {
        if (err !== null) reject(new Error(`ECDS server could not bind ${address}: ${err.message}`, { cause: err }));
        else resolve(p);
      });
    });
    this.server = server;
    this.boundPort = port;
    this.opts.log({ level: "info", message: `ECDS server listening on ${address} (port ${port})` });
    return { port };
  }

  /** Closes every stream (gateways keep their config and reconnect to the next server) and the listener. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    this.boundPort = undefined;
    for (const s of [...this.streams]) this.closeStream(s, "server stopped");
    server.forceShutdown();
  }

  /**
   * Makes `table` the latest of `group` (default "") and pushes it to every subscribed gateway of
   * the group now. The same version with the same JSON again is a no-op; the same version with
   * different JSON throws (a version must name one table). Throws TableTooLargeError when the
   * response would exceed maxSendMessageBytes (nothing changes then).
   */
  publish(table: TableToPublish, options: { group?: string } = {}): PublishResult {
    const group = options.group ?? "";
    if (typeof table.version !== "string" || table.version === "") throw new Error("publish: the table needs a non-empty version");
    if (typeof table.json !== "string" && (typeof table.json !== "object" || table.json === null || !Array.isArray(table.json.items))) {
      throw new Error("publish: json must be a string or JSON parts");
    }
    const state = this.groupState(group);
    const latest = state.latest;
    if (latest !== undefined && latest.version === table.version) {
      if (!sameJson(latest.json, table.json)) {
        throw new Error(`publish: version ${table.version} was already published with different content`);
      }
      return { version: table.version, group, bytes: latest.resource.length, changed: false, streams: 0 };
    }
    const resource = encodeCanalResource(this.resourceOptions(), table.json);
    const size = resource.length + Buffer.byteLength(table.version) + RESPONSE_OVERHEAD_BYTES;
    if (size > this.opts.maxSendMessageBytes) {
      throw new TableTooLargeError(
        `publish: table ${table.version} needs a ${size}-byte response, over maxSendMessageBytes ${this.opts.maxSendMessageBytes}`,
      );
    }
    this.seq += 1;
    state.latest = { seq: this.seq, group, version: table.version, json: table.json, resource };
    let pushed = 0;
    for (const s of this.streams) {
      if (s.group !== group || !s.subscribed) continue;
      pushed += 1;
      this.maybeSend(s);
    }
    this.opts.log({ level: "info", message: `published ${table.version} (group "${group}", ${resource.length} bytes) to ${pushed} stream(s)` });
    return { version: table.version, group, bytes: resource.length, changed: true, streams: pushed };
  }

  /** The latest published table of `group`, if any. */
  latest(group = ""): { version: string; bytes: number } | undefined {
    const e = this.groups.get(group)?.latest;
    return e === undefined ? undefined : { version: e.version, bytes: e.resource.length };
  }

  /** Streams open now (admitted ones). */
  get openStreams(): number {
    return this.admission.open;
  }

  /** Every known gateway (connected, or disconnected within disconnectedRetentionMs), sorted by cluster and node id. */
  status(): GatewayStatus[] {
    this.prune();
    return [...this.gateways.values()]
      .sort((a, b) => (a.cluster === b.cluster ? cmp(a.nodeId, b.nodeId) : cmp(a.cluster, b.cluster)))
      .map(copyStatus);
  }

  /** Calls `listener` after every gateway change; returns the function that unsubscribes it. */
  onChange(listener: GatewayListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ----------------------------------------------------------------------------------------------

  private resourceOptions(): { code: WasmCode; resourceName: string; pluginName: string; vmId?: string } {
    return {
      code: this.opts.code,
      resourceName: this.opts.resourceName,
      pluginName: this.opts.resourceName,
      ...(this.opts.vmId === undefined ? {} : { vmId: this.opts.vmId }),
    };
  }

  private groupState(group: string): GroupState {
    let g = this.groups.get(group);
    if (g === undefined) {
      g = {};
      this.groups.set(group, g);
    }
    return g;
  }

  private emit(kind: GatewayEventKind, gateway: GatewayStatus): void {
    if (this.listeners.size === 0) return;
    const event: GatewayEvent = { kind, gateway: copyStatus(gateway) };
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.opts.log({ level: "warn", message: `ECDS status listener threw: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }

  /** Forgets disconnected gateways past the retention time, then the longest disconnected beyond the count cap. */
  private prune(): void {
    const cutoff = Date.now() - this.opts.disconnectedRetentionMs;
    const gone: Array<[string, number]> = [];
    for (const [k, g] of this.gateways) {
      if (g.connected || g.disconnectedAt === undefined) continue;
      const at = Date.parse(g.disconnectedAt);
      if (at < cutoff) this.gateways.delete(k);
      else gone.push([k, at]);
    }
    const excess = gone.length - this.opts.maxDisconnectedGateways;
    if (excess <= 0) return;
    gone.sort((a, b) => a[1] - b[1]);
    for (const [k] of gone.slice(0, excess)) this.gateways.delete(k);
  }

  /** A log line that a client can trigger over and over: at most one per kind per LOG_WINDOW_MS. */
  private logLimited(kind: string, level: EcdsLogEntry["level"], message: string): void {
    const line = this.logLimiter.admit(kind, message);
    if (line !== undefined) this.opts.log({ level, message: line });
  }

  private onStream(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    const peer = call.getPeer();
    const admission = this.admission.admit(peer);
    if (!admission.ok) {
      this.logLimited("refused-stream", "warn", `refused a stream from ${peer}: ${admission.reason}`);
      call.on("error", () => undefined);
      call.emit("error", Object.assign(new Error(admission.reason), { code: grpc.status.RESOURCE_EXHAUSTED, details: admission.reason }));
      return;
    }
    this.streamIds += 1;
    const s: StreamState = {
      id: this.streamIds,
      call,
      admission,
      peer,
      group: "",
      subscribed: false,
      reported: "",
      nacked: new Set(),
      nonces: 0,
      writing: false,
      resend: false,
      closed: false,
    };
    this.streams.add(s);
    s.firstRequestTimer = setTimeout(() => {
      this.closeStream(s, "no first request", {
        code: grpc.status.DEADLINE_EXCEEDED,
        details: `no DiscoveryRequest with a node within ${this.opts.firstRequestTimeoutMs} ms`,
      });
    }, this.opts.firstRequestTimeoutMs);
    s.firstRequestTimer.unref();
    call.on("data", (req: DiscoveryRequest) => {
      try {
        this.onRequest(s, req);
      } catch (err) {
        this.logLimited("internal-error", "warn", `stream ${s.id}: ${truncate(err instanceof Error ? err.message : String(err), 1024)}`);
        this.closeStream(s, "internal error", { code: grpc.status.INTERNAL, details: "canal ECDS server error" });
      }
    });
    call.on("end", () => this.closeStream(s, "gateway closed the stream"));
    call.on("cancelled", () => this.closeStream(s, "cancelled"));
    call.on("error", (err: Error) => this.closeStream(s, `error: ${truncate(err.message, 1024)}`));
    call.on("close", () => this.closeStream(s, "closed"));
  }

  private closeStream(s: StreamState, why: string, withStatus?: { code: grpc.status; details: string }): void {
    if (s.closed) return;
    s.closed = true;
    this.streams.delete(s);
    s.admission.release();
    if (s.firstRequestTimer !== undefined) clearTimeout(s.firstRequestTimer);
    if (withStatus !== undefined) {
      s.call.emit("error", Object.assign(new Error(withStatus.details), { code: withStatus.code, details: withStatus.details }));
    } else if (!s.call.writableEnded && !s.call.destroyed) {
      try {
        s.call.end();
      } catch {
        // the call is already gone
      }
    }
    this.logLimited("stream-closed", withStatus === undefined ? "debug" : "warn", `stream ${s.id} from ${s.peer} (${s.node === undefined ? "no node yet" : loggable(s.node.id)}): ${why}`);
    if (s.key === undefined) return;
    const g = this.gateways.get(s.key);
    if (g === undefined) return;
    g.streams = Math.max(0, g.streams - 1);
    if (g.streams === 0) {
      g.connected = false;
      g.disconnectedAt = now();
    }
    this.emit("disconnected", g);
  }

  private attachNode(s: StreamState, node: NodeInfo): void {
    s.node = node;
    s.key = nodeKey(node);
    s.group = this.opts.groupOf(node);
    this.prune();
    let g = this.gateways.get(s.key);
    if (g === undefined) {
      g = {
        nodeId: node.id,
        cluster: node.cluster,
        group: s.group,
        connected: true,
        streams: 0,
        peer: s.peer,
        userAgent: "",
        reportedVersion: "",
      };
      this.gateways.set(s.key, g);
    }
    g.group = s.group;
    g.streams += 1;
    g.connected = true;
    g.peer = s.peer;
    g.userAgent = [node.userAgentName, node.userAgentVersion].filter((x) => x !== "").map((x) => truncate(x, MAX_USER_AGENT_LENGTH)).join("/");
    g.connectedAt = now();
    delete g.disconnectedAt;
    this.emit("connected", g);
  }

  private onRequest(s: StreamState, req: DiscoveryRequest): void {
    if (s.closed) return;
    if (s.node === undefined) {
      const refusal = nodeRefusal(req.node);
      if (refusal !== undefined) {
        this.closeStream(s, refusal, { code: grpc.status.INVALID_ARGUMENT, details: refusal });
        return;
      }
      if (s.firstRequestTimer !== undefined) clearTimeout(s.firstRequestTimer);
      this.attachNode(s, req.node as NodeInfo);
    }
    if (req.versionInfo.length > MAX_VERSION_LENGTH) {
      const why = `version_info of ${req.versionInfo.length} characters, over ${MAX_VERSION_LENGTH}: this server never sent it`;
      this.closeStream(s, why, { code: grpc.status.INVALID_ARGUMENT, details: why });
      return;
    }
    const g = s.key === undefined ? undefined : this.gateways.get(s.key);
    if (g === undefined) return;
    if (req.typeUrl !== TYPED_EXTENSION_CONFIG_TYPE_URL) {
      this.logLimited("unsupported-type", "warn", `${loggable(g.nodeId)}: ignoring a request for unsupported type ${loggable(req.typeUrl || "<empty>")}`);
      return;
    }
    if (req.responseNonce !== "") {
      if (s.lastSent === undefined || req.responseNonce !== s.lastSent.nonce) {
        // Stale: answers a response that a newer one has superseded (or one we never sent).
        this.logLimited("stale-nonce", "debug", `${loggable(g.nodeId)}: stale nonce ${loggable(req.responseNonce)}`);
        return;
      }
      const sent = s.lastSent.entry;
      s.reported = req.versionInfo;
      g.reportedVersion = req.versionInfo;
      if (s.lastSent.answered) {
        // Envoy answers each response once; a second ACK/NACK of one nonce changes nothing and
        // must not cost a status write or a log line each (a client repeating it endlessly).
        this.logLimited("repeated-answer", "debug", `${loggable(g.nodeId)}: repeated answer to nonce ${loggable(req.responseNonce)} ignored`);
      } else if (req.errorDetail !== undefined) {
        s.lastSent.answered = true;
        rememberNack(s.nacked, sent.version);
        const message = truncate(req.errorDetail.message, MAX_NACK_MESSAGE_LENGTH);
        g.lastNack = { version: sent.version, code: req.errorDetail.code, message, at: now() };
        // One line per response at most (a repeated answer is ignored above): not rate-limited,
        // so every gateway's first NACK of a table is in the log.
        this.opts.log({ level: "warn", message: `${loggable(g.nodeId)} rejected ${sent.version}: ${loggable(message)}` });
        this.emit("nacked", g);
      } else {
        s.lastSent.answered = true;
        g.lastAcked = { version: sent.version, at: now() };
        const state = this.groupState(sent.group);
        if (state.lastGood === undefined || state.lastGood.seq < sent.seq) state.lastGood = sent;
        this.emit("acked", g);
      }
    } else {
      // A first request on this stream (or a new subscription): it reports what Envoy has.
      s.reported = req.versionInfo;
      g.reportedVersion = req.versionInfo;
      s.resend = true;
    }
    const subscribed = req.resourceNames.includes(this.opts.resourceName);
    if (subscribed && !s.subscribed) s.resend = true;
    s.subscribed = subscribed;
    this.maybeSend(s);
  }

  /** The table this stream should have: the group's latest unless this gateway rejected it. */
  private desired(s: StreamState): Entry | undefined {
    if (!s.subscribed || s.node === undefined) return undefined;
    const state = this.groups.get(s.group);
    const latest = state?.latest;
    if (latest === undefined) return undefined;
    if (!s.nacked.has(latest.version)) return latest;
    const good = state?.lastGood;
    if (this.opts.fallbackToLastAcked && s.reported === "" && good !== undefined && !s.nacked.has(good.version)) return good;
    return undefined;
  }

  private maybeSend(s: StreamState): void {
    if (s.closed || s.writing) return;
    const want = this.desired(s);
    if (want === undefined) return;
    if (!s.resend && s.lastSent?.entry === want) return;
    s.resend = false;
    s.nonces += 1;
    const nonce = `${this.instance}-${s.id}-${s.nonces}`;
    s.lastSent = { nonce, entry: want, answered: false };
    const g = s.key === undefined ? undefined : this.gateways.get(s.key);
    if (g !== undefined) {
      g.lastSent = { version: want.version, nonce, bytes: want.resource.length, at: now() };
    }
    s.writing = true;
    s.call.write(
      {
        versionInfo: want.version,
        resources: [{ type_url: TYPED_EXTENSION_CONFIG_TYPE_URL, value: want.resource }],
        typeUrl: TYPED_EXTENSION_CONFIG_TYPE_URL,
        nonce,
        controlPlane: this.opts.controlPlaneId,
      },
      () => {
        s.writing = false;
        // A publish during the write coalesces into one newer response now.
        this.maybeSend(s);
      },
    );
    if (g !== undefined) this.emit("sent", g);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

