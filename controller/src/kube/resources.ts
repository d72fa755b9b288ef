// The kinds the controller watches, and which served version of each it reads. Istio serves
// networking.istio.io at v1 (1.22+), v1beta1 and v1alpha3; the controller picks the newest the
// API server offers, so one build works across Istio versions.
import * as k8s from "@kubernetes/client-node";

export interface WatchedKind {
  kind: string;
  group: string; // "" for core
  plural: string;
  /** Versions in order of preference. */
  versions: readonly string[];
  /** Watched only when the API server serves the group (Gateway API CRDs are not always installed). */
  optional?: boolean;
  /** Watched only when the API server also serves this group. */
  onlyWith?: string;
}

export const WATCHED_KINDS: readonly WatchedKind[] = [
  { kind: "InternalGateway", group: "canal.io", plural: "internalgateways", versions: ["v1alpha1"] },
  { kind: "Gateway", group: "networking.istio.io", plural: "gateways", versions: ["v1", "v1beta1", "v1alpha3"] },
  { kind: "VirtualService", group: "networking.istio.io", plural: "virtualservices", versions: ["v1", "v1beta1", "v1alpha3"] },
  { kind: "DestinationRule", group: "networking.istio.io", plural: "destinationrules", versions: ["v1", "v1beta1", "v1alpha3"] },
  { kind: "Service", group: "", plural: "services", versions: ["v1"] },
  { kind: "HTTPRoute", group: "gateway.networking.k8s.io", plural: "httproutes", versions: ["v1", "v1beta1"], optional: true },
  { kind: "ReferenceGrant", group: "gateway.networking.k8s.io", plural: "referencegrants", versions: ["v1beta1", "v1"], optional: true },
  { kind: "Gateway", group: "gateway.networking.k8s.io", plural: "gateways", versions: ["v1", "v1beta1"], optional: true },
  { kind: "GatewayClass", group: "gateway.networking.k8s.io", plural: "gatewayclasses", versions: ["v1", "v1beta1"], optional: true },
  // Namespace labels feed Gateway listeners' allowedRoutes selectors: read only with Gateway API.
  { kind: "Namespace", group: "", plural: "namespaces", versions: ["v1"], optional: true, onlyWith: "gateway.networking.k8s.io" },
];

export interface ResolvedKind extends WatchedKind {
  version: string;
  apiVersion: string;
  /** Cluster-wide list/watch path, e.g. /apis/networking.istio.io/v1/virtualservices. */
  path: string;
}

/**
 * Picks the served version of every kind. Throws, naming the kind and what to install, when a
 * group is not served at all (e.g. Istio's CRDs are missing); an optional kind whose group is not
 * served is left out (a cluster without Gateway API CRDs has no HTTPRoutes to read).
 */
export async function resolveKinds(kc: k8s.KubeConfig, kinds: readonly WatchedKind[] = WATCHED_KINDS): Promise<ResolvedKind[]> {
  const apis = kc.makeApiClient(k8s.ApisApi);
  const groups = await apis.getAPIVersions();
  const served = new Map<string, string[]>();
  for (const g of groups.groups) served.set(g.name, g.versions.map((v) => v.version));
  served.set("", ["v1"]);
  return kinds.flatMap((k) => {
    if (k.onlyWith !== undefined && !served.has(k.onlyWith)) return [];
    const have = served.get(k.group) ?? [];
    const version = k.versions.find((v) => have.includes(v));
    if (version === undefined && k.optional === true) return [];
    if (version === undefined) {
      const hint = k.group === "canal.io" ? "install controller/crds/internalgateway.yaml (the canal-control chart does)" : "install Istio's CRDs (helm install istio-base)";
      throw new Error(`${k.kind}: the API server serves none of ${k.group}/{${k.versions.join(",")}} (serves: ${have.join(",") || "nothing"}); ${hint}`);
    }
    const apiVersion = k.group === "" ? version : `${k.group}/${version}`;
    const path = k.group === "" ? `/api/${version}/${k.plural}` : `/apis/${k.group}/${version}/${k.plural}`;
    return [{ ...k, version, apiVersion, path }];
  });
}
