// Protobuf codecs for the ECDS sink: Envoy's xDS messages (DiscoveryRequest/DiscoveryResponse)
// and the resource the sink serves (TypedExtensionConfig → Wasm → PluginConfig → StringValue).
// The .proto files are Envoy's own, shipped in @grpc/grpc-js-xds's deps/ (envoy-api, xds,
// googleapis, protoc-gen-validate); protobufjs (the library @grpc/proto-loader is built on)
// parses them once, lazily. Every `google.protobuf.Any` is encoded explicitly: its `value` is
// the serialized bytes of the inner message, built bottom-up by `encodeMessage`.
//
// Only plain, typed objects cross this module's boundary; protobufjs' untyped objects stay inside.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join } from "node:path";
import protobuf from "protobufjs";
import { encodeNested, level } from "./nested.ts";

export const DISCOVERY_REQUEST = "envoy.service.discovery.v3.DiscoveryRequest";
export const DISCOVERY_RESPONSE = "envoy.service.discovery.v3.DiscoveryResponse";
export const TYPED_EXTENSION_CONFIG = "envoy.config.core.v3.TypedExtensionConfig";
export const WASM = "envoy.extensions.filters.http.wasm.v3.Wasm";
export const STRING_VALUE = "google.protobuf.StringValue";
export const ANY = "google.protobuf.Any";
export const PLUGIN_CONFIG = "envoy.extensions.wasm.v3.PluginConfig";

/** The type URL of a message type (`type.googleapis.com/<full name>`). */
export function typeUrl(fullName: string): string {
  return `type.googleapis.com/${fullName}`;
}

const PROTO_FILES = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/config/core/v3/extension.proto",
  "envoy/extensions/filters/http/wasm/v3/wasm.proto",
  "google/protobuf/wrappers.proto",
];

let cachedRoot: protobuf.Root | undefined;

/** Where Envoy's API protos are: @grpc/grpc-js-xds/deps/*. Throws with a hint when missing. */
export function protoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
  } catch (err) {
    throw new Error("@grpc/grpc-js-xds is not installed (its deps/ hold Envoy's API protos); run npm ci", { cause: err });
  }
  const dirs = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(pkg, "deps", d));
  for (const d of dirs) if (!existsSync(d)) throw new Error(`Envoy API protos missing: ${d} does not exist`);
  return dirs;
}

/** The parsed protos (loaded on first use, then shared). */
export function protoRoot(): protobuf.Root {
  if (cachedRoot !== undefined) return cachedRoot;
  const require = createRequire(import.meta.url);
  // validate.proto and the udpa annotations import descriptor.proto, which protobufjs ships as
  // JSON but does not register by default (@grpc/proto-loader does the same).
  const descriptor = require("protobufjs/google/protobuf/descriptor.json") as {
    nested: { google: { nested: { protobuf: { nested: protobuf.INamespace["nested"] } } } };
  };
  const nested = descriptor.nested.google.nested.protobuf.nested;
  if (nested !== undefined) protobuf.common("descriptor", nested);
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (isAbsolute(target)) return target;
    for (const d of dirs) {
      const p = join(d, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync(PROTO_FILES, { keepCase: true });
  addFailurePolicy(root);
  root.resolveAll();
  cachedRoot = root;
  return root;
}

/**
 * PluginConfig.failure_policy (field 7, Envoy >= 1.33) and its enum, as in Envoy 1.40's
 * wasm.proto: the protos bundled with @grpc/grpc-js-xds predate them.
 */
function addFailurePolicy(root: protobuf.Root): void {
  const plugin = root.lookupType(PLUGIN_CONFIG);
  if (plugin.fields["failure_policy"] !== undefined) return;
  const ns = plugin.parent;
  if (ns === null) throw new Error(`${PLUGIN_CONFIG} has no namespace`);
  if (ns.get("FailurePolicy") === null) ns.add(new protobuf.Enum("FailurePolicy", { UNSPECIFIED: 0, FAIL_RELOAD: 1, FAIL_CLOSED: 2, FAIL_OPEN: 3 }));
  plugin.add(new protobuf.Field("failure_policy", 7, "FailurePolicy"));
}

/** The number of a PluginConfig.failure_policy value (encodeMessage takes enums as numbers). */
export function failurePolicyNumber(name: "FAIL_RELOAD" | "FAIL_CLOSED" | "FAIL_OPEN"): number {
  const e = protoRoot().lookupEnum("envoy.extensions.wasm.v3.FailurePolicy");
  const n = e.values[name];
  if (n === undefined) throw new Error(`FailurePolicy has no ${name}`);
  return n;
}

function type(name: string): protobuf.Type {
  return protoRoot().lookupType(name);
}

/** The field number of `field` in message `fullName` (for nested.ts's levels). */
export function fieldNumber(fullName: string, field: string): number {
  const f = type(fullName).fields[field];
  if (f === undefined) throw new Error(`${fullName} has no field ${field}`);
  return f.id;
}

/** Objects protobufjs' `fromObject` accepts (snake_case field names, as in the .proto). */
export type ProtoValue = string | number | boolean | Uint8Array | ProtoObject | ProtoValue[] | undefined;
export interface ProtoObject {
  [field: string]: ProtoValue;
}

/** Serializes `value` as the message type `fullName`; unknown fields or wrong types throw. */
export function encodeMessage(fullName: string, value: ProtoObject): Uint8Array {
  const t = type(fullName);
  const problem = t.verify(value);
  if (problem !== null) throw new Error(`cannot encode ${fullName}: ${problem}`);
  return t.encode(t.fromObject(value)).finish();
}

/** Deserializes bytes of `fullName` to a plain object (snake_case, longs and enums as strings, bytes as Buffer). */
export function decodeMessage(fullName: string, bytes: Uint8Array): Record<string, unknown> {
  const t = type(fullName);
  return t.toObject(t.decode(bytes), { longs: String, enums: String, bytes: Buffer, defaults: false, oneofs: false }) as Record<
    string,
    unknown
  >;
}

/** A google.protobuf.Any: the inner message's type URL and serialized bytes. */
export type AnyMessage = {
  type_url: string;
  value: Uint8Array;
};

/** `Any` holding `value` encoded as `fullName`. */
export function packAny(fullName: string, value: ProtoObject): AnyMessage {
  return { type_url: typeUrl(fullName), value: encodeMessage(fullName, value) };
}

// ------------------------------------------------------------------------------------------------
// xDS messages, typed for the fields the sink uses.

export interface NodeInfo {
  id: string;
  cluster: string;
  userAgentName: string;
  /** e.g. "1.40.0" from user_agent_build_version, or user_agent_version. */
  userAgentVersion: string;
}

export interface RpcStatus {
  code: number;
  message: string;
}

export interface DiscoveryRequest {
  versionInfo: string;
  /** Envoy sends the node on the first request of a stream (and, by default, on every one). */
  node: NodeInfo | undefined;
  resourceNames: string[];
  typeUrl: string;
  responseNonce: string;
  /** Set when the request NACKs the response whose nonce it carries. */
  errorDetail: RpcStatus | undefined;
}

export interface DiscoveryResponse {
  versionInfo: string;
  resources: AnyMessage[];
  typeUrl: string;
  nonce: string;
  /** ControlPlane.identifier (shown in Envoy's config dump). */
  controlPlane?: string;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function nodeFrom(v: unknown): NodeInfo | undefined {
  const n = obj(v);
  if (n === undefined) return undefined;
  let version = str(n.user_agent_version);
  const build = obj(obj(n.user_agent_build_version)?.version);
  if (build !== undefined) {
    version = `${Number(build.major_number ?? 0)}.${Number(build.minor_number ?? 0)}.${Number(build.patch ?? 0)}`;
  }
  return { id: str(n.id), cluster: str(n.cluster), userAgentName: str(n.user_agent_name), userAgentVersion: version };
}

export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  const m = decodeMessage(DISCOVERY_REQUEST, bytes);
  const err = obj(m.error_detail);
  return {
    versionInfo: str(m.version_info),
    node: nodeFrom(m.node),
    resourceNames: strList(m.resource_names),
    typeUrl: str(m.type_url),
    responseNonce: str(m.response_nonce),
    errorDetail: err === undefined ? undefined : { code: Number(err.code ?? 0), message: str(err.message) },
  };
}

export function encodeDiscoveryRequest(r: DiscoveryRequest): Uint8Array {
  const value: ProtoObject = {
    version_info: r.versionInfo,
    resource_names: r.resourceNames,
    type_url: r.typeUrl,
    response_nonce: r.responseNonce,
  };
  if (r.node !== undefined) {
    value.node = { id: r.node.id, cluster: r.node.cluster, user_agent_name: r.node.userAgentName, user_agent_version: r.node.userAgentVersion };
  }
  if (r.errorDetail !== undefined) value.error_detail = { code: r.errorDetail.code, message: r.errorDetail.message };
  return encodeMessage(DISCOVERY_REQUEST, value);
}

export function encodeDiscoveryResponse(r: DiscoveryResponse): Uint8Array {
  const only = r.resources.length === 1 ? r.resources[0] : undefined;
  if (only !== undefined && only.value.byteLength > 0) {
    // The one resource (the table, megabytes) is copied once, not once per level (nested.ts).
    const before = encodeMessage(DISCOVERY_RESPONSE, { version_info: r.versionInfo });
    const after: ProtoObject = { type_url: r.typeUrl, nonce: r.nonce };
    if (r.controlPlane !== undefined) after.control_plane = { identifier: r.controlPlane };
    return encodeNested(
      [level(before, fieldNumber(DISCOVERY_RESPONSE, "resources"), encodeMessage(DISCOVERY_RESPONSE, after)), level(encodeMessage(ANY, { type_url: only.type_url }), fieldNumber(ANY, "value"))],
      only.value,
    );
  }
  return encodeDiscoveryResponseWithProtobufjs(r);
}

/** encodeDiscoveryResponse through protobufjs alone (every level copies the resources): the reference. */
export function encodeDiscoveryResponseWithProtobufjs(r: DiscoveryResponse): Uint8Array {
  const value: ProtoObject = {
    version_info: r.versionInfo,
    resources: r.resources.map((a) => ({ type_url: a.type_url, value: a.value })),
    type_url: r.typeUrl,
    nonce: r.nonce,
  };
  if (r.controlPlane !== undefined) value.control_plane = { identifier: r.controlPlane };
  return encodeMessage(DISCOVERY_RESPONSE, value);
}

export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResponse {
  const m = decodeMessage(DISCOVERY_RESPONSE, bytes);
  const resources: AnyMessage[] = [];
  if (Array.isArray(m.resources)) {
    for (const r of m.resources) {
      const a = obj(r);
      if (a === undefined) continue;
      const value = a.value instanceof Uint8Array ? a.value : new Uint8Array();
      resources.push({ type_url: str(a.type_url), value });
    }
  }
  const cp = obj(m.control_plane);
  return {
    versionInfo: str(m.version_info),
    resources,
    typeUrl: str(m.type_url),
    nonce: str(m.nonce),
    ...(cp === undefined ? {} : { controlPlane: str(cp.identifier) }),
  };
}

/**
 * The message as Envoy's JSON/YAML config would spell it: snake_case fields, and every Any whose
 * type is known unpacked to `{"@type": <type URL>, ...fields}` (recursively). For diagnostics and
 * tests: compare a served resource with the bootstrap's rendering.
 */
export function toEnvoyJson(fullName: string, bytes: Uint8Array): Record<string, unknown> {
  return unpackAnys(decodeMessage(fullName, bytes)) as Record<string, unknown>;
}

function unpackAnys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unpackAnys);
  const o = obj(v);
  if (o === undefined || v instanceof Uint8Array) return v;
  const keys = Object.keys(o);
  const anyShape = typeof o.type_url === "string" && keys.every((k) => k === "type_url" || (k === "value" && o.value instanceof Uint8Array));
  if (anyShape) {
    const url = String(o.type_url);
    const name = url.slice(url.lastIndexOf("/") + 1);
    const inner = protoRoot().lookup(name);
    const value = o.value instanceof Uint8Array ? o.value : new Uint8Array();
    if (inner instanceof protobuf.Type) return { "@type": url, ...(unpackAnys(decodeMessage(name, value)) as object) };
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = unpackAnys(o[k]);
  return out;
}
