// ReferenceGrant: a reference from an HTTPRoute to an object in another namespace is allowed only
// when a ReferenceGrant in the target's namespace lets HTTPRoutes of the route's namespace refer
// to that kind (and name, when the grant names one). Same-namespace references need none.
import { GATEWAY_API_GROUP, type ReferenceGrant } from "../../api/gateway-api.ts";

export interface Reference {
  fromNamespace: string;
  toNamespace: string;
  /** The target's group ("" for core) and kind. */
  group: string;
  kind: string;
  name: string;
}

export function referencePermitted(ref: Reference, grants: readonly ReferenceGrant[]): boolean {
  if (ref.fromNamespace === ref.toNamespace) return true;
  return grants.some(
    (g) =>
      g.metadata.namespace === ref.toNamespace &&
      g.spec.from.some((f) => f.group === GATEWAY_API_GROUP && f.kind === "HTTPRoute" && f.namespace === ref.fromNamespace) &&
      g.spec.to.some((t) => t.group === ref.group && t.kind === ref.kind && (t.name === undefined || t.name === ref.name)),
  );
}
