// The Gateway API CRDs of the pinned release (scripts/tools.sh gateway-api) in the real
// kube-apiserver: both channels install and serve their kinds, the server stores a GAMMA
// HTTPRoute (parentRef: a Service) and a ReferenceGrant, and its own validation refuses a
// malformed route, so tests that apply Gateway API objects get the server's checks too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayApiCrdsPath, GATEWAY_API_VERSION } from "../support/gateway-api.ts";
import { KubeApiError, startKubeApi, type KubeApi, type KubeObject } from "../support/k8s.ts";
import { parseGatewayApiObject } from "../../controller/src/api/parse-httproute.ts";

const NS = "gamma";

const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-split, namespace: ${NS}}
spec:
  parentRefs:
    - {group: "", kind: Service, name: echo, port: 80}
  rules:
    - matches: [{path: {type: PathPrefix, value: /v2}}]
      backendRefs: [{name: echo-v2, port: 80}]
    - backendRefs:
        - {name: echo-v1, port: 80, weight: 70}
        - {name: echo-v2, port: 80, weight: 30}
`;

const GRANT = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-gamma, namespace: backends}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${NS}}]
  to: [{group: "", kind: Service}]
`;

describe.each(["standard", "experimental"] as const)("Gateway API %s channel", (channel) => {
  let api: KubeApi;

  beforeAll(async () => {
    api = await startKubeApi({ name: `gwapi-${channel}` });
    await api.applyYaml(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: backends}\n`);
  }, 180_000);

  afterAll(async () => {
    await api?.stop();
  });

  it(`installs the ${GATEWAY_API_VERSION} CRDs and serves HTTPRoute and ReferenceGrant`, async () => {
    const names = await api.installCrds([gatewayApiCrdsPath(channel)]);
    expect(names).toEqual(expect.arrayContaining(["httproutes.gateway.networking.k8s.io", "referencegrants.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io"]));
    const crd = await api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.gateway.networking.k8s.io");
    expect(crd.metadata.annotations?.["gateway.networking.k8s.io/bundle-version"]).toBe(GATEWAY_API_VERSION);
    expect(crd.metadata.annotations?.["gateway.networking.k8s.io/channel"]).toBe(channel);
  }, 120_000);

  it("stores a GAMMA HTTPRoute and a ReferenceGrant that Canal's parser reads without problems", async () => {
    const stored: KubeObject[] = [...(await api.applyYaml(ROUTE)), ...(await api.applyYaml(GRANT))];
    expect(stored.map((o) => o.kind)).toEqual(["HTTPRoute", "ReferenceGrant"]);
    for (const o of stored) {
      const parsed = parseGatewayApiObject(o);
      expect(parsed.status === "invalid" ? parsed.problems : [], `${o.kind}`).toEqual([]);
      expect(parsed.status).toBe("ok");
    }
  });

  it("refuses what the CRD's own validation forbids (a path prefix without a leading slash)", async () => {
    const bad = ROUTE.replace("value: /v2", "value: v2").replace("echo-split", "bad-route");
    const err = await api.applyYaml(bad).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(422);
  });
});
