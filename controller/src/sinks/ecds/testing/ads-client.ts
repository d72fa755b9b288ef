// A minimal ADS client on grpc-js for tests: it speaks to EcdsServer exactly as Envoy does
// (the same generated codecs, a real HTTP/2 connection), but each request is written by the
// test, so ACKs, NACKs, stale nonces and reconnects can be driven one step at a time.

import * as grpc from "@grpc/grpc-js";
import { decodeMessage, toEnvoyJson, TYPED_EXTENSION_CONFIG, type DiscoveryRequest, type DiscoveryResponse } from "../proto.ts";
import { adsServiceDefinition, ADS_METHOD_PATH, ECDS_METHOD_PATH, ecdsServiceDefinition, TYPED_EXTENSION_CONFIG_TYPE_URL } from "../server.ts";

export interface ClientNode {
  id: string;
  cluster: string;
}

export interface StreamEnd {
  code: grpc.status;
  details: string;
}

/** The table JSON inside a response's TypedExtensionConfig (the plugin configuration's StringValue). */
export function tableJsonOf(res: DiscoveryResponse): string {
  const resource = res.resources[0];
  if (resource === undefined) throw new Error("response without resources");
  const tec = toEnvoyJson(TYPED_EXTENSION_CONFIG, resource.value) as {
    typed_config?: { config?: { configuration?: { value?: string } } };
  };
  const v = tec.typed_config?.config?.configuration?.value;
  if (typeof v !== "string") throw new Error(`no plugin configuration in ${JSON.stringify(tec).slice(0, 400)}`);
  return v;
}

/** The resource's name (TypedExtensionConfig.name). */
export function resourceNameOf(res: DiscoveryResponse): string {
  const resource = res.resources[0];
  if (resource === undefined) throw new Error("response without resources");
  const m = decodeMessage(TYPED_EXTENSION_CONFIG, resource.value);
  return typeof m.name === "string" ? m.name : "";
}

export class AdsTestClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  private readonly queue: DiscoveryResponse[] = [];
  private waiters: ((r: DiscoveryResponse | StreamEnd) => void)[] = [];
  private endStatus: StreamEnd | undefined;
  private sentNode = false;
  /** Every response received, in order. */
  readonly received: DiscoveryResponse[] = [];

  constructor(
    port: number,
    readonly node: ClientNode,
    opts: {
      maxReceiveMessageBytes?: number;
      service?: "ads" | "ecds";
      /** Default: plaintext. */
      credentials?: grpc.ChannelCredentials;
      /** Extra channel options, e.g. {"grpc.use_local_subchannel_pool": 1} for a connection of its own. */
      channelOptions?: grpc.ChannelOptions;
    } = {},
  ) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, opts.credentials ?? grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": opts.maxReceiveMessageBytes ?? 64 * 1024 * 1024,
      ...opts.channelOptions,
    });
    // Envoy opens ADS when its config source is `ads` (Canal's bootstrap), the ECDS service when
    // it is an api_config_source (istiod's gateways with the chart's EnvoyFilter).
    const def = opts.service === "ecds"
      ? (ecdsServiceDefinition().StreamExtensionConfigs as grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse>)
      : (adsServiceDefinition().StreamAggregatedResources as grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse>);
    this.call = this.client.makeBidiStreamRequest(opts.service === "ecds" ? ECDS_METHOD_PATH : ADS_METHOD_PATH, def.requestSerialize, def.responseDeserialize);
    this.call.on("data", (r: DiscoveryResponse) => {
      this.received.push(r);
      const w = this.waiters.shift();
      if (w !== undefined) w(r);
      else this.queue.push(r);
    });
    this.call.on("status", (s: grpc.StatusObject) => this.finish({ code: s.code, details: s.details }));
    this.call.on("error", (e: grpc.ServiceError) => this.finish({ code: e.code, details: e.details }));
  }

  private finish(end: StreamEnd): void {
    if (this.endStatus !== undefined) return;
    this.endStatus = end;
    for (const w of this.waiters) w(end);
    this.waiters = [];
  }

  /** How the stream ended, once it has. */
  get ended(): StreamEnd | undefined {
    return this.endStatus;
  }

  /** Sends a request; the node goes on the first one only (unless `withNode`), like Envoy with set_node_on_first_message_only. */
  send(req: Partial<DiscoveryRequest> & { withNode?: boolean; withoutNode?: boolean } = {}): void {
    const includeNode = req.withoutNode !== true && (!this.sentNode || req.withNode === true);
    this.sentNode = this.sentNode || includeNode;
    this.call.write({
      versionInfo: req.versionInfo ?? "",
      node: includeNode ? { ...this.node, userAgentName: "ads-test-client", userAgentVersion: "0" } : undefined,
      resourceNames: req.resourceNames ?? ["canal"],
      typeUrl: req.typeUrl ?? TYPED_EXTENSION_CONFIG_TYPE_URL,
      responseNonce: req.responseNonce ?? "",
      errorDetail: req.errorDetail,
    });
  }

  /** The first request of a stream: subscribe to "canal", reporting `versionInfo` as applied. */
  subscribe(versionInfo = ""): void {
    this.send({ versionInfo });
  }

  ack(res: DiscoveryResponse): void {
    this.send({ versionInfo: res.versionInfo, responseNonce: res.nonce });
  }

  /** NACK `res`; `applied` is the version the client still runs (Envoy sends its last accepted one). */
  nack(res: DiscoveryResponse, applied: string, message = "Unable to create Wasm plugin canal"): void {
    this.send({ versionInfo: applied, responseNonce: res.nonce, errorDetail: { code: 13, message } });
  }

  /** The next response (in order of arrival); rejects when the stream ends or after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<DiscoveryResponse> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.endStatus !== undefined) return Promise.reject(new Error(`stream ended: ${this.endStatus.code} ${this.endStatus.details}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no response within ${timeoutMs} ms (received so far: ${this.received.map((r) => r.versionInfo).join(", ")})`));
      }, timeoutMs);
      const waiter = (r: DiscoveryResponse | StreamEnd): void => {
        clearTimeout(timer);
        if ("nonce" in r) resolve(r);
        else reject(new Error(`stream ended: ${r.code} ${r.details}`));
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the stream's end status. */
  async end(timeoutMs = 5000): Promise<StreamEnd> {
    const deadline = Date.now() + timeoutMs;
    while (this.endStatus === undefined) {
      if (Date.now() > deadline) throw new Error("the stream did not end");
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.endStatus;
  }

  /** Responses not yet taken with next(). */
  get pending(): number {
    return this.queue.length;
  }

  /** Half-closes the stream (as Envoy does on shutdown) and closes the channel. */
  close(): void {
    this.call.end();
    this.client.close();
  }

  /** Cancels the stream (as a vanished gateway's connection would end). */
  cancel(): void {
    this.call.cancel();
    this.client.close();
  }
}
