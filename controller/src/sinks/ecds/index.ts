// The controller's ECDS sink: serves the `canal` filter's config (the route table) to gateways
// over ADS and reports per gateway what was sent, ACKed and NACKed. docs/ecds.md.
export {
  ADS_METHOD_PATH,
  adsServiceDefinition,
  ecdsServiceDefinition,
  ECDS_METHOD_PATH,
  DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
  EcdsServer,
  TYPED_EXTENSION_CONFIG_TYPE_URL,
} from "./server.ts";
export { DEFAULT_MAX_SEND_MESSAGE_BYTES, TableTooLargeError, type EcdsLogEntry, type EcdsServerOptions, type GatewayNode, type PublishResult, type TableToPublish } from "./options.ts";
export { CANAL_RESOURCE_NAME, CANAL_ROOT_ID, CANAL_VM_ID, encodeCanalResource, V8_RUNTIME, type CanalResourceOptions, type WasmCode } from "./resource.ts";
export type { AckInfo, GatewayEvent, GatewayEventKind, GatewayListener, GatewayStatus, NackInfo, SentInfo, Timestamp } from "./gateway-status.ts";
