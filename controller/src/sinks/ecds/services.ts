// The two xDS services the ECDS server answers (ADS and the ECDS-only service), as grpc-js
// service definitions with protobufjs codecs; used by the server and by test clients.
import type * as grpc from "@grpc/grpc-js";
import {
  decodeDiscoveryRequest,
  decodeDiscoveryResponse,
  encodeDiscoveryRequest,
  encodeDiscoveryResponse,
  TYPED_EXTENSION_CONFIG,
  typeUrl,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from "./proto.ts";

export const ADS_METHOD_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
/**
 * The ECDS-only service: what Envoy opens for a filter whose config_discovery has an
 * api_config_source of type GRPC, i.e. istiod's gateways patched by the chart's EnvoyFilter
 * canal-ecds (their ADS is istiod). Same messages and state machine as ADS.
 */
export const ECDS_METHOD_PATH = "/envoy.service.extension.v3.ExtensionConfigDiscoveryService/StreamExtensionConfigs";
export const TYPED_EXTENSION_CONFIG_TYPE_URL = typeUrl(TYPED_EXTENSION_CONFIG);

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** One bidirectional xDS method (DiscoveryRequest in, DiscoveryResponse out) with protobufjs codecs. */
function discoveryMethod(path: string, originalName: string): grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (r: DiscoveryRequest) => toBuffer(encodeDiscoveryRequest(r)),
    requestDeserialize: (b: Buffer) => decodeDiscoveryRequest(b),
    responseSerialize: (r: DiscoveryResponse) => toBuffer(encodeDiscoveryResponse(r)),
    responseDeserialize: (b: Buffer) => decodeDiscoveryResponse(b),
    originalName,
  };
}

/** The ADS service for grpc-js (server side and, for tests, client side). */
export function adsServiceDefinition(): grpc.ServiceDefinition<grpc.UntypedServiceImplementation> {
  return { StreamAggregatedResources: discoveryMethod(ADS_METHOD_PATH, "streamAggregatedResources") } as grpc.ServiceDefinition<grpc.UntypedServiceImplementation>;
}

/** The ExtensionConfigDiscoveryService (SotW) for grpc-js. */
export function ecdsServiceDefinition(): grpc.ServiceDefinition<grpc.UntypedServiceImplementation> {
  return { StreamExtensionConfigs: discoveryMethod(ECDS_METHOD_PATH, "streamExtensionConfigs") } as grpc.ServiceDefinition<grpc.UntypedServiceImplementation>;
}
