// What the controller bench applies: the base objects (namespaces, Gateway, InternalGateway, the
// change targets), N Services and VirtualServices, and the edit a change makes to one of them.

import type { KubeObject } from "../../test/support/k8s.ts";

export const IG_NS = "istio-system";
export const IG_NAME = "canal";
export const NODE_CLUSTER = `${IG_NS}/${IG_NAME}`;
/** The port every bench Service serves (the Istio bench uses the same objects). */
export const SVC_PORT = 8080;
/** Services the changes route to; Envoy has clusters for them (echo upstreams). */
export const TARGETS = ["blue", "green"] as const;
export const TARGET_NS = "bench-0";
export const CHANGE_HEADER = "x-bench-change";
/** Spreads the changed VirtualServices over the table (coprime with the sizes used). */
export const STRIDE = 7919;

export const nsOf = (i: number, namespaces: number): string => `bench-${i % namespaces}`;
export const fqdn = (name: string, ns: string): string => `${name}.${ns}.svc.cluster.local`;
export const clusterOf = (name: string, ns: string): string => `outbound|${SVC_PORT}||${fqdn(name, ns)}`;

export function baseObjects(namespaces: number): KubeObject[] {
  const objs: KubeObject[] = [];
  for (let k = 0; k < namespaces; k++) objs.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: `bench-${k}` } });
  objs.push(
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "canal-gateway", namespace: IG_NS },
      spec: { selector: { app: "canal-gateway" }, ports: [{ name: "http", port: 80 }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: IG_NAME, namespace: IG_NS },
      spec: { selector: { app: "canal-gateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
    },
    {
      apiVersion: "canal.io/v1alpha1",
      kind: "InternalGateway",
      metadata: { name: IG_NAME, namespace: IG_NS },
      spec: { gatewayRef: { name: IG_NAME }, serviceRef: { name: "canal-gateway" } },
    },
  );
  for (const t of TARGETS) {
    objs.push({ apiVersion: "v1", kind: "Service", metadata: { name: t, namespace: TARGET_NS }, spec: { selector: { app: t }, ports: [{ name: "http", port: SVC_PORT }] } });
  }
  return objs;
}

/**
 * Service `svc-i`. `headless` (clusterIP None): kube-apiserver allocates cluster IPs one at a time
 * (~50 per second on 2 busy CPUs, so 50,000 Services took over 15 minutes); the controller bench
 * makes its N Services headless because the route table does not depend on cluster IPs (ECDS
 * routes by name; only the DNS plan reads them, and this bench runs without DNS).
 */
export function service(i: number, namespaces: number, headless = false): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `svc-${i}`, namespace: nsOf(i, namespaces) },
    spec: { ...(headless ? { clusterIP: "None" } : {}), selector: { app: `svc-${i}` }, ports: [{ name: "http", port: SVC_PORT }] },
  };
}

/**
 * VirtualService `svc-i`: two routes (an /api/ prefix with a timeout, and a catch-all) to its
 * own Service. `change` (a change number) sends /api/ to blue or green instead and sets a
 * request header carrying the number, so a request shows which change it was routed by.
 */
export function virtualService(i: number, namespaces: number, change?: number): KubeObject {
  const ns = nsOf(i, namespaces);
  const own = { destination: { host: `svc-${i}`, port: { number: SVC_PORT } } };
  const api =
    change === undefined
      ? { name: "api", match: [{ uri: { prefix: "/api/" } }], route: [own], timeout: "5s" }
      : {
          name: "api",
          match: [{ uri: { prefix: "/api/" } }],
          route: [{ destination: { host: fqdn(TARGETS[change % 2], TARGET_NS), port: { number: SVC_PORT } } }],
          timeout: "5s",
          headers: { request: { set: { [CHANGE_HEADER]: String(change) } } },
        };
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: `svc-${i}`, namespace: ns },
    spec: {
      hosts: [fqdn(`svc-${i}`, ns)],
      gateways: [`${IG_NS}/${IG_NAME}`],
      http: [api, { name: "default", route: [own] }],
    },
  };
}
