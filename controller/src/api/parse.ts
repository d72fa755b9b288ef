// Untyped Kubernetes objects (from YAML, JSON or a client) → typed, validated objects. The only
// entry points the rest of the controller needs: parseObject and parseObjects.
import type { Service } from "./core.ts";
import { isGatewayApiGateway, type GatewayApiGateway, type GatewayClass, type HTTPRoute, type Namespace, type ReferenceGrant } from "./gateway-api.ts";
import { INTERNAL_GATEWAY_API_VERSION, type InternalGateway } from "./internalgateway.ts";
import { ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS, type DestinationRule, type Gateway, type VirtualService } from "./istio.ts";
import type { IgnoredField, ObjectMeta } from "./meta.ts";
import { parseMeta } from "./parse-meta.ts";
import { parseInternalGatewaySpec, parseServiceSpec } from "./parse-core.ts";
import { parseDestinationRuleSpec, parseGatewaySpec } from "./parse-gateway.ts";
import { parseVirtualServiceSpec } from "./parse-virtualservice.ts";
import { parseGatewayApiObject } from "./parse-httproute.ts";
import { isGatewaySupportKind, parseGatewaySupportObject } from "./parse-gateway-api-gateway.ts";
import type { IstioProblemKind as ProblemKind, Problem } from "./problem.ts";
import { Reader } from "./reader.ts";
import type { Snapshot } from "./snapshot.ts";

export type CanalObject = InternalGateway | Gateway | VirtualService | DestinationRule | Service | HTTPRoute | ReferenceGrant | GatewayApiGateway | GatewayClass | Namespace;

export interface ParseOptions {
  /** Namespace of objects that carry none (as `kubectl apply` without -n). Default "default". */
  defaultNamespace?: string;
}

export type ParseOutcome =
  | { status: "ok"; object: CanalObject }
  /** Not a kind Canal reads (e.g. a Deployment): skip it. */
  | { status: "ignored"; apiVersion: string; kind: string }
  /** A kind Canal reads, but malformed: the object is not used; `problems` say why. */
  | { status: "invalid"; problems: Problem[] };

type SpecParser = (r: Reader, v: unknown) => object | undefined;

const ISTIO_API_VERSIONS = ISTIO_NETWORKING_VERSIONS.map((v) => `${ISTIO_NETWORKING_GROUP}/${v}`);

const KINDS: Record<ProblemKind, { apiVersions: readonly string[]; spec: SpecParser }> = {
  InternalGateway: { apiVersions: [INTERNAL_GATEWAY_API_VERSION], spec: parseInternalGatewaySpec },
  Gateway: { apiVersions: ISTIO_API_VERSIONS, spec: parseGatewaySpec },
  VirtualService: { apiVersions: ISTIO_API_VERSIONS, spec: parseVirtualServiceSpec },
  DestinationRule: { apiVersions: ISTIO_API_VERSIONS, spec: parseDestinationRuleSpec },
  Service: { apiVersions: ["v1"], spec: parseServiceSpec },
};

function kindOf(kind: string): ProblemKind | undefined {
  return (Object.keys(KINDS) as ProblemKind[]).find((k) => k === kind);
}

/** Parses one object. Never throws; never mutates `raw`. */
export function parseObject(raw: unknown, options: ParseOptions = {}): ParseOutcome {
  const head = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const apiVersion = typeof head["apiVersion"] === "string" ? head["apiVersion"] : "";
  const kindName = typeof head["kind"] === "string" ? head["kind"] : "";
  // Gateway API kinds have their own parser (parse-httproute.ts); Istio's Gateway is a different
  // kind from Gateway API's, told apart by the apiVersion.
  if (kindName === "HTTPRoute" || kindName === "ReferenceGrant") return parseGatewayApiObject(raw, options);
  if (isGatewaySupportKind(apiVersion, kindName)) return parseGatewaySupportObject(raw, options);
  const kind = kindOf(kindName);
  if (kind === undefined || !KINDS[kind].apiVersions.includes(apiVersion)) return { status: "ignored", apiVersion, kind: kindName };
  const r = new Reader();
  const top = r.object(raw, "", ["apiVersion", "kind", "metadata", "spec", "status"]);
  const meta = top && parseMeta(r, top["metadata"], options.defaultNamespace ?? "default");
  const spec = top && KINDS[kind].spec(r, top["spec"] ?? {});
  if (r.errors.length > 0 || meta === undefined || spec === undefined) {
    const metaOf = (raw as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    const name = typeof metaOf?.name === "string" ? metaOf.name : "";
    const namespace = typeof metaOf?.namespace === "string" ? metaOf.namespace : (options.defaultNamespace ?? "default");
    const errors = r.errors.length > 0 ? r.errors : [{ field: "", message: "malformed object" }];
    return {
      status: "invalid",
      problems: errors.map((e) => ({
        kind, namespace, name, field: e.field, reason: "InvalidField" as const,
        message: `${e.field || "object"}: ${e.message}; the ${kind} is ignored until this is fixed`,
      })),
    };
  }
  return { status: "ok", object: build(kind, apiVersion, meta, spec, r.ignored) };
}

function build(kind: ProblemKind, apiVersion: string, metadata: ObjectMeta, spec: object, ignored: IgnoredField[]): CanalObject {
  // The spec parser for `kind` produced the matching spec type.
  const object = { apiVersion, kind, metadata, spec } as CanalObject;
  // Services' other fields (clusterIPs, ipFamilies, sessionAffinity, ...) are never reported: a
  // Service is not configuration of Canal's. Keeping them cost ~5 objects and path strings per
  // Service (50,000 at 10,000 Services, heap snapshot).
  if (ignored.length > 0 && kind !== "Service") object.ignoredFields = ignored;
  return object;
}

export interface ParsedObjects {
  snapshot: Snapshot;
  problems: Problem[];
  /** apiVersion/kind of the objects that are not of a kind Canal reads. */
  ignored: string[];
}

/** Parses a list of objects into a Snapshot, collecting every problem. */
export function parseObjects(raws: readonly unknown[], options: ParseOptions = {}): ParsedObjects {
  return collectParsed(raws.map((raw) => parseObject(raw, options)));
}

/** Objects already parsed (e.g. kept per object by a source) → a Snapshot and every problem. */
export function collectParsed(outcomes: Iterable<ParseOutcome>): ParsedObjects {
  const internalGateways: InternalGateway[] = [];
  const gateways: Gateway[] = [];
  const virtualServices: VirtualService[] = [];
  const destinationRules: DestinationRule[] = [];
  const services: Service[] = [];
  const httpRoutes: HTTPRoute[] = [];
  const referenceGrants: ReferenceGrant[] = [];
  const gatewayApiGateways: GatewayApiGateway[] = [];
  const gatewayClasses: GatewayClass[] = [];
  const namespaces: Namespace[] = [];
  const problems: Problem[] = [];
  const ignored: string[] = [];
  for (const out of outcomes) {
    if (out.status === "ignored") ignored.push(`${out.apiVersion}/${out.kind}`);
    else if (out.status === "invalid") problems.push(...out.problems);
    else {
      const o = out.object;
      if (isGatewayApiGateway(o)) gatewayApiGateways.push(o);
      else if (o.kind === "GatewayClass") gatewayClasses.push(o);
      else if (o.kind === "Namespace") namespaces.push(o);
      else if (o.kind === "InternalGateway") internalGateways.push(o);
      else if (o.kind === "Gateway") gateways.push(o);
      else if (o.kind === "VirtualService") virtualServices.push(o);
      else if (o.kind === "DestinationRule") destinationRules.push(o);
      else if (o.kind === "HTTPRoute") httpRoutes.push(o);
      else if (o.kind === "ReferenceGrant") referenceGrants.push(o);
      else services.push(o);
    }
  }
  return { snapshot: { internalGateways, gateways, virtualServices, destinationRules, services, httpRoutes, referenceGrants, gatewayApiGateways, gatewayClasses, namespaces }, problems, ignored };
}
