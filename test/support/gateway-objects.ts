// The objects a translate() run needs for one Canal gateway: the InternalGateway istio-system/canal
// serving the Istio Gateway istio-system/canal (every host) through the Service canal-gateway.
// Pure data, for tests that build a snapshot from objects.

/** InternalGateway, its Service and its Istio Gateway, listening on `port`. */
export function canalGatewayObjects(port = 80): Record<string, unknown>[] {
  return [
    {
      apiVersion: "canal.io/v1alpha1",
      kind: "InternalGateway",
      metadata: { name: "canal", namespace: "istio-system", creationTimestamp: "2024-01-01T00:00:00Z" },
      spec: { gatewayRef: { name: "canal" }, serviceRef: { name: "canal-gateway" } },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "canal-gateway", namespace: "istio-system" },
      spec: { clusterIP: "10.96.0.50", ports: [{ port, name: "http" }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "canal", namespace: "istio-system" },
      spec: { selector: { app: "canal-gateway" }, servers: [{ port: { number: port, name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
    },
  ];
}
